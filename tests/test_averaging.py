"""trainer.ema: the moving average of the weights."""

import pytest
import torch
from torch import nn

from nlprnn.training.averaging import WeightAverage


def test_average_follows_the_formula_and_applied_restores_raw_weights():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    avg = WeightAverage(model, decay=0.5)
    expected = [p.detach().clone() for p in model.parameters()]
    for n in range(1, 6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        avg.update()
        d = min(0.5, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, model.parameters())]
    raw = [p.detach().clone() for p in model.parameters()]
    with avg.applied():
        for p, e in zip(model.parameters(), expected):
            torch.testing.assert_close(p.detach(), e)
    for p, r in zip(model.parameters(), raw):
        assert torch.equal(p.detach(), r)


def test_state_round_trip_and_bad_decay():
    model = nn.Linear(2, 2)
    avg = WeightAverage(model, 0.9)
    avg.update()
    other = WeightAverage(nn.Linear(2, 2), 0.9)
    other.load_state_dict(avg.state_dict())
    assert other.updates == 1 and all(torch.equal(a, b) for a, b in zip(other.average, avg.average))
    with pytest.raises(ValueError, match="trainer.ema"):
        WeightAverage(model, 1.0)
