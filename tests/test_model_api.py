"""The models layer's one convention: hand-built models train through ``forward(..., targets=...)``,
which returns a ``ModelOutput`` (loss, logits, state) for every model; optional inputs are keywords;
``lengths`` is a list or a tensor; ``generate`` decodes a hand-built model in one call."""

from __future__ import annotations

import pytest
import torch

from nlprnn.models.course import SequenceToOne
from nlprnn.models.language_model import LanguageModel
from nlprnn.models.output import ModelOutput
from nlprnn.models.seq2seq import Seq2Seq
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.models.sequence_tagger import SequenceTagger
from nlprnn.modules.beam_search import beam_search
from nlprnn.modules.decoding import greedy, sample

torch.set_num_threads(1)

V, B, T = 12, 3, 5
LENGTHS = [5, 3, 4]
BOS, EOS = 2, 3


def _ids(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(4, V, shape, generator=torch.Generator().manual_seed(seed))


def _classes(n: int, *shape: int) -> torch.Tensor:
    return torch.randint(0, n, shape, generator=torch.Generator().manual_seed(3))


def _seq2seq() -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(V, V, emb_dim=8, encoder_hidden_size=6, hidden_size=10, dropout=0.0)


def _tagger() -> SequenceTagger:
    """No casing, no character features: words, lengths and tags are all it needs."""
    torch.manual_seed(0)
    return SequenceTagger(V, 4, num_chars=1, emb_dim=8, case_dim=0, char_features="none", hidden_size=6)


def _classifier() -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(V, 3, emb_dim=8, hidden_size=6)


def _language_model() -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(V, emb_dim=8, hidden_size=10, num_layers=2)


# model -> (the model, its forward's positional inputs, its targets): a few lines each, by hand
HAND_BUILT = {
    "language model": lambda: (_language_model(), (_ids(B, T),), _ids(B, T, seed=1)),
    "seq2seq": lambda: (_seq2seq(), (_ids(B, T), LENGTHS, _ids(B, 4, seed=1)), _ids(B, 4, seed=2)),
    "tagger": lambda: (_tagger(), (_ids(B, T), LENGTHS), _classes(4, B, T)),
    "classifier": lambda: (_classifier(), (_ids(B, T), LENGTHS), _classes(3, B)),
    "sequence to one": lambda: (SequenceToOne(2, 6, 1), (torch.randn(B, T, 2),), torch.randn(B, 1)),
}


@pytest.mark.parametrize("name", HAND_BUILT)
def test_every_model_trains_through_forward_and_returns_a_model_output(name):
    model, inputs, targets = HAND_BUILT[name]()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    out = model(*inputs, targets=targets)
    assert isinstance(out, ModelOutput) and out.loss.dim() == 0 and out.logits.size(0) == B
    out.loss.backward()
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    loss, logits, _ = model(*inputs, targets=targets)  # plain unpacking, loss first
    assert loss.dim() == 0 and torch.is_tensor(logits)
    assert model(*inputs).loss is None  # without targets: the same kind of value, no loss


def test_the_language_model_returns_its_state_for_truncated_bptt():
    model, (tokens,), targets = HAND_BUILT["language model"]()
    first = model(tokens[:, :3], targets=targets[:, :3])
    second = model(tokens[:, 3:], state=first.state, targets=targets[:, 3:])
    whole = model(tokens).logits
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), whole)


def test_the_language_model_starts_its_lstm_forget_gates_at_forget_bias():
    model = LanguageModel(V, emb_dim=8, hidden_size=10, num_layers=2, forget_bias=1.0)
    for layer in range(2):
        forget_gate = slice(10, 20)  # gate blocks i, f, g, o
        total = getattr(model.rnn.rnn, f"bias_ih_l{layer}") + getattr(model.rnn.rnn, f"bias_hh_l{layer}")
        assert torch.all(total[forget_gate] == 1.0) and not torch.all(total[:10] == 1.0)
    default = LanguageModel(V, emb_dim=8, hidden_size=10, num_layers=1).rnn.rnn.bias_ih_l0
    assert default[10:20].abs().max() < 1 / 10**0.5  # None: torch's U(-1/sqrt(H), 1/sqrt(H))


@pytest.mark.parametrize("name", ["seq2seq", "tagger", "classifier"])
def test_lengths_as_a_list_or_a_tensor_give_the_same_result(name):
    model, inputs, targets = HAND_BUILT[name]()
    model.eval()
    as_list = model(*inputs, targets=targets)
    as_tensor = model(*[torch.tensor(x) if x is LENGTHS else x for x in inputs], targets=targets)
    torch.testing.assert_close(as_list.logits, as_tensor.logits)
    torch.testing.assert_close(as_list.loss, as_tensor.loss)


def test_a_tagger_without_char_features_needs_words_lengths_and_tags_only():
    model = _tagger()
    out = model(_ids(B, T), [5, 3, 4], targets=_classes(4, B, T))
    assert out.logits.shape == (B, T, 4) and out.loss.dim() == 0
    with_casing = SequenceTagger(V, 4, num_chars=1, emb_dim=8, case_dim=2, char_features="none")
    with pytest.raises(ValueError, match="casings="):
        with_casing(_ids(B, T), LENGTHS)


@pytest.mark.parametrize("cell, input_feeding", [("gru", False), ("lstm", True)])
def test_seq2seq_greedy_generate_equals_the_greedy_decoder(cell, input_feeding):
    torch.manual_seed(0)
    args = dict(emb_dim=8, encoder_hidden_size=6, hidden_size=10, dropout=0.0)
    model = Seq2Seq(V, V, cell=cell, input_feeding=input_feeding, **args).eval()
    src = _ids(B, T)
    out = model.generate(src, LENGTHS, max_len=8)
    assert out.tokens.shape[:2] == (B, 1) and out.lengths.shape == out.scores.shape == (B, 1)
    expected = greedy(model.step, torch.full((B,), BOS), model.encode(src, LENGTHS), 8, eos_id=EOS)
    for row, tokens, n in zip(expected.tolist(), out.tokens[:, 0], out.lengths[:, 0].tolist()):
        assert tokens[:n].tolist() == (row[: row.index(EOS)] if EOS in row else row)
        assert tokens[n:].eq(model.pad_id).all()


def test_seq2seq_beam_generate_gives_n_best_hypotheses_best_first():
    model = _seq2seq().eval()
    src = _ids(B, T)
    out = model.generate(src, LENGTHS, beam_size=3, n_best=2, max_len=6, length_penalty=0.6)
    assert out.tokens.shape[:2] == (B, 2) and out.tokens.size(2) <= 6
    assert out.lengths.shape == out.scores.shape == (B, 2)
    assert (out.scores[:, 0] >= out.scores[:, 1]).all()
    hyps = beam_search(
        model.step, torch.full((B,), BOS), model.encode(src, LENGTHS), 6, 3, EOS, model.reorder_state, 0.6, 2
    )
    for b, sentence in enumerate(hyps):
        for k, (ids, score) in enumerate(sentence):
            assert out.tokens[b, k, : out.lengths[b, k]].tolist() == ids
            assert out.scores[b, k].item() == pytest.approx(score)


def test_language_model_generate_wraps_the_decoders():
    model = _language_model().eval()
    prompt = _ids(2, 4)
    state = model(prompt[:, :-1]).state
    out = model.generate(prompt, 7, temperature=0.0)
    assert out.shape == (2, 7)
    assert torch.equal(out, greedy(model.step, prompt[:, -1], state, 7))
    sampled = model.generate(prompt, 7, top_k=3, generator=torch.Generator().manual_seed(5))
    expected = sample(
        model.step, prompt[:, -1], state, 7, top_k=3, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(sampled, expected)
    assert model.generate([5], 4, temperature=0.0).shape == (1, 4)  # one prompt as a list
