"""The command line's own checks, before Hydra runs anything: the overrides are composed here once
(cheaply, with Hydra's compose API) and what Hydra would report as a traceback or a long message
becomes one ``error: ...`` line with the closest valid names; and, once a run is composed, a warning
for each key the chosen mode does not read."""

from __future__ import annotations

import difflib
import itertools
import os
import re
import sys

from omegaconf import DictConfig, OmegaConf

from nlprnn.factory import CONF

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


class CommandLineError(Exception):
    """A command line that cannot run; the message is the one line to print after ``error:``."""


def group_options(group: str) -> list[str]:
    """The options of config group ``group``: conf/<group>/**/*.yaml, e.g. course/params."""
    root = CONF / group
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def did_you_mean(word: str, choices) -> str:
    """``; did you mean X?`` with the closest choice (and any as close, at most 3), or ""."""
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in choices), reverse=True)
    close = [c for score, c in scored[:3] if score >= max(0.6, scored[0][0] - 0.05)] if scored else []
    return f"; did you mean {' or '.join(close)}?" if close else ""


def is_hydra(override) -> bool:
    return re.match(r"hydra([./]|$)", override.key_or_group) is not None


def is_group(override) -> bool:
    key = override.key_or_group
    return "." not in key and not is_hydra(override) and (CONF / key).is_dir()


def values_of(override) -> list:
    """The values an override gives (each value of a sweep); [] when they cannot be listed."""
    if not override.is_sweep_override():
        return [override.value()]
    try:
        return list(override.sweep_string_iterator())
    except Exception:  # interval / glob sweeps: left to the sweeper
        return []


def parse(overrides: list[str]) -> list:
    """Hydra's Override objects; a malformed one is a CommandLineError naming it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed += parser.parse_overrides([text])
        except OverrideParseException as exc:
            reason = str(exc).splitlines()[0]
            raise CommandLineError(f"cannot read {text!r}: {reason} (the syntax: {GRAMMAR})") from None
    return parsed


def check_options(parsed: list) -> None:
    """Every ``GROUP=OPTION`` names a file of conf/GROUP/ (an optional group such as debug= would
    otherwise skip a misspelt option silently)."""
    for o in parsed:
        if not is_group(o) or o.is_delete():
            continue
        options = group_options(o.key_or_group)
        for value in values_of(o):
            if isinstance(value, str) and value not in options:
                group = o.key_or_group
                what = f"{'an' if group[0] in 'aeiou' else 'a'} {group} option (no conf/{group}/{value}.yaml)"
                raise CommandLineError(
                    f"{group}={value} is not {'a recipe' if group == 'recipe' else what}"
                    f"{did_you_mean(value, options)} (choose one of: {', '.join(options)})"
                )


def compose(overrides: list[str], hydra_config: bool = False) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return hydra_compose("config", overrides=overrides, return_hydra_config=hydra_config)


def dotted_keys(node, prefix: str = "") -> list[str]:
    """Every key of a config (mappings and their keys), dotted, Hydra's own left out."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    keys = []
    for key, value in node.items() if isinstance(node, dict) else ():
        if f"{prefix}{key}" != "hydra":
            keys += [f"{prefix}{key}", *dotted_keys(value, f"{prefix}{key}.")]
    return keys


def unknown_key(key: str, text: str, cfg: DictConfig, recipe: str) -> CommandLineError:
    """The error for ``key``, absent from ``cfg``: the closest keys, or ``+KEY=...`` when its parent
    is an open mapping (null or {}), whose keys are the user's to choose."""
    parent = key.rpartition(".")[0]
    node = OmegaConf.select(cfg, parent, default="<absent>") if parent else "<absent>"
    if node is None or (isinstance(node, DictConfig) and len(node) == 0):
        return CommandLineError(
            f"{key} is not a key of recipe {recipe}: {parent} is empty; add the key with +{text.lstrip('+~')}"
        )
    hint = did_you_mean(key, dotted_keys(cfg)) or f" (python -m nlprnn recipe={recipe} --help lists them)"
    return CommandLineError(f"{key} is not a key of recipe {recipe}{hint}")


def one_line(exc: Exception) -> str:
    text = str(exc).split("Set the environment variable HYDRA_FULL_ERROR")[0]
    cause = exc.__cause__
    if cause is not None and str(cause).splitlines():
        text += f": {str(cause).splitlines()[0]}"
    return " ".join(text.split())


def composed(overrides: list[str], parsed: list, recipe: str, hydra_config: bool = False) -> DictConfig:
    """The config of these overrides; Hydra's composition errors as CommandLineErrors."""
    from hydra.errors import HydraException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    try:
        return compose(overrides, hydra_config)
    except HydraException as exc:
        message = str(exc)
        match = re.match(r"Could not override '([^']+)'\.( No match in the defaults list)?", message)
        groups = [text for text, o in zip(overrides, parse(overrides)) if is_group(o)]
        if match and match.group(2):  # GROUP=OPTION for a group the recipe does not use
            choices = compose([f"recipe={recipe}"], hydra_config=True).hydra.runtime.choices
            own = [g for g, v in choices.items() if v is not None and "/" not in g and g != "recipe"]
            own = [g for g in own if (CONF / g).is_dir() and not g.startswith(("debug", "recipe_"))]
            raise CommandLineError(
                f"{match.group(1)}= is not a config group of recipe {recipe} "
                f"(its groups: {', '.join(f'{g}=' for g in own) or 'none'})"
            ) from None
        if match and isinstance(exc.__cause__, (ConfigAttributeError, ConfigKeyError)):
            key = match.group(1)
            text = next((o.input_line for o in parsed if o.key_or_group == key), key)
            raise unknown_key(key, text, compose(groups), recipe) from None
        ambiguous = re.match(r"Ambiguous value for argument '(([^=']+)=[^']*)'", message)
        if ambiguous:  # a sweep without --multirun
            raise CommandLineError(
                f"{ambiguous.group(1)}: add --multirun to run once per value, or give one value: a list "
                f"as {ambiguous.group(2)}=[a,b], a string with a comma quoted: {ambiguous.group(2)}='a,b'"
            ) from None
        raise CommandLineError(one_line(exc)) from None


def check(overrides: list[str], multirun: bool = False, hydra_config: bool = False) -> list[DictConfig]:
    """Compose the command line's overrides as Hydra will (``hydra.*`` left to Hydra); a mistake is a
    CommandLineError with the closest valid names. Under --multirun each sweep of a config group is
    composed option by option (at most 8 combinations) and a swept key only has to exist."""
    parsed = [o for o in parse(overrides) if not is_hydra(o)]
    recipes = [v for o in parsed if o.key_or_group == "recipe" for v in values_of(o)]
    if not recipes:
        names = ", ".join(group_options("recipe"))
        raise CommandLineError(
            f"choose a recipe: python -m nlprnn recipe=NAME, NAME one of: {names} "
            "(python -m nlprnn --help describes them)"
        )
    check_options(parsed)
    sweeps = [o for o in parsed if multirun and o.is_sweep_override()]
    fixed = [o.input_line for o in parsed if o not in sweeps]
    swept_groups = [[f"{o.key_or_group}={v}" for v in values_of(o)] for o in sweeps if is_group(o)]
    combinations = list(itertools.islice(itertools.product(*swept_groups), 8))
    configs = []
    for combination in combinations:
        given = [c.split("=", 1)[1] for c in (*combination, *fixed) if re.match(r"\+*recipe=", c)]
        recipe = given[-1] if given else "?"
        cfg = composed([*fixed, *combination], parsed, recipe, hydra_config)
        for o in sweeps:
            key = o.key_or_group
            if not is_group(o) and not o.is_add() and not o.is_force_add():
                if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
                    raise unknown_key(key, o.input_line, cfg, recipe)
        configs.append(cfg)
    return configs


# ---- keys a mode does not read ---------------------------------------------------------------------
# the non-training modes load the model, its vocabularies and its training settings from the checkpoint
FROM_CHECKPOINT = set("model embeddings tokenizer batching subword tagging max_len truncate".split())
TRAINING_ONLY = set("optimizer trainer validation label_smoothing word_dropout word_dropout_alpha".split())
RUN_KEYS = {"ckpt", "text", "input", "output", "split"}
SERVE_KEYS = {"host", "port", "max_inputs", "max_request_bytes"}


def ignored_reason(mode: str, key: str) -> str | None:
    """Why ``mode`` of one of the four recipes does not read ``key`` (None: it does)."""
    top = key.split(".")[0].split("@")[0]
    if top == "format" and mode != "export":
        return "only mode=export writes a format"
    if top in SERVE_KEYS and mode != "serve":
        return "only mode=serve reads it"
    if top == "backend" and mode in ("train", "export"):
        return "training and mode=export use the torch model (mode=export: quantize=int8 only)"
    if top == "quantize" and mode == "train":
        return "training runs in fp32; quantize=int8 applies to a trained model"
    if mode == "serve" and top in ("data", "text", "input", "output", "split"):
        return "mode=serve answers HTTP requests: it reads ckpt=, host=, port= and the limits"
    if mode == "export" and top in ("data", "text", "input", "split", "max_chars"):
        return "mode=export reads ckpt=, output=, format= and quantize= only"
    if mode == "train":
        if top in RUN_KEYS:
            return "training reads none of ckpt, text, input, output, split"
        return "only mode=tag writes tags" if top == "output_scheme" else None
    if key == "batching.eval_batch_size" and mode == "evaluate":
        return None  # the char LM scores a split in this many text streams
    if top in FROM_CHECKPOINT:
        return "the model comes from the checkpoint"
    if top in TRAINING_ONLY and key != "trainer.device":
        return "only training reads it"
    if top == "output_scheme" and mode != "tag":
        return "only mode=tag writes tags"
    if mode == "evaluate":
        return "mode=evaluate scores the data's splits" if top in ("text", "input") else None
    if top == "data" and key != "data.prompt":
        return f"mode={mode} reads text=, input=FILE or stdin, not the data"
    if top == "split":
        return "only mode=evaluate reads it"
    return "mode=attention reads one text=" if mode == "attention" and top == "input" else None


def ignored_keys(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """A warning line for each command-line override the run's mode ignores (recipes built on
    nlprnn.recipes.recipe only: a course experiment reads what it likes)."""
    if str(cfg.get("recipe_module", "")).startswith("course"):
        return []
    lines = []
    for text in overrides:
        key = text.split("=", 1)[0]
        if key.startswith("~") or re.match(r"\+*hydra([./]|$)", key):
            continue
        reason = ignored_reason(str(cfg.mode), key.lstrip("+"))
        if reason:
            lines.append(f"warning: {text.lstrip('+')} is ignored by mode={cfg.mode}: {reason}")
    return lines


def warn_ignored(cfg: DictConfig) -> None:
    """Print ``ignored_keys`` for the overrides of the command line Hydra composed (rank 0 only)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        overrides = list(HydraConfig.get().overrides.task)
    except (ValueError, AttributeError):  # composed in-process: no command line
        return
    if os.environ.get("RANK", "0") == "0":
        for line in ignored_keys(cfg, overrides):
            print(line, file=sys.stderr)
