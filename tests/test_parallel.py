"""Parallel text: line reading, the Multi30k and Anki presets of data=parallel on the real data,
the grouped split."""

from __future__ import annotations

import gzip

import pytest

from nlprnn.data.parallel import ParallelFiles, grouped_split, read_lines, read_parallel
from nlprnn.errors import UserError
from tests.conftest import preset_splits


def write(path, text: str):
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def test_read_lines_plain_and_gz(tmp_path):
    text = "  Ein  Hund. \r\nZwei Katzen\n\nEnde"
    plain = read_lines(write(tmp_path / "a.txt", text + "\n"))
    gz = read_lines(write(tmp_path / "a.gz", text))
    assert plain == gz == ["Ein  Hund.", "Zwei Katzen", "", "Ende"]


def test_read_lines_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bad.de"
    path.write_bytes(b"gut\nauch gut\nschlecht \xe4\n")
    with pytest.raises(UserError, match=r"bad\.de:3: not UTF-8 text"):
        read_lines(path)


def test_read_parallel_mismatch_names_both_files_and_counts(tmp_path):
    src = write(tmp_path / "train.de.gz", "a\nb\nc\n")
    tgt = write(tmp_path / "train.en", "x\ny\n")
    with pytest.raises(UserError) as err:
        read_parallel(src, tgt)
    msg = str(err.value)
    assert "train.de.gz" in msg and "train.en" in msg and "3 lines" in msg and "has 2" in msg
    tgt = write(tmp_path / "ok.en", "x\ny\nz\n")
    assert read_parallel(src, tgt) == [("a", "x"), ("b", "y"), ("c", "z")]


@pytest.fixture(scope="module")
def multi30k(data_dir):
    return preset_splits("translation", "multi30k")


@pytest.mark.slow
def test_multi30k_real_data(multi30k, data_dir):
    assert {k: len(v) for k, v in multi30k.items()} == {
        "train": 29000,
        "val": 1014,
        "test": 1000,
        "test_2017": 1000,
    }
    folder = data_dir / "translation" / "multi30k"
    with gzip.open(folder / "train.de.gz", "rt", encoding="utf-8") as f:
        de = f.readline().strip()
    with gzip.open(folder / "train.en.gz", "rt", encoding="utf-8") as f:
        en = f.readline().strip()
    assert multi30k["train"][0] == (de, en)
    assert de.startswith("Zwei junge weiße Männer") and en.startswith("Two young, White males")
    assert all(s and t for split in multi30k.values() for s, t in split)


@pytest.mark.slow
def test_multi30k_direction_switch(multi30k, data_dir):
    en_de = preset_splits("translation", "multi30k", "data.src_lang=en", "data.tgt_lang=de")
    for split in multi30k:
        assert en_de[split] == [(t, s) for s, t in multi30k[split]]
    with pytest.raises(UserError, match=r"data.files.train=translation/multi30k/train.*\.fr"):
        preset_splits("translation", "multi30k", "data.src_lang=fr", "data.tgt_lang=en", "data.hub=null")


def test_multi30k_offline_without_local_copy_explains(tmp_path, monkeypatch):
    """No local copy: the hub copy is tried, and the message names the missing file and the hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=r"translation/multi30k/train is not under.*bentrevett/multi30k"):
        preset_splits("translation", "multi30k", f"data.dir={tmp_path}")


@pytest.fixture(scope="module")
def anki(data_dir):
    return preset_splits("translation", "anki_spa_eng")


@pytest.mark.slow
def test_anki_grouped_split_has_no_shared_sentence(anki):
    sizes = {k: len(v) for k, v in anki.items()}
    total = sum(sizes.values())
    assert total == 118964
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(sizes[name] / total - frac) < 0.005, sizes
    for side in (0, 1):  # neither the Spanish source nor the English target crosses a split
        sets = {k: {pair[side] for pair in v} for k, v in anki.items()}
        assert not sets["train"] & sets["val"]
        assert not sets["train"] & sets["test"]
        assert not sets["val"] & sets["test"]
    assert anki["train"][0][0] != anki["train"][0][1]  # (spanish, english) by default
    assert any(s.startswith("¿") for s, _ in anki["val"])


@pytest.mark.slow
def test_anki_split_deterministic_per_seed_and_same_in_both_directions(anki, data_dir):
    en_es = ["data.src_lang=en", "data.tgt_lang=es", "data.src_column=0", "data.tgt_column=1"]
    again = preset_splits("translation", "anki_spa_eng", *en_es)
    for split in anki:
        assert again[split] == [(t, s) for s, t in anki[split]]
    other = preset_splits("translation", "anki_spa_eng", seed=99)
    assert set(other["test"]) != set(anki["test"])


def test_grouped_split_links_pairs_through_either_side():
    # a-x, a-y share "a"; b-y shares "y": all three form one group
    pairs = [("a", "x"), ("a", "y"), ("b", "y"), ("c", "z"), ("d", "w"), ("e", "v")]
    for seed in range(20):
        parts = grouped_split(pairs, (0.5, 0.25, 0.25), seed)
        assert sorted(i for p in parts for i in p) == list(range(len(pairs)))
        owner = {i: k for k, p in enumerate(parts) for i in p}
        assert owner[0] == owner[1] == owner[2]
    with pytest.raises(UserError, match="fractions"):
        grouped_split(pairs, (0.5, 0.5), 0)


def tsv_reader(directory) -> ParallelFiles:
    return ParallelFiles("anki", str(directory), "es", "en", src_column=1, tgt_column=0)


def test_anki_style_tsv_malformed_line_names_line(tmp_path):
    path = write(tmp_path / "spa.txt.gz", "Go.\tVe.\nHi.\tHola.\nRun! Corre.\nStop!\t¡Para!\n")
    with pytest.raises(UserError, match=r"spa\.txt\.gz:3: expected at least 2 columns"):
        tsv_reader(tmp_path).read_file(path)
    path = write(tmp_path / "spa2.txt", "Go.\tVe.\tCC-BY 2.0 (France) Attribution\nHi.\tHola.\tCC-BY\n")
    assert tsv_reader(tmp_path).read_file(path) == [("Ve.", "Go."), ("Hola.", "Hi.")]  # es -> en


def test_anki_missing_file_explains(tmp_path):
    with pytest.raises(
        UserError, match=r"data.files.train=translation/anki_spa_eng/spa\.txt\.gz: neither a TSV"
    ):
        preset_splits("translation", "anki_spa_eng", f"data.dir={tmp_path}")
