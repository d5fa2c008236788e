"""The package's layers only point down: modules -> data -> embeddings -> models -> training -> inference ->
modes -> recipes -> command line. A module may import its own layer and those below it."""

import ast
from pathlib import Path

from tests.conftest import REPO

LAYERS = [
    "errors",
    "factory",  # build(node): Hydra's instantiate with one-line errors
    "atomic",  # files written whole or not at all
    "allocator",  # malloc keeps or releases freed memory (trainer, Classifier: where a recipe asks)
    "modules",
    "data",
    "embeddings",  # how an embedding table starts: random, PPMI-SVD vectors from text, a vector file
    "models",
    "training",
    "inference",
    "plotting",
    "modes",  # train, evaluate, infer, export, serve: what the command line does with any recipe
    "recipes",
    "config_checks",  # the command line's check of every config value
    "cli_checks",  # the command line's overrides, checked before Hydra runs (did you mean ...)
    "cli_help",  # --help: recipes, modes, keys with defaults and meanings
    "run",
    "sweep",  # --multirun jobs and their summary (a Hydra callback)
    "__main__",
]
# plotting (attention heatmaps) sits beside inference: used by the recipes, never below them
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["plotting"] = RANK["inference"]
RANK["__init__"] = RANK["inference"]  # the package's lazy re-export of the inference APIs


def layer_of(module: str) -> str:
    """nlprnn.data.conll -> data; nlprnn.run -> run; nlprnn (the package) -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nlprnn"):
            names = [
                f"{node.module}.{a.name}" if node.module == "nlprnn" else node.module for a in node.names
            ]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("nlprnn")]
    return found


def test_every_module_has_a_layer():
    for path in (REPO / "nlprnn").rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        assert layer_of(module) in RANK, f"{path}: not in a known layer; add it to LAYERS"


def test_imports_only_point_down():
    upward = []
    for path in sorted((REPO / "nlprnn").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        here = RANK[layer_of(module)]
        for line, target in imports_of(path):
            if RANK[layer_of(target)] > here:
                upward.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from nlprnn.recipes.recipe import Recipe\nimport nlprnn.inference.tagger\n")
    assert [t for _, t in imports_of(bad)] == ["nlprnn.recipes.recipe", "nlprnn.inference.tagger"]
    assert RANK[layer_of("nlprnn.recipes.recipe")] > RANK[layer_of("nlprnn.models.seq2seq")]
