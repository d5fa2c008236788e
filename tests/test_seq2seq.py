import itertools

import pytest
import torch

from nlprnn.models.seq2seq import Seq2Seq
from nlprnn.modules.beam_search import beam_search
from nlprnn.modules.decoding import greedy

VARIANTS = list(itertools.product(["gru", "lstm"], ["dot", "general", "bahdanau"], [False, True]))


def _model(cell="gru", attention="general", input_feeding=False, **kw):
    torch.manual_seed(0)
    args = dict(
        emb_dim=8,
        encoder_hidden_size=6,
        hidden_size=12,
        encoder_layers=2,
        decoder_layers=2,
        cell=cell,
        attention=attention,
        input_feeding=input_feeding,
        dropout=0.0,
        pad_id=0,
    )
    return Seq2Seq(20, 20, **{**args, **kw}).eval()


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS)
def test_step_by_step_equals_teacher_forcing(cell, attention, input_feeding):
    model = _model(cell, attention, input_feeding)
    src, lengths = torch.randint(4, 20, (3, 7)), torch.tensor([7, 2, 5])
    tgt = torch.randint(4, 20, (3, 6))
    logits = model(src, lengths, tgt).logits
    state, steps = model.encode(src, lengths), []
    for t in range(tgt.size(1)):
        step_logits, state = model.step(tgt[:, t], state)
        steps.append(step_logits)
    torch.testing.assert_close(torch.stack(steps, 1), logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("input_feeding", [False, True])
def test_source_padding_does_not_change_outputs(input_feeding):
    model = _model(input_feeding=input_feeding)
    src, lengths = torch.randint(4, 20, (2, 5)), torch.tensor([5, 3])
    src[1, 3:] = 0
    tgt = torch.randint(4, 20, (2, 4))
    padded = torch.cat([src, torch.zeros(2, 6, dtype=torch.long)], 1)
    torch.testing.assert_close(model(padded, lengths, tgt).logits, model(src, lengths, tgt).logits)
    alone = model(src[1:, :3], lengths[1:], tgt[1:]).logits
    torch.testing.assert_close(alone, model(src, lengths, tgt).logits[1:], rtol=1e-5, atol=1e-5)


def test_tied_and_shared_embeddings():
    model = _model(tie_embeddings=True, share_embeddings=True)
    assert model.output.weight is model.tgt_embedding.weight is model.src_embedding.weight
    with pytest.raises(ValueError, match="joint vocabulary"):
        Seq2Seq(20, 30, share_embeddings=True)


def test_reorder_state_moves_beams_and_shares_memory():
    model = _model(cell="lstm", input_feeding=True)
    state = model.encode(torch.randint(4, 20, (2, 4)), torch.tensor([4, 2]))
    beams = model.reorder_state(state, torch.tensor([0, 0, 0, 1, 1, 1]))  # 3 beams per sentence
    assert beams["memory"] is state["memory"]  # one memory per sentence, never copied per beam
    torch.testing.assert_close(beams["hidden"][0], state["hidden"][0][:, [0, 0, 0, 1, 1, 1]])
    assert beams["feed"].shape[0] == 6
    # each beam's step equals the same step run on its own sentence
    tokens = torch.tensor([5, 6, 7, 8, 9, 10])
    logits, _ = model.step(tokens, beams)
    for row, sent in enumerate([0, 0, 0, 1, 1, 1]):
        single = model.reorder_state(state, torch.tensor([sent]))
        single = {**single, **{k: single[k][sent : sent + 1] for k in ("memory", "keys", "mask")}}
        alone, _ = model.step(tokens[row : row + 1], single)
        torch.testing.assert_close(alone[0], logits[row], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS[::3])
def test_beam_one_equals_greedy_on_the_model(cell, attention, input_feeding):
    model = _model(cell, attention, input_feeding)
    src, lengths = torch.randint(4, 20, (4, 6)), torch.tensor([6, 3, 5, 1])
    bos = torch.full((4,), 2)
    g = greedy(model.step, bos, model.encode(src, lengths), 10, eos_id=3).tolist()
    b = beam_search(model.step, bos, model.encode(src, lengths), 10, 1, 3, model.reorder_state)
    for row, hyps in zip(g, b):
        expected = row[: row.index(3)] if 3 in row else row
        assert hyps[0][0] == expected


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS[::2])
def test_beam_search_dropping_finished_sentences_keeps_results(cell, attention, input_feeding):
    model = _model(cell, attention, input_feeding)
    g = torch.Generator().manual_seed(1)
    src, lengths = torch.randint(4, 20, (6, 7), generator=g), torch.tensor([7, 7, 5, 4, 2, 1])
    limits = torch.tensor([9, 3, 8, 1, 6, 4])
    bos = torch.full((6,), 2)
    args = (model.step, bos, model.encode(src, lengths), limits, 3, 3, model.reorder_state, 0.6, 2)
    plain = beam_search(*args, early_stop=False)
    fast = beam_search(*args, select_sentences=model.select_sentences)
    assert [[seq for seq, _ in h] for h in fast] == [[seq for seq, _ in h] for h in plain]
    for a, b in zip(fast, plain):
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
