"""A user's own files: tables (CSV / TSV / JSON lines), CoNLL dialects, carved splits, and the
errors a malformed file gives (file:line)."""

from __future__ import annotations

import json

import pytest

from nlprnn.data.conll import ConllFiles, read_conll, tagging, to_iob2
from nlprnn.data.files import carve_missing, resolve
from nlprnn.data.table import TableTexts, read_columns
from nlprnn.errors import UserError
from nlprnn.recipes.sentiment import label_order


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_tables_in_three_formats_give_the_same_rows(tmp_path):
    rows = [("good film, really", "5"), ('a "quoted" one', "1"), ("tabs\tinside? no", "3")]
    csv = write(
        tmp_path / "a.csv",
        'id,review,stars\n1,"good film, really",5\n2,"a ""quoted"" one",1\n3,tabs\tinside? no,3\n',
    )
    tsv = write(
        tmp_path / "a.tsv", "review\tstars\n" + "".join(f"{t.replace(chr(9), ' ')}\t{s}\n" for t, s in rows)
    )
    jsonl = write(
        tmp_path / "a.jsonl", "".join(json.dumps({"review": t, "stars": int(s)}) + "\n" for t, s in rows)
    )
    assert [r for _, r in read_columns(csv, ["review", "stars"])] == [list(r) for r in rows]
    assert [r[1] for _, r in read_columns(tsv, ["review", "stars"])] == ["5", "1", "3"]
    assert [r for _, r in read_columns(jsonl, ["review", "stars"])] == [list(r) for r in rows]
    no_header = write(tmp_path / "b.tsv", "5\tgreat\n1\tawful\n")
    assert [r for _, r in read_columns(no_header, [1, 0], header=False)] == [["great", "5"], ["awful", "1"]]


def test_malformed_tables_name_the_file_and_line(tmp_path):
    csv = write(tmp_path / "bad.csv", "text,label\nfine,1\ntoo,many,cells\n")
    with pytest.raises(UserError, match=r"bad.csv:3: expected 2 csv columns, got 3"):
        read_columns(csv, ["text", "label"])
    with pytest.raises(UserError, match=r"bad.csv:1: no column 'stars' in the header \(text, label\)"):
        read_columns(csv, ["text", "stars"])
    jsonl = write(tmp_path / "bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b"\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: not a JSON object"):
        read_columns(jsonl, ["text", "label"])
    with pytest.raises(UserError, match=r"bad.jsonl:1: no key 'stars'"):
        read_columns(jsonl, ["text", "stars"])
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin1.csv:2: not UTF-8 text .* at byte 14"):
        read_columns(latin1, ["text", "label"])
    with pytest.raises(UserError, match="set data.format"):
        read_columns(write(tmp_path / "data.dat", "x"), ["text"])


def test_missing_splits_are_carved_from_train_seeded_and_disjoint():
    train = [f"ex{i}" for i in range(100)]
    a = carve_missing({"train": train}, 0.1, seed=3)
    assert [len(a[s]) for s in ("train", "val", "test")] == [80, 10, 10]
    assert set(a["train"]) | set(a["val"]) | set(a["test"]) == set(train)
    assert not set(a["val"]) & set(a["test"])
    assert a == carve_missing({"train": train}, 0.1, seed=3)  # seeded
    assert a["val"] != carve_missing({"train": train}, 0.1, seed=4)["val"]
    only_test = carve_missing({"train": train, "val": ["v"]}, 0.2, seed=0)
    assert only_test["val"] == ["v"] and len(only_test["test"]) == 20 and len(only_test["train"]) == 80
    with pytest.raises(UserError, match="cannot carve val and test from 3 training examples"):
        carve_missing({"train": train[:3]}, 0.1, seed=0)


def test_file_keys_are_resolved_under_data_dir_or_absolute(tmp_path):
    f = write(tmp_path / "train.csv", "text,label\na,1\n")
    assert resolve(str(tmp_path), "train.csv", "data.files.train") == f
    assert resolve(None, str(f), "data.files.train") == f
    with pytest.raises(UserError, match=r"data.files.val=nope.csv: no such file"):
        TableTexts("m", str(tmp_path), {"train": "train.csv", "val": "nope.csv"}).splits()
    with pytest.raises(UserError, match=r"data.files.train is not set: .* or a Hugging Face dataset"):
        TableTexts("m", str(tmp_path), {"train": None}).splits()
    with pytest.raises(UserError, match=r"data.files.train=train.csv: no such file .* set NLPRNN_DATA"):
        TableTexts("m", None, {"train": "train.csv"}).splits()  # a relative file and no data.dir


def test_table_reader_labels_come_from_the_data_in_a_stable_order(tmp_path):
    rows = "".join(f'"text number {i}",{lab}\n' for i, lab in enumerate(["10", "2", "1", "2", "10"] * 10))
    write(tmp_path / "t.csv", "text,label\n" + rows)
    reader = TableTexts("mine", str(tmp_path), {"train": "t.csv"}, labels=None)
    splits = reader.splits(seed=0)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [40, 5, 5]
    assert all(isinstance(label, str) for _, label in splits["train"])
    assert label_order(None, [lab for _, lab in splits["train"]]) == ["1", "2", "10"]  # as numbers
    assert label_order(None, ["pos", "neg", "neutral"]) == ["neg", "neutral", "pos"]
    assert label_order(["pos", "neg"], ["neg", "pos"]) == ["pos", "neg"]  # data.labels fixes the order
    with pytest.raises(UserError, match=r"lacks the training labels \['neutral'\]"):
        label_order(["pos", "neg"], ["neg", "neutral"])
    write(tmp_path / "empty_label.csv", 'text,label\n"fine",1\n"no label",\n')
    with pytest.raises(UserError, match="empty_label.csv:3: empty label"):
        TableTexts("mine", str(tmp_path), {"train": "empty_label.csv"}, labels=None).splits(0)


CONLL_TSV = """# newdoc id = 1
-DOCSTART-\t-X-\tO

# sent_id = 1
Angela\tNNP\tB-PER
Merkel\tNNP\tL-PER
visited\tVBD\tO
Paris\tNNP\tU-LOC
#\tSYM\tO
.\t.\tO

New York\tNNP\tU-LOC
"""


def test_conll_dialect_tabs_bilou_comments_and_tag_column(tmp_path):
    f = write(tmp_path / "train.bilou", CONLL_TSV)
    sents = read_conll(f, tag_column=2, scheme="bilou", separator="\t")
    assert sents[0] == (
        ["Angela", "Merkel", "visited", "Paris", "#", "."],  # the '#' token is kept, comments are not
        ["B-PER", "I-PER", "O", "B-LOC", "O", "O"],
    )
    assert sents[1] == (["New York"], ["B-LOC"])  # a tab separator keeps spaces inside tokens
    with pytest.raises(
        UserError, match=r"train.bilou:6: tag 'L-PER' is not O or B-TYPE, I-TYPE \(data.scheme=iob2\)"
    ):
        read_conll(f, tag_column=2, scheme="iob2", separator="\t")
    with pytest.raises(UserError, match=r"train.bilou:12: expected 3 space-separated columns"):
        read_conll(f, tag_column=2, scheme="bilou")  # whitespace splits "New York"


def test_every_scheme_round_trips_through_iob2():
    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
    for scheme in ("iob1", "iob2", "iobes", "bilou"):
        there, back = tagging(scheme)
        assert back(there(iob2)) == iob2, scheme
        assert to_iob2(there(iob2), scheme) == iob2, scheme
    assert tagging("bilou")[0](iob2) == ["B-PER", "L-PER", "O", "U-LOC", "B-LOC", "L-LOC", "O", "U-ORG"]


def test_conll_files_reader_carves_and_reads_single_files(tmp_path):
    sentence = "EU\tB-ORG\nrejects\tO\nGerman\tB-MISC\ncall\tO\n\n"
    write(tmp_path / "train.txt", sentence * 30)
    reader = ConllFiles(
        "mine", str(tmp_path), {"train": "train.txt", "val": None, "test": None}, tag_column=1
    )
    splits = reader.splits(seed=1)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [24, 3, 3]
    assert reader.read_file(tmp_path / "train.txt")[0][1] == ["B-ORG", "O", "B-MISC", "O"]


def test_parallel_files_moses_prefix_or_tsv_either_direction(tmp_path):
    from nlprnn.data.parallel import ParallelFiles

    fr = [f"phrase {i} en français" for i in range(40)]
    en = [f"sentence {i} in English" for i in range(40)]
    write(tmp_path / "train.fr", "\n".join(fr) + "\n")
    write(tmp_path / "train.en", "\n".join(en) + "\n")
    write(tmp_path / "pairs.tsv", "".join(f'{e}\t"{f}"\tattribution\n' for e, f in zip(en, fr)))
    moses = ParallelFiles("p", str(tmp_path), "fr", "en", files={"train": "train"}).splits(seed=1)
    assert [len(moses[s]) for s in ("train", "val", "test")] == [32, 4, 4]
    assert all(s.startswith("phrase") and t.startswith("sentence") for s, t in moses["train"])
    tsv = ParallelFiles(
        "p", str(tmp_path), "fr", "en", files={"train": "pairs.tsv"}, src_column=1, tgt_column=0
    )
    flipped = tsv.splits(seed=1)
    assert flipped["train"][0][0].startswith('"phrase')  # quotes are text in a TSV
    back = ParallelFiles("p", str(tmp_path), "en", "fr", files={"train": "pairs.tsv"}).splits(seed=1)
    # the same grouped split whichever side is the source
    assert [t for _, t in back["test"]] == [s for s, _ in flipped["test"]]
    write(tmp_path / "short.en", "one\ntwo\n")
    write(tmp_path / "short.fr", "un\n")
    with pytest.raises(UserError, match="parallel files differ in length"):
        ParallelFiles("p", str(tmp_path), "fr", "en", files={"train": "short"}).splits(0)
    with pytest.raises(UserError, match=r"data.files.train=nothing: neither a TSV file nor the prefix"):
        ParallelFiles("p", str(tmp_path), "fr", "en", files={"train": "nothing"}).splits(0)


def test_text_files_contiguous_carving_and_encoding_errors(tmp_path):
    from nlprnn.data.text import TextFiles

    write(tmp_path / "a.txt", "a" * 900)
    write(tmp_path / "b.txt", "b" * 99)  # joined after a newline: 1,001 characters in all
    splits = TextFiles("t", str(tmp_path), {"train": ["a.txt", "b.txt"]}, carve_fraction=0.05).splits()
    assert [len(splits[s]) for s in ("train", "val", "test")] == [900, 50, 51]  # int(n * 0.9), int(n * 0.05)
    assert splits["train"] + splits["val"] + splits["test"] == "a" * 900 + "\n" + "b" * 99 + "\n"
    write(tmp_path / "v.txt", "held out\n")
    only_test = TextFiles("t", str(tmp_path), {"train": "a.txt", "val": "v.txt"}).splits()
    assert only_test["val"] == "held out\n" and len(only_test["test"]) == 46  # 901 - int(901 * 0.95)
    (tmp_path / "bad.txt").write_bytes(b"line one\nline two caf\xe9\n")
    with pytest.raises(UserError, match=r"bad.txt:2: not UTF-8 text \(invalid continuation .* at byte 21\)"):
        TextFiles("t", str(tmp_path), {"train": "bad.txt"}).splits()


def test_every_reader_reads_a_hub_dataset_local_builders_and_the_offline_message(tmp_path, monkeypatch):
    from nlprnn.data.parallel import ParallelFiles
    from nlprnn.data.text import TextFiles

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))

    def hub(name: str, **more) -> dict:
        return {"path": "json", "data_files": {"train": name}, **more}

    rows = "".join(json.dumps({"review": f"text {i}", "stars": i % 3}) + "\n" for i in range(50))
    write(tmp_path / "train.jsonl", rows)
    columns = {"text": "review", "label": "stars"}
    splits = TableTexts("h", str(tmp_path), hub=hub("train.jsonl", columns=columns)).splits(seed=0)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [40, 5, 5]
    assert {label for _, label in splits["train"]} == {"0", "1", "2"}
    tagged = "".join(
        json.dumps({"words": ["EU", "rejects"], "ner": ["B-ORG", "O"]}) + "\n" for _ in range(20)
    )
    write(tmp_path / "ner.jsonl", tagged)
    ner = ConllFiles("h", str(tmp_path), hub=hub("ner.jsonl", columns={"tokens": "words", "tags": "ner"}))
    assert ner.splits(0)["train"][0] == (["EU", "rejects"], ["B-ORG", "O"])
    pairs = "".join(json.dumps({"fr": f"bonjour {i}", "en": f"hello {i}"}) + "\n" for i in range(30))
    write(tmp_path / "pairs.jsonl", pairs)
    mt_hub = hub("pairs.jsonl", columns={"src": "fr", "tgt": "en"}, splits={"val": None, "test": None})
    mt_splits = ParallelFiles("h", str(tmp_path), "fr", "en", hub=mt_hub).splits(0)
    assert [len(mt_splits[s]) for s in ("train", "val", "test")] == [24, 3, 3]
    assert all(s.replace("bonjour", "hello") == t for s, t in mt_splits["train"])
    write(tmp_path / "book.txt", "".join(f"line {i}\n" for i in range(100)))
    book = {"path": "text", "data_files": {"train": "book.txt"}}
    text = TextFiles("h", str(tmp_path), hub=book).splits(0)
    assert text["train"] + text["val"] + text["test"] == "".join(f"line {i}\n" for i in range(100))
    with pytest.raises(
        UserError, match="data.hub.path='someone/dataset' is not loadable .* data.hub.path=csv"
    ):
        TableTexts("h", None, hub={"path": "someone/dataset"}).splits(0)
    with pytest.raises(UserError, match="no column 'text' in json"):
        TableTexts("h", str(tmp_path), hub=hub("train.jsonl")).splits(0)
    with pytest.raises(UserError, match=r"data.hub.name: not a key of data.hub \(path, config"):
        TableTexts("h", str(tmp_path), hub={"name": "x"}).splits(0)


def test_a_preset_without_its_files_falls_back_to_its_hub_copy(tmp_path, monkeypatch):
    """conf/data/conll2003_en.yaml with an empty data.dir: the hub copy is tried, and the message
    names the missing file, the hub dataset and the way to local files."""
    from tests.conftest import preset_splits

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        UserError,
        match=r"ner/conll2003_en/train.txt is not under data.dir=.*'eriktks/conll2003' is not loadable",
    ):
        preset_splits("ner", "conll2003_en", f"data.dir={tmp_path}")


def test_word_vectors_file_matched_case_insensitively_with_coverage(tmp_path):
    import gzip

    import torch

    from nlprnn.data.vocab import Vocab
    from nlprnn.embeddings.pretrained_vectors import PretrainedInit, read_vectors

    lines = ["4 3", "Paris 1 0 0", "paris 9 9 9", "the 0 1 0", "Berlin 0 0 1"]
    with gzip.open(tmp_path / "vec.txt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    found, dim = read_vectors(tmp_path / "vec.txt.gz", ["paris", "Paris", "berlin", "rome"])
    assert dim == 3 and found["Paris"].tolist() == [1, 0, 0] and found["paris"].tolist() == [9, 9, 9]
    assert found["berlin"].tolist() == [0, 0, 1] and "rome" not in found  # case-insensitive fallback
    vocab = Vocab(["<pad>", "<unk>", "paris", "berlin", "rome", "the"], unk="<unk>")
    table = torch.randn(6, 3)
    before = table.clone()
    log = PretrainedInit("vec.txt.gz")(table, vocab, [], str(tmp_path))
    assert "vectors for 3 of 4 words (75.0% coverage" in log
    assert torch.equal(table[4], before[4]) and not torch.equal(table[2], before[2])  # rome kept
    # rescaled as a block: directions kept
    assert torch.allclose(table[2] / table[2].norm(), torch.ones(3) / 3**0.5)
    with pytest.raises(
        UserError, match="vectors of 3 dimensions, but the model's embeddings have 5: set model.emb_dim=3"
    ):
        PretrainedInit("vec.txt.gz")(torch.randn(6, 5), vocab, [], str(tmp_path))
    write(tmp_path / "bad.txt", "a 1 2 3\nb 1 2\n")
    with pytest.raises(UserError, match=r"bad.txt:2: 2 values where line 1 had 3"):
        read_vectors(tmp_path / "bad.txt", ["a", "b"])


def test_evaluate_reads_a_new_file_with_the_trained_readers_settings(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from nlprnn.modes import splits

    write(tmp_path / "new.tsv", "words\tstars\nvery good\t5\nbad\t1\n")
    trained = {
        "seed": 3,
        "data": {
            "_target_": "nlprnn.data.table.TableTexts", "name": "mine", "dir": None, "labels": None,
            "files": {"train": "gone.csv", "val": None, "test": None},  # the training file is not needed
            "text_column": "words", "label_column": "stars",
        },
    }  # fmt: skip
    cfg = OmegaConf.create({"data": {"dir": str(tmp_path), "files": {"test": "new.tsv"}}})
    monkeypatch.setattr(
        splits, "command_line_overrides", lambda: ["mode=evaluate", "data.files.test=new.tsv"]
    )
    assert splits.evaluation_splits(cfg, trained) == {"test": [("very good", "5"), ("bad", "1")]}
    imdb_data = {"_target_": "nlprnn.data.imdb.ImdbArchive", "name": "imdb", "dir": None}
    imdb = {"seed": 3, "data": {**imdb_data, "archive": "x.tar.gz", "labels": ["neg", "pos"]}}
    with pytest.raises(UserError, match="does not read single files; choose the file's format .* data=table"):
        splits.evaluation_splits(cfg, imdb)
    old = {"seed": 3, "data": {"_target_": "nlprnn.data.char_corpus.CharCorpus", "name": "tinyshakespeare"}}
    monkeypatch.setattr(splits, "command_line_overrides", lambda: ["mode=evaluate"])
    with pytest.raises(UserError, match="now a preset of a format reader; add data=tinyshakespeare"):
        splits.evaluation_splits(cfg, old)


def test_the_sentiment_report_counts_unscored_texts_in_words():
    from nlprnn.recipes.sentiment import Sentiment

    per_class = {k: {"precision": 50.0, "recall": 50.0, "f1": 50.0, "support": 1} for k in ("neg", "pos")}
    scores = {"accuracy": 50.0, "macro_f1": 50.0, "texts": 2, "seconds": 0.1, "per_class": per_class}
    scores.update(confusion=[[1, 0], [1, 0]], labels=["neg", "pos"])
    recipe = object()  # describe reads only its scores (no state left by score)
    one = Sentiment.describe(recipe, "test", {**scores, "unknown_labels": {"neutral": 1}})
    assert "not scored: 1 text with labels the model does not know: 'neutral' x1" in one
    two = Sentiment.describe(recipe, "test", {**scores, "unknown_labels": {"7": 2, "x": 1}})
    assert "not scored: 3 texts with labels the model does not know: '7' x2, 'x' x1" in two
    assert "not scored" not in Sentiment.describe(recipe, "test", scores)


BOM = "\ufeff"  # what a spreadsheet's "UTF-8 with BOM" puts first


def test_a_spreadsheet_csv_with_a_byte_order_mark_is_read(tmp_path):
    rows = "".join(f"text {i},{i % 2}\n" for i in range(20))
    write(tmp_path / "reviews.csv", BOM + "review,stars\n" + rows)
    files = {"train": "reviews.csv"}
    reader = TableTexts("mine", str(tmp_path), files, labels=None, text_column="review", label_column="stars")
    assert reader.splits(seed=0)["train"][0] == ("text 0", "0")
    write(tmp_path / "r.tsv", BOM + "review\tstars\ngood\t5\n")
    write(tmp_path / "r.jsonl", BOM + '{"review": "good", "stars": 5}\n')
    for name in ("r.tsv", "r.jsonl"):
        assert [r for _, r in read_columns(tmp_path / name, ["review", "stars"])] == [["good", "5"]]


def test_every_other_reader_drops_a_byte_order_mark(tmp_path):
    from nlprnn.data.parallel import read_lines
    from nlprnn.embeddings.pretrained_vectors import read_vectors
    from nlprnn.embeddings.word_vectors import unlabelled_texts
    from nlprnn.recipes.course.timeseries import read_series

    assert read_conll(write(tmp_path / "a.conll", BOM + "Paris B-LOC\n")) == [(["Paris"], ["B-LOC"])]
    sst = TableTexts("sst", None, text_column="sentence", format={"test": "label_text"}, labels=["n", "p"])
    assert sst.read_file(write(tmp_path / "a.tsv", BOM + "sentence\tlabel\ngood\t1\n"), "train") == [
        ("good", "p")
    ]
    assert sst.read_file(write(tmp_path / "a.txt", BOM + "1 good\n"), "test") == [("good", "p")]
    assert read_lines(write(tmp_path / "a.de", BOM + "Hund\n")) == ["Hund"]
    series = write(tmp_path / "s.csv", BOM + "year,co2\n1,2\n2,3\n")
    assert read_series(series, "year", "co2") == ([1, 2], [2, 3])
    found, _ = read_vectors(write(tmp_path / "v.txt", BOM + "paris 1 0\n"), ["paris"])
    assert found["paris"].tolist() == [1, 0]
    assert unlabelled_texts(["c.txt"], str(write(tmp_path / "c.txt", BOM + "one\n").parent), []) == ["one"]


def test_hub_text_builder_drops_a_byte_order_mark(tmp_path, monkeypatch):
    from nlprnn.data.text import TextFiles

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    write(tmp_path / "book.txt", BOM + "".join(f"line {i}\n" for i in range(100)))
    book = {"path": "text", "data_files": {"train": "book.txt"}}
    text = TextFiles("h", str(tmp_path), hub=book).splits(0)
    assert text["train"].startswith("line 0\n")


@pytest.mark.parametrize("reader", ["conll", "sst2", "label_first", "series", "vectors", "corpus", "table"])
def test_bytes_that_are_not_utf8_name_the_file_and_line(tmp_path, reader):
    from nlprnn.embeddings.pretrained_vectors import read_vectors
    from nlprnn.embeddings.word_vectors import unlabelled_texts
    from nlprnn.recipes.course.timeseries import read_series

    sst = TableTexts("sst", None, text_column="sentence", format={"test": "label_text"}, labels=["n", "p"])
    path = tmp_path / "latin1.dat"
    read = {
        "conll": (b"Paris B-LOC\nEspa\xf1a B-LOC\n", read_conll),
        "sst2": (b"sentence\tlabel\ncaf\xe9\t1\n", lambda p: sst.read_file(p, "train")),
        "label_first": (b"1 good\n0 caf\xe9\n", lambda p: sst.read_file(p, "test")),
        "series": (b"year,co2\n1,\xb02\n2,3\n", lambda p: read_series(p, "year", "co2")),
        "vectors": (b"a 1 0\nb\xe9 0 1\n", lambda p: read_vectors(p, ["a"])),
        "corpus": (b"one\ntwo\xe9\n", lambda p: unlabelled_texts([p.name], str(p.parent), [])),
        "table": (b"text,label\ncaf\xe9,1\n", lambda p: read_columns(p, ["text", "label"], "csv")),
    }
    content, read = read[reader]
    path = path.with_suffix(".tsv" if reader == "sst2" else ".dat")
    path.write_bytes(content)
    with pytest.raises(UserError, match=rf"{path.name}:2: not UTF-8 text"):
        read(path)
