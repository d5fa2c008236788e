"""Course comparisons of whole recipes (``depth``, ``pooling``, ``cells``): each variant is the
recipe as ``python -m nlprnn recipe=R OVERRIDES seed=S`` would run it, composed from the same
conf/ and trained once per seed in ``<comparison>/<variant>/seed<S>``. Per variant the table gives
parameters, seconds per epoch, epochs and updates, and the recipe's validation and test metric as
mean ± sd over the seeds (and each seed's); one plot per comparison shows the validation curves,
mean ± sd bands, against epochs or updates (against training seconds in the time view).

experiment.seeds: every variant is trained once per seed.
experiment.overrides: added to every variant (the tiny config adds debug=tiny).
experiment.comparisons: a list of
    {recipe: NAME, name: its folder and plot (default: the recipe), metric: the KEY of
     results.json's val/test to tabulate (e.g. f1), overrides: [...shared...],
     view: updates (default: an equal budget of updates or epochs, or early stopping on
           validation, with trainer.max_time=null) | time (the same trainer.max_time for every
           variant: a speed comparison),
     claim: {quote, english, source} (optional), expect: [[A, B], ...] (the claim predicts variant
     A better than B), expect_similar: [[A, B], ...], tolerance: a difference of the metric too
     small to matter (default 0); or claims: [{quote, english, source, expect, ...}, ...],
     variants: {label: [...overrides...]},
     dashed: [labels drawn dashed in the colour of the variant before them] (optional)}
experiment.only: names of the comparisons to run (default: all), e.g. ``+experiment.only=[ner]``:
one comparison of an hours-long experiment at a time, or two at once in one run directory (each
writes its own folders and results_<names>.md; the full run afterwards reads their runs back).
The verdict on each claim is computed from the test metric by ``judge``. A comparison killed
midway (the full ones take hours) and started again in the same directory reads back the runs it
had finished (same config, trainer.overwrite=false) and trains only the others.
"""

from __future__ import annotations

import json
import math
import time
from importlib import import_module
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from nlprnn.errors import UserError
from nlprnn.factory import CONF
from nlprnn.modes.train import train
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    folder_name,
    mean_sd,
    pm,
    read_curve,
    start,
    write_results,
)
from nlprnn.training import distributed as dist
from nlprnn.training.trainer import Diverged

VIEWS = ("updates", "time")


def compose_recipe(overrides: list[str]) -> DictConfig:
    """The config ``python -m nlprnn OVERRIDES`` would run (inside a Hydra app or outside)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        cfg = compose(config_name="config", overrides=overrides)
    else:
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            cfg = compose(config_name="config", overrides=overrides)
    OmegaConf.set_struct(cfg, True)
    return cfg


def stored_parameters(ckpt: Path) -> int:
    """Weights of a trained model, counted from its checkpoint's tensors."""
    state = torch.load(ckpt, weights_only=True, map_location="cpu")["model"]
    return sum(t.numel() for t in state.values() if t.is_floating_point())


def variant_config(cfg, comparison, overrides: list[str], seed: int) -> DictConfig:
    """The recipe's config for one variant and seed: the command line a user would type."""
    shared = [f"recipe={comparison.recipe}", f"seed={seed}", "trainer.progress=false"]
    shared.append(f"trainer.overwrite={str(cfg.trainer.overwrite).lower()}")
    if cfg.data.get("dir"):
        shared.append(f"data.dir={cfg.data.dir}")
    return compose_recipe([*shared, *comparison.overrides, *cfg.experiment.overrides, *overrides])


def view_of(comparison) -> str:
    view = comparison.get("view") or "updates"
    if view not in VIEWS:
        raise UserError(
            f"experiment.comparisons: view={view!r} (comparison {name_of(comparison)}): one of {VIEWS}"
        )
    return view


def name_of(comparison) -> str:
    return comparison.get("name") or comparison.recipe


def budget_of(comparison, run_cfgs: dict[str, DictConfig]) -> str:
    """The training budget every variant shares, in words (the table's and plot's title); a
    budget that differs between variants, or a time limit outside the time view, is an error."""
    name, view = name_of(comparison), view_of(comparison)
    keys = ("max_time", "max_steps", "max_epochs", "patience", "eval_every")
    settings = {label: tuple(c.trainer[k] for k in keys) for label, c in run_cfgs.items()}
    if len(set(settings.values())) > 1:
        raise UserError(
            f"experiment.comparisons ({name}): the variants train with different trainer budgets "
            f"({', '.join(keys)}): {settings}; set them in the comparison's overrides"
        )
    max_time, max_steps, max_epochs, patience, _ = next(iter(settings.values()))
    if view == "time":
        if not max_time:
            raise UserError(f"experiment.comparisons ({name}): view=time needs trainer.max_time (minutes)")
        return f"fixed time: a speed comparison, {max_time:g} min of training each"
    if max_time:
        raise UserError(
            f"experiment.comparisons ({name}): trainer.max_time={max_time} makes the budget a time limit: "
            "pass trainer.max_time=null (equal updates or early stopping), or view=time"
        )
    if patience:
        return f"early stopping on validation (patience {patience} evaluations, at most {max_epochs} epochs)"
    if max_steps:
        return f"equal updates: {max_steps} each"
    return f"equal epochs: {max_epochs} each"


def train_variant(cfg, comparison, label: str, run_cfg: DictConfig, seed: int, folder: Path):
    """One variant at one seed. -> (its row, its validation curve)"""
    recipe_cls = import_module(f"nlprnn.recipes.{run_cfg.recipe_module}").RECIPE
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    row = {"variant": label, "seed": seed}
    if not cfg.trainer.overwrite and finished_as(folder, run_cfg):  # a killed comparison, run again
        results = json.loads((folder / "results.json").read_text())
        row["reused"] = True
    else:
        if not cfg.trainer.overwrite and killed_as(folder, run_cfg):  # resumed from its last.pt
            run_cfg = run_cfg.copy()
            run_cfg.trainer.resume = True
        try:
            results = train(recipe_cls, run_cfg, folder)
        except Diverged as error:  # e.g. an Elman net whose loss stopped being finite: a result too
            return {**row, "diverged": str(error)}, []
    if not dist.is_main():  # under torchrun the other ranks train; rank 0 scores and reports
        return row, []
    curve = [{**r, "plotted": r[recipe_cls.metric]} for r in read_curve(folder / "metrics.jsonl")]
    last, key = curve[-1], comparison.metric
    if key not in results["val"]:
        metrics = [k for k, v in results["val"].items() if isinstance(v, (int, float))]
        raise UserError(
            f"experiment.comparisons: metric={key!r} is not a result of {comparison.recipe}: {metrics}"
        )
    row.update(
        {
            "parameters": stored_parameters(folder / "best.pt"),
            "seconds / epoch": last["train_seconds"] / last["epochs"] if last["epochs"] else None,
            "epochs": last["epochs"],
            "updates": last["step"],
            "val": results["val"][key],
            "test": results["test"][key] if "test" in results else None,
            "wall seconds": time.perf_counter() - started,
        }
    )
    return row, curve


# settings that do not change what a finished run trained
UNTRAINED = ("trainer.resume", "trainer.overwrite", "trainer.progress", "trainer.tensorboard", "data.dir")


def finished_as(folder: Path, run_cfg: DictConfig) -> bool:
    """Whether ``folder`` holds a finished run (its results.json) of this very config: the hours-long
    comparisons, killed and started again in the same directory, train only what is missing."""
    return (folder / "results.json").exists() and same_config(folder, run_cfg)


def killed_as(folder: Path, run_cfg: DictConfig) -> bool:
    """Whether ``folder`` holds a run of this very config killed before it finished (its last.pt
    and no results.json): the comparison started again resumes it."""
    return (
        (folder / "last.pt").exists()
        and not (folder / "results.json").exists()
        and same_config(folder, run_cfg)
    )


def same_config(folder: Path, run_cfg: DictConfig) -> bool:
    """Whether the run in ``folder`` was trained with ``run_cfg`` (settings in UNTRAINED aside)."""
    if not (folder / "config.yaml").exists():
        return False
    saved, now = OmegaConf.load(folder / "config.yaml"), run_cfg.copy()
    for cfg in (saved, now):
        OmegaConf.set_struct(cfg, False)
        for key in UNTRAINED:
            parent, _, leaf = key.rpartition(".")
            OmegaConf.select(cfg, parent).pop(leaf, None)
    return OmegaConf.to_container(saved, resolve=True) == OmegaConf.to_container(now, resolve=True)


def bands(curves: list[list[dict]], x: str) -> tuple[list, list, list]:
    """The seeds' validation curves -> (xs, mean, sd) at each evaluation every seed reached (the
    k-th evaluation of every seed is at the same update under an equal budget)."""
    curves = [c for c in curves if c]
    if not curves:
        return [], [], []
    points = [[c[k] for c in curves] for k in range(min(len(c) for c in curves))]
    stats = [mean_sd([r["plotted"] for r in p]) for p in points]
    xs = [mean_sd([r[x] for r in p])[0] for p in points]
    return xs, [m for m, _ in stats], [s for _, s in stats]


def summary(label: str, runs: list[dict], key: str) -> dict:
    """One variant's table row: its seeds' runs as mean ± sd (and each seed's value)."""
    done = [r for r in runs if "diverged" not in r]
    row = {"variant": label, "seeds": len(runs)}
    if len(done) < len(runs):
        row["diverged"] = f"{len(runs) - len(done)} of {len(runs)}"
    if not done:
        return row
    row["parameters"] = f"{done[0]['parameters']:,}"
    row["seconds / epoch"] = mean_sd([r["seconds / epoch"] for r in done])[0]
    row["epochs"] = spread([r["epochs"] for r in done], 3)
    row["updates"] = spread([r["updates"] for r in done], 6)
    for split in ("val", "test"):
        values = [r[split] for r in done if r[split] is not None]
        if values:
            row[f"{split} {key}"] = pm(values) if len(values) > 1 else f"{values[0]:.4g}"
            row[f"{split} {key} per seed"] = " / ".join(f"{v:.4g}" for v in values)
    return row


def spread(values: list[float], digits: int) -> str:
    """mean ± sd, or the one value every seed shares (an equal budget)."""
    return f"{values[0]:.{digits}g}" if len(set(values)) == 1 else pm(values, digits)


def run_comparison(cfg, comparison, out: Path) -> tuple[list[dict], list[dict], str, list]:
    """Every variant at every seed. -> (runs, table rows, title, findings)"""
    name, seeds = name_of(comparison), list(cfg.experiment.seeds)
    if not seeds:
        raise UserError("experiment.seeds: give at least one seed, e.g. [1, 2, 3]")
    run_cfgs = {
        (label, seed): variant_config(cfg, comparison, list(overrides), seed)
        for seed in seeds
        for label, overrides in comparison.variants.items()
    }
    budget = budget_of(comparison, {f"{label} seed {s}": c for (label, s), c in run_cfgs.items()})
    runs, curves = [], {}
    for (label, seed), run_cfg in run_cfgs.items():  # seed by seed: a killed run has whole seeds
        folder = out / name / folder_name(label) / f"seed{seed}"
        row, curves[label, seed] = train_variant(cfg, comparison, label, run_cfg, seed, folder)
        runs.append({"comparison": name, **row})
    if not dist.is_main():
        return runs, [], title_of(name, budget, seeds), []
    labels = list(comparison.variants)
    rows = [summary(label, [r for r in runs if r["variant"] == label], comparison.metric) for label in labels]
    title = title_of(name, budget, seeds)
    plot(
        comparison, out, title, {label: [curves[label, s] for s in seeds] for label in labels}, x_axis(budget)
    )
    recipe_cls = import_module(f"nlprnn.recipes.{next(iter(run_cfgs.values())).recipe_module}").RECIPE
    findings = claims_judged(comparison, runs, labels, recipe_cls.metric_mode)
    return runs, rows, title, findings


def title_of(name: str, budget: str, seeds: list) -> str:
    return f"{name}: {budget}; {len(seeds)} seed{'s' if len(seeds) > 1 else ''}"


def plot(comparison, out: Path, title: str, curves: dict[str, list[list[dict]]], x: str) -> None:
    """Validation curves, mean ± sd over the seeds, against ``x``: "epochs", "step" or "train_seconds"."""
    xlabel = {"step": "updates", "train_seconds": "training seconds (evaluation excluded)"}.get(x, x)
    line_plot(
        {label: bands(cs, x) for label, cs in curves.items()},
        out / f"{name_of(comparison)}_val_curves.png",
        xlabel,
        f"validation {comparison.metric} (mean ± sd over seeds)",
        title=title,
        dashed=tuple(comparison.get("dashed") or ()),
    )


def x_axis(budget: str) -> str:
    """What the curves are plotted against: the budget's own unit."""
    if budget.startswith("fixed time"):
        return "train_seconds"
    return "step" if budget.startswith("equal updates") else "epochs"


def claims_of(comparison) -> list:
    """The comparison's claims, each {quote, english, source, expect, expect_similar, tolerance}:
    ``claims: [...]``, or one ``claim: {quote, english, source}`` beside its expect keys."""
    shared = {
        k: comparison[k] for k in ("expect", "expect_similar", "tolerance") if comparison.get(k) is not None
    }
    if comparison.get("claims"):  # a comparison's tolerance holds for each claim that sets none
        return [{**shared, **said} for said in comparison.claims]
    return [{**comparison.claim, **shared}] if comparison.get("claim") else []


def claims_judged(comparison, runs: list[dict], labels: list[str], mode: str) -> list:
    """[(Claim, Verdict)] for each of the comparison's claims, computed from the test metric (the
    validation metric where a recipe has no test split)."""
    split = "test" if all(r.get("test") is not None for r in runs if "diverged" not in r) else "val"
    values = {label: seed_spread(runs, label, split) for label in labels}
    findings = []
    for said in claims_of(comparison):
        pairs = [tuple(p) for p in said.get("expect") or []]
        similar = [tuple(p) for p in said.get("expect_similar") or []]
        claim = Claim(said["quote"], said["english"], said["source"])
        metric = f"{split} {comparison.metric}"
        findings.append((claim, judge(pairs, similar, values, mode, metric, said.get("tolerance") or 0.0)))
    return findings


def check_pairs(comparison, pairs: list[tuple], labels: list[str]) -> None:
    where = f"experiment.comparisons ({name_of(comparison)})"
    if not pairs:
        raise UserError(f"{where}: a claim needs expect or expect_similar: [[A, B], ...]")
    for pair in pairs:
        if len(pair) != 2 or any(label not in labels for label in pair):
            raise UserError(f"{where}: expect {list(pair)} must name two of the variants {labels}")


def chosen(cfg) -> list:
    """The comparisons ``experiment.only`` names (all without it), in the experiment's order."""
    names = [name_of(c) for c in cfg.experiment.comparisons]
    only = cfg.experiment.get("only")
    if only is None:
        return list(cfg.experiment.comparisons)
    unknown = [n for n in only if n not in names]
    if unknown or not only:
        raise UserError(f"experiment.only={list(only)}: name one or more of this experiment's {names}")
    return [c for c in cfg.experiment.comparisons if name_of(c) in only]


def run(cfg) -> dict:
    comparisons = chosen(cfg)
    part = "" if cfg.experiment.get("only") is None else "_" + "_".join(name_of(c) for c in comparisons)
    out, _ = start(cfg, distributed=True)
    runs, tables, findings = [], {}, []
    for comparison in comparisons:  # a bad view or claim fails before any training
        view_of(comparison)
        unknown = sorted(set(comparison.get("dashed") or ()) - set(comparison.variants))
        if unknown:
            raise UserError(
                f"experiment.comparisons ({name_of(comparison)}): dashed {unknown} are not variants"
            )
        for said in claims_of(comparison):
            pairs = [*(said.get("expect") or []), *(said.get("expect_similar") or [])]
            check_pairs(comparison, [tuple(p) for p in pairs], list(comparison.variants))
    for comparison in comparisons:
        done, rows, title, judged = run_comparison(cfg, comparison, out)
        runs += done
        tables[title] = rows
        findings += judged
        if dist.is_main():
            (out / f"runs{part}.json").write_text(json.dumps(runs, indent=1))  # what a killed run finished
    if not dist.is_main():
        return {}
    write_results(out, cfg.experiment.title, tables, {"runs": runs}, findings=findings, stem=f"results{part}")
    return {"runs": runs, "tables": tables, "findings": findings}


def outcome(a: list[float], b: list[float], mode: str, tolerance: float, similar: bool) -> tuple[str, str]:
    """Variant A's seeds against B's: "holds" when A is better (or, ``similar``, no further apart)
    than the seeds' pooled sd (or ``tolerance``, if larger), "reversed" when B is, else "within
    noise". -> (the outcome, the numbers that decide it)"""
    if not a or not b:  # every seed of a variant diverged: the other is better
        return ("reversed" if not a else "holds"), "diverged at every seed"
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    gain = ma - mb if mode == "max" else mb - ma
    numbers = f"{ma:.4g} ± {sa:.2g} vs {mb:.4g} ± {sb:.2g}, difference {gain:+.3g}"
    if min(len(a), len(b)) < 2 and not tolerance:  # one seed has no spread to weigh a difference by
        return "within noise", numbers + ": one seed, no spread to judge it by"
    noise = max(math.sqrt((sa**2 + sb**2) / 2), tolerance)
    numbers += f" against a spread of {noise:.2g}"
    if similar:
        return ("holds" if abs(gain) <= noise else "reversed"), numbers
    return ("holds" if gain > noise else "reversed" if gain < -noise else "within noise"), numbers


def judge(pairs, similar, values: dict[str, list[float]], mode: str, metric: str, tolerance: float = 0.0):
    """The Verdict on a claim that predicts each (A, B) of ``pairs`` better for A and each of
    ``similar`` about equal: agrees when every prediction holds, disagrees when every one is
    reversed, else depends. ``values``: each variant's metric over the seeds; ``mode``: "max"
    when higher is better, "min" when lower is (a loss)."""
    said, words = [], []
    for (a, b), alike in [*((p, False) for p in pairs), *((p, True) for p in similar)]:
        word, numbers = outcome(values[a], values[b], mode, tolerance, alike)
        relation = "about equal to" if alike else "better than"
        shown = {"reversed": "differs" if alike else "reversed"}.get(word, word)
        said.append(f"{a} {relation} {b}: {shown} ({numbers})")
        words.append(word)
    word = "agrees" if set(words) == {"holds"} else "disagrees" if set(words) == {"reversed"} else "depends"
    better = "higher" if mode == "max" else "lower"
    rule = (
        f"{metric}, mean ± sd over seeds ({better} is better); a prediction holds when the difference "
        "is larger than the pooled sd of the seeds (for 'about equal': no larger)"
    )
    return Verdict(word, "; ".join(said) + f". Rule: {rule}.")


def seed_spread(runs: list[dict], label: str, split: str) -> list[float]:
    """A variant's metric at every seed that finished (a diverged seed has none)."""
    return [r[split] for r in runs if r["variant"] == label and r.get(split) is not None]


MODES = {"train": run}
