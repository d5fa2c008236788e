"""Property-based tests (hypothesis) of every reader and of the checkpoint loader: whatever the bytes
(random, non-UTF-8, empty, huge lines, wrong columns, truncated), a read ends in data or in one
UserError, never another exception or a hang."""

import gzip
import io
import os
import string
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlprnn.data.conll import read_conll
from nlprnn.data.imdb import read_imdb
from nlprnn.data.parallel import ParallelFiles, read_lines, read_parallel
from nlprnn.data.table import TableTexts
from nlprnn.data.text import read_text
from nlprnn.errors import UserError
from nlprnn.inference.textio import read_lines as read_input_lines
from nlprnn.training.checkpoint import FORMAT, load_checkpoint

# 150 cases per reader in the suite; NLPRNN_FUZZ_EXAMPLES=5000 for a longer campaign
EXAMPLES = int(os.environ.get("NLPRNN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-MISC", "E-ORG", "S-LOC", "X", "B-", "i-per", "-DOCSTART-"]
CHARS = string.printable + "äöüñ€\u00a0\u2028\u0085\ufeff\x00\x1b\r"


SCRATCH = Path(tempfile.mkdtemp(prefix="nlprnn-fuzz-"))  # one folder, its files rewritten per case


def _file(content: bytes, suffix: str = ".txt", name: str = "f") -> Path:
    path = SCRATCH / f"{name}{suffix}"
    path.write_bytes(content)
    return path


def _ends_in_data_or_user_error(read, *args):
    try:
        return read(*args)
    except UserError as exc:
        assert "\n" not in str(exc).strip(), str(exc)  # one line
        return None


# text with lines of any shape: random bytes, mangled UTF-8, control characters, huge lines
raw_bytes = st.one_of(
    st.binary(max_size=4000),
    st.text(alphabet=CHARS, max_size=3000).map(lambda t: t.encode("utf-8")),
    st.text(alphabet=CHARS, max_size=200).map(lambda t: t.encode("utf-8") * 200),  # huge lines
    st.text(alphabet=CHARS, max_size=500).map(lambda t: t.encode("latin-1", "replace")),
)
conll_lines = st.lists(
    st.one_of(
        st.just(""),
        st.lists(
            st.text(alphabet=string.ascii_letters + "äé-.,", min_size=1, max_size=8), min_size=1, max_size=5
        ).flatmap(lambda cols: st.sampled_from(TAGS).map(lambda tag: " ".join([*cols, tag]))),
    ),
    max_size=60,
).map(lambda lines: "\n".join(lines).encode("utf-8"))


@FUZZ
@given(st.one_of(raw_bytes, conll_lines), st.sampled_from([-1, 0, 1, 3]), st.sampled_from(["iob1", "iob2"]))
def test_conll(content, tag_column, scheme):
    sentences = _ends_in_data_or_user_error(read_conll, _file(content), tag_column, scheme)
    for tokens, tags in sentences or []:
        assert len(tokens) == len(tags) > 0


glue_lines = st.lists(
    st.tuples(st.text(alphabet=CHARS, max_size=40), st.sampled_from(["0", "1", "2", "", "x"])), max_size=40
).map(lambda rows: ("sentence\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows)).encode("utf-8"))


@FUZZ
@given(st.one_of(raw_bytes, glue_lines), st.sampled_from(["tsv", "label_text", "csv", "jsonl"]))
def test_table_files(content, fmt):
    reader = TableTexts("t", None, text_column="sentence", format=fmt, labels=["negative", "positive"])
    examples = _ends_in_data_or_user_error(reader.read_file, _file(content, ".txt"))
    assert examples is None or all(label and text for text, label in examples)


@FUZZ
@given(raw_bytes, raw_bytes, st.booleans())
def test_parallel_text(src, tgt, gz):
    suffix = ".gz" if gz else ".txt"
    encode = gzip.compress if gz else (lambda b: b)
    a, b = _file(encode(src), suffix, "a"), _file(encode(tgt), suffix, "b")
    pairs = _ends_in_data_or_user_error(read_parallel, a, b)
    assert pairs is None or len(pairs) == len(read_lines(a))
    tsv = ParallelFiles("tsv", None, "es", "en", src_column=1, tgt_column=0)
    _ends_in_data_or_user_error(tsv.read_file, a)


@FUZZ
@given(raw_bytes, st.integers(0, 100))
def test_gzip_cut_short(content, cut):
    data = gzip.compress(content)
    _ends_in_data_or_user_error(read_lines, _file(data[: len(data) * cut // 100], ".gz"))


@FUZZ
@given(raw_bytes)
def test_char_text(content):
    text = _ends_in_data_or_user_error(read_text, _file(content))
    assert text is None or (text.strip() and "\r" not in text)


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


member_names = st.sampled_from(
    [
        "aclImdb/train/pos/1_9.txt",
        "aclImdb/test/neg/2_1.txt",
        "aclImdb/train/neg/3_2.txt",
        "aclImdb/README",
        "x",
    ]
)
archives = st.dictionaries(member_names, raw_bytes, max_size=5).map(_tar)


@FUZZ
@given(st.one_of(st.binary(max_size=3000), archives), st.integers(0, 100), st.integers(0, 3000))
def test_imdb_archive(archive, cut, flip):
    damaged = bytearray(archive[: max(1, len(archive) * cut // 100)] if cut < 100 else archive)
    if damaged and flip < len(damaged):
        damaged[flip] ^= 0xFF
    _ends_in_data_or_user_error(read_imdb, _file(bytes(damaged), ".tar.gz"))


@FUZZ
@given(st.binary(max_size=5000))
def test_checkpoint_loader(content):
    _ends_in_data_or_user_error(load_checkpoint, _file(content, ".pt"), "char_lm")


def _checkpoint_bytes() -> bytes:
    import torch

    buffer = io.BytesIO()
    state = {
        "recipe": "char_lm",
        "format": FORMAT,
        "model": {"w": torch.randn(4, 3)},
        "config": {"model": {}},
    }
    torch.save(state, buffer)
    return buffer.getvalue()


CHECKPOINT = _checkpoint_bytes()


@FUZZ
@given(st.integers(0, len(CHECKPOINT)), st.integers(0, len(CHECKPOINT) - 1), st.integers(1, 255))
def test_checkpoint_cut_or_damaged(cut, at, xor):
    damaged = bytearray(CHECKPOINT[:cut])
    if at < len(damaged):
        damaged[at] ^= xor
    _ends_in_data_or_user_error(load_checkpoint, _file(bytes(damaged), ".pt"), "char_lm")


@FUZZ
@given(raw_bytes)
def test_inference_input_lines(content):
    lines = _ends_in_data_or_user_error(lambda p: list(read_input_lines(p)), str(_file(content)))
    if lines is not None:  # only \\n ends a line
        assert len(lines) == content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)
