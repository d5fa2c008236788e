"""Corpora larger than memory: the token store, the streaming readers, and that ``data.stream=true``
gives the in-memory path's batches and results."""

import gzip
import json
import random

import numpy as np
import pytest

from nlprnn.data import token_store as ts
from nlprnn.data.batching import make_batches
from nlprnn.data.files import iter_lines, read_utf8
from nlprnn.data.parallel import ParallelFiles
from nlprnn.data.reader import StreamedSplit
from nlprnn.data.table import TableTexts, read_columns, stream_columns
from nlprnn.data.text import TextFiles, chunks_between
from nlprnn.errors import UserError
from tests.conftest import tiny_recipe_cli


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NLPRNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_store_written_once_then_opened(cache):
    rows = [([1, 2, 3], [4]), ([], [5, 6]), ([300, 7], [8, 9, 10])]
    calls = []

    def write(writer):
        calls.append(1)
        writer.append(rows[:2])
        writer.append(rows[2:])
        return {"pairs": 3}

    store = ts.token_store("t", "k", ("src", "tgt"), 301, write)
    again = ts.token_store("t", "k", ("src", "tgt"), 301, write)
    assert len(calls) == 1 and again.folder == store.folder == cache / "t" / "k"
    assert len(again) == 3 and again.meta == {"pairs": 3}
    assert [tuple(list(map(int, c)) for c in again[i]) for i in range(3)] == [tuple(r) for r in rows]
    assert again.lengths("src").tolist() == [3, 0, 2] and again.lengths("tgt").tolist() == [1, 2, 3]
    assert again.ids["src"].dtype == np.uint16  # 301 ids do not fit a byte
    assert ts.id_dtype(256) == np.uint8 and ts.id_dtype(257) == np.uint16 and ts.id_dtype(70_000) == np.uint32


def test_failed_write_leaves_no_store(cache):
    def write(writer):
        writer.append([([1],)])
        raise UserError("bad line")

    with pytest.raises(UserError, match="bad line"):
        ts.token_store("t", "k", ("text",), 10, write)
    assert list((cache / "t").iterdir()) == []  # neither the store nor its temporary folder


def test_make_batches_same_from_an_array():
    rng = random.Random(0)
    pairs = [(rng.randint(1, 50), rng.randint(1, 40)) for _ in range(3000)]
    array = np.array(pairs)
    for shuffle in (True, False):
        for budget in ((800, None), (None, 16), (1000, 64)):
            assert make_batches(pairs, *budget, shuffle, 3, 1) == make_batches(array, *budget, shuffle, 3, 1)
    single = [p[0] for p in pairs]
    assert make_batches(single, 500, None, True, 1, 0) == make_batches(
        np.array(single), 500, None, True, 1, 0
    )


def test_iter_lines_reads_as_the_whole_file(tmp_path):
    raw = "\ufeffeins\r\nzwei  \n\ndrei\u2028vier\nfünf".encode()
    for path in (tmp_path / "a.txt", tmp_path / "a.txt.gz"):
        path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
        assert list(iter_lines(path)) == read_utf8(path).split("\n")
    (tmp_path / "bad.txt").write_bytes(b"ok\nschlecht \xe4\n")
    with pytest.raises(UserError, match=r"bad\.txt:2: not UTF-8"):
        list(iter_lines(tmp_path / "bad.txt"))


def test_chunks_between():
    chunks = ["abc", "defg", "h", "ij"]
    text = "".join(chunks)
    for start, stop in [(0, None), (0, 4), (2, 8), (3, 7), (9, None), (0, 0), (5, 100)]:
        assert "".join(chunks_between(iter(chunks), start, stop)) == text[start:stop]


def test_streamed_text_is_the_read_text(tmp_path):
    (tmp_path / "a.txt").write_text("First line\r\nno final newline", newline="")
    (tmp_path / "b.txt").write_text("x" * 300 + "\n")
    common = {"name": "t", "dir": str(tmp_path), "files": {"train": ["a.txt", "b.txt"]}}
    for max_chars in (None, 120):
        whole = TextFiles(**common, max_chars=max_chars).splits()
        streamed = TextFiles(**common, max_chars=max_chars, stream=True).splits()
        assert isinstance(streamed["train"], StreamedSplit)
        assert "".join(streamed["train"]) == whole["train"]
        assert streamed["val"] == whole["val"] and streamed["test"] == whole["test"]
    with pytest.raises(UserError, match="strip_gutenberg=false"):
        TextFiles(**common, strip_gutenberg=True, stream=True).splits()


def test_streamed_pairs_are_the_read_pairs(tmp_path):
    for lang, lines in (("de", ["a b", "c", "d e f"]), ("en", ["x", "y y", "z"])):
        (tmp_path / f"train.{lang}").write_text("\n".join(lines) + "\n")
        (tmp_path / f"val.{lang}").write_text(lines[0] + "\n")
    files = {"train": "train", "val": "val", "test": "val"}
    reader = ParallelFiles("p", str(tmp_path), "de", "en", files=files, stream=True)
    splits = reader.splits()
    assert list(splits["train"]) == list(splits["train"]) == reader.read_file(reader.locate("train"))
    assert splits["val"] == [("a b", "x")]
    (tmp_path / "train.en").write_text("x\n\nz\n")
    with pytest.raises(UserError, match=r"train\.de:2: empty target sentence"):
        list(reader.splits()["train"])
    with pytest.raises(UserError, match="no data.files.test"):
        ParallelFiles(
            "p", str(tmp_path), "de", "en", files={"train": "train", "val": "val"}, stream=True
        ).splits()
    with pytest.raises(UserError, match="train_limit"):
        ParallelFiles("p", str(tmp_path), "de", "en", files=files, stream=True, train_limit=2).splits()
    (tmp_path / "pairs.tsv").write_text("a\tx\n")
    with pytest.raises(UserError, match="TSV file"):
        ParallelFiles(
            "p", str(tmp_path), "de", "en", files={**files, "train": "pairs.tsv"}, stream=True
        ).splits()


translation_cli, char_lm_cli = tiny_recipe_cli("translation"), tiny_recipe_cli("char_lm")
sentiment_cli = tiny_recipe_cli("sentiment")


def _user_error(cli, *args, data_dir) -> str:
    """What a command that must fail with a user's error (exit status 2) prints."""
    proc = cli(*args, data_dir=data_dir, check=False)
    assert proc.returncode == 2, proc.stderr
    return proc.stderr


def _val_metrics(run) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k.startswith(("val_", "train_loss"))} for line in lines
    ]


@pytest.mark.slow
def test_streamed_translation_trains_as_in_memory(tmp_path, data_dir, cache):
    """Moses files of 600 Multi30k pairs: the same losses and BLEU with and without the store;
    the second streamed run opens the store instead of tokenizing again."""
    for lang in ("de", "en"):
        for split, name, n in (("train", "train", 600), ("val", "val", 20), ("test", "test_2016_flickr", 20)):
            lines = (
                gzip.open(data_dir / f"translation/multi30k/{name}.{lang}.gz", "rt").read().split("\n")[:n]
            )
            (tmp_path / f"{split}.{lang}").write_text("\n".join(lines) + "\n")
    args = ["data=parallel", "data.src_lang=de", "data.tgt_lang=en", "data.train_limit=null"]
    args += [f"data.files.{s}={tmp_path / s}" for s in ("train", "val", "test")]
    args += ["trainer.max_steps=8", "trainer.eval_every=4"]
    outs = {}
    for name, stream in (("memory", "false"), ("stream", "true"), ("again", "true")):
        proc = translation_cli(
            *args, f"data.stream={stream}", f"hydra.run.dir={tmp_path / name}", data_dir=data_dir
        )
        outs[name] = proc.stdout
    assert (
        _val_metrics(tmp_path / "memory")
        == _val_metrics(tmp_path / "stream")
        == _val_metrics(tmp_path / "again")
    )
    assert "tokenized 600 training pairs into the token cache" in outs["stream"]
    assert "token cache" not in outs["again"]
    results = [json.loads((tmp_path / n / "results.json").read_text()) for n in ("memory", "stream")]
    assert results[0]["test"]["bleu"] == results[1]["test"]["bleu"]


@pytest.mark.slow
def test_streamed_char_lm_trains_as_in_memory(tmp_path, data_dir, cache):
    """tiny shakespeare's first 20k characters, val / test cut from the end either way."""
    outs = {}
    for name, stream in (("memory", "false"), ("stream", "true"), ("again", "true")):
        proc = char_lm_cli(
            "trainer.max_steps=8",
            "trainer.eval_every=4",
            f"data.stream={stream}",
            f"hydra.run.dir={tmp_path / name}",
            data_dir=data_dir,
        )
        outs[name] = proc.stdout
    assert (
        _val_metrics(tmp_path / "memory")
        == _val_metrics(tmp_path / "stream")
        == _val_metrics(tmp_path / "again")
    )
    assert "in the token cache" in outs["stream"] and "token cache" not in outs["again"]
    results = [json.loads((tmp_path / n / "results.json").read_text()) for n in ("memory", "again")]
    assert results[0]["test"] == {**results[1]["test"], "seconds": results[0]["test"]["seconds"]}
    store = list((cache / "char_lm").iterdir())[0]
    assert (store / "text.ids").stat().st_size == 18_000  # a byte a character
    evaluate = ["mode=evaluate", f"ckpt={tmp_path / 'stream' / 'best.pt'}", "split=train"]
    assert "is not scored whole" in _user_error(char_lm_cli, *evaluate, data_dir=data_dir)


def test_streamed_table_rows_are_the_read_rows(tmp_path):
    files = {
        "a.csv": 'text,label\n"quoted, with comma\nand a newline",1\n\nplain,0\r\n',
        "a.tsv": 'label\ttext\n1\t"starts with a quote\n0\tsecond\n',
        "a.jsonl": '{"text": "eins", "label": 1}\n\n{"text": "zwei", "label": 0}\n',
        "a.txt": "1 a good film\n0 a bad one\n",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_text(content, newline="")
        fmt = "label_text" if name.endswith(".txt") else None
        assert list(stream_columns(path, ["text", "label"], fmt)) == read_columns(
            path, ["text", "label"], fmt
        )
    (tmp_path / "bad.csv").write_text("text,label\nonly one column\n")
    with pytest.raises(UserError, match=r"bad\.csv:2: expected 2 csv columns"):
        list(stream_columns(tmp_path / "bad.csv", ["text", "label"]))
    reader = TableTexts(
        "t", str(tmp_path), files={"train": "a.csv", "val": "a.csv", "test": "a.csv"}, stream=True
    )
    splits = reader.splits()
    assert list(splits["train"]) == splits["val"] == reader.read_file(tmp_path / "a.csv")


@pytest.mark.slow
def test_streamed_sentiment_trains_as_in_memory(tmp_path, data_dir, cache):
    """SST-2's first 400 training phrases as a TSV file: the same losses and accuracy either way."""
    lines = (data_dir / "sentiment/sst2/glue/train.tsv").read_text().split("\n")[:401]
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n")
    args = ["embeddings=random", "data.train_limit=null", f"data.files.train={tmp_path / 'train.tsv'}"]
    args += ["trainer.max_steps=8", "trainer.eval_every=4"]
    for name, stream in (("memory", "false"), ("stream", "true")):
        sentiment_cli(*args, f"data.stream={stream}", f"hydra.run.dir={tmp_path / name}", data_dir=data_dir)
    assert _val_metrics(tmp_path / "memory") == _val_metrics(tmp_path / "stream")
    assert len(list((cache / "sentiment").iterdir())) == 1
    ppmi = [*args, "data.stream=true", f"hydra.run.dir={tmp_path / 'ppmi'}", "embeddings=ppmi_svd"]
    error = _user_error(sentiment_cli, *ppmi, data_dir=data_dir)
    assert "embeddings=ppmi_svd counts the training texts in memory" in error
