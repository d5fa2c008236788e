"""``mode=train``: train a recipe into its run directory, score the best checkpoint on every split
but train, write ``results.json`` and print how to use the model."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nlprnn.atomic import write_text_atomic
from nlprnn.errors import Interrupted
from nlprnn.modes.run_setup import command_line_overrides, run_dir, seed_everything, setup_device
from nlprnn.modes.splits import load_splits
from nlprnn.training import distributed as dist
from nlprnn.training.checkpoint import checkpoint_config
from nlprnn.training.run_dir import check_run_dir, remove_new_entries, remove_partial_writes, start_fresh
from nlprnn.training.trainer import Trainer


def train(recipe_cls: type, cfg: DictConfig, out: Path | None = None) -> dict:
    """Train into ``out`` (default: Hydra's run directory) and score the best checkpoint."""
    seed_everything(cfg.seed)
    device = setup_device(cfg)
    out = out or run_dir()
    # every check before any write; resume: False too for a run killed before its first checkpoint
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resume = check_run_dir(out, recipe_cls.name, cfg.trainer.resume, cfg.trainer.overwrite, resolved)
    cfg.trainer.resume = resolved["trainer"]["resume"] = resume
    before = {p.name for p in out.iterdir()} if out.is_dir() else set()
    try:
        recipe, splits, fitted = _fit(recipe_cls, cfg, device, out, resolved)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; continue with: {resume_command(recipe_cls, out)}", exc.exit_code) from None
    except BaseException:  # failed before its first checkpoint: leave nothing behind
        if dist.is_main():
            remove_new_entries(out, before)
        raise
    results = {}
    if dist.is_main():
        # the scores of the model as trained (fp32 torch): a recipe's quantize= / backend= default is
        # for the inference modes, whose scores mode=evaluate reports
        predictor = recipe.load_predictor(out / "best.pt", runtime=False)
        print(f"best checkpoint (step {predictor.step}):")
        results = report(recipe, predictor, {k: v for k, v in splits.items() if k != "train"}, out)
        # the validation metric that picked best.pt: what a sweep optimises
        results["objective"] = {"metric": recipe.metric, "mode": recipe.metric_mode, "value": fitted["best"]}
        write_text_atomic(out / "results.json", json.dumps(results, indent=1))
        recipe.after_training(predictor)
        print(next_steps(recipe, out))
    return results


def _fit(recipe_cls: type, cfg: DictConfig, device, out: Path, resolved: dict):
    """Write the run's config, build the model from the training data, train; (recipe, splits, the
    trainer's {"best": metric value, "step"})."""
    if dist.is_main():
        out.mkdir(parents=True, exist_ok=True)
        remove_partial_writes(out)
        if not cfg.trainer.resume:
            start_fresh(out)  # an empty directory, trainer.overwrite=true, or nothing to resume from
        write_text_atomic(out / "config.yaml", OmegaConf.to_yaml(resolved))
        print(f"run directory: {out}")
    recipe, start = recipe_cls(cfg, device), time.perf_counter()
    splits = load_splits(cfg.data, cfg.seed)
    model, extra = recipe.build(splits, out)
    if dist.is_main():  # reading and tokenizing (or opening a token store): what a big corpus costs
        print(f"data and model ready in {time.perf_counter() - start:.1f} s")
    config = checkpoint_config(resolved, model)
    extra = {"recipe": recipe.name, "config": config, "command": training_command(recipe_cls), **extra}
    fitted = Trainer(cfg.trainer, cfg.optimizer, model.to(device), recipe, out, extra).fit()
    return recipe, splits, fitted


def report(recipe, predictor, splits: dict, out: Path | None = None) -> dict:
    """Scores of the predictor's checkpoint on each split, printed; the results.json content. With
    ``out`` (after training), each split's hypotheses are written there."""
    results = {"step": predictor.step}
    for split, examples in splits.items():
        start = time.perf_counter()
        scores = recipe.score(predictor, examples)
        scores["seconds"] = time.perf_counter() - start
        hypotheses = scores.pop("hypotheses", None)
        if hypotheses is not None and out is not None:
            write_text_atomic(out / f"hyps.{split}.txt", "\n".join(hypotheses) + "\n")
        print(recipe.describe(split, scores))
        results[split] = scores
    return {**results, **recipe.summary(results)}


def command_of(recipe_cls: type) -> str:
    """``python -m nlprnn recipe=NAME`` for the recipe this run was started as."""
    try:
        name = HydraConfig.get().runtime.choices.recipe
    except ValueError:
        name = recipe_cls.name
    if not name.startswith(recipe_cls.name):  # trained by another recipe (a course comparison)
        name = recipe_cls.name
    return f"python -m nlprnn recipe={name}"


def training_command(recipe_cls: type, *extra: str) -> str:
    """The command line of this run (its overrides, but the resume flags), then ``extra``."""
    skip = ("recipe=", "trainer.resume=", "trainer.overwrite=", "hydra.run.dir=")
    given = [o for o in command_line_overrides() if not o.lstrip("+~").startswith(skip)]
    return " ".join([command_of(recipe_cls), *map(shlex.quote, [*given, *extra])])


def resume_command(recipe_cls: type, out: Path) -> str:
    """The command line that continues this run: its own overrides (a resume must keep them), the
    resume flag and the run directory."""
    return training_command(recipe_cls, "trainer.resume=true", f"hydra.run.dir={out}")


def next_steps(recipe, out: Path) -> str:
    command = command_of(type(recipe))
    return (
        f"best checkpoint: {out / 'best.pt'}\nuse it:\n"
        f"  {command} mode=evaluate ckpt={out} [split=test]\n"
        f"  {command} mode={recipe.inference_mode} ckpt={out} {recipe.try_input}"
    )
