import pytest
import torch
import torch.nn.functional as F

from nlprnn.modules.loss import smoothed_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_equals_torch_cross_entropy_value_and_gradient(smoothing):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 23, dtype=torch.double, generator=g, requires_grad=True)
    target = torch.randint(0, 23, (40,), generator=g)
    target[::5] = 0  # ignored (padding) positions
    ours = smoothed_cross_entropy(logits, target, smoothing, ignore_index=0)
    ref = F.cross_entropy(logits, target, ignore_index=0, label_smoothing=smoothing)
    torch.testing.assert_close(ours, ref)
    (g_ours,) = torch.autograd.grad(2.5 * ours, logits)
    (g_ref,) = torch.autograd.grad(2.5 * ref, logits)
    torch.testing.assert_close(g_ours, g_ref)
    assert g_ours[::5].abs().max() == 0  # ignored rows get no gradient
    assert torch.autograd.gradcheck(lambda x: smoothed_cross_entropy(x, target, smoothing, 0), (logits,))


def test_all_ignored_gives_zero_loss_and_gradient():
    logits = torch.randn(4, 5, requires_grad=True)
    loss = smoothed_cross_entropy(logits, torch.zeros(4, dtype=torch.long), 0.1, ignore_index=0)
    loss.backward()
    assert loss.item() == 0 and logits.grad.abs().max() == 0


def test_rejects_bad_smoothing():
    with pytest.raises(ValueError, match="label smoothing"):
        smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), 1.0)
