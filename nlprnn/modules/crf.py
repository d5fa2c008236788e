"""Linear-chain conditional random field over per-token tag scores (Lafferty et al. 2001).

A tag sequence y_1..y_n of a sentence with emission scores E (n, T) scores

    s(y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} trans[y_{t-1}, y_t] + end[y_n]

and p(y | x) = exp s(y) / Z. The forward algorithm gives log Z and Viterbi the best y, each as
one loop over time whose steps work on all sentences and all tag pairs at once (a (B, T, T)
tensor): no Python loop over tags. Padded steps carry the running scores through unchanged
(``torch.where`` on the mask), so a sentence's result does not depend on the batch's padding.
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    """Transition scores between tags, plus scores for starting and ending on each tag.

    Args:
        num_tags: T.

    Shapes: emissions (B, L, T) float; tags (B, L) long; mask (B, L) bool, True at real tokens,
    left-aligned (every sentence starts at position 0 and has at least one token).

    ``forward(emissions, tags, mask)`` -> negative log-likelihood per sentence (B,)
    ``decode(emissions, mask)`` -> best tag sequences (B, L) long (0 at padding) and their scores (B,)
    ``marginals(emissions, mask)`` -> p(y_t = tag | x) (B, L, T), 0 at padding

    Example:
        >>> import torch
        >>> crf = CRF(num_tags=3)
        >>> emissions = torch.tensor([[[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]],
        ...                           [[0.0, 0.0, 5.0], [5.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
        >>> mask = torch.tensor([[True, True, True], [True, True, False]])
        >>> tags, scores = crf.decode(emissions, mask)
        >>> tags.tolist()                          # 0 at padding
        [[0, 1, 2], [2, 0, 0]]
        >>> crf(emissions, tags, mask).shape       # negative log-likelihood per sentence
        torch.Size([2])
        >>> marginals = crf.marginals(emissions, mask)   # (B, L, T): a distribution at each real token
        >>> torch.allclose(marginals.sum(-1), mask.float())
        True
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # [from, to]
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor) -> None:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(f"emissions must be (B, L, {self.num_tags}), got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"mask {tuple(mask.shape)} does not match emissions {tuple(emissions.shape[:2])}"
            )
        if not bool(mask[:, 0].all()):
            raise ValueError("every sentence needs at least one token, starting at position 0")

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """s(tags) of each sentence (B,)."""
        mask_f = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L)
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, L-1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return (
            self.start[tags[:, 0]] + (emit * mask_f).sum(1) + (trans * mask_f[:, 1:]).sum(1) + self.end[last]
        )

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z of each sentence (B,): the forward algorithm."""
        alpha = self.start + emissions[:, 0]  # (B, T): log-sum of all prefixes ending in each tag
        for t in range(1, emissions.size(1)):
            # (B, T_from, 1) + (T_from, T_to) -> sum out the previous tag
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """p(y_t = tag | x) of every sentence, position and tag (B, L, T), 0 at padding: the
        forward-backward algorithm, alpha_t + beta_t - log Z."""
        self._check(emissions, mask)
        alphas = [self.start + emissions[:, 0]]  # log-sum of the prefixes ending in each tag
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alphas[-1].unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alphas.append(torch.where(mask[:, t : t + 1], step, alphas[-1]))
        log_z = torch.logsumexp(alphas[-1] + self.end, dim=1)
        beta = self.end.expand_as(alphas[0])  # log-sum of the suffixes after each tag: end at the last token
        betas = [beta]
        for t in range(emissions.size(1) - 2, -1, -1):
            # (T_from, T_to) + (B, 1, T_to) -> sum out the next tag
            step = torch.logsumexp(self.transitions + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            beta = torch.where(mask[:, t + 1 : t + 2], step, beta)  # past the end: still ``end``
            betas.append(beta)
        log_marginals = torch.stack(alphas, 1) + torch.stack(betas[::-1], 1) - log_z[:, None, None]
        return log_marginals.exp() * mask.unsqueeze(2)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """-log p(tags | x) of each sentence (B,)."""
        self._check(emissions, mask)
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Viterbi: the highest-scoring tag sequence of each sentence, (B, L) with 0 at padding,
        and its score s(y) (B,)."""
        self._check(emissions, mask)
        B, L, _ = emissions.shape
        best = self.start + emissions[:, 0]  # (B, T): best prefix score ending in each tag
        backpointers = []
        for t in range(1, L):
            step, prev = (best.unsqueeze(2) + self.transitions).max(dim=1)  # best previous tag per tag
            best = torch.where(mask[:, t : t + 1], step + emissions[:, t], best)
            backpointers.append(prev)
        scores, cur = (best + self.end).max(dim=1)
        lengths = mask.sum(1)
        tags = torch.zeros(B, L, dtype=torch.long, device=emissions.device)
        for t in range(L - 1, -1, -1):
            real = t < lengths  # rows whose sentence reaches position t
            tags[:, t] = torch.where(real, cur, 0)
            if t > 0:
                # follow the pointer into position t - 1 only where t is a real step
                cur = torch.where(real, backpointers[t - 1].gather(1, cur.unsqueeze(1)).squeeze(1), cur)
        return tags, scores
