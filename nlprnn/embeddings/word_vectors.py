"""Word vectors from unlabelled text in seconds: PPMI co-occurrence + truncated SVD (Levy, Goldberg
and Dagan 2015), a count-based stand-in for word2vec/GloVe when no pretrained vectors are at hand.

    counts(w, c)  co-occurrences within ``window`` words, weighted 1/distance, both directions
    PPMI(w, c) =  max(0, log(counts(w, c) * sum_c' n(c')^a / (n(w) * n(c)^a)))
                  (a = 0.75 smooths rare contexts)
    vectors    =  U sqrt(S) of the rank-``dim`` SVD of the PPMI matrix

Everything stays sparse (a 30k-word vocabulary would need 3.6 GB dense).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import torch

from nlprnn.data import disk_cache
from nlprnn.data.files import read_utf8, resolve
from nlprnn.data.imdb import read_imdb
from nlprnn.data.tokenizers import tokenizer_to_dict
from nlprnn.errors import UserError


def flat_ids(id_lists: Iterable[Sequence[int]], window: int) -> torch.Tensor:
    """All texts' ids in one int32 tensor, ``window`` -1s between texts so that none sees into the
    next; built in chunks, so the texts' ids never exist as one big Python list."""
    parts, chunk, gap = [], [], [-1] * window
    for ids in id_lists:
        chunk.extend(ids)
        chunk.extend(gap)
        if len(chunk) >= 1 << 20:
            parts.append(torch.tensor(chunk, dtype=torch.int32))
            chunk = []
    parts.append(torch.tensor(chunk, dtype=torch.int32))
    return torch.cat(parts)


def cooccurrence(id_lists: Iterable[Sequence[int]], vocab_size: int, window: int, skip: int) -> torch.Tensor:
    """Sparse (V, V) symmetric counts, each pair weighted 1/distance; ids below ``skip`` (padding,
    <unk>) count neither as words nor as contexts; texts do not see into each other.

    Memory: each distance's pairs are reduced to their distinct (word, context) keys an eighth of
    the text at a time (a 14M-token corpus has 5M distinct ordered pairs within 5 words, against
    14M pairs a distance), then merged one distance at a time into the sorted keys and sums found
    so far: the forward pairs by distance, then the same mirrored (context, word). Each key's sum
    adds its weights in that order, as one ``index_add_`` over all of them would (the same
    floats), without ever holding every pair of both directions at once: CoNLL-2003 + IMDB's
    reviews (16M tokens, 15.8M distinct pairs) peak 0.5 GB lower than counted at once."""
    flat = flat_ids(id_lists, window)
    keys, sums = torch.zeros(0, dtype=torch.long), torch.zeros(0)
    for mirrored in (False, True):
        for d in range(1, window + 1):  # counted again for the mirrored pass: cheaper than holding them
            distinct, counts = _pairs_at(flat, d, vocab_size, skip)
            weights = counts.float() / d
            if mirrored:  # (w, c) -> (c, w), sorted again
                distinct, order = torch.sort((distinct % vocab_size) * vocab_size + distinct // vocab_size)
                weights = weights[order]
            keys, sums = _merge_sorted(keys, sums, distinct, weights)
    del flat, distinct, weights
    indices = torch.empty(2, len(keys), dtype=torch.long)  # rows and columns, without temporaries
    torch.div(keys, vocab_size, rounding_mode="floor", out=indices[0])
    torch.remainder(keys, vocab_size, out=indices[1])
    del keys
    return torch.sparse_coo_tensor(
        indices, sums, (vocab_size,) * 2, is_coalesced=True, check_invariants=False
    )


def _pairs_at(flat: torch.Tensor, d: int, vocab_size: int, skip: int, parts: int = 8):
    """Sorted distinct keys (word * V + context) of the pairs ``d`` apart and their counts, an
    ``parts``-th of the text at a time (the counts are integers: exact in any order)."""
    distinct, counts = torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    n = len(flat) - d
    step = -(-n // parts)
    for start in range(0, n, step):
        stop = min(start + step, n)
        a, b = flat[start:stop], flat[start + d : stop + d]
        keep = (a >= skip) & (b >= skip)
        found = torch.unique(a[keep].long().mul_(vocab_size).add_(b[keep]), return_counts=True)
        distinct, counts = _merge_sorted(distinct, counts, *found)
    return distinct, counts


def _merge_sorted(
    keys: torch.Tensor, sums: torch.Tensor, new_keys: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted distinct ``keys`` with their ``sums``, and sorted distinct ``new_keys`` with
    ``weights``: the union of the keys, sorted, a key's weight added to its sum (or its sum)."""
    at = torch.searchsorted(keys, new_keys)
    found = at < len(keys)
    found[found.clone()] = keys[at[found]] == new_keys[found]
    sums[at[found]] += weights[found]
    fresh, fresh_weights = new_keys[~found], weights[~found]
    where_fresh = torch.searchsorted(keys, fresh) + torch.arange(len(fresh))  # their places in the union
    old = torch.ones(len(keys) + len(fresh), dtype=torch.bool)
    old[where_fresh] = False
    merged, merged_sums = torch.empty(len(old), dtype=torch.long), torch.empty(len(old), dtype=sums.dtype)
    merged[old], merged_sums[old] = keys, sums
    merged[where_fresh], merged_sums[where_fresh] = fresh, fresh_weights
    return merged, merged_sums


def ppmi(counts: torch.Tensor, alpha: float = 0.75) -> torch.Tensor:
    """Positive pointwise mutual information of sparse counts, context counts smoothed by ``alpha``."""
    (rows, cols), values = counts.indices(), counts.values()
    word_totals = torch.zeros(counts.size(0)).index_add_(0, rows, values)
    context = torch.zeros(counts.size(1)).index_add_(0, cols, values).pow(alpha)
    # log(values * sum / (word_totals * context)), in place: one temporary the size of the matrix
    denominator = word_totals[rows].mul_(context[cols])
    pmi = (values * context.sum()).div_(denominator).log_()
    del denominator
    keep = pmi > 0
    # a subset of coalesced (sorted, distinct) entries is still coalesced: no sort, no copy
    return torch.sparse_coo_tensor(
        counts.indices()[:, keep], pmi[keep], counts.shape, is_coalesced=True, check_invariants=False
    )


def ppmi_svd_vectors(
    id_lists: Iterable[Sequence[int]],
    vocab_size: int,
    dim: int,
    window: int = 5,
    skip: int = 2,
    seed: int = 0,
    oversample: int = 0,
    iters: int = 4,
) -> torch.Tensor:
    """(V, dim) word vectors scaled to unit standard deviation; rows of words that never occur in
    ``id_lists`` (or with no positive association) are zero. The randomized SVD draws
    ``dim + oversample`` directions and refines them ``iters`` times: too few and the vectors
    depend on ``seed`` (with 0 and 4, two seeds share only ~73% of the 200-dim subspace on SST-2)."""
    matrix = ppmi(cooccurrence(id_lists, vocab_size, window, skip))
    if matrix.values().numel() == 0:
        return torch.zeros(vocab_size, dim)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # svd_lowrank draws a random projection
    try:
        u, s, _ = torch.svd_lowrank(matrix, q=min(dim + oversample, min(matrix.shape)), niter=iters)
    finally:
        torch.random.set_rng_state(generator_state)
    vectors = torch.zeros(vocab_size, dim)
    u, s = u[:, :dim], s[:dim]
    vectors[:, : u.size(1)] = u * s.sqrt()
    present = torch.zeros(vocab_size, dtype=torch.bool)
    present[matrix.indices()[0]] = True
    vectors[~present] = 0.0  # the randomised SVD leaves round-off noise there
    return vectors / vectors[present].std().clamp(min=1e-12)


def unlabelled_texts(entries: Sequence[str], data_dir: str | None, train_texts: list[str], held_out=()):
    """The texts of ``embeddings.corpus`` entries: "train" (this dataset's training texts), an aclImdb
    .tar.gz under data.dir (all 50k reviews, labels unused; ``ARCHIVE:train`` or ``:test`` for one
    half) or a text file (a text a line). ``held_out``: the dataset's own files, refused (their
    evaluation texts would leak into the vectors)."""
    texts = []
    for entry in entries:
        if entry == "train":
            texts += train_texts
            continue
        entry, _, half = entry.partition(":")
        if half not in ("", "train", "test"):
            raise UserError(
                f"embeddings.corpus: {entry}:{half}: only :train or :test select part of an archive"
            )
        path = resolve(data_dir, entry, "embeddings.corpus")
        if path.name.endswith(".tar.gz"):
            if entry in held_out:
                raise UserError(
                    f"embeddings.corpus: {entry} is this dataset's own file (its test texts would leak "
                    "into the vectors); use [train]"
                )
            reviews = read_imdb(path)
            texts += [text for split in ([half] if half else reviews) for text, _ in reviews[split]]
        else:
            texts += read_utf8(path).splitlines()
    return texts


CACHE_VERSION = "ppmi_svd/1"  # bump when ppmi_svd_vectors changes what it returns


def tokenizer_fingerprint(tokenizer) -> list[str | bytes]:
    """What a tokenizer maps text to, as its checkpoint data: the vocabulary (word) or the
    sentencepiece model's bytes (subword)."""
    state = tokenizer_to_dict(tokenizer)
    model = state.pop("model", None)
    return [repr(sorted(state.items()))] + ([] if model is None else [model.numpy().tobytes()])


class PpmiSvdInit:
    """Embedding initialisation from count-based word vectors: PPMI-SVD vectors of the unlabelled
    ``corpus`` texts (entries as in ``unlabelled_texts``; co-occurrence ``window``)."""

    def __init__(
        self,
        corpus: Sequence[str] = ("train",),
        window: int = 5,
        oversample: int = 0,
        iters: int = 4,
        seed: int | None = None,
        cache: bool = True,
    ) -> None:
        """``oversample``, ``iters``: the randomized SVD's accuracy; ``seed``: its draw (null: the
        run's seed, so the vectors change with it); ``cache``: keep the vectors on disk
        (``nlprnn.data.disk_cache``), keyed by the texts, the tokenizer and these settings."""
        self.corpus, self.window, self.oversample, self.iters, self.seed = (
            list(corpus),
            window,
            oversample,
            iters,
            seed,
        )
        self.cache = cache

    def __call__(
        self, table: torch.Tensor, tokenizer, train_texts, data_dir, seed: int = 0, held_out=()
    ) -> str:
        """Overwrite the rows of ``table`` (V, E) whose tokens occur in the corpus; a line for the log."""
        start = time.perf_counter()
        texts = unlabelled_texts(self.corpus, data_dir, train_texts, held_out)
        svd_seed = seed if self.seed is None else self.seed
        svd = dict(window=self.window, skip=2, seed=svd_seed, oversample=self.oversample, iters=self.iters)
        depends_on = [CACHE_VERSION, repr((tuple(table.shape), sorted(svd.items())))]
        key = disk_cache.fingerprint(depends_on + tokenizer_fingerprint(tokenizer) + texts)
        vectors = disk_cache.load("ppmi_svd", key) if self.cache else None
        source = "cached" if vectors is not None else "computed"
        if vectors is None:
            chunks = (texts[i : i + 2000] for i in range(0, len(texts), 2000))
            encoded = (ids for chunk in chunks for ids in tokenizer.encode(chunk))
            vectors = ppmi_svd_vectors(encoded, table.size(0), table.size(1), **svd)
            if self.cache:
                disk_cache.save("ppmi_svd", key, vectors)
        found = vectors.abs().sum(1) > 0
        with torch.no_grad():
            table[found] = vectors[found].to(table.device)
        return (
            f"embeddings: PPMI-SVD vectors for {int(found.sum()):,} of {len(found):,} tokens from "
            f"{len(texts):,} unlabelled texts, {source} in {time.perf_counter() - start:.0f} s"
        )


class RandomInit:
    """Keep the model's own random initialisation."""

    def __call__(self, table, tokenizer, train_texts, data_dir, seed: int = 0, held_out=()) -> str:
        return "embeddings: random init"
