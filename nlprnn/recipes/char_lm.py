"""Recipe char_lm: a character-level language model trained with truncated BPTT.

Modes: train (default), evaluate (ckpt=...), generate (ckpt=... prompt=... | text=... | input=FILE).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from nlprnn.data.batching import BpttBatches
from nlprnn.data.reader import StreamedSplit
from nlprnn.data.token_store import TokenStore, file_identity, id_dtype
from nlprnn.data.vocab import Vocab
from nlprnn.factory import build
from nlprnn.inference.generator import Generator
from nlprnn.inference.results import Generation
from nlprnn.modes import modes_of
from nlprnn.modules.rnn import detach_state
from nlprnn.recipes.recipe import Recipe
from nlprnn.training import distributed as dist

UNK = "<unk>"


class CharLM(Recipe):
    """Truncated BPTT over contiguous streams; the hidden state is carried (detached) between
    consecutive batches and reset at each epoch, whose start offset is drawn from the seed."""

    name, predictor, inference_mode = "char_lm", Generator, "generate"
    metric, metric_mode = "val_loss", "min"
    try_input = 'prompt="ROMEO:" length=300'

    def build(self, splits: dict[str, str], out):
        if isinstance(splits["train"], StreamedSplit):  # data.stream=true: a memory-mapped token store
            store = self.stored_train(splits["train"])
            self.vocab = Vocab(store.meta["itos"], unk=UNK)
            with warnings.catch_warnings():  # read-only memory: batches copy what they take
                warnings.simplefilter("ignore", UserWarning)
                self.ids = {"train": torch.from_numpy(store.column("text"))}
        else:
            self.vocab = Vocab.build(splits["train"], specials=[UNK], unk=UNK)  # training split only
            self.ids = {}
        self.ids.update(
            {name: self.vocab.encode(text) for name, text in splits.items() if name not in self.ids}
        )
        self.hidden = None
        if dist.is_main():
            self.vocab.save(out / "vocab.json")
            chars = ", ".join(f"{k} {len(v):,} chars" for k, v in self.ids.items())
            print(f"data: {self.cfg.data.name}: {chars}; vocabulary {len(self.vocab)}")
        model = build(self.cfg.model, vocab_size=len(self.vocab))
        return model, {"vocab": self.vocab.to_dict()}

    def stored_train(self, train: StreamedSplit) -> TokenStore:
        """The training text's ids stored once in a token store, in two passes over the stream: its
        characters, then the ids. Keyed by the files and the reader's settings."""
        data = self.cfg.data
        settings = [str(data.get(k)) for k in ("max_chars", "carve_fraction", "files")]
        key = [*file_identity(train.files), *settings]

        def write(writer) -> dict:
            start, chars = time.perf_counter(), set()
            for chunk in train:
                chars.update(chunk)
            vocab = Vocab.build(chars, specials=[UNK], unk=UNK)
            writer.dtype = id_dtype(len(vocab))  # one byte a character for most texts
            lookup = np.zeros(max(map(ord, chars)) + 1, dtype=np.int64)
            chars = sorted(chars)
            lookup[[ord(c) for c in chars]] = [vocab.stoi[c] for c in chars]
            for chunk in train:
                writer.append([(lookup[np.frombuffer(chunk.encode("utf-32-le"), dtype=np.uint32)],)])
            seconds = time.perf_counter() - start
            print(f"stored the training text's characters in the token cache in {seconds:.0f} s")
            return {"itos": vocab.itos}

        return self.open_token_store("char_lm", key, ("text",), None, write)

    def train_batches(self, epoch: int) -> BpttBatches:
        b = self.cfg.batching
        offset = int(
            torch.randint(b.bptt, (1,), generator=torch.Generator().manual_seed(self.cfg.seed + epoch))
        )
        return BpttBatches(self.ids["train"], b.batch_size, b.bptt, offset, dist.rank(), dist.world_size())

    def start_epoch(self, epoch: int) -> None:
        self.hidden = None

    def train_loss(self, model, batch):
        x, y = (t.to(self.device, non_blocking=True) for t in batch)
        out = model(x, state=self.hidden, targets=y)
        # stateful (the default): the next window starts from this one's state, detached
        self.hidden = detach_state(out.state) if self.cfg.batching.get("stateful", True) else None
        return out.loss, y.numel()

    def evaluate(self, model) -> dict[str, float]:
        nats = self.nats_per_char(model, self.ids["val"], self.cfg.batching.bptt)
        return {"val_loss": nats, "val_bpc": nats / math.log(2)}

    @torch.inference_mode()
    def nats_per_char(self, model, ids: torch.Tensor, bptt: int, carry: bool | None = None) -> float:
        """Mean cross-entropy over a whole split, the state carried across windows (or, for a
        model trained with batching.stateful=false, reset at each window as in its training)."""
        carry = self.cfg.batching.get("stateful", True) if carry is None else carry
        model.eval()
        total, count, hidden = 0.0, 0, None
        for x, y in BpttBatches(ids, self.cfg.batching.eval_batch_size, bptt):
            out = model(x.to(self.device), state=hidden if carry else None)
            hidden = out.state
            total += F.cross_entropy(
                out.logits.flatten(0, 1), y.to(self.device).flatten(), reduction="sum"
            ).item()
            count += y.numel()
        return total / count

    def state_dict(self) -> dict:
        return {"hidden": self.hidden}

    def load_state_dict(self, state: dict) -> None:
        hidden = state["hidden"]
        if isinstance(hidden, (list, tuple)):
            hidden = tuple(h.to(self.device) for h in hidden)
        self.hidden = hidden.to(self.device) if isinstance(hidden, torch.Tensor) else hidden

    def score(self, generator: Generator, text: str) -> dict:
        batching = generator.config["batching"]
        vocab = generator.vocab
        unknown = sorted({c for c in text if c not in vocab})  # a new text may hold unseen characters
        if unknown and vocab.unk_id is None:
            text = "".join(c for c in text if c in vocab)  # a vocabulary without <unk>: skip them
        ids = vocab.encode(text)
        nats = self.nats_per_char(generator.model, ids, batching["bptt"], batching.get("stateful", True))
        scores = {"loss": nats, "bpc": nats / math.log(2), "chars": len(text)}
        return {**scores, "unknown_chars": "".join(unknown)} if unknown else scores

    def describe(self, split: str, scores: dict) -> str:
        unknown = scores.get("unknown_chars")
        return (
            f"{split}: {scores['loss']:.4f} nats/char, {scores['bpc']:.4f} bpc ({scores['chars']:,} chars)"
            + (f"\n  characters the model never saw: {unknown!r}" if unknown else "")
        )

    def predictor_options(self) -> dict:
        keys = ("length", "temperature", "top_k", "top_p", "seed")
        return {key: self.cfg[key] for key in keys}

    def default_lines(self) -> list[str]:
        return [self.cfg.prompt]

    def format(self, prompt: str, generated: Generation) -> str:
        return generated.text

    def after_training(self, generator: Generator) -> None:
        print("sample:\n" + generator(self.cfg.prompt).text)


RECIPE = CharLM  # the class, for code that trains a recipe itself (course comparisons)
MODES = modes_of(CharLM)
