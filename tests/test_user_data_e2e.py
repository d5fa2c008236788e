"""Recipes on a user's own files, end to end through the command line: five-way classification from a
CSV (train, evaluate on a new file with a label the model never saw, predict with label names) and
NER from a CoNLL dialect (tabs, BILOU) read through the generic reader."""

from __future__ import annotations

import csv
import json
import random

import pytest

from tests.conftest import tiny_recipe_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

sentiment = tiny_recipe_cli("sentiment")
ner = tiny_recipe_cli("ner")

# five classes, each signalled by its own words among shared filler
CUES = {"1": "awful dreadful", "2": "weak dull", "3": "fine okay", "4": "good nice", "5": "superb brilliant"}
FILLER = "the a film plot actors story scene music was and it".split()


def reviews(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        stars = rng.choice(list(CUES))
        words = rng.sample(FILLER, 6) + [rng.choice(CUES[stars].split())]
        rng.shuffle(words)
        rows.append((" ".join(words), stars))
    return rows


def write_csv(path, rows, header=("review", "stars")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def five_way(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("five_way")
    train = write_csv(folder / "train.csv", reviews(600, seed=0))
    run = folder / "run"
    proc = sentiment(
        "data=table",
        f"data.files.train={train}",
        "data.text_column=review",
        "data.label_column=stars",
        "data.train_limit=null",
        "data.eval_limit=null",
        "embeddings=random",
        "trainer.max_epochs=10",
        "trainer.max_steps=150",
        "trainer.eval_every=50",
        "optimizer.lr=0.01",
        f"hydra.run.dir={run}",
        data_dir=data_dir,
    )
    return folder, run, proc.stdout


def test_five_way_table_trains_with_label_names_from_the_data(five_way):
    _, run, out = five_way
    assert "data: table: train 480, val 60, test 60; labels 1, 2, 3, 4, 5" in out  # carved 10% + 10%
    results = json.loads((run / "results.json").read_text())
    test = results["test"]
    assert list(test["per_class"]) == ["1", "2", "3", "4", "5"]
    assert len(test["confusion"]) == 5 and sum(map(sum, test["confusion"])) == test["texts"] == 60
    assert sum(c["support"] for c in test["per_class"].values()) == 60
    assert results["val"]["accuracy"] > 50  # chance is 20: the cue words were learned


def test_evaluate_a_new_file_with_an_unknown_label_and_predict_names(five_way, data_dir, tmp_path):
    folder, run, _ = five_way
    new = write_csv(folder / "new.csv", reviews(40, seed=9) + [("brand new words", "7"), ("more", "7")])
    out = sentiment(
        "mode=evaluate",
        f"ckpt={run}",
        f"data.files.test={new}",
        f"output={tmp_path}/scores.json",
        data_dir=data_dir,
    ).stdout
    assert (
        out.startswith("test: accuracy")
        and "not scored: 2 texts with labels the model does not know: '7' x2" in out
    )
    scores = json.loads((tmp_path / "scores.json").read_text())["test"]
    assert scores["texts"] == 40 and scores["unknown_labels"] == {"7": 2}
    line = sentiment("mode=predict", f"ckpt={run}", "text='superb brilliant film'", data_dir=data_dir).stdout
    label, prob, _ = line.strip().split("\t")
    assert label in CUES and 0.2 < float(prob) <= 1


def test_a_table_with_a_missing_column_is_a_clear_error(five_way, data_dir, tmp_path):
    folder, _, _ = five_way
    bad = sentiment(
        "data=table",
        f"data.files.train={folder / 'train.csv'}",
        "data.text_column=text",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
        check=False,
    )
    assert bad.returncode != 0 and "train.csv:1: no column 'text' in the header (review, stars)" in bad.stderr
    assert "Traceback" not in bad.stderr


def to_bilou_tsv(src, dst, limit: int):
    """CoNLL-2002 Spanish (token tag, IOB2) rewritten as a tab-separated BILOU file with a middle
    column and comment lines: a dialect only the generic reader's options can read."""
    from nlprnn.data.conll import read_conll, tagging

    lines = []
    for i, (tokens, tags) in enumerate(read_conll(src, tag_column=1)[:limit]):
        lines.append(f"# sent_id = {i}")
        lines += [f"{t}\tX\t{g}" for t, g in zip(tokens, tagging("bilou")[0](tags))] + [""]
    dst.write_text("\n".join(lines), encoding="utf-8")
    return dst


def test_ner_on_a_bilou_tab_file_through_data_conll(data_dir, tmp_path):
    train = to_bilou_tsv(data_dir / "ner/conll2002_es/esp.train", tmp_path / "train.tsv", 400)
    vectors = tmp_path / "vectors.txt"  # the user's own word vectors, 16 dims like the tiny model
    vectors.write_text("".join(f"{w} " + " ".join(["0.5"] * 16) + "\n" for w in ["EL", "de", "la", "zzz"]))
    run = tmp_path / "run"
    out = ner(
        "data=conll",
        f"data.files.train={train}",
        "data.separator=tab",
        "data.scheme=bilou",
        "data.tag_column=2",
        "embeddings=file",
        f"embeddings.path={vectors}",
        f"hydra.run.dir={run}",
        data_dir=data_dir,
    ).stdout
    assert "embeddings: vectors.txt: vectors for 3 of" in out  # el (via EL), de, la
    # 400 sentences: 40 carved for val, 40 for test; the tiny config reads 300 and 40 of them
    assert "data: conll: train 300 sentences, val 40 sentences, test 40 sentences" in out
    assert "S-PER" in out  # read as BILOU, trained as the recipe's IOBES
    # a new file with an entity type the model never saw: scored, and reported
    new = tmp_path / "new.tsv"
    new.write_text("Ana\tX\tU-PER\nvino\tX\tO\nel\tX\tO\nlunes\tX\tU-DATE\n", encoding="utf-8")
    scored = ner("mode=evaluate", f"ckpt={run}", f"data.files.test={new}", data_dir=data_dir).stdout
    assert (
        scored.startswith("test: F1")
        and "entity types the model does not know (never predicted): DATE" in scored
    )
    tagged = ner(
        "mode=tag", f"ckpt={run}", "output_scheme=bilou", "text='Ana vino el lunes'", data_dir=data_dir
    )
    assert all(
        t.split("/")[-1][:2] in ("O", "B-", "I-", "L-", "U-") for t in tagged.stdout.split("\n")[0].split()
    )


translation = tiny_recipe_cli("translation")
char_lm = tiny_recipe_cli("char_lm")


def test_translation_on_a_tsv_of_a_new_pair_and_evaluation_on_moses_files(data_dir, tmp_path):
    import gzip

    with gzip.open(data_dir / "translation/anki_spa_eng/spa.txt.gz", "rt", encoding="utf-8") as f:
        pairs = [tuple(line.split("\t")[:2]) for line in f.read().splitlines()][::50][:800]
    (tmp_path / "pairs.tsv").write_text("".join(f"{en}\t{es}\n" for en, es in pairs), encoding="utf-8")
    (tmp_path / "new.eng").write_text("".join(en + "\n" for en, _ in pairs[:5]), encoding="utf-8")
    (tmp_path / "new.spa").write_text("".join(es + "\n" for _, es in pairs[:5]), encoding="utf-8")
    run = tmp_path / "run"
    out = translation(
        "data=parallel",
        f"data.dir={tmp_path}",
        "data.files.train=pairs.tsv",
        "data.src_lang=eng",
        "data.tgt_lang=spa",
        f"hydra.run.dir={run}",
        data_dir=data_dir,
    ).stdout
    assert "data: parallel eng->spa: train 600" in out and "test: BLEU" in out
    scored = translation(
        "mode=evaluate", f"ckpt={run}", f"data.files.test={tmp_path / 'new'}", data_dir=data_dir
    ).stdout
    assert scored.startswith("test: BLEU") and "5 sentences" in scored
    unset = translation("data=parallel", f"hydra.run.dir={tmp_path}/x", data_dir=data_dir, check=False)
    assert "data.src_lang is not set" in unset.stderr and "Traceback" not in unset.stderr


def test_char_lm_on_a_text_file_and_evaluation_on_another(data_dir, tmp_path):
    book = tmp_path / "book.txt"
    book.write_text((data_dir / "charlm/quijote_es/pg2000.txt").read_text(encoding="utf-8")[5000:40000])
    run = tmp_path / "run"
    out = char_lm("data=text", f"data.files.train={book}", f"hydra.run.dir={run}", data_dir=data_dir).stdout
    assert "data: text: train 18,000 chars, val 1,000 chars, test 1,000 chars" in out
    other = tmp_path / "other.txt"
    other.write_text("En un lugar de la Mancha, de cuyo nombre no quiero acordarme.\n" * 20 + "Ω\n")
    # the recipe's default data (tinyshakespeare) has no files.test: name the format, data=text
    scored = char_lm(
        "mode=evaluate", f"ckpt={run}", "data=text", f"data.files.test={other}", data_dir=data_dir
    )
    scored = scored.stdout
    assert scored.startswith("test:") and "bpc (1,242 chars)" in scored
    assert "characters the model never saw: 'Ω'" in scored
    # the trained reader's settings can be overridden for the new file; a wrong one names its key
    wrong = char_lm(
        "mode=evaluate",
        f"ckpt={run}",
        "data=text",
        f"data.files.test={other}",
        "data.strip_gutenberg=true",
        data_dir=data_dir,
        check=False,
    )
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert "markers not found (data.strip_gutenberg=true; give data.strip_gutenberg=false" in wrong.stderr


def test_a_hub_dataset_through_the_table_reader_as_the_readme_writes_it(data_dir, tmp_path):
    write_csv(tmp_path / "reviews.csv", reviews(120, seed=5))
    args = ["data=table", "data.hub.path=csv", f"data.hub.data_files.train={tmp_path}/reviews.csv"]
    args += ["data.hub.columns.text=review", "data.hub.columns.label=stars", f"hydra.run.dir={tmp_path}/run"]
    proc = sentiment(*args, data_dir=data_dir)
    scores = json.loads((tmp_path / "run" / "results.json").read_text())
    assert proc.returncode == 0 and set(scores) >= {"val", "test"}
    assert scores["test"]["texts"] == scores["val"]["texts"] == 12  # each a carved tenth of the 120 rows
