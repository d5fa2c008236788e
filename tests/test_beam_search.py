import itertools
import math

import pytest
import torch
from torch import nn

from nlprnn.modules.beam_search import _best_candidates, _top_n, beam_search
from nlprnn.modules.decoding import greedy

torch.set_num_threads(1)

EOS = 1


class ToyRNN:
    """A fixed random model whose logits depend on the previous token and on a running state.

    The state is a tuple with the batch on different dims, (h (B, H), t (1, B)), so a wrong
    reorder_state changes the output.
    """

    def __init__(self, vocab=7, hidden=5, seed=0, scale=3.0, eos_bias=0.0):
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(vocab, vocab, generator=g) * scale
        self.table[:, EOS] += eos_bias
        self.emb = torch.randn(vocab, hidden, generator=g)
        self.out = torch.randn(hidden, vocab, generator=g) * scale

    def init(self, batch, seed=1):
        h = torch.randn(batch, self.emb.size(1), generator=torch.Generator().manual_seed(seed))
        return h, torch.zeros(1, batch)

    def __call__(self, tokens, state):
        h, t = state
        h = torch.tanh(0.5 * h + self.emb[tokens])
        return self.table[tokens] + h @ self.out + t.T, (h, t + 0.1)

    @staticmethod
    def reorder(state, index):
        h, t = state
        return h[index], t[:, index]


def strip(row):
    """greedy output row -> token ids before the first eos."""
    row = row.tolist()
    return row[: row.index(EOS)] if EOS in row else row


def test_beam_1_is_greedy():
    ended = []
    for seed, batch in itertools.product(range(4), [1, 3, 8]):
        model = ToyRNN(vocab=6, seed=seed, scale=1.5)
        start = torch.randint(2, 6, (batch,), generator=torch.Generator().manual_seed(seed))
        expected = greedy(model, start, model.init(batch), 9, EOS)
        hyps = beam_search(model, start, model.init(batch), 9, 1, EOS, ToyRNN.reorder)
        assert [h[0][0] for h in hyps] == [strip(row) for row in expected]
        ended += [EOS in row.tolist() for row in expected]
    assert 0 < sum(ended) < len(ended)  # both stopping at eos and at max_len are exercised


TIED = torch.tensor([-5.0, -5, 0, 1e-30, -5])  # log_softmax rounds 0 and 1e-30 to the same score


@pytest.mark.parametrize(
    "table",
    [torch.zeros(5, 5), TIED.repeat(5, 1)]
    + [torch.randint(0, 3, (5, 5), generator=torch.Generator().manual_seed(s)).float() for s in range(4)],
)
def test_beam_1_is_greedy_with_ties(table):
    # greedy takes the first maximal logit; beam search must break its score ties the same way
    def model(tokens, state):
        return table[tokens], state

    start = torch.tensor([0, 2, 3, 4])
    expected = greedy(model, start, None, 6, EOS)
    hyps = beam_search(model, start, None, 6, 1, EOS, lambda s, i: s)
    assert [h[0][0] for h in hyps] == [strip(row) for row in expected]


# next-token probabilities after each prefix (bos excluded); tokens: 0 bos, 1 eos, 2 "a", 3 "b"
TREE = {
    (): {2: 0.6, 3: 0.4},
    (2,): {EOS: 0.3, 2: 0.4, 3: 0.3},
    (2, 2): {EOS: 1.0},
    (2, 3): {EOS: 1.0},
    (3,): {EOS: 0.9, 2: 0.05, 3: 0.05},
}


def tree_logprobs(prefix):
    out = torch.full((4,), float("-inf"))
    for token, p in TREE.get(prefix, {EOS: 1.0}).items():
        out[token] = math.log(p)
    return out


def tree_step(tokens, prefixes):
    prefixes = [p + (t,) if t != 0 else p for p, t in zip(prefixes, tokens.tolist())]
    return torch.stack([tree_logprobs(p) for p in prefixes]), prefixes


def tree_reorder(prefixes, index):
    return [prefixes[i] for i in index.tolist()]


def test_beam_finds_sequence_greedy_misses():
    start = torch.zeros(1, dtype=torch.long)
    assert greedy(tree_step, start, [()], 5, EOS).tolist() == [[2, 2, EOS]]  # p = 0.6 * 0.4 = 0.24
    for k in (2, 3):
        (best,) = beam_search(tree_step, start, [()], 5, k, EOS, tree_reorder)
        assert best[0][0] == [3]  # p = 0.4 * 0.9 = 0.36
        assert best[0][1] == pytest.approx(math.log(0.4) + math.log(0.9), abs=1e-6)
    (hyps,) = beam_search(tree_step, start, [()], 5, 3, EOS, tree_reorder, n_best=3)
    assert [h[0] for h in hyps] == [[3], [2, 2], [2]]  # 0.36, 0.24, 0.18 (b-a and b-b are 0.02)


def sequence_score(model, start, state, seq, alpha, max_len):
    """log p(seq [+ eos]) / length penalty, one step at a time, as a brute-force reference."""
    tokens, total = start, 0.0
    full = seq if len(seq) == max_len else seq + (EOS,)
    for token in full:
        logits, state = model(tokens, state)
        total += logits.float().log_softmax(-1)[0, token].item()
        tokens = torch.tensor([token])
    return total / ((5 + len(full)) / 6) ** alpha


@pytest.mark.parametrize("seed", [0, 1])
def test_exhaustive_beam_matches_brute_force(seed):
    vocab, max_len, alpha = 4, 4, 0.6
    model = ToyRNN(vocab=vocab, seed=seed, scale=1.0)
    start = torch.tensor([2])
    words = [t for t in range(vocab) if t != EOS]
    seqs = [s for n in range(max_len + 1) for s in itertools.product(words, repeat=n)]
    assert len(seqs) == 121  # 40 ending in eos (eos not stored) + 81 cut at max_len
    ref = {s: sequence_score(model, start, model.init(1), s, alpha, max_len) for s in seqs}
    (hyps,) = beam_search(model, start, model.init(1), max_len, 128, EOS, ToyRNN.reorder, alpha, n_best=128)
    assert len(hyps) == len(seqs)
    assert {tuple(h[0]) for h in hyps} == set(seqs)
    for tokens, score in hyps:
        assert score == pytest.approx(ref[tuple(tokens)], abs=1e-4)
    assert tuple(hyps[0][0]) == max(ref, key=ref.get)
    # a modest beam still finds the best one here
    (small,) = beam_search(model, start, model.init(1), max_len, 4, EOS, ToyRNN.reorder, alpha)
    assert tuple(small[0][0]) == max(ref, key=ref.get)


def test_n_best_max_len_tensor_and_independent_sentences():
    model = ToyRNN(vocab=9, seed=3, scale=1.0, eos_bias=-2.0)  # eos rarer: limits get reached
    start = torch.tensor([2, 5, 7, 3])
    limits = torch.tensor([2, 6, 3, 0])
    h, t = model.init(4)
    batch = beam_search(model, start, (h, t), limits, 4, EOS, ToyRNN.reorder, 0.6, n_best=4)
    for b in range(4):
        hyps = batch[b]
        scores = [s for _, s in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(seq) for seq, _ in hyps}) == len(hyps)
        assert all(len(seq) <= limits[b] for seq, _ in hyps)
        alone = beam_search(
            model, start[b : b + 1], (h[b : b + 1], t[:, b : b + 1]), int(limits[b]), 4, EOS,
            ToyRNN.reorder, 0.6, n_best=4,
        )  # fmt: skip
        assert alone == [hyps]
    assert batch[3] == [([], 0.0)]
    assert len(batch[1]) == 4 and any(len(seq) == 6 for seq, _ in batch[1])  # limit reached, no eos
    assert any(len(seq) == 2 for seq, _ in batch[0]) and any(len(seq) < 6 for seq, _ in batch[1])


def test_invalid_sizes():
    model = ToyRNN()
    with pytest.raises(ValueError):
        beam_search(model, torch.tensor([2]), model.init(1), 5, 2, EOS, ToyRNN.reorder, n_best=3)
    with pytest.raises(ValueError):
        beam_search(model, torch.tensor([2]), model.init(1), 5, 0, EOS, ToyRNN.reorder)


class CountingToy(ToyRNN):
    """ToyRNN that counts the rows it computes."""

    rows = 0

    def __call__(self, tokens, state):
        self.rows += tokens.numel()
        return super().__call__(tokens, state)


def assert_same_hypotheses(fast, plain):
    assert [[seq for seq, _ in hyps] for hyps in fast] == [[seq for seq, _ in hyps] for hyps in plain]
    for a, b in zip(fast, plain):
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)


@pytest.mark.parametrize("alpha, n_best", [(0.0, 1), (0.6, 1), (0.6, 3), (1.5, 2), (-0.5, 1)])
def test_dropping_finished_sentences_and_early_stop_change_no_result(alpha, n_best):
    g = torch.Generator().manual_seed(7)
    start, limits = torch.randint(2, 12, (9,), generator=g), torch.randint(0, 12, (9,), generator=g)
    plain_model, fast_model = (
        CountingToy(vocab=12, seed=5, scale=2.0),
        CountingToy(vocab=12, seed=5, scale=2.0),
    )
    plain = beam_search(
        plain_model,
        start,
        plain_model.init(9),
        limits,
        4,
        EOS,
        ToyRNN.reorder,
        alpha,
        n_best,
        early_stop=False,
    )
    fast = beam_search(
        fast_model, start, fast_model.init(9), limits, 4, EOS, ToyRNN.reorder, alpha, n_best,
        select_sentences=lambda state, index: state,  # ToyRNN keeps nothing per sentence
    )  # fmt: skip
    assert_same_hypotheses(fast, plain)
    assert fast_model.rows < plain_model.rows  # finished sentences really left the batch


def test_two_stage_candidates_equal_ranking_all_candidates():
    """The per-beam top-n then top-n over survivors picks what ranking all K*V candidates picks,
    ties included (integer logits tie within a beam; copied beams tie across beams)."""
    g = torch.Generator().manual_seed(0)
    N, K, V = 3, 4, 30
    for _ in range(25):
        logits = torch.randint(-3, 3, (N * K, V), generator=g).float()
        scores = torch.randint(-4, 1, (N, K), generator=g).float()
        logits[1], scores[:, 1] = logits[0], scores[:, 0]  # beams 0 and 1 of sentence 0 identical
        scores[2, 1:] = float("-inf")  # a first step: only beam 0 proposes
        top, top_scores = _best_candidates(scores, logits, 2 * K)
        cand = (scores.view(-1, 1) + logits.log_softmax(-1)).view(N, K * V)
        expected = _top_n(cand, logits.view(N, K * V), 2 * K)
        assert torch.equal(top, expected)
        assert torch.equal(top_scores, cand.gather(1, expected))


BOS, N_SYM = 0, 8  # tokens: 0 bos, 1 eos, 2..9 symbols
REV_VOCAB = N_SYM + 2


class Reverser(nn.Module):
    """GRU encoder-decoder with dot attention; decoder state (h (1, B, H), memory (B, S, H))."""

    def __init__(self, hidden=32):
        super().__init__()
        self.emb = nn.Embedding(REV_VOCAB, hidden)
        self.enc = nn.GRU(hidden, hidden, batch_first=True)
        self.dec = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(2 * hidden, REV_VOCAB)

    def encode(self, src):
        memory, h = self.enc(self.emb(src))
        return h, memory

    def decode(self, tgt_in, state):
        h, memory = state
        out, h = self.dec(self.emb(tgt_in), h)
        context = torch.softmax(out @ memory.transpose(1, 2), -1) @ memory
        return self.out(torch.cat([out, context], -1)), (h, memory)

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, self.encode(src))[0]

    def step(self, tokens, state):
        logits, state = self.decode(tokens.unsqueeze(1), state)
        return logits.squeeze(1), state

    @staticmethod
    def reorder(state, index):
        return state[0][:, index], state[1][index]


def reversal_batch(n, length, g):
    src = torch.randint(2, REV_VOCAB, (n, length), generator=g)
    return src, src.flip(1)


@pytest.mark.slow
def test_beam_search_decodes_learned_reversal():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Reverser()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(700):  # ~3.5 s on one thread
        src, tgt = reversal_batch(64, int(torch.randint(3, 7, (1,), generator=g)), g)
        tgt_in = torch.cat([torch.full((64, 1), BOS), tgt], 1)
        tgt_out = torch.cat([tgt, torch.full((64, 1), EOS)], 1)
        loss = nn.functional.cross_entropy(model(src, tgt_in).flatten(0, 1), tgt_out.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.eval()
    g = torch.Generator().manual_seed(123)  # held-out inputs
    right = total = 0
    for length in range(3, 7):
        src, tgt = reversal_batch(50, length, g)
        limits = torch.full((50,), length) + torch.randint(1, 4, (50,), generator=g)
        hyps = beam_search(
            model.step, torch.full((50,), BOS), model.encode(src), limits, 3, EOS, Reverser.reorder
        )
        right += sum(h[0][0] == t for h, t in zip(hyps, tgt.tolist()))
        total += 50
    assert right / total >= 0.9


def test_the_blockwise_top_n_equals_the_whole_row_ranking():
    """_top_logits (block maxima, then a topk over the best blocks) picks exactly what ranking the whole
    row by (log-probability, logit, index) picks, ties included; and it takes the block path."""
    from nlprnn.modules import beam_search as bs

    torch.manual_seed(0)
    for trial in range(200):
        width = int(torch.randint(2, 9000, ()).item()) if trial % 4 else 8000
        rows, n = int(torch.randint(1, 30, ()).item()), int(torch.randint(1, 12, ()).item())
        if width <= n:
            continue
        logits = torch.randn(rows, width) * 3
        if trial % 3 == 0:
            logits = logits.round()  # ties everywhere
        if trial % 5 == 0:
            logits[:, ::7] = logits.max()  # ties at the top
        expected = bs._top_n(logits.log_softmax(-1), logits, n)
        assert torch.equal(bs._top_logits(logits, n), expected), (trial, width, rows, n)
    assert bs._block_size(8000) == 64 and bs._block_size(7919) is None  # a prime: the whole-row path
