"""The training loop every recipe shares.

A recipe (``nlprnn.recipes.recipe.Recipe``) or a course experiment (``TensorRecipe``) hands the trainer
a model and a ``TrainingRecipe``: the one protocol both implement. The trainer owns the rest:
optimizer, clipping, schedule, evaluation cadence, early stopping, atomic best/last checkpoints,
exact resume, progress bar, JSONL + TensorBoard logs, DDP, gradient accumulation over consecutive
batches (``trainer.accumulate``), mixed precision (``trainer.precision``: torch.autocast, a grad scaler
for fp16), and an optional moving average of the weights (``trainer.ema``) that is what gets validated
and saved.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import time
from inspect import signature
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from tqdm import tqdm

from nlprnn.allocator import keep_freed_memory, release_freed_memory, tidy
from nlprnn.errors import Interrupted, UserError
from nlprnn.factory import build
from nlprnn.training import distributed as dist
from nlprnn.training.averaging import WeightAverage
from nlprnn.training.checkpoint import FORMAT, load_checkpoint, save_atomic
from nlprnn.training.run_dir import cut_metrics
from nlprnn.training.schedule import LRSchedule
from nlprnn.training.stop_signals import StopSignals


@runtime_checkable
class TrainingRecipe(Protocol):
    """What the trainer needs of a recipe: its data, its loss and its validation."""

    metric: str  # e.g. "val_loss": picks best.pt, drives early stopping
    metric_mode: str  # "min" or "max"

    def train_batches(self, epoch: int) -> Any:
        """The epoch's batches: indexable, with len(); the same for a given epoch and seed."""

    def start_epoch(self, epoch: int) -> None:
        """Reset per-epoch state (e.g. a carried hidden state)."""

    def train_loss(self, model: nn.Module, batch) -> tuple:
        """(mean loss, target tokens[, units the loss is a mean over]). ``model`` is the DDP wrapper
        under torchrun, so the loss must come from model(...) (forward), never from its methods."""

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics, ``metric`` among them."""

    def state_dict(self) -> dict:
        """State carried between batches, saved in checkpoints for an exact resume."""

    def load_state_dict(self, state: dict) -> None: ...


class Diverged(UserError):
    """The training loss stopped being finite (the message says what to change); ``step`` and the
    largest gradient norm since the last evaluation say when and how (course/gradients)."""

    def __init__(self, step: int, grad_norm_max: float, loss: float) -> None:
        super().__init__(f"loss became {loss} at step {step}; lower optimizer.lr or trainer.clip_norm")
        self.step, self.grad_norm_max = step, grad_norm_max


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Accumulated:
    """The epoch's batches in groups of ``n`` consecutive ones: one optimizer step a group."""

    def __init__(self, batches, n: int) -> None:
        self.batches, self.n = batches, n

    def __len__(self) -> int:
        return math.ceil(len(self.batches) / self.n)

    def __getitem__(self, i: int) -> list:
        return [self.batches[j] for j in range(i * self.n, min((i + 1) * self.n, len(self.batches)))]


class Trainer:
    """Fits ``model`` on ``recipe``; ``cfg`` is the ``trainer`` config node, ``optim_cfg`` the
    ``optimizer`` node (a Hydra ``_target_``); ``extra`` goes into every checkpoint (config,
    vocabulary, recipe name)."""

    def __init__(
        self, cfg, optim_cfg, model: nn.Module, recipe: TrainingRecipe, run_dir: str | Path, extra: dict
    ):
        if cfg.get("keep_freed_memory"):  # each step's large blocks reused, not faulted in anew
            keep_freed_memory()
        elif cfg.get("release_freed_memory"):  # varying shapes: the heap's holes go back after each step
            release_freed_memory()
        self.cfg, self.recipe, self.extra = cfg, recipe, extra
        self.run_dir = Path(run_dir)
        self.device = next(model.parameters()).device
        self.model = model
        self.net = self._wrap_ddp(model)
        self.optimizer = build(optim_cfg, params=model.parameters())
        self.accumulate = cfg.get("accumulate") or 1
        self.autocast = PRECISIONS[cfg.get("precision") or "fp32"]
        self.scaler = torch.amp.GradScaler(self.device.type) if self.autocast == torch.float16 else None
        self.steps_per_epoch = len(self._steps(0))
        self.total_steps = self._total_steps()
        self.schedule = LRSchedule(
            self.optimizer, total_steps=self.total_steps, mode=recipe.metric_mode, **cfg.scheduler
        )
        self.average = WeightAverage(model, cfg.ema) if cfg.get("ema") else None
        self.state = {
            "step": 0,
            "epoch": 0,
            "batch": 0,
            "best": None,
            "bad_evals": 0,
            "evals": 0,
            "evaluated": None,
            "stopped_early": False,
            "train_seconds": 0.0,  # training time of the whole run, over resumes, at the last checkpoint
            # what the next metrics line logs, kept in checkpoints so a resume logs the same line
            "loss_avg": None,  # moving average of the training loss
            "grad_norms": [0.0, 0, 0.0],  # sum, count, max of the norms since the last evaluation
        }
        self.writer = None
        self.tokens, self.train_seconds = 0, 0.0  # this invocation's training steps (no evaluation)
        self.seconds_before = 0.0  # what the resumed run had trained before this invocation

    # ---- setup -------------------------------------------------------------------------
    def _wrap_ddp(self, model: nn.Module) -> nn.Module:
        if dist.world_size() == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers (Embedding.fix_rows' rows) never change: synced once at the start, not at every
        # forward; before torch 2.13 the only switch (broadcast_buffers=False) skipped the start too
        ddp = nn.parallel.DistributedDataParallel
        switch = "forward_sync_buffers"
        static = {switch: False} if switch in signature(ddp).parameters else {}
        return ddp(model, device_ids=ids, **static)

    def _steps(self, epoch: int):
        """The epoch's optimizer steps: a batch each, or groups of ``trainer.accumulate`` batches."""
        batches = self.recipe.train_batches(epoch)
        return batches if self.accumulate == 1 else Accumulated(batches, self.accumulate)

    def _total_steps(self) -> int:
        total = self.cfg.max_epochs * self.steps_per_epoch
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    # ---- the loop ------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until max_epochs / max_steps / max_time / early stopping; returns the best metrics."""
        if self.cfg.resume:
            self._resume()
        self._open_logs()
        start = time.monotonic()
        bar = tqdm(
            total=self.total_steps,
            initial=self.state["step"],
            disable=not self._show_bar(),
            dynamic_ncols=True,
            desc="train",
        )
        stop = self.state["step"] >= self.total_steps or self.state.get("stopped_early", False)
        with StopSignals() as signals:
            self._loop(stop, start, bar, signals)
        bar.close()
        if self.state["evaluated"] != self.state["step"] and self.state["step"] > 0:
            self._evaluate_and_save(self.state["loss_avg"])  # the final weights are always validated, once
        self._close_logs()
        return {"best": self.state["best"], "step": self.state["step"]}

    def _loop(self, stop: bool, start: float, bar, signals: StopSignals) -> None:
        interrupted = False
        budget = 60 * self.cfg.max_time if self.cfg.max_time else math.inf  # seconds
        while not stop and self.state["epoch"] < self.cfg.max_epochs:
            epoch = self.state["epoch"]
            batches = self._steps(epoch)
            if self.state["batch"] == 0:
                self.recipe.start_epoch(epoch)
            for i in range(self.state["batch"], len(batches)):
                if interrupted:  # a step boundary, the same on every rank (agreed after the last step)
                    bar.close()
                    self._stop_on_signal(signals.received)
                t0 = time.monotonic()
                loss, ntok = self.train_step(batches[i])  # data preparation included
                self.train_seconds += time.monotonic() - t0
                self.state["batch"] = i + 1
                self.state["step"] += 1
                _test_signal(self.state["step"])
                avg = self.state["loss_avg"]
                loss_avg = self.state["loss_avg"] = loss if avg is None else 0.98 * avg + 0.02 * loss
                self.tokens += ntok * dist.world_size()
                bar.update(1)
                bar.set_postfix(
                    loss=f"{loss_avg:.3f}",
                    tok_s=f"{self.tokens_per_second():.0f}",
                    lr=f"{self.optimizer.param_groups[0]['lr']:.2e}",
                    refresh=False,
                )
                time_used = (time.monotonic() - start) / budget
                # one collective: every rank anneals, stops and is interrupted as the slowest one
                time_used, signalled = dist.max_ranks(time_used, signals.received is not None)
                out_of_time, interrupted = time_used > 1.0, bool(signalled)
                self.schedule.spend_time(time_used)
                stop = out_of_time or self.state["step"] >= self.total_steps
                if stop or (self.cfg.eval_every and self.state["step"] % self.cfg.eval_every == 0):
                    stop = self._evaluate_and_save(loss_avg) or stop
                if stop:
                    break
            else:
                self.state["epoch"], self.state["batch"] = epoch + 1, 0
                if not self.cfg.eval_every and self.state["evaluated"] != self.state["step"]:
                    stop = self._evaluate_and_save(self.state["loss_avg"])

    def _stop_on_signal(self, signum: int | None) -> None:
        """SIGINT / SIGTERM: make last.pt hold this step (no evaluation: a resume then logs exactly
        what the uninterrupted run logs) and stop with the exit status shells expect."""
        if self.state["evaluated"] != self.state["step"]:  # else the evaluation just wrote last.pt
            ckpt = self._checkpoint()  # collective under DDP
            if dist.is_main():
                save_atomic(ckpt, self.run_dir / "last.pt")
        self._close_logs()
        name = signal.Signals(signum).name if signum else "a signal on another rank"
        raise Interrupted(
            f"stopped by {name} at step {self.state['step']}: saved {self.run_dir / 'last.pt'}",
            128 + (signum or signal.SIGTERM),
        )

    def tokens_per_second(self) -> float:
        """Target tokens per second of training steps (all ranks), evaluation time excluded."""
        return self.tokens / self.train_seconds if self.train_seconds else 0.0

    def train_step(self, batch) -> tuple[float, int]:
        """One optimizer step on a batch (or, with trainer.accumulate=N, a list of N batches)."""
        self.net.train()
        if self.accumulate == 1:
            loss, ntok, *units = self._forward(batch)
            self.optimizer.zero_grad(set_to_none=True)
            self._backward(dist.global_mean(loss, units[0] if units else ntok))
            self._unscale()
        else:
            loss, ntok = self._accumulate_gradients(batch)
        self._record_grad_norm(self._clip_gradients())
        if self.scaler:
            self.scaler.step(self.optimizer)  # skipped when fp16 gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.schedule.step()
        tidy()
        if self.average:
            self.average.update()
        return loss.item(), ntok

    def _forward(self, batch) -> tuple:
        """The recipe's (loss, tokens[, units]) under trainer.precision; a non-finite loss stops all ranks."""
        if self.autocast is None:
            result = self.recipe.train_loss(self.net, batch)
        else:
            try:
                with torch.autocast(self.device.type, dtype=self.autocast):
                    result = self.recipe.train_loss(self.net, batch)
            except RuntimeError as exc:  # e.g. oneDNN has no bf16 / fp16 LSTM on this CPU
                reason = str(exc).strip().splitlines()[0][:160]
                raise UserError(
                    f"trainer.precision={self.cfg.precision}: this model cannot run in that precision on "
                    f"{self.device} ({reason}); use trainer.precision=fp32"
                ) from None
        loss = result[0]
        if dist.any_rank(not torch.isfinite(loss)):  # every rank stops, none waits for the others
            raise Diverged(self.state["step"], self.state["grad_norms"][2], loss.item())
        return result

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def _unscale(self) -> None:
        """The true gradients before clipping (fp16's scaled ones divided back)."""
        if self.scaler:
            self.scaler.unscale_(self.optimizer)

    def _accumulate_gradients(self, batches: list) -> tuple[torch.Tensor, int]:
        """The gradient of the mean over every unit (token, sentence) of ``batches`` on every rank: each
        batch's loss weighted by its units, summed, then divided by the global count. DDP averages
        over ranks once, at the last batch (no_sync before it). -> (the mean loss, tokens)."""
        self.optimizer.zero_grad(set_to_none=True)
        weighted, units_here, tokens = 0.0, 0, 0
        for k, batch in enumerate(batches):
            syncing = k == len(batches) - 1 or not hasattr(self.net, "no_sync")
            with contextlib.nullcontext() if syncing else self.net.no_sync():
                loss, ntok, *units = self._forward(batch)
                n = units[0] if units else ntok
                self._backward(loss * (n * dist.world_size()))  # DDP's average over W ranks undone
            weighted, units_here, tokens = weighted + loss.detach() * n, units_here + n, tokens + ntok
        self._unscale()
        total = dist.global_sum(float(units_here), self.device)
        for p in self.model.parameters():
            if p.grad is not None:
                p.grad.div_(total)
        return weighted / units_here, tokens

    def _clip_gradients(self) -> float:
        """Clip to trainer.clip_norm (when set); the total gradient norm before clipping."""
        if self.cfg.clip_norm:
            return nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_norm).item()
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return 0.0
        norms = torch.stack([torch.linalg.vector_norm(g, dtype=torch.float64) for g in grads])
        return torch.linalg.vector_norm(norms).item()  # float64: huge gradients do not overflow

    def _record_grad_norm(self, norm: float) -> None:
        """Mean and max of the gradient norms since the last evaluation (logged with it)."""
        total, count, peak = self.state["grad_norms"]
        self.state["grad_norms"] = [total + norm, count + 1, norm if math.isnan(norm) else max(peak, norm)]

    def _evaluate_and_save(self, train_loss: float | None) -> bool:
        """Validate, log, write last (and maybe best) checkpoint; True when early stopping fires."""
        with self._averaged():
            metrics = self.recipe.evaluate(self.model)
        value = float(metrics[self.recipe.metric])  # plain float: checkpoints load with weights_only
        self.state["evaluated"] = self.state["step"]
        self.schedule.observe(value)
        best = self.state["best"]
        improved = best is None or (value < best if self.recipe.metric_mode == "min" else value > best)
        self.state["evals"] += 1
        if improved:
            self.state["best"], self.state["bad_evals"] = value, 0
        else:
            self.state["bad_evals"] += 1
        patience = self.cfg.patience
        # recorded in the checkpoint: a resume of an early-stopped run does not train on
        self.state["stopped_early"] = bool(patience) and self.state["bad_evals"] >= patience
        total, count, peak = self.state["grad_norms"]
        self.state["grad_norms"] = [0.0, 0, 0.0]
        record = {
            "step": self.state["step"],
            "epoch": self.state["epoch"],
            "train_loss": train_loss,
            "grad_norm": total / count if count else None,  # before clipping, mean since the last evaluation
            "grad_norm_max": peak if count else None,
            "epochs": self.state["step"] / self.steps_per_epoch,  # fractional: steps over steps per epoch
            "train_seconds": self.seconds_before + self.train_seconds,  # the run's, evaluation excluded
            "train_tok_s": self.tokens_per_second(),
            "lr": self.optimizer.param_groups[0]["lr"],
            **metrics,
        }
        self.state["train_seconds"] = record["train_seconds"]
        ckpt = self._checkpoint()  # collective under DDP: every rank takes part
        if dist.is_main():
            # the order makes a kill at any instant safe: a resume starts from last.pt, drops the
            # metrics lines after it and redoes the evaluation, which rewrites best.pt if it is best
            self._log(record, improved)
            _test_kill("after_metrics", self.state["step"])
            if improved:
                save_atomic(ckpt, self.run_dir / "best.pt")
                _test_kill("after_best", self.state["step"])
            save_atomic(ckpt, self.run_dir / "last.pt")
        return self.state["stopped_early"]

    def _averaged(self):
        """Context in which the model holds the weights to validate and save."""
        return self.average.applied() if self.average else contextlib.nullcontext()

    # ---- checkpoints -----------------------------------------------------------------------
    def _checkpoint(self) -> dict:
        """ "model" holds the weights for inference (the average when trainer.ema is set);
        "train_model" the raw weights that training resumes from."""
        raw = self.model.state_dict()
        with self._averaged():
            inference = {k: v.clone() for k, v in self.model.state_dict().items()} if self.average else raw
        averaging = {"train_model": raw, "average": {"updates": self.average.updates}} if self.average else {}
        return {
            **self.extra,
            "format": FORMAT,
            "model": inference,
            **averaging,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "trainer": dict(self.state),
            "recipe_state": dist.gather(self.recipe.state_dict()),
            **({"scaler": self.scaler.state_dict()} if self.scaler else {}),
            "rng": {
                "torch": torch.get_rng_state(),
                "python": list(random.getstate()[1]),
                "python_version": random.getstate()[0],
            },
        }

    def _resume(self) -> None:
        path = self.run_dir / "last.pt"  # present: the recipe's check_run_dir made sure
        ckpt = load_checkpoint(path, self.extra["recipe"])
        try:
            self.model.load_state_dict(ckpt.get("train_model", ckpt["model"]))
        except RuntimeError as exc:  # same settings, other data files: the vocabulary sizes moved
            first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
            raise UserError(f"{path} does not fit the model built from today's data: {first}") from None
        if self.average:
            self._resume_average(ckpt)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.schedule.load_state_dict(ckpt["schedule"])
        if self.scaler and "scaler" in ckpt:  # fp16's loss scale, where the run had reached it
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state.update(ckpt["trainer"])
        self.seconds_before = self.state.get("train_seconds", 0.0)  # absent in older checkpoints
        self.recipe.load_state_dict(ckpt["recipe_state"][dist.rank()])
        torch.set_rng_state(ckpt["rng"]["torch"])
        random.setstate((ckpt["rng"]["python_version"], tuple(ckpt["rng"]["python"]), None))
        if self.state["batch"] >= self.steps_per_epoch:
            self.state["epoch"], self.state["batch"] = self.state["epoch"] + 1, 0
        if dist.is_main():
            cut_metrics(self.run_dir / "metrics.jsonl", self.state["step"])
            print(f"resumed from {path} at step {self.state['step']} (epoch {self.state['epoch']})")

    def _resume_average(self, ckpt: dict) -> None:
        if "average" not in ckpt:
            raise UserError("trainer.ema is set but the run being resumed was trained without it")
        saved = dict(ckpt["model"])
        names = [name for name, p in self.model.named_parameters() if p.requires_grad]
        self.average.load_state_dict(
            {"updates": ckpt["average"]["updates"], "average": [saved[n] for n in names]}
        )

    # ---- logging -----------------------------------------------------------------------
    def _show_bar(self) -> bool:
        return bool(self.cfg.progress) and dist.is_main()

    def _open_logs(self) -> None:
        if dist.is_main() and self.cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # a resume purges the killed run's events after its checkpoint: each evaluation once
            purge = self.state["step"] + 1 if self.state["step"] else None
            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge)

    def _log(self, record: dict[str, Any], improved: bool) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        shown = ", ".join(
            f"{k}={v:.4f}"
            for k, v in record.items()
            if isinstance(v, float) and k not in ("lr",) and math.isfinite(v)
        )
        tqdm.write(f"step {record['step']}: {shown}{'  (best)' if improved else ''}")
        if self.writer:
            for k, v in record.items():
                if isinstance(v, (int, float)) and v is not None and k not in ("step", "epoch"):
                    self.writer.add_scalar(k, v, record["step"])
            self.writer.flush()

    def _close_logs(self) -> None:
        if self.writer:
            self.writer.close()


def _test_signal(step: int) -> None:
    """Tests only: NLPRNN_TEST_SIGNAL=NAME:STEP sends this process signal NAME (e.g. SIGINT) right
    after that training step, as a Ctrl-C or a scheduler would (tests/test_interrupt.py)."""
    name, _, at = os.environ.get("NLPRNN_TEST_SIGNAL", "").partition(":")
    if name and at == str(step):
        os.kill(os.getpid(), getattr(signal, name))


def _test_kill(point: str, step: int) -> None:
    """Tests only: NLPRNN_TEST_KILL=POINT:STEP kills this process (SIGKILL) at that instant of the
    checkpoint writes, to prove that a resume repairs everything (tests/test_soak.py)."""
    if os.environ.get("NLPRNN_TEST_KILL") == f"{point}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)
