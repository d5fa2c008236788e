"""Batched beam search over the decoding interface ``step(tokens (B,), state) -> (logits (B, V), state)``.

All B sentences x K beams run as one (B*K)-row batch; the model only has to say how to select
rows of its state (``reorder_state``), since state tensors keep their batch dim in different places.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nlprnn.modules.decoding import Step

ReorderState = Callable[[Any, torch.Tensor], Any]
Hypothesis = tuple[list[int], float]


def _length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + length) / 6) ** alpha; alpha = 0 ranks by the plain sum of log-probs."""
    return ((5 + length) / 6) ** alpha


def _top_n(scores: torch.Tensor, logits: torch.Tensor, n: int) -> torch.Tensor:
    """Column indices (B, n) of each row's n best entries, best first.

    Order: score, then raw logit, then lowest index. topk leaves the order of ties unspecified, and
    log_softmax can round distinct logits to equal scores; this tie-break is exactly greedy's argmax
    (first maximal logit), so beam_size=1 reproduces greedy decoding.
    """
    values, cols = scores.topk(min(n + 1, scores.size(1)), dim=1)
    # fast path: the top n+1 strictly decrease, so no tie inside or at the edge of the top n and
    # topk's answer is exact (n+1 entries exist whenever the search calls this)
    if values.size(1) > n and bool((values[:, :-1] > values[:, 1:]).all()):
        return cols[:, :n]
    kth = values[:, n - 1 : n]
    row, col = (scores >= kth).nonzero(as_tuple=True)  # >= n per row (more with ties), in index order
    order = torch.arange(row.numel(), device=row.device)
    # stable sorts from the last key to the first give the lexicographic order
    for key, descending in ((logits[row, col], True), (scores[row, col], True), (row, False)):
        order = order[torch.sort(key[order], descending=descending, stable=True).indices]
    row, col = row[order], col[order]
    counts = torch.bincount(row, minlength=scores.size(0))
    rank = torch.arange(row.numel(), device=row.device) - (counts.cumsum(0) - counts)[row]
    return col[rank < n].view(-1, n)


def _block_size(width: int) -> int | None:
    """A divisor of ``width`` from 32 to 256 for ``_top_logits``, or None when it has none: the one
    with the most factors of two (up to 64: the max over a block then vectorizes), then nearest 64."""
    sizes = [b for b in range(32, 257) if width % b == 0]
    return min(sizes, key=lambda b: (-min(b & -b, 64), abs(b - 64))) if sizes else None


def _top_logits(logits: torch.Tensor, n: int) -> torch.Tensor:
    """``_top_n(logits, logits, n)`` (each row's n best columns, ties to the lowest index), faster on
    wide rows: torch's CPU topk over a whole vocabulary costs ~2x a log_softmax, a max per block of
    ~64 columns a tenth of one. The n+1 blocks with the highest maxima hold every value of the row's
    top n+1, so a topk over their columns finds those values; when they strictly decrease, their
    first n are the answer (no tie to break), else the exact path runs."""
    rows, width = logits.shape
    block = _block_size(width)
    if block is None or width // block <= 4 * (n + 1):  # few blocks: the whole-row topk is as cheap
        return _top_n(logits, logits, n)
    blocks = logits.view(rows, width // block, block)
    picked = blocks.amax(-1).topk(n + 1, dim=1).indices  # (rows, n+1)
    candidates = blocks[torch.arange(rows, device=logits.device).unsqueeze(1), picked]  # (rows, n+1, block)
    values, pos = candidates.flatten(1).topk(n + 1, dim=1)
    if not bool((values[:, :-1] > values[:, 1:]).all()):
        return _top_n(logits, logits, n)
    pos = pos[:, :n]
    return picked.gather(1, pos // block) * block + pos % block


def _best_candidates(scores: torch.Tensor, logits: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The n best extensions of each sentence: flat indices (N, n) beam * V + token and their scores.

    scores (N, K) beam scores, logits (N*K, V). A candidate's score is its beam's score plus the
    token's log-probability, ranked as in ``_top_n``. Within one beam that order does not depend on
    the beam's score, so each beam's n best logits suffice: one top-n per beam row, then a top-n over the N x
    K*n survivors. This avoids materialising and ranking all K*V candidates of every sentence.
    """
    N, K = scores.shape
    V = logits.size(1)
    if V <= n:  # too few tokens per beam for the two-stage ranking
        cand = (scores.view(-1, 1) + logits.log_softmax(-1)).view(N, K * V)
        top = _top_n(cand, logits.view(N, K * V), n)
        return top, cand.gather(1, top)
    log_probs = logits.log_softmax(-1)
    # within a row log_softmax is monotone in the logits (the same constant is subtracted: rounding
    # may tie, never swap), so ranking by (log-prob, logit, index) is ranking by (logit, index)
    cols = _top_logits(logits, n)  # (N*K, n) token ids, best first
    best_logits = logits.gather(1, cols)
    cand = scores.view(-1, 1) + log_probs.gather(1, cols)  # (N*K, n)
    # position order inside (N, K*n) is beam, then rank: the lowest-position tie-break of _top_n
    # is then the lowest flat index, as in a ranking of all K*V candidates
    pos = _top_n(cand.view(N, K * n), best_logits.view(N, K * n), n)
    token = cols.reshape(N, K * n).gather(1, pos)
    return (pos // n) * V + token, cand.view(N, K * n).gather(1, pos)


def _limits(max_len: int | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """max_len as a (B,) long tensor of per-sentence limits."""
    limits = torch.as_tensor(max_len, dtype=torch.long, device=device)
    if limits.dim() > 1 or (limits.dim() == 1 and limits.numel() != batch):
        raise ValueError(f"max_len must be an int or a ({batch},) tensor, got shape {tuple(limits.shape)}")
    return limits.expand(batch)


def _record(
    finished: list[list[Hypothesis]], sent: torch.Tensor, seqs: torch.Tensor, scores: torch.Tensor, lp: float
) -> None:
    """Append hypotheses (sentence ids (N,), token rows (N, T), raw scores (N,)) with their final score."""
    for b, seq, score in zip(sent.tolist(), seqs.tolist(), scores.tolist()):
        finished[b].append((seq, score / lp))


@torch.inference_mode()
def beam_search(
    step: Step,
    tokens: torch.Tensor,
    state: Any,
    max_len: int | torch.Tensor,
    beam_size: int,
    eos_id: int,
    reorder_state: ReorderState,
    alpha: float = 0.0,
    n_best: int = 1,
    select_sentences: ReorderState | None = None,
    early_stop: bool = True,
) -> list[list[Hypothesis]]:
    """Beam search: for each sentence, its ``n_best`` best hypotheses as (token ids without eos, score).

    Shapes: ``tokens`` (B,) start tokens; ``state`` the decoder state for B rows; ``max_len`` an int or a
    (B,) long tensor of per-sentence limits on generated tokens. ``step`` sees N*K rows (K = beam_size,
    sentence-major: row n*K + k is beam k of the n-th sentence still searching); ``reorder_state(state,
    index (M,) long)`` must return the state of rows ``index``. ``select_sentences(state, index)``, if
    given, keeps the state parts held once per sentence (e.g. shared source memory) of the sentences
    ``index``; finished sentences then leave the batch, so later steps compute only live rows.

    Algorithm, per step: scores (N, K*V) = beam score + log_softmax(logits); keep the top 2K per sentence.
    An eos among the top K finishes a hypothesis, scored sum(log p) / ((5 + length) / 6) ** alpha (length
    counts the eos); the best K non-eos candidates become the next beams. A sentence is done once it has
    K finished hypotheses, or at its max_len (its live beams are then scored the same way, no eos added),
    or (``early_stop``) once no live beam can still beat its n_best-th finished hypothesis: log p only
    falls as a beam grows and the length penalty is at most that of max_len, so this changes no result,
    it only skips hopeless steps. The search stops when every sentence is done. Hypotheses are returned
    best first; with K = 1 this is exactly greedy decoding. A sentence may get fewer than n_best if fewer
    sequences have finite scores.

    Example::

        hyps = beam_search(decoder.step, bos, enc_state, max_len=2 * src_lens + 10, beam_size=5,
                           eos_id=EOS, reorder_state=lambda s, i: s[:, i], alpha=0.6, n_best=3)
        best_tokens, best_score = hyps[0][0]
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")
    B, K, device = tokens.size(0), beam_size, tokens.device
    limits = _limits(max_len, B, device)
    # the best final score a live beam of raw score s <= 0 can still reach is s / lp(max_len)
    bound_lp = ((5 + limits.double()) / 6) ** alpha
    early_stop = early_stop and alpha >= 0  # a negative alpha would favour short hypotheses instead
    done = limits <= 0
    # all beams start identical: the first step runs once per sentence, and then only beam 0 may
    # propose, or the beams fill up with duplicates
    first = step(tokens, state) if not bool(done.all()) else None
    beams_of = torch.arange(B, device=device).repeat_interleave(K)
    state = reorder_state(first[1] if first else state, beams_of)
    tokens = tokens.repeat_interleave(K)
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0
    history = tokens.new_empty(B * K, 0)  # generated tokens of each live beam (B*K, t)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    n_finished = torch.zeros(B, dtype=torch.long, device=device)
    # the n_best best final scores finished so far, best first (-inf: not yet)
    nth_best = torch.full((B, n_best), float("-inf"), dtype=torch.double, device=device)
    ids = torch.arange(B, device=device)  # the sentence of each batch position
    sent = done.nonzero().squeeze(1)
    _record(finished, sent, history[sent * K], scores[sent, 0], _length_penalty(0, alpha))

    t = 0
    while not bool(done.all()):
        t += 1
        N = ids.numel()
        if t == 1:
            logits = first[0][beams_of]
        else:
            logits, state = step(tokens, state)
        logits = logits.float()
        V = logits.size(-1)
        top, top_scores = _best_candidates(scores, logits, 2 * K)  # (N, 2K) flat beam * V + token
        offsets = torch.arange(N, device=device).unsqueeze(1) * K  # row of beam 0 of each sentence
        rows, token = top // V + offsets, top % V  # parent rows in the (N*K) batch
        is_eos = token == eos_id

        # an eos counts only within the top K (as greedy's argmax does for K = 1); -inf ones are filler
        fin = is_eos & (top_scores > float("-inf")) & ~done.unsqueeze(1)
        fin[:, K:] = False
        if bool(fin.any()):
            sent, _ = fin.nonzero(as_tuple=True)
            lp = _length_penalty(t, alpha)
            _record(finished, ids[sent], history[rows[fin]], top_scores[fin], lp)
            n_finished += fin.sum(1)
            new = torch.where(fin[:, :K], top_scores[:, :K].double() / lp, float("-inf"))
            nth_best = torch.cat([nth_best, new], 1).topk(n_best, dim=1).values
            done |= n_finished >= K

        # the best K non-eos candidates live on; a stable sort of the eos flags keeps score order
        keep = torch.sort(is_eos.to(torch.uint8), dim=1, stable=True).indices[:, :K]
        rows, token, scores = rows.gather(1, keep).view(-1), token.gather(1, keep), top_scores.gather(1, keep)
        history = torch.cat([history[rows], token.view(-1, 1)], dim=1)
        tokens = token.view(-1)

        at_limit = (limits == t) & ~done
        if bool(at_limit.any()):
            live = at_limit.unsqueeze(1) & (scores > float("-inf"))
            sent, beam = live.nonzero(as_tuple=True)
            _record(finished, ids[sent], history[sent * K + beam], scores[live], _length_penalty(t, alpha))
            done |= at_limit
        if early_stop:
            done |= nth_best[:, -1] >= scores.max(1).values.double() / bound_lp
        if bool(done.all()):
            break
        if select_sentences is not None and bool(done.any()):
            # finished sentences leave the batch: every per-sentence tensor keeps the live positions
            live_pos = (~done).nonzero().squeeze(1)
            live_rows = (live_pos.unsqueeze(1) * K + torch.arange(K, device=device)).view(-1)
            rows, tokens, history = rows[live_rows], tokens[live_rows], history[live_rows]
            scores, limits, n_finished, nth_best, bound_lp, ids, done = (
                x[live_pos] for x in (scores, limits, n_finished, nth_best, bound_lp, ids, done)
            )
            state = select_sentences(reorder_state(state, rows), live_pos)
        else:
            state = reorder_state(state, rows)

    return [sorted(hyps, key=lambda h: h[1], reverse=True)[:n_best] for hyps in finished]
