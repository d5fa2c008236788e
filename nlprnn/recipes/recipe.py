"""The recipe contract: what one task shape adds to the modes every recipe shares (``nlprnn.modes``:
train, evaluate, its inference mode, export, serve).

A recipe subclasses ``Recipe`` with only what is its own: building vocabularies and the model, its
batches and loss, how it scores a predictor and how one output line looks; ``modes_of(RecipeClass)``
lists its modes for the command line.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig

from nlprnn.data.batching import IndexedBatches, make_batches
from nlprnn.data.disk_cache import fingerprint
from nlprnn.data.token_store import TokenStore, token_store
from nlprnn.errors import UserError
from nlprnn.modes.run_setup import command_line_overrides
from nlprnn.training import distributed as dist


class Recipe:
    """One task shape. Subclasses set the class attributes and implement the hooks below; the
    training hooks are the trainer's ``TrainingRecipe`` protocol, which the course experiments'
    ``TensorRecipe`` implements too."""

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

    @staticmethod
    def open_token_store(
        kind: str, key_parts: list, columns: tuple[str, ...], vocab_size, write
    ) -> TokenStore:
        """The training split's memory-mapped token store (``data.stream=true``; see
        ``nlprnn.data.token_store``) keyed by ``key_parts``: rank 0 finds it or has ``write`` fill it,
        every rank opens the folder (with several machines: a shared ``NLPRNN_CACHE``)."""
        key = fingerprint(key_parts)
        folder = dist.built_by_main(lambda: token_store(kind, key, columns, vocab_size, write).folder)
        return TokenStore(folder)

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
