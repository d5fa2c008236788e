"""Sentiment readers (the SST-2 preset of data=table: GLUE tsv, sentence-level SST; the IMDB archive),
tokenizers, truncation."""

import io
import tarfile

import pytest

from nlprnn.data.imdb import carve_validation, read_imdb
from nlprnn.data.table import TableTexts
from nlprnn.data.tokenizers import truncate
from nlprnn.data.word_tokenizer import WordTokenizer, split_words
from nlprnn.errors import UserError


def sst_reader(directory=None) -> TableTexts:
    """conf/data/sst2.yaml's reader: GLUE tsv (train, val), '<label> <text>' lines (test)."""
    fmt = {"test": "label_text"}
    return TableTexts("sst2", directory, text_column="sentence", format=fmt, labels=["negative", "positive"])


@pytest.mark.slow
def test_real_sst2_files(data_dir):
    from tests.conftest import preset_splits

    splits = preset_splits("sentiment", "sst2")
    train, test = splits["train"], splits["test"]
    assert len(train) == 67349 and sum(label == "positive" for _, label in train) == 37569
    assert len(test) == 1821 and sum(label == "positive" for _, label in test) == 909
    assert train[0] == ("hide new secretions from the parental units", "negative")
    assert len(splits["val"]) == 872


def test_labels_name_integer_labels_and_keep_others(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nbad\t0\nodd\t7\nfine\tpositive\n")
    assert sst_reader().read_file(path, "train") == [
        ("good", "positive"),
        ("bad", "negative"),
        ("odd", "7"),
        ("fine", "positive"),
    ]  # 7 is no class: the recipe stops on it ("data.labels ... lacks the training labels")


@pytest.mark.parametrize(
    "name, split, text, where",
    [
        ("bad.tsv", "train", "sentence\tlabel\ngood film \t1\nno label here\n", "bad.tsv:3"),
        ("bad.tsv", "train", "text\tlabel\ngood film \t1\n", "bad.tsv:1: no column 'sentence'"),
        ("bad.txt", "test", "1 fine\n0\n", "bad.txt:2: expected '<label> <text>'"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, name, split, text, where):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=where):
        sst_reader().read_file(path, split)


def _archive(path, reviews):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_imdb_archive_labels_splits_and_html(tmp_path):
    path = tmp_path / "imdb.tar.gz"
    _archive(
        path,
        {
            "aclImdb/README": "not a review",
            "aclImdb/train/pos/0_9.txt": "Great.<br /><br />Loved it",
            "aclImdb/train/neg/1_2.txt": "Awful",
            "aclImdb/train/urls_pos.txt": "http://...",
            "aclImdb/test/pos/3_8.txt": "Fine film",
        },
    )
    splits = read_imdb(path)
    assert sorted(splits["train"]) == [("Awful", 0), ("Great.  Loved it", 1)]
    assert splits["test"] == [("Fine film", 1)]
    (tmp_path / "junk.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match="junk.tar.gz"):
        read_imdb(tmp_path / "junk.tar.gz")


@pytest.mark.slow
@pytest.mark.parametrize("where", [0.75, 0.9])
def test_a_damaged_imdb_archive_is_an_error_not_a_smaller_dataset(data_dir, tmp_path, where):
    """4 KB flipped at 75% of the real archive used to give 12,363 training reviews, all negative."""
    data = bytearray((data_dir / "sentiment/imdb/aclImdb_v1_labeled.tar.gz").read_bytes())
    start = int(len(data) * where)
    data[start : start + 4096] = bytes(255 - b for b in data[start : start + 4096])
    (tmp_path / "bad.tar.gz").write_bytes(data)
    with pytest.raises(UserError, match="bad.tar.gz: not a readable aclImdb"):
        read_imdb(tmp_path / "bad.tar.gz")
    (tmp_path / "short.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="short.tar.gz: not a readable aclImdb"):
        read_imdb(tmp_path / "short.tar.gz")


def test_imdb_class_counts_are_checked(tmp_path):
    path = tmp_path / "imdb.tar.gz"
    _archive(
        path,
        {
            f"aclImdb/{s}/{c}/{i}_1.txt": "text"
            for s in ("train", "test")
            for c in ("pos", "neg")
            for i in range(3)
        },
    )
    assert len(read_imdb(path, per_class=3)["train"]) == 6
    _archive(path, {"aclImdb/train/neg/0_1.txt": "x", "aclImdb/test/pos/0_9.txt": "y"})
    with pytest.raises(UserError, match="train holds 0 positive and 1 negative reviews, not 3 of each"):
        read_imdb(path, per_class=3)


def test_validation_split_is_seeded_and_disjoint():
    train = [(f"text {i}", i % 2) for i in range(100)]
    rest, val = carve_validation(train, 10, seed=1)
    assert len(rest) == 90 and len(val) == 10 and not set(rest) & set(val)
    assert (
        carve_validation(train, 10, seed=1) == (rest, val) and carve_validation(train, 10, seed=2)[1] != val
    )
    with pytest.raises(UserError, match="val_size"):
        carve_validation(train, 100, seed=1)


def test_word_tokenizer_frequency_cut_and_unknowns():
    texts = ["The film is good", "the film is bad", "a film"]
    tok = WordTokenizer.build(texts, min_freq=2)
    assert tok.vocab.itos == ["<pad>", "<unk>", "film", "is", "the"]
    assert tok.encode(["The FILM was good"]) == [[4, 2, 1, 1]]
    assert WordTokenizer.build(texts, max_size=3).vocab.itos == ["<pad>", "<unk>", "film"]
    assert WordTokenizer.from_dict(tok.to_dict()).encode(["is"]) == [[3]]
    assert split_words("It doesn't work -- at all!<br />") == [
        "it",
        "doesn't",
        "work",
        "-",
        "-",
        "at",
        "all",
        "!",
        "<",
        "br",
        "/",
        ">",
    ]


def test_truncation_sides():
    ids = list(range(10))
    assert truncate(ids, 4, "tail") == [0, 1, 2, 3]
    assert truncate(ids, 4, "head") == [6, 7, 8, 9]
    assert truncate(ids, None) == ids and truncate(ids, 20, "head") == ids
    with pytest.raises(UserError, match="truncate"):
        truncate(ids, 4, "middle")


def test_embedding_corpus_entries(tmp_path):
    from nlprnn.embeddings.word_vectors import unlabelled_texts

    _archive(
        tmp_path / "imdb.tar.gz",
        {"aclImdb/train/pos/0_9.txt": "train review", "aclImdb/test/neg/1_2.txt": "test review"},
    )
    (tmp_path / "more.txt").write_text("line one\nline two\n")
    corpus = ["train", "imdb.tar.gz", "more.txt"]
    assert unlabelled_texts(corpus, str(tmp_path), ["labelled text"]) == [
        "labelled text",
        "train review",
        "test review",
        "line one",
        "line two",
    ]
    assert unlabelled_texts(["imdb.tar.gz:train"], str(tmp_path), []) == ["train review"]
    with pytest.raises(UserError, match="own file"):  # IMDB's own test reviews must stay unseen
        unlabelled_texts(["imdb.tar.gz:train"], str(tmp_path), [], held_out=["imdb.tar.gz"])
    with pytest.raises(UserError, match="absent.txt"):
        unlabelled_texts(["absent.txt"], str(tmp_path), [])
