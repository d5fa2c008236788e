"""Sentencepiece wrapper: fixed special ids, round trips, unk for unseen characters."""

from __future__ import annotations

import random

import pytest

from nlprnn.data.subword import BOS_ID, EOS_ID, PAD_ID, UNK_ID, SubwordTokenizer, train_sentencepiece
from nlprnn.errors import UserError

WORDS = "the a cat dog bird sat ran flew on under over mat tree house red small big quickly".split()


def corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + "." for _ in range(n)]


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def tok(request, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("spm") / f"sp_{request.param}"
    path = train_sentencepiece(corpus(), prefix, vocab_size=60, model_type=request.param)
    assert path == prefix.parent / f"sp_{request.param}.model" and path.is_file()
    return SubwordTokenizer.from_file(path)


def test_special_ids_fixed(tok):
    assert (
        (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    )
    assert 20 < tok.vocab_size <= 60


def test_round_trip(tok):
    texts = corpus(50, seed=1) + ["a red bird flew over the small house."]
    ids = tok.encode(texts)
    assert len(ids) == len(texts) and all(isinstance(i, int) for row in ids for i in row)
    assert UNK_ID not in {i for row in ids for i in row}
    assert tok.decode(ids) == texts
    assert "".join(tok.pieces(texts[-1])).replace("\u2581", " ").strip() == texts[-1]


def test_decode_stops_at_eos_and_skips_pad_bos(tok):
    ids = tok.encode(["the cat sat.", "a dog."], add_bos=True, add_eos=True)
    assert ids[0][0] == BOS_ID and ids[0][-1] == EOS_ID
    padded = [row + [PAD_ID] * 3 + tok.encode(["tree"])[0] for row in ids]  # junk after eos
    assert tok.decode(padded) == ["the cat sat.", "a dog."]


def test_unseen_character_is_unk(tok):
    (ids,) = tok.encode(["the cat ж sat"])
    assert UNK_ID in ids
    assert tok.decode([ids])[0].startswith("the cat")


def test_training_is_reproducible_and_errors_are_clear(tmp_path):
    a = train_sentencepiece(corpus(), tmp_path / "a", vocab_size=50)
    b = train_sentencepiece(corpus(), tmp_path / "b", vocab_size=50)
    assert a.with_suffix(".vocab").read_text() == b.with_suffix(".vocab").read_text()
    with pytest.raises(UserError, match="model_type"):
        train_sentencepiece(corpus(), tmp_path / "c", vocab_size=50, model_type="word2vec")
    with pytest.raises(UserError, match="no text"):
        train_sentencepiece(["", "  "], tmp_path / "d", vocab_size=50)
    with pytest.raises(UserError, match="not found"):
        SubwordTokenizer.from_file(tmp_path / "missing.model")


def test_save_and_reload(tok, tmp_path):
    tok.save(tmp_path / "copy.model")
    again = SubwordTokenizer.from_file(tmp_path / "copy.model")
    texts = corpus(5, seed=2)
    assert again.encode(texts) == tok.encode(texts)
