import pytest
import torch

from nlprnn.data.batching import BpttBatches
from nlprnn.data.text import cut_contiguous, read_text, strip_gutenberg
from nlprnn.data.vocab import Vocab
from nlprnn.errors import UserError


def test_split_is_contiguous_and_disjoint():
    text = "".join(chr(ord("a") + i % 26) for i in range(1003))
    cut = cut_contiguous(text, ["val", "test"], 0.05)
    assert list(cut) == ["train", "val", "test"]
    assert [len(t) for t in cut.values()] == [902, 50, 51]  # int(n * 0.9), int(n * 0.05), the rest
    assert "".join(cut.values()) == text  # contiguous cut: nothing shared, nothing lost
    only_test = cut_contiguous(text, ["test"], 0.1)
    assert [len(t) for t in only_test.values()] == [902, 101]


@pytest.mark.parametrize("bad", [0.0, 0.25, -0.1])
def test_split_rejects_bad_fractions(bad):
    with pytest.raises(UserError, match="data.carve_fraction"):
        cut_contiguous("abc" * 100, ["val", "test"], bad)


def test_tinyshakespeare_preset_cuts_the_recorded_splits(data_dir):
    """The sizes every recorded char LM result was trained and scored on."""
    from tests.conftest import preset_splits

    splits = preset_splits("char_lm", "tinyshakespeare")
    assert {k: len(v) for k, v in splits.items()} == {"train": 1003854, "val": 55769, "test": 55771}
    assert splits["train"].startswith("First Citizen:") and splits["test"].endswith("art waking.\n")


def test_read_text_normalises_and_rejects(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"\xef\xbb\xbfline1\r\nline2\rline3\n")
    assert read_text(f) == "line1\nline2\nline3\n"
    f.write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(UserError, match=r"a.txt:2: not UTF-8 text"):
        read_text(f)
    f.write_bytes(b"  \n\n")
    with pytest.raises(UserError, match="empty"):
        read_text(f)


def test_strip_gutenberg(data_dir):
    text = read_text(data_dir / "charlm/quijote_es/pg2000.txt")
    book = strip_gutenberg(text)
    assert "Project Gutenberg" not in book and "PROJECT GUTENBERG" not in book
    assert book.startswith("El ingenioso hidalgo don Quijote de la Mancha")
    assert "En un lugar de la Mancha" in book
    assert 2_100_000 < len(book) < 2_120_000  # SOURCE.md: 2,110,736 chars between the markers
    with pytest.raises(UserError, match="markers"):
        strip_gutenberg("no markers here")


def test_bptt_batches_continue_rows():
    ids = torch.arange(103)
    batches = BpttBatches(ids, batch_size=4, bptt=6, offset=3)  # 100 ids -> 4 rows of 25
    assert len(batches) == 4  # 24 (input, target) pairs per row in windows of 6
    x0, y0 = batches[0]
    x1, _ = batches[1]
    assert x0.shape == (4, 6)
    assert torch.equal(y0, x0 + 1)  # targets are the next character
    assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row b of batch 1 continues row b of batch 0
    assert x0[0, 0] == 3 and x0[1, 0] == 28
    xs, ys = batches[3]
    assert xs.shape == (4, 6) and ys[:, -1].tolist() == [27, 52, 77, 102]


def test_bptt_batches_shard_rows_across_ranks():
    ids = torch.arange(200)
    full = BpttBatches(ids, 4, 5)
    parts = [BpttBatches(ids, 4, 5, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(torch.cat([p[2][0] for p in parts]), full[2][0])
    with pytest.raises(UserError, match="divide"):
        BpttBatches(ids, 3, 5, world_size=2)


def test_vocab_roundtrip_and_unk(tmp_path):
    vocab = Vocab.build("hello world", specials=["<unk>"], unk="<unk>")
    assert vocab.itos[0] == "<unk>" and len(vocab) == 1 + len(set("hello world"))
    assert vocab.decode(vocab.encode("hello").tolist()) == list("hello")
    assert vocab.encode("z").tolist() == [0]
    vocab.save(tmp_path / "v.json")
    import json

    again = Vocab.from_dict(json.loads((tmp_path / "v.json").read_text()))
    assert again.itos == vocab.itos and again.unk_id == 0
