"""What every course experiment shares: its run directory, training one model with the shared
``Trainer`` (each model in its own subfolder, with its metrics.jsonl and checkpoints), scoring
in-memory tensors, and writing results.md / results.json beside the plots."""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from nlprnn.atomic import write_text_atomic
from nlprnn.errors import UserError
from nlprnn.models.course import objective
from nlprnn.modes.run_setup import run_dir, seed_everything, setup_device
from nlprnn.training import distributed as dist
from nlprnn.training.checkpoint import checkpoint_config
from nlprnn.training.trainer import Diverged, Trainer


def start(cfg: DictConfig, distributed: bool = False) -> tuple[Path, torch.device]:
    """Seed, device and a fresh run directory holding the resolved config.yaml; ``distributed``: the
    experiment trains recipes, which torchrun may run (rank 0 alone prepares the directory)."""
    if cfg.trainer.resume:
        raise UserError("course experiments run in minutes and do not resume: run them again")
    if dist.launched() and not distributed:
        raise UserError("this course experiment runs in one process: start it without torchrun")
    seed_everything(cfg.seed)
    device = setup_device(cfg)
    out = run_dir()
    if not dist.is_main():
        return out, device
    if (out / "results.json").exists() and not cfg.trainer.overwrite:
        raise UserError(
            f"{out} already holds an experiment's results: choose another hydra.run.dir "
            "or pass trainer.overwrite=true"
        )
    if cfg.trainer.overwrite:  # the earlier experiment's models go too: no stale folder is left
        for folder in {p.parent for p in out.glob("**/metrics.jsonl")}:
            shutil.rmtree(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    print(f"run directory: {out}")
    return out, device


class TensorRecipe:
    """The Trainer's ``TrainingRecipe`` protocol (as every recipe implements it) over in-memory
    tensors: shuffled minibatches of (x, y) for training, the objective and (for classification)
    accuracy on the validation tensors."""

    metric, metric_mode = "val_loss", "min"

    def __init__(self, train: tuple, val: tuple, loss: str, batch_size: int, seed: int) -> None:
        self.train, self.val, self.loss = train, val, loss
        self.batch_size, self.seed = batch_size, seed

    def train_batches(self, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.train
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed * 1000 + epoch))
        return [(x[i], y[i]) for i in order.split(self.batch_size)]

    def start_epoch(self, epoch: int) -> None:
        pass

    def train_loss(self, model, batch):
        x, y = batch
        return model(x, targets=y).loss, len(x)

    def evaluate(self, model) -> dict[str, float]:
        return {f"val_{k}": v for k, v in score(model, *self.val, self.loss).items()}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@torch.no_grad()
def score(model, x: torch.Tensor, y: torch.Tensor, loss: str, batch_size: int = 4096) -> dict[str, float]:
    """{"loss": the objective, "acc": accuracy for classification, "mae"/"rmse" for regression}."""
    was_training = model.training
    model.eval()
    prediction = torch.cat([model(x[i : i + batch_size]).logits for i in range(0, len(x), batch_size)])
    model.train(was_training)
    scores = {"loss": objective(loss, prediction, y).item()}
    if loss == "bce":
        scores["acc"] = ((prediction > 0).float() == y).float().mean().item()
    elif loss == "ce":
        scores["acc"] = (prediction.argmax(-1) == y).float().mean().item()
    else:
        scores["mae"] = (prediction - y).abs().mean().item()
        scores["rmse"] = math.sqrt(scores["loss"])
    return scores


def fit(
    cfg: DictConfig,
    model: torch.nn.Module,
    recipe,
    folder: Path,
    optimizer: dict | None = None,
    extra: dict | None = None,
    keep: str = "best",
    **trainer,
) -> dict:
    """Train ``model`` on ``recipe`` (a ``TrainingRecipe``) with the shared Trainer in ``folder``
    (``trainer`` overrides cfg.trainer, ``optimizer`` replaces cfg.optimizer, ``extra`` goes into the
    checkpoints) and keep its best weights (``keep="last"``: the weights after the last step, as Keras'
    fit does). -> {"curve": the evaluation records, "seconds": wall time, "diverged": {"message",
    "step", "grad_norm_max"} when the loss stopped being finite}."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.jsonl", "best.pt", "last.pt"):
        (folder / name).unlink(missing_ok=True)
    settings = OmegaConf.merge(cfg.trainer, {"tensorboard": False, **trainer})
    config = checkpoint_config(OmegaConf.to_container(cfg, resolve=True), model)
    extra = {"recipe": cfg.recipe_module, "config": config, **(extra or {})}
    start_time, diverged = time.perf_counter(), None
    try:
        Trainer(settings, optimizer or cfg.optimizer, model, recipe, folder, extra).fit()
    except Diverged as error:  # a non-finite loss: what an experiment on explosions measures
        diverged = {"message": str(error), "step": error.step, "grad_norm_max": error.grad_norm_max}
    seconds = time.perf_counter() - start_time
    if keep == "best" and (folder / "best.pt").exists():
        model.load_state_dict(torch.load(folder / "best.pt", weights_only=True)["model"])
    return {"curve": read_curve(folder / "metrics.jsonl"), "seconds": seconds, "diverged": diverged}


def read_curve(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def parameter_count(module: torch.nn.Module, biases: bool = True) -> int:
    """Trainable parameters; ``biases=False`` leaves out every parameter named bias*."""
    return sum(
        p.numel()
        for name, p in module.named_parameters()
        if p.requires_grad and (biases or not name.rsplit(".", 1)[-1].startswith("bias"))
    )


def hidden_for_budget(make, budget: int) -> int:
    """The hidden size H whose model ``make(H)`` has the parameter count closest to ``budget``
    (counts grow with H, so the search stops at the first H past it)."""
    h = 1
    while parameter_count(make(h + 1)) <= budget:
        h += 1
    below, above = parameter_count(make(h)), parameter_count(make(h + 1))
    return h if budget - below <= above - budget else h + 1


@dataclass(frozen=True)
class Claim:
    """A lecture's claim: its words (Spanish, verbatim), an English rendering, and where it is
    (the file in ../shared/course/ and the slide or section title)."""

    quote: str
    english: str
    source: str

    def markdown(self) -> str:
        return f"> «{self.quote}»\n>\n> *{self.english}* ({self.source})"


VERDICTS = ("agrees", "disagrees", "depends")


@dataclass(frozen=True)
class Verdict:
    """What the measurement says of the claim: one of VERDICTS and the numbers that decide it.
    Experiments compute it from their results, so a changed result changes the verdict."""

    word: str
    because: str

    def __post_init__(self) -> None:
        if self.word not in VERDICTS:
            raise ValueError(f"a verdict is one of {VERDICTS}, got {self.word!r}")

    def markdown(self) -> str:
        return f"**Verdict: {self.word}.** {self.because}"


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def pm(values: list[float], digits: int = 4) -> str:
    """ "mean ± sd" of the values with ``digits`` significant digits."""
    mean, sd = mean_sd(values)
    return f"{mean:.{digits}g} ± {sd:.2g}"


def band_over_seeds(points) -> tuple[list, list, list]:
    """(x, y) points from every seed's curve -> (xs, mean ys, sd ys) at each x, over the seeds that
    reached it: the line and band ``line_plot`` draws."""
    by_x: dict[float, list[float]] = {}
    for x, y in points:
        by_x.setdefault(x, []).append(y)
    xs = sorted(by_x)
    stats = [mean_sd(by_x[x]) for x in xs]
    return xs, [m for m, _ in stats], [sd for _, sd in stats]


def markdown_table(rows: list[dict]) -> str:
    """Rows of {column: value} -> a markdown table (floats with 4 significant digits; a "|" inside
    a header or cell is escaped so the table still renders)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(v):
        if isinstance(v, float):
            v = f"{v:.4g}"
        return "" if v is None else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_results(
    out: Path,
    title: str,
    tables: dict[str, list[dict]],
    extra: dict | None = None,
    findings: list[tuple[Claim, Verdict]] = (),
    stem: str = "results",
) -> None:
    """results.md (each lecture claim tested, with its verdict, first; then one markdown table per
    entry of ``tables``; printed too) and results.json (``findings``: each claim with its verdict);
    ``stem`` names them otherwise (a part of an experiment)."""
    parts = [f"# {title}", ""]
    for claim, verdict in findings:
        parts += [claim.markdown(), "", verdict.markdown(), ""]
    for name, rows in tables.items():
        parts += [f"## {name}", "", markdown_table(rows), ""]
    text = "\n".join(parts)
    print(text)
    write_text_atomic(out / f"{stem}.md", text)
    said = [{"claim": asdict(claim), "verdict": asdict(verdict)} for claim, verdict in findings]
    write_text_atomic(
        out / f"{stem}.json", json.dumps({"findings": said, **tables, **(extra or {})}, indent=1)
    )


def train_and_score(
    cfg,
    name: str,
    model,
    data: dict,
    loss: str,
    out: Path,
    optimizer: dict | None = None,
    seed: int | None = None,
    **trainer,
) -> tuple[dict, list]:
    """Train one model on data {"train"|"val"|"test": (x, y)} in ``out/name``; score its best
    weights on test. -> (its row: parameters, val and test scores, seconds; its curve with epochs)"""
    seed = cfg.seed if seed is None else seed  # the batch order's
    task = TensorRecipe(data["train"], data["val"], loss, cfg.experiment.batch_size, seed)
    trained = fit(cfg, model, task, out / folder_name(name), optimizer, **trainer)
    steps_per_epoch = len(task.train_batches(0))
    curve = [{**r, "model": name, "epoch": r["step"] / steps_per_epoch} for r in trained["curve"]]
    test = score(model, *data["test"], loss)
    val = score(model, *data["val"], loss)
    row = {"model": name, "parameters": parameter_count(model)}
    row.update({f"val_{k}": v for k, v in val.items()})
    row.update({f"test_{k}": v for k, v in test.items()})
    row.update({"epochs": round(curve[-1]["epoch"], 2) if curve else 0, "seconds": trained["seconds"]})
    if trained["diverged"]:  # the step and the largest gradient norm of the last, unlogged stretch
        d = trained["diverged"]
        row.update(
            {
                "diverged": d["message"],
                "diverged_step": d["step"],
                "diverged_grad_norm_max": d["grad_norm_max"],
            }
        )
    return row, curve


def folder_name(name: str) -> str:
    """A model's display name -> its subfolder: "Jordan H=67 (Elman's)" -> "Jordan_H=67_Elman_s"."""
    return re.sub(r"[^\w=.+-]+", "_", name).strip("_")


def without(rows: list[dict], *keys: str) -> list[dict]:
    """The rows without the columns ``keys`` (numbers a verdict reads, not shown in the table)."""
    return [{k: v for k, v in r.items() if k not in keys} for r in rows]


def to_device(data: dict, device) -> dict:
    return {k: (x.to(device), y.to(device)) for k, (x, y) in data.items()}


def synthetic_splits(make, sizes: dict, seed: int, device, **kwargs) -> dict:
    """{split: make(n, generator=..., **kwargs)} on ``device``: each split drawn from its own seeded
    generator."""
    return to_device(
        {
            split: make(n, generator=torch.Generator().manual_seed(seed * 10 + i), **kwargs)
            for i, (split, n) in enumerate(sizes.items())
        },
        device,
    )
