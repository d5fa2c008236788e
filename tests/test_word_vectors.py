"""PPMI-SVD word vectors: co-occurrence counts, PPMI against the dense formula, vector geometry,
and their disk cache."""

import math

import pytest
import torch

from nlprnn.data import disk_cache
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.embeddings import word_vectors
from nlprnn.embeddings.word_vectors import PpmiSvdInit, cooccurrence, ppmi, ppmi_svd_vectors


def test_cooccurrence_weights_by_distance_and_stays_inside_texts():
    counts = cooccurrence([[2, 3, 4], [4, 2]], vocab_size=5, window=2, skip=2).to_dense()
    expected = torch.zeros(5, 5)
    for a, b, w in [(2, 3, 1.0), (3, 4, 1.0), (2, 4, 0.5), (4, 2, 1.0)]:  # (4, 2) from the second text
        expected[a, b] += w
        expected[b, a] += w
    torch.testing.assert_close(counts, expected)
    # ids below skip (pad, unk) are neither words nor contexts
    assert cooccurrence([[2, 1, 3]], 4, window=1, skip=2).to_dense().sum() == 0


def test_cooccurrence_equals_counting_pair_by_pair():
    """Counted in parts, merged distance by distance: the same floats as adding each distance's
    weight (forward pairs by distance, then mirrored) into a dense matrix."""
    rng = torch.Generator().manual_seed(0)
    texts = [
        torch.randint(0, 40, (int(n),), generator=rng).tolist()
        for n in torch.randint(0, 50, (300,), generator=rng)
    ]
    expected = torch.zeros(40, 40)
    for mirrored in (False, True):
        for d in (1, 2, 3):
            counts = torch.zeros(40, 40, dtype=torch.long)
            for ids in texts:
                for w, c in zip(ids, ids[d:]):
                    if w >= 2 and c >= 2:
                        counts[(c, w) if mirrored else (w, c)] += 1
            expected += torch.where(counts > 0, counts.float() / d, torch.zeros(()))
    assert torch.equal(cooccurrence(texts, 40, window=3, skip=2).to_dense(), expected)


def test_ppmi_matches_the_dense_formula():
    torch.manual_seed(0)
    dense = torch.randint(0, 4, (6, 6)).float()
    dense = dense + dense.T
    got = ppmi(dense.to_sparse(), alpha=0.75).to_dense()
    context = dense.sum(0) ** 0.75
    for w in range(6):
        for c in range(6):
            if dense[w, c] > 0:
                value = math.log(dense[w, c] * context.sum() / (dense[w].sum() * context[c]))
                assert math.isclose(got[w, c].item(), max(0.0, value), rel_tol=1e-4, abs_tol=1e-5)
            else:
                assert got[w, c] == 0


def test_words_sharing_contexts_get_similar_vectors():
    # 2 and 3 appear in the same contexts (5 _ 6), 4 in others (7 _ 8)
    texts = [[5, w, 6] for w in (2, 3) for _ in range(20)] + [[7, 4, 8]] * 20
    vectors = ppmi_svd_vectors(texts, vocab_size=9, dim=4, window=1)
    unit = torch.nn.functional.normalize(vectors, dim=1)
    assert unit[2] @ unit[3] > 0.99 and abs(unit[2] @ unit[4]) < 0.1
    assert vectors[:2].abs().sum() == 0  # pad / unk untouched


def test_an_accurate_svd_does_not_depend_on_the_seed():
    """With too few directions the randomized SVD's vectors change with its seed; drawing enough
    (here the full rank) gives the same subspace for any seed."""
    g = torch.Generator().manual_seed(0)
    texts = [torch.randint(2, 60, (12,), generator=g).tolist() for _ in range(400)]

    def agreement(**svd):
        a, b = (ppmi_svd_vectors(texts, 60, 8, window=2, seed=s, **svd) for s in (1, 2))
        qa, qb = torch.linalg.qr(a)[0], torch.linalg.qr(b)[0]
        return torch.linalg.svdvals(qa.T @ qb).mean().item()  # mean cosine of the principal angles

    assert agreement(oversample=60, iters=4) > 0.999
    assert agreement(oversample=0, iters=0) < 0.99  # one random draw: seed-dependent


def _init_table(init, tokenizer, texts, vocab_size=40):
    table = torch.zeros(vocab_size, 6)
    log = init(table, tokenizer, texts, data_dir=None, seed=0)
    return table, log


def test_ppmi_svd_vectors_are_cached_on_disk_by_texts_tokenizer_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("NLPRNN_CACHE", str(tmp_path))
    calls = []
    real = word_vectors.ppmi_svd_vectors
    monkeypatch.setattr(word_vectors, "ppmi_svd_vectors", lambda *a, **k: calls.append(a) or real(*a, **k))
    texts = [f"the {w} sat on the {c} mat" for w in ("cat", "dog", "fox") for c in ("red", "blue")] * 5
    tokenizer = WordTokenizer.build(texts, min_freq=1)
    first, log = _init_table(PpmiSvdInit(corpus=["train"], window=2), tokenizer, texts)
    assert len(calls) == 1 and "computed" in log and first.abs().sum() > 0
    assert len(list((tmp_path / "ppmi_svd").glob("*.pt"))) == 1
    again, log = _init_table(PpmiSvdInit(corpus=["train"], window=2), tokenizer, texts)
    assert len(calls) == 1 and "cached" in log and torch.equal(first, again)
    # any change of what the vectors depend on misses the cache
    _init_table(PpmiSvdInit(corpus=["train"], window=3), tokenizer, texts)
    _init_table(PpmiSvdInit(corpus=["train"], window=2), tokenizer, texts[:-1])
    other = WordTokenizer.build(texts + ["a new word"], min_freq=1)
    _init_table(PpmiSvdInit(corpus=["train"], window=2), other, texts)
    assert len(calls) == 4
    _init_table(PpmiSvdInit(corpus=["train"], window=2, cache=False), tokenizer, texts)
    assert len(calls) == 5 and len(list((tmp_path / "ppmi_svd").glob("*.pt"))) == 4


def test_an_unreadable_cache_entry_is_recomputed_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("NLPRNN_CACHE", str(tmp_path))
    texts = [f"a {w} b {w} c" for w in ("x", "y", "z")] * 4
    tokenizer = WordTokenizer.build(texts, min_freq=1)
    first, _ = _init_table(PpmiSvdInit(corpus=["train"], window=2), tokenizer, texts)
    (entry,) = (tmp_path / "ppmi_svd").glob("*.pt")
    entry.write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        again, log = _init_table(PpmiSvdInit(corpus=["train"], window=2), tokenizer, texts)
    assert "computed" in log and torch.equal(first, again)
    assert disk_cache.load("ppmi_svd", entry.stem) is not None  # rewritten whole
