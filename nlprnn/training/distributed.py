"""torchrun / DistributedDataParallel plumbing: one process per rank, gloo on CPU, nccl on GPU."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Only rank 0 writes checkpoints, logs and progress bars."""
    return rank() == 0


def shard(batches: list[list[int]]) -> list[list[int]]:
    """This rank's share of each global batch (every world_size-th example of it), so that W ranks
    take the same optimizer steps on the same examples as one process; batches with fewer examples
    than ranks are skipped under torchrun."""
    world = world_size()
    if world == 1:
        return batches
    return [batch[rank() :: world] for batch in batches if len(batch) >= world]


def global_mean(loss: torch.Tensor, units: int) -> torch.Tensor:
    """The loss to back-propagate so that DDP's gradient average equals the gradient of the mean
    over the global batch: this rank's mean over ``units`` (tokens, sentences...) weighted by
    units * W / global units. One process: the loss as it is."""
    if not dist.is_initialized():
        return loss
    return loss * (units * world_size() / global_sum(float(units), loss.device))


def global_sum(value: float, device) -> float:
    """``value`` summed over every rank (one process: itself)."""
    if not dist.is_initialized():
        return value
    total = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(total)
    return total.item()


def built_by_main(build):
    """``build()`` on rank 0 only (e.g. training a tokenizer, which may write files); every rank
    returns rank 0's result (pickled across), so all ranks share one vocabulary."""
    if not dist.is_initialized():
        return build()
    box = [None]
    if is_main():
        try:
            box[0] = build()
        except Exception as exc:  # the other ranks must not wait for a result that never comes
            box[0] = exc
    dist.broadcast_object_list(box, src=0)
    if isinstance(box[0], Exception):
        raise box[0]
    return box[0]


def launched() -> bool:
    """Whether torchrun started this process as one of several (WORLD_SIZE > 1 in the environment)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_if_launched(device: torch.device) -> None:
    """Join the process group when started by torchrun (WORLD_SIZE > 1 in the environment)."""
    if not launched() or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # collectives of objects use the current device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def local_device(device: str) -> torch.device:
    """``auto`` picks CUDA when present; under torchrun each rank takes its LOCAL_RANK GPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            from nlprnn.errors import UserError

            raise UserError("trainer.device=cuda but no CUDA GPU is available; use trainer.device=cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device(device)


def any_rank(flag: bool) -> bool:
    """True on every rank when it is True on at least one (so all ranks stop at the same step)."""
    return any_ranks(flag)[0]


def any_ranks(*flags: bool) -> list[bool]:
    """``any_rank`` of several flags in one collective (a training step pays for one, not several)."""
    return [bool(v) for v in max_ranks(*(float(bool(f)) for f in flags))]


def max_ranks(*values: float) -> list[float]:
    """The largest of each value over all ranks, in one collective."""
    if not dist.is_initialized():
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def gather(obj):
    """Every rank's ``obj`` as a list indexed by rank (a one-item list when not distributed)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def cleanup() -> None:
    """Leave the process group together: a rank that tears down its side while rank 0 is still
    scoring the best checkpoint can abort in gloo's threads (seen on a loaded 2-core machine)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _collective_device() -> torch.device:
    """Where tensors for collectives live: the current GPU under nccl, the CPU under gloo."""
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )
