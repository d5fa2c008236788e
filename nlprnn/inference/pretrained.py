"""``save_pretrained`` / ``from_pretrained``: a trained predictor as a portable model folder
(``nlprnn/training/model_folder.py``: safetensors weights, a JSON config, a model card), read back
from a local folder or from the Hugging Face Hub (``owner/name``) where the Hub is reachable."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nlprnn.errors import UserError
from nlprnn.training.model_folder import write_folder

VERBS = {"char_lm": "generate", "translation": "translate", "ner": "tag", "sentiment": "predict"}
HUB_NAME = re.compile(r"[\w.-]+/[\w.-]+")


def save_pretrained(predictor, directory: str | Path) -> Path:
    """Write ``predictor``'s model (its current weights) and what it reads beside them."""
    ckpt = {**predictor.checkpoint, "model": predictor.model.state_dict()}
    return write_folder(ckpt, directory, model_card(ckpt, scores_of(predictor), type(predictor).__name__))


def resolve_pretrained(name: str | Path) -> Path:
    """A local model folder, checkpoint or run directory as it is; ``owner/name`` that is not a
    local path: the Hub's copy (downloaded once into its cache)."""
    path = Path(name)
    if path.exists() or not HUB_NAME.fullmatch(str(name)):
        return path  # a missing local path is reported by the checkpoint loader
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(name), library_name="nlprnn"))
    except Exception as exc:  # offline, unknown repository, no access
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(
            f"from_pretrained({str(name)!r}): not a local folder, and the Hugging Face Hub did not give it "
            f"({type(exc).__name__}: {reason}); offline, pass the path of a folder written by save_pretrained"
        ) from None


def scores_of(predictor) -> dict:
    """The run's results.json when the predictor was loaded from that run's best checkpoint."""
    source = getattr(predictor, "source", None)
    if source is None:
        return {}
    run = source if source.is_dir() else source.parent
    try:
        results = json.loads((run / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    return results if results.get("step") == predictor.step else {}


def model_card(ckpt: dict, results: dict, class_name: str) -> str:
    """A README for the folder: what the model is, how it was trained, its scores, how to use it."""
    recipe, config = ckpt["recipe"], ckpt["config"]
    params = sum(t.numel() for t in ckpt["model"].values())
    lines = [
        f"# nlprnn {recipe} model",
        "",
        f"- model: `{config['model']['_target_']}`, {params:,} parameters, " + _origin(ckpt, recipe),
        "",
        *_score_table(results),
        "## Use",
        "",
        "```python",
        f"from nlprnn import {class_name}",
        f'model = {class_name}.from_pretrained("THIS_FOLDER")',
        'print(model("your text here"))',
        "```",
        "",
        f'or `python -m nlprnn recipe={recipe} mode={VERBS[recipe]} ckpt=THIS_FOLDER text="..."`.',
        "",
    ]
    return "\n".join(lines)


def _origin(ckpt: dict, recipe: str) -> str:
    """Where the weights come from: a training run (step, data, command) or a model built by hand."""
    step, config = ckpt.get("trainer", {}).get("step"), ckpt["config"]
    if step is None and "command" not in ckpt and "data" not in config:
        return "built in Python (not by a recipe); its constructor keywords are in config.json"
    command = ckpt.get("command") or f"python -m nlprnn recipe={recipe}"
    data = config.get("data", {})
    return (
        f"saved at training step {step}\n- data: `{data.get('name', '?')}` ({_files(data)})\n"
        f"- trained with: `{command}` (the full resolved configuration is in config.json)"
    )


def _files(data: dict) -> str:
    files = {**(data.get("files") or {}), "archive": data.get("archive")}  # IMDB: one archive
    return ", ".join(f"{k}: {v}" for k, v in files.items() if v) or "see config.json"


def _score_table(results: dict) -> list[str]:
    splits = {k: v for k, v in results.items() if isinstance(v, dict) and k not in ("signature", "objective")}
    if not splits:
        return []
    rows = ["## Scores (this checkpoint, from the training run's results.json)", ""]
    rows += ["| split | metric | value |", "|---|---|---|"]
    for split, scores in splits.items():
        rows += [
            f"| {split} | {name} | {value:,} |"
            if isinstance(value, int)
            else f"| {split} | {name} | {value:.4g} |"
            for name, value in scores.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "seconds"
        ]
    return [*rows, ""]
