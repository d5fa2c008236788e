"""``mode=evaluate``: scores of a trained checkpoint on a split of its data, or on a new file."""

from __future__ import annotations

import json

from omegaconf import DictConfig

from nlprnn.allocator import limit_kernel_cache
from nlprnn.data.reader import StreamedSplit
from nlprnn.errors import UserError
from nlprnn.inference.textio import open_output
from nlprnn.modes.run_setup import check_output_of, setup_device
from nlprnn.modes.splits import evaluation_splits
from nlprnn.modes.train import report


def evaluate(recipe_cls: type, cfg: DictConfig) -> dict:
    """Score a checkpoint on ``split`` (null: every split but train) of the data it was trained on,
    or on a new file: ``data.files.test=FILE`` on the command line (see ``evaluation_splits``)."""
    check_output_of(cfg)
    recipe = recipe_cls(cfg, setup_device(cfg))
    predictor = recipe.load_predictor(cfg.ckpt)
    if predictor.config.get("trainer", {}).get("release_freed_memory"):
        limit_kernel_cache()  # as its training did: scoring IMDB's test set grew to 1.1 GB without
    splits = evaluation_splits(cfg, predictor.config)
    names = [cfg.split] if cfg.split else [s for s in splits if s != "train"]
    if cfg.split and cfg.split not in splits:
        raise UserError(f"split={cfg.split!r}: choose one of {', '.join(splits)}")
    if any(isinstance(splits[s], StreamedSplit) for s in names):
        raise UserError(f"split={cfg.split}: a streamed training file (data.stream=true) is not scored whole")
    runtime = predictor.runtime
    results = {**report(recipe, predictor, {s: splits[s] for s in names}), "runtime": runtime}
    if not predictor.is_plain_torch():  # scores of a converted model: say which
        kept = f" ({', '.join(runtime['fp32'])} kept fp32)" if runtime["fp32"] else ""
        print(f"model: {predictor.runtime_name()}, {runtime['weights_mb']:,.1f} MB of weights{kept}")
    if cfg.output:
        with open_output(cfg.output) as dst:
            dst.write(json.dumps(results, indent=1) + "\n")
    return results
