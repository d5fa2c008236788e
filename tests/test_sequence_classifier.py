"""Pooling under padding, the CRNN front end, the classifier model, and the classification metrics."""

import pytest
import torch

from nlprnn.models.sequence_classifier import ConvFrontEnd, SequenceClassifier
from nlprnn.modules.pooling import POOLINGS, Pooling
from nlprnn.modules.rnn import StackedRNN
from nlprnn.training.metrics import classification_scores


def _padded(seqs):
    lengths = torch.tensor([len(s) for s in seqs])
    batch = torch.zeros(len(seqs), int(lengths.max()), seqs[0].size(-1))
    for i, s in enumerate(seqs):
        batch[i, : len(s)] = s
    return batch, lengths


@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_pooling_is_each_directions_final_state(bidirectional):
    torch.manual_seed(0)
    rnn = StackedRNN(3, 4, num_layers=2, cell="gru", bidirectional=bidirectional)
    x, lengths = _padded([torch.randn(n, 3) for n in (5, 2, 4)])
    outputs, h_n = rnn(x, lengths)
    pooled = Pooling("last", rnn.output_size, rnn.num_directions)(outputs, lengths)
    # torch's final states of the top layer: forward (and backward) direction
    top = h_n[-rnn.num_directions :]
    torch.testing.assert_close(pooled, torch.cat(list(top), dim=-1))


@pytest.mark.parametrize("kind", POOLINGS)
def test_pooling_ignores_padding(kind):
    torch.manual_seed(0)
    pool = Pooling(kind, 6, num_directions=2)
    seqs = [torch.randn(n, 6) for n in (4, 1, 3)]
    x, lengths = _padded(seqs)
    x = x + 100.0 * (torch.arange(x.size(1))[None, :, None] >= lengths[:, None, None])  # junk padding
    batched = pool(x, lengths)
    for i, s in enumerate(seqs):
        torch.testing.assert_close(batched[i], pool(s[None], torch.tensor([len(s)]))[0])
    if kind == "max":
        torch.testing.assert_close(batched[0], seqs[0].amax(0))
    if kind == "mean":
        torch.testing.assert_close(batched[2], seqs[2].mean(0))
    if kind == "attention":
        pool(x, lengths)
        assert torch.allclose(pool.weights.sum(1), torch.ones(3)) and pool.weights[1, 1:].eq(0).all()


def test_conv_front_end_lengths_and_padding():
    torch.manual_seed(0)
    front = ConvFrontEnd(5, 7, kernel=3, pool=2)
    seqs = [torch.randn(n, 5) for n in (7, 3, 1)]
    x, lengths = _padded(seqs)
    out, new_lengths = front(x + 50.0 * (x == 0), lengths)  # padding filled with junk
    assert new_lengths.tolist() == [4, 2, 1] and out.shape == (3, 4, 7)
    for i, s in enumerate(seqs):
        alone, _ = front(s[None], torch.tensor([len(s)]))
        torch.testing.assert_close(out[i, : new_lengths[i]], alone[0])
    with pytest.raises(ValueError, match="odd"):
        ConvFrontEnd(5, 7, kernel=4)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("conv", [0, 8])
def test_classifier_padding_invariance(pooling, conv):
    torch.manual_seed(0)
    model = SequenceClassifier(30, 3, emb_dim=8, hidden_size=6, pooling=pooling, conv_channels=conv).eval()
    seqs = [torch.randint(1, 30, (n,)) for n in (9, 2, 5)]
    tokens = torch.zeros(3, 9, dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    logits = model(tokens, torch.tensor([9, 2, 5])).logits
    assert logits.shape == (3, 3)
    for i, s in enumerate(seqs):
        torch.testing.assert_close(logits[i], model(s[None], torch.tensor([len(s)])).logits[0])


def test_classifier_learns_a_keyword_rule():
    """Label 1 iff token 3 occurs anywhere: max pooling over a BiLSTM must get it right."""
    torch.manual_seed(0)
    tokens = torch.randint(4, 20, (64, 12))
    labels = torch.randint(0, 2, (64,))
    tokens[labels == 1, torch.randint(0, 12, (int(labels.sum()),))] = 3
    lengths = torch.full((64,), 12)
    model = SequenceClassifier(20, 2, emb_dim=16, hidden_size=16, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(tokens, lengths).logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model.eval()(tokens, lengths).logits.argmax(-1) == labels).float().mean() == 1.0


def test_classification_scores():
    scores = classification_scores([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ["neg", "pos"])
    assert scores["confusion"] == [[1, 1], [1, 2]]
    assert scores["accuracy"] == pytest.approx(60.0)
    f1_neg, f1_pos = 2 * 0.5 * 0.5 / 1.0, 2 * (2 / 3) * (2 / 3) / (4 / 3)
    assert scores["macro_f1"] == pytest.approx(100 * (f1_neg + f1_pos) / 2)
    assert classification_scores([1, 1], [1, 1], ["neg", "pos"])["macro_f1"] == pytest.approx(50.0)
