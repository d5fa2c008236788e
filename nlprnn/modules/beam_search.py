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
) -> list[list[Hypothesis]]:
    """Beam search: for each sentence, its ``n_best`` best hypotheses as (token ids without eos, score).

    Shapes: ``tokens`` (B,) start tokens; ``state`` the decoder state for B rows; ``max_len`` an int or a
    (B,) long tensor of per-sentence limits on generated tokens. ``step`` sees B*K rows (K = beam_size,
    sentence-major: row b*K + k is beam k of sentence b); ``reorder_state(state, index (N,) long)`` must
    return the state of rows ``index``.

    Algorithm, per step: scores (B, K*V) = beam score + log_softmax(logits); keep the top 2K per sentence.
    An eos among the top K finishes a hypothesis, scored sum(log p) / ((5 + length) / 6) ** alpha (length
    counts the eos); the best K non-eos candidates become the next beams. A sentence is done once it has
    K finished hypotheses, or at its max_len (its live beams are then scored the same way, no eos added).
    The search stops when every sentence is done. Hypotheses are returned best first; with K = 1 this is
    exactly greedy decoding. A sentence may get fewer than n_best if fewer sequences have finite scores.

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
    offsets = torch.arange(B, device=device).unsqueeze(1) * K  # row of beam 0 of each sentence
    state = reorder_state(state, torch.arange(B, device=device).repeat_interleave(K))
    tokens = tokens.repeat_interleave(K)
    # all beams start identical: only beam 0 may propose, or the beams fill up with duplicates
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0
    history = tokens.new_empty(B * K, 0)  # generated tokens of each live beam (B*K, t)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    n_finished = torch.zeros(B, dtype=torch.long, device=device)
    done = limits <= 0
    sent = done.nonzero().squeeze(1)
    _record(finished, sent, history[sent * K], scores[sent, 0], _length_penalty(0, alpha))

    t = 0
    while not bool(done.all()):
        t += 1
        logits, state = step(tokens, state)
        logits = logits.float()
        V = logits.size(-1)
        cand = (scores.view(-1, 1) + logits.log_softmax(-1)).view(B, K * V)
        top = _top_n(cand, logits.view(B, K * V), 2 * K)  # (B, 2K) flat indices beam * V + token
        top_scores = cand.gather(1, top)
        rows, token = top // V + offsets, top % V  # parent rows in the (B*K) batch
        is_eos = token == eos_id

        # an eos counts only within the top K (as greedy's argmax does for K = 1); -inf ones are filler
        fin = is_eos & (top_scores > float("-inf")) & ~done.unsqueeze(1)
        fin[:, K:] = False
        if bool(fin.any()):
            sent, _ = fin.nonzero(as_tuple=True)
            _record(finished, sent, history[rows[fin]], top_scores[fin], _length_penalty(t, alpha))
            n_finished += fin.sum(1)
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
            _record(finished, sent, history[sent * K + beam], scores[live], _length_penalty(t, alpha))
            done |= at_limit
        if not bool(done.all()):
            state = reorder_state(state, rows)

    return [sorted(hyps, key=lambda h: h[1], reverse=True)[:n_best] for hyps in finished]
