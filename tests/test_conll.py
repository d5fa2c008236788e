import pytest

from nlprnn.data.conll import iob1_to_iob2, iob2_to_iob1, read_conll
from nlprnn.errors import UserError

IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG", "I-MISC", "B-MISC"]
IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG", "B-MISC", "B-MISC"]


def test_iob1_iob2_round_trip():
    assert iob1_to_iob2(IOB1) == IOB2
    assert iob2_to_iob1(IOB2) == IOB1
    assert iob1_to_iob2(iob2_to_iob1(IOB2)) == IOB2
    assert iob1_to_iob2(IOB2) == IOB2  # IOB2 input is left alone


def test_reads_docstart_blank_lines_and_tag_column(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\n\n"
        "Peter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER"  # no final newline, as in the CoNLL-2003 copy
    )
    sents = read_conll(f, tag_column=3, scheme="iob1")
    assert sents == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter", "Blackburn"], ["B-PER", "I-PER"])]


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("a O\nb B-PER\nc\n", 3, "columns"),
        ("a O\nb B-PER extra\n", 2, "columns"),
        ("a O\n\nb PERSON\n", 3, "not O or B-TYPE, I-TYPE"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, what):
    f = tmp_path / "bad.conll"
    f.write_text(text)
    with pytest.raises(UserError, match=rf"bad.conll:{line}: .*{what}"):
        read_conll(f, tag_column=1)


def test_empty_and_non_utf8_files(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("\n\n")
    with pytest.raises(UserError, match="no sentences"):
        read_conll(f)
    f.write_bytes(b"Espa\xf1a B-LOC\n")
    with pytest.raises(UserError, match="not UTF-8"):
        read_conll(f)


def test_real_files_have_the_published_counts(data_dir):
    en = read_conll(data_dir / "ner/conll2003_en/train.txt", tag_column=3)
    es = read_conll(data_dir / "ner/conll2002_es/esp.testb", tag_column=1)
    assert (len(en), sum(len(t) for t, _ in en)) == (14041, 203621)
    assert (len(es), sum(len(t) for t, _ in es)) == (1517, 51533)
    assert sum(tag == "B-PER" for _, tags in en for tag in tags) == 6600


def test_missing_local_files_offline_say_how_to_fix(tmp_path, monkeypatch):
    from nlprnn.modes.splits import load_splits
    from tests.conftest import compose_config

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose_config(["recipe=ner", "data=conll2002_es", f"data.dir={tmp_path}"])
    with pytest.raises(UserError, match=r"ner/conll2002_es/esp.train.*NLPRNN_DATA"):
        load_splits(cfg.data, seed=0)


def test_iobes_marks_single_and_last_tokens_and_round_trips():
    from nlprnn.data.conll import iob2_to_iobes, iobes_to_iob2, tagging

    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "O", "B-ORG"]
    iobes = iob2_to_iobes(iob2)
    assert iobes == ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "I-LOC", "E-LOC", "O", "S-ORG"]
    assert iobes_to_iob2(iobes) == iob2
    # an ill-formed prediction still maps to tags seqeval reads
    assert iobes_to_iob2(["E-PER", "S-LOC", "I-LOC"]) == ["I-PER", "B-LOC", "I-LOC"]
    assert tagging("iob2")[0](iob2) == iob2
    with pytest.raises(UserError, match="tagging='bioes'"):
        tagging("bioes")


@pytest.mark.parametrize(
    "text, options, line, message",
    [
        ("Melbourne\nis\n", {}, 1, r"1 column, but data.tag_column=-1 needs at least 2 \(token and tag"),
        ("# id 1\nMelbourne\n", {}, 2, r"1 column, but data.tag_column=-1 needs at least 2"),
        ("a X O\n", {"tag_column": 3}, 1, r"3 columns, but data.tag_column=3 needs at least 4"),
        ("a X O\n", {"token_column": -4}, 1, r"3 columns, but data.token_column=-4 needs at least 4"),
    ],
)
def test_missing_token_or_tag_columns_name_the_keys_and_the_count(tmp_path, text, options, line, message):
    f = tmp_path / "one.conll"
    f.write_text(text)
    with pytest.raises(UserError, match=rf"one.conll:{line}: {message}"):
        read_conll(f, **options)


def test_token_and_tag_in_the_same_column_are_refused(tmp_path):
    with pytest.raises(UserError, match="data.token_column=1 and data.tag_column=1 are the same column"):
        read_conll(tmp_path / "not_read.conll", token_column=1, tag_column=1)  # before reading
    f = tmp_path / "three.conll"
    f.write_text("a X O\n")
    message = r"three.conll:1: 3 columns, but data.token_column=1 and data.tag_column=-2 are the same"
    with pytest.raises(UserError, match=message):
        read_conll(f, token_column=1, tag_column=-2)


def test_bio_is_another_name_of_iob2(tmp_path):
    from nlprnn.config_checks import check_config
    from nlprnn.data.conll import tagging, to_iob2
    from tests.conftest import compose_config

    f = tmp_path / "bio.conll"
    f.write_text("EU B-ORG\nrejects O\nGerman B-MISC\nBritish I-MISC\n\nPeter B-PER\n")
    assert read_conll(f, scheme="bio") == read_conll(f, scheme="iob2")
    assert to_iob2(IOB2, "bio") == IOB2 and tagging("bio")[0](IOB2) == IOB2
    bio = ["tagging=bio", "output_scheme=bio", "data=conll", "data.scheme=bio"]
    check_config(compose_config(["recipe=ner", *bio]))
