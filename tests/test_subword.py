"""Sentencepiece wrapper: fixed special ids, round trips, unk for unseen characters."""

from __future__ import annotations

import random

import pytest

from nlprnn.data.subword import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    SubwordTokenizer,
    reservoir_sample,
    train_sentencepiece,
)
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


def test_reservoir_sample_is_uniform_seeded_and_keeps_short_streams_whole():
    assert reservoir_sample(iter(range(5)), 10, seed=1) == [0, 1, 2, 3, 4]
    draws = [reservoir_sample(iter(range(100)), 10, seed=s) for s in range(400)]
    assert draws[3] == reservoir_sample(iter(range(100)), 10, seed=3) != draws[4]
    counts = [sum(i in d for d in draws) for i in range(100)]
    assert min(counts) > 15 and max(counts) < 70  # each item kept with probability 0.1: 40 of 400


def test_a_sampled_corpus_trains_the_same_model_every_time():
    """sentencepiece's own sampling (input_sentence_size) ignores its seed; ours does not."""
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7))) for _ in range(300)]
    texts = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(3000)]
    models = [train_sentencepiece(iter(texts), None, 200, max_sentences=500, seed=5) for _ in range(2)]
    assert models[0] == models[1]
    assert models[0] != train_sentencepiece(iter(texts), None, 200, max_sentences=500, seed=6)
