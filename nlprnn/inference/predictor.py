"""What every inference API shares (Translator, Tagger, Classifier, Generator)::

    X.from_checkpoint(path, device="auto", **options)   options: those of X.OPTIONS (and batch_size)
    x.predict("one text", **options)    -> one result (``nlprnn.inference.results``)
    x.predict(["a", "b"], **options)    -> one result each; x(...) is x.predict(...)
    x.stream(lines, batch_size=None, **options)  -> results, batch by batch (one string: one line)
    x.batch_size = 64                   options are attributes too, checked like the constructor's
    x.to("cuda"), repr(x), x.settings()

Options given to one call hold for that call only. Every bad argument is a UserError naming it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from nlprnn.errors import UserError
from nlprnn.inference.pretrained import resolve_pretrained, save_pretrained
from nlprnn.training.checkpoint import FORMAT, load_checkpoint
from nlprnn.training.distributed import local_device
from nlprnn.training.model_folder import inference_entries


class Predictor:
    """Base of Translator, Tagger, Classifier and Generator.

    Subclasses set ``recipe`` (the recipe whose checkpoints they read) and ``OPTIONS`` (their settings,
    each checked wherever it is given), build themselves in ``from_ckpt(ckpt, device, **options)``
    and map a list of strings to a list of results in ``_predict(texts, settings)``, ``settings``
    being one call's options over the instance's.
    """

    recipe = ""
    OPTIONS: dict[str, tuple] = {}  # option name -> (test, what to give): see checked_option
    BUILD_OPTIONS: tuple[str, ...] = ()  # what from_checkpoint takes besides OPTIONS
    RUNTIME_OPTIONS = ("backend", "quantize")  # from_checkpoint's, for every predictor (runtime.py)
    runtime = {"backend": "torch", "quantize": None, "fp32": []}  # as loaded (with_runtime sets it)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", **options):
        """Load a checkpoint file (or a run directory, meaning its best.pt) written by this
        predictor's recipe; ``options`` override the inference settings saved with it.

        Args:
            path: a ``.pt`` checkpoint, a run directory, or a folder written by ``save_pretrained``.
            device: "auto" (a GPU when there is one), "cpu", "cuda", "cuda:N", "mps" or a torch.device.
            backend: "torch" (default) or "onnxruntime": the model exported to ONNX and run by
                onnxruntime (``nlprnn.inference.runtime``; CPU only).
            quantize: None (default: fp32) or "int8": int8 weights (CPU only).
            **options: any of the class's ``OPTIONS`` (see "Options" on each class); Translator also
                takes ``decoder=``.

        Returns:
            The predictor, its model in eval mode on ``device``.

        Raises:
            nlprnn.errors.UserError: a bad path, device or option, or a checkpoint of another recipe.
        """
        who = f"{cls.__name__}.from_checkpoint"
        if not isinstance(path, (str, os.PathLike)):
            raise UserError(
                f"{who} takes the path of a checkpoint or a run directory, got {type(path).__name__}"
            )
        device = checked_device(device, who)
        unknown = sorted(set(options) - {*cls.OPTIONS, *cls.BUILD_OPTIONS, *cls.RUNTIME_OPTIONS})
        if unknown:
            valid = ", ".join([*cls.OPTIONS, *cls.BUILD_OPTIONS, *cls.RUNTIME_OPTIONS])
            raise UserError(f"{who}: unknown option(s) {', '.join(unknown)}; it takes {valid}")
        from nlprnn.inference.runtime import checked_runtime, with_runtime  # it imports the predictors

        runtime = options.pop("backend", "torch"), options.pop("quantize", None)
        backend, quantize = checked_runtime(*runtime, who)
        ckpt = load_checkpoint(path, cls.recipe)
        try:
            predictor = cls.from_ckpt(ckpt, device, **options)
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            raise UserError(f"{who}: {str(exc).split(')', 1)[-1].strip()}") from None
        predictor.config = ckpt["config"]  # the resolved training config, for evaluation
        predictor.step = ckpt.get("trainer", {}).get("step")  # the training step it was saved at
        # for save_pretrained: what the predictor was built from (its weights: the model's own, then)
        predictor.checkpoint = {k: v for k, v in inference_entries(ckpt).items() if k != "model"}
        predictor.source = Path(path)
        return with_runtime(predictor, backend, quantize, inplace=True)  # its model: no one else's

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, device: str = "auto", **options):
        """``from_checkpoint`` on a folder written by ``save_pretrained`` (or any checkpoint), or on
        ``owner/name``: that model from the Hugging Face Hub, where it is reachable.

        Args:
            name_or_path: a model folder, a checkpoint or run directory, or a Hub ``owner/name``.
            device: as in ``from_checkpoint``.
            **options: as in ``from_checkpoint``: the class's ``OPTIONS``.
        """
        if not isinstance(name_or_path, (str, os.PathLike)):
            raise UserError(f"{cls.__name__}.from_pretrained takes a folder or owner/name, got "
                            f"{type(name_or_path).__name__}")  # fmt: skip
        return cls.from_checkpoint(resolve_pretrained(name_or_path), device, **options)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Save this model as a portable folder: ``model.safetensors`` (weights), ``config.json``
        (config, vocabularies), ``README.md`` (a model card with its scores); no training state.
        ``from_pretrained(directory)`` and ``ckpt=directory`` on the command line read it.

        Returns:
            The folder written.
        """
        if not isinstance(directory, (str, os.PathLike)):
            raise UserError(f"{type(self).__name__}.save_pretrained takes a folder path, got "
                            f"{type(directory).__name__}")  # fmt: skip
        if not self.is_plain_torch():
            who, runs = f"{type(self).__name__}.save_pretrained", self.runtime_name()
            raise UserError(f"{who} saves fp32 torch weights, not {runs}: load without backend= / quantize=")
        return save_pretrained(self, directory)

    def is_plain_torch(self) -> bool:
        """True for the model as trained (torch, fp32), False for an int8 or ONNX Runtime one."""
        return (self.runtime["backend"], self.runtime["quantize"]) == ("torch", None)

    def runtime_name(self) -> str:
        """ "torch", "torch int8", "onnxruntime" or "onnxruntime int8"."""
        return " ".join(filter(None, (self.runtime["backend"], self.runtime["quantize"])))

    @property
    def checkpoint(self) -> dict:
        """What ``save_pretrained`` writes beside the weights: the loaded checkpoint's inference
        entries, or for a predictor built by hand, the same entries made from its own parts."""
        loaded = self.__dict__.get("_checkpoint")
        if loaded is not None:
            return loaded
        return {
            "recipe": self.recipe,
            "format": FORMAT,
            "trainer": {"step": None},
            **self._checkpoint_entries(),
        }

    @checkpoint.setter
    def checkpoint(self, entries: dict) -> None:
        object.__setattr__(self, "_checkpoint", entries)

    def _checkpoint_entries(self) -> dict:
        """The ``config`` (with the model's node) and vocabularies that ``from_ckpt`` reads."""
        raise NotImplementedError

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, **options):
        """Build the predictor from a loaded checkpoint dict (subclasses implement it)."""
        raise NotImplementedError

    # ---- options: set at construction, as attributes, or for one call -----------------------------
    def __setattr__(self, name: str, value) -> None:
        """Options set as attributes are checked as the constructor checks them."""
        if name in self.OPTIONS:
            value = checked_option(name, value, self.OPTIONS[name], type(self).__name__)
        super().__setattr__(name, value)

    def settings(self) -> dict:
        """The current value of every option."""
        return {name: getattr(self, name) for name in self.OPTIONS}

    def call_settings(self, options: dict, who: str) -> dict:
        """The settings of one call: ``options`` (checked, unknown names refused) over ``settings()``."""
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise UserError(
                f"{who}: unknown option(s) {', '.join(unknown)}; it takes {', '.join(self.OPTIONS)}"
            )
        checked = {k: checked_option(k, v, self.OPTIONS[k], who) for k, v in options.items()}
        return {**self.settings(), **checked}

    # ---- device --------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """The model's device; setting it moves the model (``to``)."""
        return self._device

    @device.setter
    def device(self, device) -> None:
        self.to(device)

    def to(self, device):
        """Move the model to ``device`` (auto, cpu, cuda, cuda:N, mps or a torch.device); returns self."""
        device = checked_device(device, f"{type(self).__name__}.to")
        if not self.is_plain_torch() and device.type != "cpu":
            who = f"{type(self).__name__}.to({str(device)!r})"
            raise UserError(f"{who}: {self.runtime_name()} runs on the CPU")
        if self.is_plain_torch():
            self.model.to(device)
        object.__setattr__(self, "_device", device)
        return self

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.settings().items() if v is not None)
        step = getattr(self, "step", None)
        runtime = "" if self.is_plain_torch() else f", runtime='{self.runtime_name()}'"
        step = f", step={step}" if step else ""
        return f"{type(self).__name__}({shown}, device='{self.device}'{runtime}{step})"

    # ---- answers -------------------------------------------------------------------------------
    def predict(self, inputs: str | Iterable[str], **options):
        """One string -> one result; a list (any iterable) of strings -> a list of results.

        Args:
            inputs: one text, or an iterable of texts.
            **options: any of ``settings()``'s, for this call only.

        Returns:
            A result of ``nlprnn.inference.results`` (Translation, Tagging, Classification,
            Generation), or a list of them; Translator with ``n_best > 1`` and Generator with
            ``num_samples > 1`` give a list per input.
        """
        return self._answer(inputs, f"{type(self).__name__}.predict", options)

    def __call__(self, inputs: str | Iterable[str], **options):
        """``predict``."""
        return self._answer(inputs, type(self).__name__, options)

    def predict_batch(self, texts: list[str], **options) -> list[Any]:
        """A list of strings -> one result each."""
        who = f"{type(self).__name__}.predict_batch"
        texts = checked_texts(texts, who, "a list of strings")
        return self._predict(texts, self.call_settings(options, who))

    def _predict(self, texts: list[str], settings: dict) -> list[Any]:
        raise NotImplementedError

    def _answer(self, inputs: str | Iterable[str], who: str, options: dict):
        """``predict`` for the method ``who`` (named by its errors): one result, or a list of them."""
        settings = self.call_settings(options, who)
        if isinstance(inputs, str):
            return self._predict([inputs], settings)[0]
        texts = checked_texts(inputs, who)
        return self._predict(texts, settings) if texts else []

    def stream(self, lines: str | Iterable[str], batch_size: int | None = None, **options) -> Iterator[Any]:
        """Results for a long (or endless) iterable of lines (one string: one line), yielded batch by
        batch: ``batch_size`` lines at a time (default: a few of the model's batches)."""
        pairs = self._pairs(lines, batch_size, f"{type(self).__name__}.stream", options)
        return (result for _, result in pairs)

    def pairs(self, lines: str | Iterable[str], batch_size: int | None = None, **options):
        """(line, result) for each line, batch by batch: what the command line's modes write. A line
        read from a file keeps everything but its final newline."""
        return self._pairs(lines, batch_size, f"{type(self).__name__}.pairs", options)

    def _pairs(self, lines, batch_size, who: str, options: dict) -> Iterator[tuple[str, Any]]:
        """The arguments checked now (not at the first ``next``), then the batches as they come."""
        lines = checked_lines([lines] if isinstance(lines, str) else lines, who)
        if batch_size is not None:
            options = {**options, "batch_size": batch_size}
        settings = self.call_settings(options, who)
        return self._batches(lines, batch_size or self.stream_batch, who, settings)

    @property
    def stream_batch(self) -> int:
        """Lines ``stream`` gathers per batch when not told."""
        return 4 * self.batch_size

    def _batches(self, lines: Iterator, size: int, who: str, settings: dict) -> Iterator[tuple[str, Any]]:
        chunk: list[str] = []
        for position, line in enumerate(lines):
            line = _checked(line, position, who)
            chunk.append(line[:-1] if line.endswith("\n") else line)
            if len(chunk) >= size:
                yield from zip(chunk, self._predict(chunk, settings))
                chunk = []
        if chunk:
            yield from zip(chunk, self._predict(chunk, settings))


# ---- option checks: (test, what to give) per option name -------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN


COUNT = (lambda v: _is_int(v) and v >= 1, "a whole number >= 1")
COUNT_OR_NONE = (lambda v: v is None or COUNT[0](v), "a whole number >= 1, or None")
LENGTH = (lambda v: _is_int(v) and v >= 0, "a whole number >= 0")
TEMPERATURE = (lambda v: _is_number(v) and v >= 0, "a number >= 0 (0: greedy)")
PROBABILITY_OR_NONE = (lambda v: v is None or (_is_number(v) and 0 < v <= 1), "a number in (0, 1], or None")
SEED = (lambda v: v is None or _is_int(v), "a whole number, or None (fresh randomness each call)")
NUMBER = (lambda v: _is_number(v), "a number")
POSITIVE = (lambda v: _is_number(v) and v > 0, "a number > 0")


def checked_option(name: str, value, check: tuple, who: str):
    """``value`` when ``check`` accepts it; else a UserError naming ``who`` and the option."""
    test, hint = check
    if not test(value):
        raise UserError(f"{who}: {name}={value!r}: give {hint}")
    return value


# The argument checks of the inference APIs: ``who`` is the method, named by the error.


def checked_texts(
    inputs, who: str, takes: str = "a string or a list of strings", what: str = "input"
) -> list[str]:
    """A list of the strings in ``inputs``; a clear error for one string (callers taking one handle
    it first), bytes, a non-iterable or a non-string item. ``takes``: what ``who`` accepts;
    ``what``: what an item is called."""
    return [_checked(item, i, who, what) for i, item in enumerate(checked_items(inputs, who, takes))]


def checked_iterable(inputs, who: str, takes: str) -> Iterator:
    """``iter(inputs)``; a clear error for one string, bytes or a non-iterable."""
    if isinstance(inputs, str):
        raise UserError(f"{who} takes {takes}, not one string: put it in a list")
    if isinstance(inputs, (bytes, bytearray)):
        raise UserError(f"{who} takes str, not bytes: decode the input first")
    try:
        return iter(inputs)
    except TypeError:
        raise UserError(f"{who} takes {takes}, got {type(inputs).__name__}") from None


def checked_items(inputs, who: str, takes: str) -> list:
    """``list(inputs)``; a clear error for one string, bytes or a non-iterable."""
    return list(checked_iterable(inputs, who, takes))


def checked_lines(lines, who: str) -> Iterator:
    """An iterator over ``lines`` (a list, a file, a generator: possibly endless, so its items are
    checked as they come); a clear error for one string, bytes or a non-iterable."""
    return checked_iterable(lines, who, "an iterable of lines (a list, a file)")


def checked_text(text, who: str) -> str:
    """``text`` when it is one string, else a clear error."""
    if not isinstance(text, str):
        raise UserError(f"{who} takes one string, got {type(text).__name__}")
    return text


def checked_id_lists(seqs, who: str, vocab_size: int) -> list:
    """The token id lists of ``seqs`` (lists or 1-D tensors); a clear error for anything else, an
    empty one, or an id outside the vocabulary (which would fail deep inside, on a GPU as a device
    assert)."""
    items = checked_items(seqs, who, "a list of token id lists")
    for i, ids in enumerate(items):
        try:
            ok = isinstance(ids, (list, tuple, torch.Tensor)) and 0 <= min(ids) and max(ids) < vocab_size
        except (TypeError, ValueError, RuntimeError):  # a non-number, no ids at all, a 2-D tensor
            ok = False
        if not ok:
            raise UserError(f"{who}: item #{i} is not a non-empty list of token ids in [0, {vocab_size})")
    return items


def checked_device(device, who: str) -> torch.device:
    """``device`` ("auto", "cpu", "cuda", "cuda:N", "mps" or a torch.device) as a torch.device that
    this machine has; anything else is a UserError naming ``who``."""
    hint = "give auto, cpu, cuda, cuda:N or mps"
    if isinstance(device, str) and (device == "auto" or device == "cuda" and torch.cuda.is_available()):
        return local_device(device)
    try:
        parsed = torch.device(device) if isinstance(device, (str, torch.device)) else None
    except RuntimeError:  # an unknown device name
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"{who}: device={device!r}: {hint}")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{who}: device={device!r}: no CUDA GPU is available here; use device='cpu'")
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise UserError(
            f"{who}: device={device!r}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}"
        )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"{who}: device={device!r}: MPS (Apple GPU) is not available here; use device='cpu'")
    return torch.device("cuda", 0) if parsed.type == "cuda" and parsed.index is None else parsed


def _checked(item, position: int, who: str, what: str = "input") -> str:
    if not isinstance(item, str):
        raise UserError(f"{who}: {what} #{position} is {type(item).__name__}, not a string")
    return item
