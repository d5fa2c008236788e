"""Embedding.fix_rows: the corpus-only rows of NER's table kept out of training, with no change in
what the model computes or learns."""

import pytest
import torch

from nlprnn.models.sequence_tagger import SequenceTagger
from nlprnn.modules.embedding import Embedding

torch.set_num_threads(1)


def test_fixed_rows_embed_as_before_and_leave_the_parameters():
    torch.manual_seed(0)
    emb = Embedding(10, 4, padding_idx=0)
    tokens = torch.tensor([[0, 3, 6, 9], [5, 6, 1, 0]])
    before = emb(tokens)
    emb.fix_rows(6)
    assert torch.equal(emb(tokens), before)
    assert emb.weight.shape == (6, 4) and emb.fixed.shape == (4, 4) and emb.num_embeddings == 10
    assert [name for name, _ in emb.named_parameters()] == ["table.weight"]
    emb(tokens).sum().backward()
    assert emb.weight.grad[[3, 5]].ne(0).all() and emb.weight.grad[4].eq(0).all()
    with pytest.raises(ValueError, match="fix_rows"):
        emb.fix_rows(3)
    with pytest.raises(ValueError, match="needs 4 < start"):
        Embedding(10, 4, padding_idx=4).fix_rows(4)


def test_a_saved_split_table_loads_into_a_fresh_full_one():
    torch.manual_seed(0)
    emb = Embedding(10, 4)
    emb.fix_rows(7)
    fresh = Embedding(10, 4)
    fresh.load_state_dict(emb.state_dict())
    tokens = torch.arange(10)[None]
    assert fresh.fixed.shape == (3, 4) and torch.equal(fresh(tokens), emb(tokens))
    full = Embedding(10, 4)  # a table saved before fix_rows existed loads as it is
    restored = Embedding(10, 4)
    restored.load_state_dict(full.state_dict())
    assert restored.fixed is None and torch.equal(restored.weight, full.weight)


def tagger(vocab_size: int, fixed_from: int | None) -> SequenceTagger:
    torch.manual_seed(0)
    model = SequenceTagger(vocab_size, num_tags=5, num_chars=12, char_features="cnn", hidden_size=8,
                           emb_dim=6, char_dim=4, char_size=5)  # fmt: skip
    if fixed_from:
        model.embedding.fix_rows(fixed_from)
    return model


def test_training_with_fixed_rows_learns_what_the_full_table_learns():
    """Adam leaves rows that never get a gradient where they are; fixed, they are simply not touched."""
    torch.manual_seed(1)
    words, casings = torch.randint(1, 30, (4, 7)), torch.randint(1, 5, (4, 7))
    chars, char_index = torch.randint(1, 12, (9, 5)), torch.randint(0, 9, (4, 7))
    batch = dict(casings=casings, chars=chars, char_lengths=torch.full((9,), 5), char_index=char_index)
    tags, lengths = torch.randint(0, 5, (4, 7)), torch.tensor([7, 6, 5, 3])
    runs = {}
    for fixed_from in (None, 30):
        model = tagger(50, fixed_from)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        losses = []
        for _ in range(5):
            loss = model(words, lengths, targets=tags, **batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        runs[fixed_from] = model, losses
    (full, full_losses), (split, split_losses) = runs[None], runs[30]
    assert split_losses == pytest.approx(full_losses, rel=1e-6)
    assert torch.allclose(full.embedding.weight[:30], split.embedding.weight, atol=1e-6)
    assert torch.equal(full.embedding.weight[30:], split.embedding.fixed)  # untouched in both
    assert torch.equal(split.embedding.fixed, tagger(50, 30).embedding.fixed)
    unseen = torch.tensor([[35, 2, 49]])  # ids of the fixed rows read the same vectors at tagging time
    full.eval(), split.eval()
    with torch.no_grad():
        assert torch.allclose(full.embedding(unseen), split.embedding(unseen))
