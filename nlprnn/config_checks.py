"""Every documented config value with a type or a range, checked when a run starts: a bad value
stops with one line naming the key, the value and what is allowed, before any data is read. The
model's choices (cell, attention, pooling, output, char_features) are its constructors' own checks,
run here on the meta device (``check_model``), not restated."""

from __future__ import annotations

import inspect
import re

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from nlprnn.data.conll import SCHEMES
from nlprnn.data.table import TABLE_FORMATS
from nlprnn.errors import UserError


def whole(low: int, null: bool = False):
    def check(v):
        ok = (v is None and null) or (isinstance(v, int) and not isinstance(v, bool) and v >= low)
        return None if ok else f"a whole number >= {low}" + (" or null" if null else "")

    return check


def number(low: float, high: float | None = None, low_open=False, high_open=False, null=False):
    def check(v):
        if v is None and null:
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        ok = ok and (v > low if low_open else v >= low)
        ok = ok and (high is None or (v < high if high_open else v <= high))
        left, right = "(" if low_open else "[", ")" if high_open or high is None else "]"
        return (
            None
            if ok
            else f"a number in {left}{low}, {'inf' if high is None else high}{right}"
            + (" or null" if null else "")
        )

    return check


def one_of(*choices, null: bool = False):
    def check(v):
        ok = v in choices or (v is None and null)
        return None if ok else "one of " + ", ".join(map(str, choices)) + (" or null" if null else "")

    return check


def boolean(v):
    return None if isinstance(v, bool) else "true or false"


CHECKS = {
    "seed": whole(0),
    "format": one_of("onnx"),
    "backend": one_of("torch", "onnxruntime"),
    "quantize": one_of("int8", null=True),
    "max_chars": whole(1),
    "host": lambda v: None if isinstance(v, str) and v.strip() else "an address, e.g. 127.0.0.1 or 0.0.0.0",
    "port": lambda v: None if whole(0)(v) is None and v <= 65535 else "a port number in [0, 65535]",
    "max_inputs": whole(1),
    "max_request_bytes": whole(1),
    "trainer.max_epochs": whole(1),
    "trainer.max_steps": whole(1, null=True),
    "trainer.max_time": number(0, low_open=True, null=True),
    "trainer.device": lambda v: (
        None
        if isinstance(v, str) and re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v)
        else "auto, cpu, cuda, cuda:N or mps"
    ),
    "trainer.eval_every": whole(1, null=True),
    "trainer.patience": whole(1, null=True),
    "trainer.clip_norm": number(0, low_open=True, null=True),
    "trainer.accumulate": whole(1),
    "trainer.precision": one_of("fp32", "bf16", "fp16"),
    "trainer.ema": number(0, 1, low_open=True, high_open=True, null=True),
    "trainer.keep_freed_memory": boolean,
    "trainer.release_freed_memory": boolean,
    "trainer.resume": boolean,
    "trainer.overwrite": boolean,
    "trainer.progress": boolean,
    "trainer.tensorboard": boolean,
    "trainer.scheduler.name": one_of("constant", "cosine", "plateau"),
    "trainer.scheduler.warmup_steps": whole(0),
    "trainer.scheduler.min_lr_ratio": number(0, 1),
    "trainer.scheduler.anneal_by_time": boolean,
    "trainer.scheduler.plateau_factor": number(0, 1, low_open=True),
    "trainer.scheduler.plateau_patience": whole(0),
    "optimizer.lr": number(0),
    "optimizer.weight_decay": number(0),
    "batching.batch_size": whole(1, null=True),
    "batching.max_tokens": whole(1, null=True),
    "batching.bptt": whole(1),
    "batching.stateful": boolean,
    "batching.eval_batch_size": whole(1),
    "model.dropout": number(0, 1, high_open=True),
    "model.num_layers": whole(1),
    "model.hidden_size": whole(1),
    "model.emb_dim": whole(1),
    "model.bidirectional": boolean,
    "model.tie_embeddings": boolean,
    "model.share_embeddings": boolean,
    "model.input_feeding": boolean,
    "model.encoder_hidden_size": whole(1),
    "model.encoder_layers": whole(1),
    "model.decoder_layers": whole(1),
    "model.case_dim": whole(0),
    "model.char_dim": whole(1),
    "model.char_size": whole(1),
    "model.conv_channels": whole(0),
    "model.conv_kernel": whole(1),
    "model.conv_pool": whole(1),
    "tagging": one_of(*SCHEMES),
    "output_scheme": one_of(*SCHEMES),
    "word_dropout": number(0, 1),
    "word_dropout_alpha": number(0, low_open=True, null=True),
    "max_len": whole(1, null=True),
    "truncate": one_of("head", "tail"),
    "label_smoothing": number(0, 1, high_open=True),
    "tokenizer.min_freq": whole(1),
    "tokenizer.max_size": whole(3, null=True),
    "tokenizer.vocab_size": whole(8),
    "tokenizer.lowercase": boolean,
    "embeddings.window": whole(1),
    "subword.joint": boolean,
    "subword.character_coverage": number(0, 1, low_open=True),
    "subword.model_type": one_of("unigram", "bpe"),
    "subword.vocab_size": whole(1),
    "translator.max_len_ratio": number(0, low_open=True),
    "translator.max_len_extra": whole(0),
    "translator.max_src_len": whole(2),
    "translator.batch_size": whole(1),
    "decoding.beam_size": whole(1),
    "decoding.n_best": whole(1),
    "decoding.temperature": number(0),
    "decoding.alpha": number(0),
    "decoding.seed": whole(0),
    "length": whole(0),
    "temperature": number(0),
    "top_k": whole(1, null=True),
    "top_p": number(0, 1, low_open=True, null=True),
    "data.train_limit": whole(1, null=True),
    "data.eval_limit": whole(1, null=True),
    "data.max_chars": whole(1, null=True),
    "data.max_len": whole(1, null=True),
    "data.val_size": whole(1, null=True),
    "data.per_class": whole(1, null=True),
    "data.tag_column": lambda v: (
        None if isinstance(v, int) and not isinstance(v, bool) else "a column number"
    ),
    "data.token_column": lambda v: (
        None if isinstance(v, int) and not isinstance(v, bool) else "a column number"
    ),
    "data.scheme": one_of(*SCHEMES),
    "data.carve_fraction": number(0, 0.5, low_open=True, high_open=True),
    "data.format": lambda v: None if isinstance(v, DictConfig) else one_of(*TABLE_FORMATS, null=True)(v),
    "data.header": boolean,
    "data.strip_gutenberg": boolean,
}


def check_config(cfg: DictConfig) -> None:
    """Raise a UserError for the first key (of those this recipe has) whose value is not allowed,
    or that must be given and was not (``???`` in the config, e.g. data=parallel's languages)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UserError(f"{missing[0]} is not set: give it on the command line ({missing[0]}=...)")
    for key, check in CHECKS.items():
        value = OmegaConf.select(cfg, key, default="<absent>")
        if value == "<absent>":
            continue
        allowed = check(value)
        if allowed:
            raise UserError(f"{key}={value!r}: must be {allowed}")
    check_model(cfg)


def check_model(cfg: DictConfig) -> None:
    """Build a training run's model node on the meta device (no memory, no data) with stand-in
    sizes for what the vocabularies give: a value its constructors refuse stops the run here, with
    their message."""
    node = cfg.get("model")
    if cfg.get("mode") != "train" or str(cfg.get("recipe_module", "")).startswith("course") or not node:
        return
    kwargs = OmegaConf.to_container(node, resolve=True)
    try:
        kind = get_class(kwargs.pop("_target_"))
        parameters = inspect.signature(kind.__init__).parameters.values()
    except Exception:  # no or a wrong _target_: the recipe's build says so
        return
    if any(isinstance(v, dict) for v in kwargs.values()):
        return  # a nested node: built by Hydra at training time
    stand_in = {
        p.name: 0 if p.name.endswith("_id") else 8
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.name not in ("self", *kwargs)
        and p.kind is p.POSITIONAL_OR_KEYWORD
    }
    try:
        with torch.device("meta"):
            kind(**kwargs, **stand_in)
    except (ValueError, TypeError) as exc:
        raise UserError(f"model ({kind.__name__}): {exc}") from None
