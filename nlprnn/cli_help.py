"""``python -m nlprnn --help`` (the recipes, modes, shared keys and examples) and ``recipe=X --help``
(that recipe's keys with their defaults and the ``# ...`` comments beside them in conf/)."""

from __future__ import annotations

import re
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from nlprnn.cli_checks import CONF, CommandLineError, check, group_options

EXAMPLES = [
    "python -m nlprnn recipe=char_lm data=quijote_es model.hidden_size=256 trainer.max_time=5",
    'python -m nlprnn recipe=char_lm mode=generate ckpt=runs/char_lm/RUN prompt="ROMEO:" length=500',
    "python -m nlprnn recipe=char_lm trainer.resume=true hydra.run.dir=runs/char_lm/RUN",
    'echo "Ein Hund läuft." | python -m nlprnn recipe=translation mode=translate ckpt=runs/translation/RUN',
    "python -m nlprnn recipe=ner data=conll2002_es",
    'python -m nlprnn recipe=ner mode=tag ckpt=runs/ner/RUN text="Angela Merkel visited Paris."',
    "python -m nlprnn recipe=sentiment mode=evaluate ckpt=runs/sentiment/RUN split=test",
    "python -m nlprnn recipe=sentiment data=table data.files.train=reviews.csv data.text_column=review",
    "python -m nlprnn recipe=sentiment --multirun seed=1,2,3",
    "python -m nlprnn recipe=course/long_memory",
]
MODE_HELP = {
    "train": "the default; trains into a new run directory (trainer.resume=true continues one)",
    "evaluate": "ckpt=RUN [split=test] [output=FILE]: the checkpoint's scores on its data splits",
}
INFERENCE_HELP = "ckpt=RUN text=... | input=FILE | stdin -> stdout | output=FILE, a result a line"
KEY = re.compile(r"(\s*)([A-Za-z_][\w\-]*)\s*:(?:\s+(.*))?$")


def split_comment(text: str) -> tuple[str, str | None, int]:
    """``value  # comment`` -> (value, comment, where the ``#`` is); a ``#`` inside quotes is part of
    the value."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"" and (i == 0 or text[i - 1] in " [,:{"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1 :].strip(), i
    return text.rstrip(), None, -1


def key_comments(path: Path) -> dict[str, tuple[str | None, str]]:
    """{dotted key: (its value as written or None for a mapping, its trailing comment)} of one yaml
    file, with its ``# @package`` applied. Nesting follows the indentation; list items are skipped;
    a comment alone on the next line, in the same column, continues the comment."""
    group = path.parent.relative_to(CONF).as_posix()
    package = "" if group == "." else group.replace("/", ".")
    found: dict[str, list] = {}
    stack: list[tuple[int, str]] = []
    last, last_column, skip_deeper = None, None, None
    for line in path.read_text(encoding="utf-8").splitlines():
        header = re.match(r"\s*#\s*@package\s+(\S+)", line)
        if header:
            package = "" if header.group(1) == "_global_" else header.group(1)
            continue
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        if stripped.startswith("#"):
            if last and line.index("#") == last_column:
                found[last][1] += " " + stripped[1:].strip()
            continue
        last = None
        if not stripped or (skip_deeper is not None and indent > skip_deeper):
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        skip_deeper = None
        if stripped.startswith("-"):  # a list's items: their keys are not config keys
            skip_deeper = stack[-1][0] if stack else -1
            continue
        match = KEY.match(line)
        if not match:
            continue
        stack.append((indent, match.group(2)))
        value, comment, column = split_comment(match.group(3) or "")
        last = ".".join([package] * bool(package) + [k for _, k in stack])
        found[last] = [value or None, comment or ""]
        last_column = match.start(3) + column if comment is not None else None
    return {k: (v, c) for k, (v, c) in found.items()}


def header_comments(path: Path) -> list[str]:
    """The comment lines a yaml file starts with, ``@package`` left out."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if "@package" not in line:
            lines.append(line[1:].strip())
    return lines


def description(path: Path) -> str:
    """A recipe's first comment line, continued to the end of its sentence."""
    lines = []
    for line in header_comments(path):
        if line.startswith("python -m"):
            break
        lines.append(line)
    if not lines:
        return ""
    text = " ".join(line for line in lines if line)
    end = re.compile(r"[.?!](\s|$)").search(text, max(len(lines[0]) - 1, 0))
    return text[: end.start() + 1] if end else text


def recipe_chain(name: str) -> list[Path]:
    """conf/recipe/NAME.yaml after the recipes it extends (``defaults: [- char_lm]``)."""
    path = CONF / "recipe" / f"{name}.yaml"
    defaults = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("defaults", [])
    parents = [d for d in defaults if isinstance(d, str) and d != "_self_" and not d.startswith("/")]
    return [p for parent in parents for p in recipe_chain(str(Path(name).parent / parent))] + [path]


def recipe_groups(name: str) -> list[str]:
    """The config groups recipe NAME selects (``- /data: ...``)."""
    groups = []
    for path in recipe_chain(name):
        for d in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("defaults", []):
            if isinstance(d, dict):
                groups += [k.lstrip("/") for k in d if k.lstrip("/") not in groups]
    return groups


def module_of(name: str) -> str:
    """The ``recipe_module:`` recipe NAME sets (its code in nlprnn/recipes/)."""
    keys = [(k, v) for p in recipe_chain(name) for k, (v, _) in key_comments(p).items()]
    return [v for k, v in keys if k == "recipe_module"][-1]


def modes(recipe_module: str) -> dict[str, str]:
    """{mode: one line of help} of nlprnn/recipes/<recipe_module>.py."""
    module = import_module(f"nlprnn.recipes.{recipe_module}")
    recipe = getattr(module, "RECIPE", None)
    lines = {}
    for mode, function in module.MODES.items():
        doc = (function.__doc__ or "").strip().split("\n")[0]
        if recipe is not None and mode == recipe.inference_mode:
            doc = INFERENCE_HELP
        if recipe is not None and mode in MODE_HELP:
            doc = MODE_HELP[mode]
        lines[mode] = doc or "the experiment: results.md, results.json and plots in the run directory"
    return lines


def show(value) -> str:
    """A value as it is written on the command line (interpolations unresolved), at most 60 chars."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
        special = not text or re.search(r"[\s,#:\[\]{}'\"=]", text)
        if isinstance(value, str) and special and "${" not in text:
            text = '"' + text.replace('"', '\\"') + '"'
    return text if len(text) <= 60 else text[:57] + "..."


def table(rows: list[tuple[str, str, str]]) -> list[str]:
    """KEY  VALUE  MEANING rows in columns (a long key or value pushes its meaning along)."""
    width = min(max((len(k) for k, _, _ in rows), default=0), 36)
    lines = []
    for key, value, meaning in rows:
        left = f"  {key:<{width}}  {value:<14}" if len(key) <= width else f"  {key}  {value:<14}"
        lines.append(f"{left}  {meaning}".rstrip())
    return lines


def wrapped(label: str, text: str, width: int) -> list[str]:
    """``  LABEL  text`` wrapped at 104 columns, the text in a column ``width`` wide labels leave."""
    width = max(width, len(label) + 2)
    return textwrap.wrap(
        text, 104, initial_indent=f"  {label:<{width}}", subsequent_indent=" " * (width + 2)
    ) or [f"  {label}"]


def main_help() -> str:
    recipes = group_options("recipe")
    lines = [
        "usage: python -m nlprnn recipe=NAME [mode=MODE] [KEY=VALUE ...] [--multirun KEY=A,B ...]",
        "       python -m nlprnn recipe=NAME --help   that recipe's keys, their defaults and meanings",
        "       python -m nlprnn --hydra-help         Hydra's own flags (--cfg job, --info, ...)",
        "",
        "recipes (recipe=NAME):",
    ]
    for name in recipes:
        lines += wrapped(name, description(CONF / "recipe" / f"{name}.yaml"), 25)
    by_mode: dict[str, list[str]] = {}
    help_of: dict[str, str] = {}
    for name in recipes:
        for mode, doc in modes(module_of(name)).items():
            by_mode.setdefault(mode, []).append(name)
            help_of.setdefault(mode, doc)
    lines += ["", "modes (mode=NAME):"]
    for mode, names in by_mode.items():
        which = "every recipe" if len(names) == len(recipes) else ", ".join(names)
        lines += wrapped(mode, f"{which}: {help_of[mode]}" if help_of[mode] else which, 12)
    lines += ["", "keys every recipe has (KEY  DEFAULT  MEANING; any key: KEY=VALUE):"]
    shared = key_comments(CONF / "config.yaml")
    lines += table(
        [
            (k, v, c)
            for k, (v, c) in shared.items()
            if v is not None and k != "recipe_module" and not k.startswith(("hydra", "defaults"))
        ]
    )
    lines += ["", "config groups (GROUP=OPTION; python -m nlprnn recipe=NAME --help shows a recipe's):"]
    users: dict[str, list[str]] = {}
    for name in recipes:
        for group in recipe_groups(name):
            users.setdefault(group, []).append(name)
    for group in sorted(p.name for p in CONF.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if group in ("recipe", "recipe_data", "debug_recipe"):
            continue
        which = users.get(group, ["any recipe"])
        which = ["every recipe"] if len(which) == len(recipes) else which
        which = ", ".join(n for n in which if "/" not in n) or "the course recipes"
        lines += wrapped(f"{group}=", f"{which}: {', '.join(group_options(group))}", 14)
    lines += ["", "examples:", *(f"  {e}" for e in EXAMPLES), ""]
    lines.append(
        "A misspelt key, recipe or option stops with one line, `error: ...`, naming the closest valid "
        "names (exit status 2)."
    )
    return "\n".join(lines)


def comments_for(cfg: DictConfig, name: str) -> dict[str, str]:
    """{dotted key: meaning} from config.yaml, the recipe's files and each selected group option."""
    files = [CONF / "config.yaml", *recipe_chain(name)]
    for group, option in cfg.hydra.runtime.choices.items():
        if option is not None and not group.startswith("hydra") and group != "recipe":
            files.append(CONF / group / f"{option}.yaml")
    meanings: dict[str, str] = {}
    for path in files:
        if path.is_file():
            meanings.update({k: c for k, (_, c) in key_comments(path).items() if c})
    return meanings


def leaves(node: dict, prefix: str = ""):
    """(dotted key, value, is a mapping) in the config's order, each mapping before its keys."""
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield f"{prefix}{key}", None, True
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value, False


def recipe_help(cfg: DictConfig) -> str:
    name = cfg.hydra.runtime.choices.recipe
    path = CONF / "recipe" / f"{name}.yaml"
    usage = [line for line in header_comments(path) if line.startswith("python -m nlprnn")]
    lines = [f"recipe {name}: {description(path)}", *(f"  {u}" for u in usage), "", "modes (mode=NAME):"]
    for mode, doc in modes(cfg.recipe_module).items():
        lines += wrapped(mode, doc, 12)
    groups = [g for g in recipe_groups(name) if g in cfg.hydra.runtime.choices]
    if groups:
        lines += ["", "config groups (GROUP=OPTION):"]
        for group in groups:
            chosen = cfg.hydra.runtime.choices[group]
            others = [o for o in group_options(group) if o != chosen]
            lines += wrapped(f"{group}={chosen}", f"also: {', '.join(others)}", 25)
    meanings = comments_for(cfg, name)
    values = OmegaConf.to_container(cfg, resolve=False)
    values.pop("hydra", None)
    rows = []
    for key, value, mapping in leaves(values):
        if key == "recipe_module":  # set by the recipe
            continue
        if not mapping:
            rows.append((key, show(value), meanings.get(key, "")))
        elif meanings.get(key):  # a mapping's own comment, e.g. data.files: relative to data.dir
            rows.append((f"{key}.*", "", meanings[key]))
    lines += ["", "keys (KEY  DEFAULT  MEANING; set any with KEY=VALUE):", *table(rows)]
    return "\n".join(lines)


def help_text(overrides: list[str], multirun: bool) -> str:
    """What --help prints for this command line: the main page, or each chosen recipe's."""
    if not any(re.match(r"\+*recipe=", o) for o in overrides):
        return main_help()
    return "\n\n".join(recipe_help(cfg) for cfg in check(overrides, multirun, hydra_config=True))


def preflight(argv: list[str]) -> None:
    """Before Hydra runs: ``--help`` / ``-h`` prints the help (exit 0); a command line that cannot
    compose prints one ``error:`` line (exit 2). Hydra's own flags (--hydra-help, --info, another
    config) and command lines its parser refuses are left to Hydra."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def refuse(message):
        raise ValueError(message)

    parser.error = refuse
    try:
        args = parser.parse_intermixed_args(argv[1:])
    except ValueError:
        return
    own_flags = ("hydra_help", "info", "shell_completion", "experimental_rerun", "config_path", "config_name")
    if any(getattr(args, flag, None) for flag in (*own_flags, "config_dir")):
        return
    if any(re.match(r"\+*hydra\.searchpath", o) for o in args.overrides):
        return
    try:
        if args.help:
            print(help_text(args.overrides, args.multirun))
            sys.exit(0)
        check(args.overrides, args.multirun)
    except CommandLineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
