"""Course comparisons of whole recipes (``depth``, ``pooling``, ``cells``): each variant is the
recipe as ``python -m nlprnn recipe=R OVERRIDES`` would run it, composed from the same conf/ and
trained in its own subfolder at the course run's seed; the table gives parameters, seconds per
epoch, and the recipe's validation and test metric; one plot per recipe shows validation curves
against training time.

experiment.comparisons: a list of
    {recipe: NAME, name: its folder and plot (default: the recipe), metric: the KEY of
     results.json's val/test to tabulate (e.g. f1), overrides: [...shared...],
     variants: {label: [...overrides...]}}
experiment.overrides: added to every variant (the tiny config adds debug=tiny).
"""

from __future__ import annotations

import json
import time
from importlib import import_module
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from nlprnn.errors import UserError
from nlprnn.plotting import line_plot
from nlprnn.tasks.course.experiment import folder_name, read_curve, start, write_results
from nlprnn.tasks.recipe import train
from nlprnn.training.trainer import Diverged


def conf_dir() -> Path:
    """conf/ beside the package in a checkout, inside it in an installed wheel."""
    package = Path(__file__).resolve().parents[2]
    return package / "conf" if (package / "conf").is_dir() else package.parent / "conf"


def compose_recipe(overrides: list[str]) -> DictConfig:
    """The config ``python -m nlprnn OVERRIDES`` would run (inside a Hydra app or outside)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        cfg = compose(config_name="config", overrides=overrides)
    else:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
            cfg = compose(config_name="config", overrides=overrides)
    OmegaConf.set_struct(cfg, True)
    return cfg


def stored_parameters(ckpt: Path) -> int:
    """Weights of a trained model, counted from its checkpoint's tensors."""
    state = torch.load(ckpt, weights_only=True, map_location="cpu")["model"]
    return sum(t.numel() for t in state.values() if t.is_floating_point())


def train_variant(cfg, comparison, label: str, overrides: list[str], folder: Path) -> tuple[dict, list]:
    shared = [f"recipe={comparison.recipe}", f"seed={cfg.seed}", "trainer.progress=false"]
    shared.append(f"trainer.overwrite={str(cfg.trainer.overwrite).lower()}")
    if cfg.data.get("dir"):
        shared.append(f"data.dir={cfg.data.dir}")
    run_cfg = compose_recipe([*shared, *comparison.overrides, *cfg.experiment.overrides, *overrides])
    recipe_cls = import_module(f"nlprnn.tasks.{run_cfg.task}").RECIPE
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        results = train(recipe_cls, run_cfg, folder)
    except Diverged as error:  # e.g. an Elman net whose loss stopped being finite: a result too
        return {"recipe": comparison.recipe, "variant": label, "diverged": str(error)}, []
    curve = [{**r, "plotted": r[recipe_cls.metric]} for r in read_curve(folder / "metrics.jsonl")]
    last = curve[-1]
    key = comparison.metric
    if key not in results["val"]:
        metrics = [k for k, v in results["val"].items() if isinstance(v, (int, float))]
        raise UserError(
            f"experiment.comparisons: metric={key!r} is not a result of {comparison.recipe}: {metrics}"
        )
    row = {
        "recipe": comparison.recipe,
        "variant": label,
        "parameters": stored_parameters(folder / "best.pt"),
        "seconds / epoch": last["train_seconds"] / last["epochs"] if last["epochs"] else None,
        "epochs": round(last["epochs"], 2),
        f"val {key}": results["val"][key],
        f"test {key}": results["test"][key] if "test" in results else None,
        "wall seconds": time.perf_counter() - started,
    }
    return row, curve


def run(cfg) -> dict:
    out, _ = start(cfg)
    rows = []
    for comparison in cfg.experiment.comparisons:
        name = comparison.get("name") or comparison.recipe
        curves = {}
        for label, overrides in comparison.variants.items():
            folder = out / name / folder_name(label)
            row, curves[label] = train_variant(cfg, comparison, label, list(overrides), folder)
            rows.append({"comparison": name, **row})
        line_plot(
            {
                label: ([r["train_seconds"] for r in c], [r["plotted"] for r in c])
                for label, c in curves.items()
            },
            out / f"{name}_val_curves.png",
            "training seconds (evaluation excluded)",
            f"validation {comparison.metric}",
            title=f"{name}: {cfg.experiment.title}",
        )
    write_results(out, cfg.experiment.title, by_comparison(rows))
    (out / "results.json").write_text(json.dumps({"result": rows}, indent=1))
    return {"rows": rows}


def by_comparison(rows: list[dict]) -> dict[str, list[dict]]:
    """{comparison: its rows}, each table with only the columns its rows have (every recipe
    reports its own metric)."""
    tables: dict[str, list[dict]] = {}
    for row in rows:
        tables.setdefault(row.get("comparison", row["recipe"]), []).append(
            {k: v for k, v in row.items() if k != "comparison"}
        )
    return tables


MODES = {"train": run}
