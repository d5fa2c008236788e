import math

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


def test_anneal_by_time_follows_whichever_budget_runs_out_first():
    """A time cap reached before total_steps still ends the cosine at its floor; off, time is ignored."""
    timed = LRSchedule(_opt(), "cosine", total_steps=100, min_lr_ratio=0.1, anneal_by_time=True)
    plain = LRSchedule(_opt(), "cosine", total_steps=100, min_lr_ratio=0.1)
    for sched in (timed, plain):
        _lrs(sched, 10)  # 10% of the steps
        sched.spend_time(0.5)  # half the time
    assert timed.optimizer.param_groups[0]["lr"] == pytest.approx(0.55)  # cosine at progress 0.5
    at_tenth = 0.1 + 0.9 * 0.5 * (1 + math.cos(0.1 * math.pi))  # cosine at progress 0.1
    assert plain.optimizer.param_groups[0]["lr"] == pytest.approx(at_tenth)
    timed.spend_time(0.05)  # steps ahead of time again: the step progress rules
    assert timed.optimizer.param_groups[0]["lr"] == pytest.approx(plain.optimizer.param_groups[0]["lr"])
    timed.spend_time(1.2)  # out of time: the floor
    assert timed.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


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
