"""The recipe skeleton: every recipe's modes written once.

    train      seed, device, run directory, data, model, Trainer, best checkpoint, scores, next steps
    evaluate   scores of a trained checkpoint on any split of the data it was trained on
    inference  text= / input=FILE / stdin -> output=FILE / stdout, line for line, through the
               recipe's Predictor (Generator, Translator, Tagger, Classifier)
    export     the checkpoint's model as ONNX graphs (nlprnn.inference.export), into a new directory
    serve      an HTTP server (FastAPI) answering with the recipe's Predictor (nlprnn.inference.server)

A recipe subclasses ``Recipe`` with only what is its own: building vocabularies and the model, its
batches and loss, how it scores a predictor and how one output line looks.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shlex
import sys
import time
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nlprnn.atomic import write_text_atomic
from nlprnn.data.batching import IndexedBatches, make_batches
from nlprnn.errors import Interrupted, UserError
from nlprnn.factory import build
from nlprnn.inference import server  # fastapi and uvicorn are imported only when serving
from nlprnn.inference.export import export_onnx  # onnx itself is imported only when exporting
from nlprnn.inference.textio import check_output, open_output, read_lines
from nlprnn.training import distributed as dist
from nlprnn.training.checkpoint import checkpoint_config
from nlprnn.training.run_dir import (
    check_run_dir,
    remove_new_entries,
    remove_partial_writes,
    start_fresh,
)
from nlprnn.training.trainer import Trainer


class Recipe:
    """One task shape. Subclasses set the class attributes and implement the hooks below; the
    training hooks are the trainer's ``TrainingTask`` protocol, which the course experiments'
    ``TensorTask`` implements too."""

    name = ""  # the recipe's task: checkpoints record it; nlprnn/recipes/<name>.py
    predictor: type = None  # its inference API class (from nlprnn.inference)
    metric, metric_mode = "val_loss", "min"  # what picks best.pt and stops early
    inference_mode = ""  # e.g. "translate": text / input / stdin -> output / stdout
    try_input = 'text="..."'  # shown in the commands printed after training
    modes: dict = {}  # the recipe's other modes: {name: function(cfg)}

    def __init__(self, cfg: DictConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device

    # ---- train mode: vocabularies, model, checkpoint entries ----------------------------------
    def build(self, splits: dict, out: Path) -> tuple[torch.nn.Module, dict]:
        """(the model, extra checkpoint entries such as vocabularies) from the training data."""
        raise NotImplementedError

    # ---- what the Trainer calls -----------------------------------------------------------------
    def train_batches(self, epoch: int):
        """Length-bucketed, shuffled batches of ``self.train`` (examples ``self.lengths`` tokens long,
        set by ``build``) put together by ``self.collate``; this rank's share under torchrun."""
        b = self.cfg.batching
        batches = make_batches(self.lengths, b.max_tokens, b.batch_size, True, self.cfg.seed, epoch)
        return IndexedBatches(self.train, dist.shard(batches), self.collate)

    def collate(self, rows: list) -> tuple:
        """A batch's examples -> its tensors (for the default ``train_batches``)."""
        raise NotImplementedError

    def train_loss(self, model, batch) -> tuple:
        """(mean loss, target tokens[, units the mean is over]) computed through ``model(...)``."""
        raise NotImplementedError

    def evaluate(self, model) -> dict[str, float]:
        """Validation metrics during training (``metric`` among them)."""
        raise NotImplementedError

    def start_epoch(self, epoch: int) -> None:
        """Reset per-epoch state (the char LM's carried hidden state)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict saved, on resume."""

    # ---- scoring and output -------------------------------------------------------------------
    def score(self, predictor, examples) -> dict:
        """Scores of a trained predictor on one split's examples; an entry ``"hypotheses"`` (output
        lines) is written beside the checkpoints as ``hyps.<split>.txt`` after training, not kept."""
        raise NotImplementedError

    def describe(self, split: str, scores: dict) -> str:
        """The printed lines for one split's scores."""
        raise NotImplementedError

    def summary(self, results: dict) -> dict:
        """Extra results entries (and printing) after every split is scored."""
        return {}

    def predictor_options(self) -> dict:
        """Command-line settings passed to ``predictor.from_checkpoint`` (decoding, sampling)."""
        return {}

    def format(self, text: str, result) -> str:
        """One input line and its result -> the output (without the final newline)."""
        raise NotImplementedError

    def default_lines(self) -> list[str] | None:
        """Input when neither text= nor input= is given (None: read stdin)."""
        return None

    def after_training(self, predictor) -> None:
        """Anything to show once the best checkpoint is scored (the char LM prints a sample)."""

    def load_predictor(self, ckpt, runtime: bool = True):
        """The recipe's Predictor for checkpoint ``ckpt``, with the command line's options; ``runtime``:
        on the command line's backend= and quantize= (else the fp32 torch model)."""
        if ckpt is None:
            raise UserError("this mode needs a checkpoint: pass ckpt=PATH/best.pt (or a run directory)")
        options = self.predictor_options()
        if runtime:
            options.update(zip(("backend", "quantize"), self.runtime_choice()))
        return self.predictor.from_checkpoint(ckpt, device=str(self.device), **options)

    def runtime_choice(self) -> tuple[str, str | None]:
        """(backend, quantize) for the inference modes: the config's (a recipe's default, or the command
        line's). A recipe's default applies where it can: on the CPU, and for onnxruntime where it is
        installed; else the model runs as trained (torch, fp32), with a note. What the command line
        asks for is never dropped (the predictor then says why it cannot)."""
        chosen = self.cfg.get("backend", "torch"), self.cfg.get("quantize")
        asked = {o.split("=", 1)[0].lstrip("+~") for o in command_line_overrides()} & {"backend", "quantize"}
        if chosen == ("torch", None) or asked:
            return chosen
        why = None
        if self.device.type != "cpu":
            why = f"they are CPU paths; on {self.device}"
        elif chosen[0] == "onnxruntime" and importlib.util.find_spec("onnxruntime") is None:
            why = "onnxruntime is not installed (pip install nlprnn[export]); here"
        if why is None:
            return chosen
        print(f"note: the recipe's backend={chosen[0]} quantize={chosen[1]}: {why} the model runs as "
              "trained (torch, fp32)", file=sys.stderr)  # fmt: skip
        return "torch", None


# ---- the modes ------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def setup_device(cfg: DictConfig) -> torch.device:
    """The device for this process; joins the process group when launched by torchrun."""
    device = dist.local_device(cfg.trainer.device)
    dist.init_if_launched(device)
    return device


def run_dir() -> Path:
    """Hydra's output directory for this run (``hydra.run.dir``); the working directory outside."""
    try:
        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        return Path.cwd()


# keys of the data node that the recipes read, not the readers
READ_BY_RECIPES = ("max_len", "prompt")


# the dataset readers before they became presets of the format readers (runs trained until 2026-12)
RETIRED_READERS = (
    "char_corpus.",
    "sentiment.",
    "conll.ConllDataset",
    "parallel.Multi30k",
    "parallel.AnkiPairs",
)


def reader_of(data_cfg: DictConfig):
    """The ``data`` node's reader (its ``_target_``) with every key but ``READ_BY_RECIPES``."""
    node = OmegaConf.to_container(data_cfg, resolve=True)  # resolved inside the whole config
    if any(str(node.get("_target_")).startswith(f"nlprnn.data.{r}") for r in RETIRED_READERS):
        raise UserError(
            f"data._target_={node['_target_']}: this run was trained with a dataset reader that is now a "
            f"preset of a format reader; add data={node.get('name')} to the command line"
        )
    return build({k: v for k, v in node.items() if k not in READ_BY_RECIPES}, _convert_="all")


def load_splits(data_cfg: DictConfig, seed: int) -> dict:
    """{split: examples} from the ``data`` node's reader."""
    return reader_of(data_cfg).splits(seed)


def train(recipe_cls: type[Recipe], cfg: DictConfig, out: Path | None = None) -> dict:
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
        recipe, splits = _fit(recipe_cls, cfg, device, out, resolved)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; continue with: {resume_command(recipe_cls, out)}", exc.exit_code) from None
    except BaseException:  # failed before its first checkpoint: leave nothing behind
        if dist.is_main():
            remove_new_entries(out, before)
        raise
    results = {}
    if dist.is_main():
        predictor = recipe.load_predictor(out / "best.pt")
        print(f"best checkpoint (step {predictor.step}):")
        results = report(recipe, predictor, {k: v for k, v in splits.items() if k != "train"}, out)
        write_text_atomic(out / "results.json", json.dumps(results, indent=1))
        recipe.after_training(predictor)
        print(next_steps(recipe, out))
    dist.cleanup()
    return results


def _fit(recipe_cls: type[Recipe], cfg: DictConfig, device, out: Path, resolved: dict):
    """Write the run's config, build the model from the training data, train; (recipe, splits)."""
    if dist.is_main():
        out.mkdir(parents=True, exist_ok=True)
        remove_partial_writes(out)
        if not cfg.trainer.resume:
            start_fresh(out)  # an empty directory, trainer.overwrite=true, or nothing to resume from
        write_text_atomic(out / "config.yaml", OmegaConf.to_yaml(resolved))
        print(f"run directory: {out}")
    recipe = recipe_cls(cfg, device)
    splits = load_splits(cfg.data, cfg.seed)
    model, extra = recipe.build(splits, out)
    config = checkpoint_config(resolved, model)
    extra = {"task": recipe.name, "config": config, "command": training_command(recipe_cls), **extra}
    Trainer(cfg.trainer, cfg.optimizer, model.to(device), recipe, out, extra).fit()
    return recipe, splits


def report(recipe: Recipe, predictor, splits: dict, out: Path | None = None) -> dict:
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


def command_of(recipe_cls: type[Recipe]) -> str:
    """``python -m nlprnn recipe=NAME`` for the recipe this run was started as."""
    try:
        name = HydraConfig.get().runtime.choices.recipe
    except ValueError:
        name = recipe_cls.name
    if not name.startswith(recipe_cls.name):  # trained by another recipe (a course comparison)
        name = recipe_cls.name
    return f"python -m nlprnn recipe={name}"


def training_command(recipe_cls: type[Recipe], *extra: str) -> str:
    """The command line of this run (its overrides, but the resume flags), then ``extra``."""
    skip = ("recipe=", "trainer.resume=", "trainer.overwrite=", "hydra.run.dir=")
    given = [o for o in command_line_overrides() if not o.lstrip("+~").startswith(skip)]
    return " ".join([command_of(recipe_cls), *map(shlex.quote, [*given, *extra])])


def resume_command(recipe_cls: type[Recipe], out: Path) -> str:
    """The command line that continues this run: its own overrides (a resume must keep them), the
    resume flag and the run directory."""
    return training_command(recipe_cls, "trainer.resume=true", f"hydra.run.dir={out}")


def next_steps(recipe: Recipe, out: Path) -> str:
    command = command_of(type(recipe))
    return (
        f"best checkpoint: {out / 'best.pt'}\nuse it:\n"
        f"  {command} mode=evaluate ckpt={out} [split=test]\n"
        f"  {command} mode={recipe.inference_mode} ckpt={out} {recipe.try_input}"
    )


def evaluate(recipe_cls: type[Recipe], cfg: DictConfig) -> dict:
    """Score a checkpoint on ``split`` (null: every split but train) of the data it was trained on,
    or on a new file: ``data.files.test=FILE`` on the command line (see ``evaluation_splits``)."""
    check_output_of(cfg)
    recipe = recipe_cls(cfg, setup_device(cfg))
    predictor = recipe.load_predictor(cfg.ckpt)
    splits = evaluation_splits(cfg, predictor.config)
    names = [cfg.split] if cfg.split else [s for s in splits if s != "train"]
    if cfg.split and cfg.split not in splits:
        raise UserError(f"split={cfg.split!r}: choose one of {', '.join(splits)}")
    runtime = predictor.runtime
    results = {**report(recipe, predictor, {s: splits[s] for s in names}), "runtime": runtime}
    if not predictor.is_plain_torch():  # scores of a converted model: say which
        kept = f" ({', '.join(runtime['fp32'])} kept fp32)" if runtime["fp32"] else ""
        print(f"model: {predictor.runtime_name()}, {runtime['weights_mb']:,.1f} MB of weights{kept}")
    if cfg.output:
        with open_output(cfg.output) as dst:
            dst.write(json.dumps(results, indent=1) + "\n")
    return results


def command_line_overrides() -> list[str]:
    """The overrides the command line gave (``key=value``), when Hydra composed this run."""
    try:
        return list(HydraConfig.get().overrides.task)
    except (ValueError, AttributeError):
        return []


def evaluation_splits(cfg: DictConfig, trained: dict) -> dict:
    """The splits ``mode=evaluate`` scores. The trained run's data reader and settings, with any
    ``data.KEY=...`` of the command line on top (``data=FORMAT`` naming another reader: that one, as
    composed); with ``data.files.test=FILE`` only that file is read, through the reader's ``read_file``."""
    overrides = command_line_overrides()
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides]
    other_reader = "data" in keys and cfg.data.get("_target_") != trained["data"].get("_target_")
    if "data.files.test" in keys and "files" not in (cfg.data if other_reader else trained["data"]):
        raise UserError(  # e.g. the IMDB archive: one file holds every split
            f"data.files.test: the reader of data={trained['data'].get('name')} does not read single "
            "files; choose the file's format on the command line too (e.g. data=table, data=conll)"
        )
    if other_reader:
        data_cfg = cfg.data  # the command line chose another reader: use it as composed
    else:
        given = OmegaConf.from_dotlist(
            [o.lstrip("+~") for o, k in zip(overrides, keys) if k.startswith("data.")]
        )
        from_command_line = {k: cfg.data[k] for k in ("dir", "eval_limit") if k in cfg.data}
        data_cfg = OmegaConf.merge(trained["data"], from_command_line, given.get("data", {}))
    if "data.files.test" not in keys:
        return load_splits(data_cfg, trained["seed"])
    reader = reader_of(data_cfg)  # locate: a file, a prefix of two (translation) or a list (text)
    return {"test": reader.read_file(reader.locate(data_cfg.files.test, "data.files.test"))}


def infer(recipe_cls: type[Recipe], cfg: DictConfig) -> None:
    """The recipe's inference mode: each input line -> one output line (or block), in order."""
    check_output_of(cfg)
    recipe = recipe_cls(cfg, setup_device(cfg))
    predictor = recipe.load_predictor(cfg.ckpt)
    if cfg.text is not None:
        lines = [cfg.text]
    elif cfg.input is None and recipe.default_lines() is not None:
        lines = recipe.default_lines()
    else:
        lines = read_lines(cfg.input, cfg.max_chars)
    reading_terminal = cfg.input in (None, "-") and cfg.text is None and sys.stdin and sys.stdin.isatty()
    with open_output(cfg.output) as dst:
        for text, result in predictor.pairs(lines, 1 if reading_terminal else None):
            dst.write(recipe.format(text, result) + "\n")
            dst.flush()


def check_output_of(cfg: DictConfig) -> None:
    """``output=`` must not be the input, a data file, the checkpoint or a file of a run directory."""
    files = cfg.data.get("files") or {}
    named = [v for value in files.values() for v in (value if isinstance(value, list) else [value])]
    data_dir = Path(cfg.data.get("dir") or ".")
    inputs = [cfg.input, *named, *(data_dir / str(v) for v in named if v)]
    check_output(cfg.output, inputs, cfg.ckpt)


def export(recipe_cls: type[Recipe], cfg: DictConfig) -> list[Path]:
    """Export a checkpoint's model as ONNX graphs for onnxruntime: ckpt=RUN [output=DIR] [quantize=int8]."""
    out = Path(cfg.output or Path("export") / recipe_cls.name)  # a new directory, never the run's files
    predictor = recipe_cls(cfg, torch.device("cpu")).load_predictor(cfg.ckpt, runtime=False)
    start = time.perf_counter()
    files = export_onnx(predictor, out, quantize=cfg.get("quantize"))
    for path in files:
        print(f"wrote {path} ({path.stat().st_size / 1e3:,.1f} kB)")
    seconds = time.perf_counter() - start
    print(f"exported in {seconds:.1f} s; run it: nlprnn.inference.export.onnx_predictor({str(out)!r}, CKPT)")
    return files


def serve(recipe_cls: type[Recipe], cfg: DictConfig) -> None:
    """Answer HTTP requests (FastAPI): ckpt=RUN [host=127.0.0.1] [port=8000]; POST /predict, docs at /docs."""
    server.require_serve()  # before loading the model: a missing package is the first thing to say
    recipe = recipe_cls(cfg, setup_device(cfg))
    predictor = recipe.load_predictor(cfg.ckpt)
    limits = server.Limits(cfg.max_request_bytes, cfg.max_inputs, cfg.max_chars)
    app = server.build_app(predictor, recipe_cls.name, recipe.inference_mode, limits)
    verbs = " and /".join(dict.fromkeys(["predict", recipe.inference_mode]))
    kept = predictor.runtime["fp32"]
    model = predictor.runtime_name() + (f" ({', '.join(kept)} kept fp32)" if kept else "")
    announce = f"{recipe_cls.name} (step {predictor.step}, {model}), POST /{verbs}: "
    server.serve(app, cfg.host, cfg.port, announce)


def modes_of(recipe_cls: type[Recipe]) -> dict:
    """{mode name: function(cfg)} of a recipe: train, evaluate, its inference mode and its own."""
    shared = {
        "train": lambda cfg: train(recipe_cls, cfg),
        "evaluate": lambda cfg: evaluate(recipe_cls, cfg),
        recipe_cls.inference_mode: lambda cfg: infer(recipe_cls, cfg),
        "export": lambda cfg: export(recipe_cls, cfg),
        "serve": lambda cfg: serve(recipe_cls, cfg),
    }
    shared["export"].__doc__ = export.__doc__  # the mode's line in --help
    shared["serve"].__doc__ = serve.__doc__
    return {**shared, **recipe_cls.modes}
