"""PPMI-SVD word vectors: co-occurrence counts, PPMI against the dense formula, vector geometry."""

import math

import torch

from nlprnn.data.word_vectors import cooccurrence, ppmi, ppmi_svd_vectors


def test_cooccurrence_weights_by_distance_and_stays_inside_texts():
    counts = cooccurrence([[2, 3, 4], [4, 2]], vocab_size=5, window=2, skip=2).to_dense()
    expected = torch.zeros(5, 5)
    for a, b, w in [(2, 3, 1.0), (3, 4, 1.0), (2, 4, 0.5), (4, 2, 1.0)]:  # (4, 2) from the second text
        expected[a, b] += w
        expected[b, a] += w
    torch.testing.assert_close(counts, expected)
    # ids below skip (pad, unk) are neither words nor contexts
    assert cooccurrence([[2, 1, 3]], 4, window=1, skip=2).to_dense().sum() == 0


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
