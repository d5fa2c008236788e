"""A recipe's inference mode (generate, translate, tag, classify): each input line -> one output line
(or block), in order, streamed."""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from nlprnn.inference.textio import open_output, read_lines
from nlprnn.modes.run_setup import check_output_of, setup_device


def infer(recipe_cls: type, cfg: DictConfig) -> None:
    """text= / input=FILE / stdin (or the recipe's default lines) -> output=FILE / stdout."""
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
