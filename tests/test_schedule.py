import pytest
import torch

from nlprnn.training.schedule import LRSchedule


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.optimizer.param_groups[0]["lr"])
        sched.step()
    return out


def test_warmup_then_cosine_to_floor():
    sched = LRSchedule(_opt(), "cosine", total_steps=20, warmup_steps=4, min_lr_ratio=0.1)
    lrs = _lrs(sched, 25)
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))  # decays monotonically after warmup
    assert lrs[20] == pytest.approx(0.1) and lrs[24] == pytest.approx(0.1)


def test_plateau_halves_after_patience_in_max_mode():
    sched = LRSchedule(_opt(), "plateau", plateau_patience=2, plateau_factor=0.5, mode="max")
    for metric in [10, 11, 11, 10.5]:  # improves, then two evaluations without improvement
        sched.observe(metric)
    assert sched.optimizer.param_groups[0]["lr"] == pytest.approx(0.5)
    state = sched.state_dict()
    fresh = LRSchedule(_opt(), "plateau", mode="max")
    fresh.load_state_dict(state)
    assert fresh.optimizer.param_groups[0]["lr"] == pytest.approx(0.5)


def test_unknown_schedule():
    with pytest.raises(ValueError, match="scheduler.name"):
        LRSchedule(_opt(), "linear")
