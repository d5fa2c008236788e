"""Recipe char_lm: a character-level language model trained with truncated BPTT.

Modes: train (default), evaluate (ckpt=...), generate (ckpt=... prompt=... length=...).
"""

from __future__ import annotations

import json
import math
import warnings

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig

from nlprnn.data.char_corpus import BpttBatches, read_text, split_text, strip_gutenberg
from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, missing_data
from nlprnn.data.vocab import Vocab
from nlprnn.modules.decoding import sample
from nlprnn.modules.rnn import detach_state
from nlprnn.tasks.common import (
    model_from_checkpoint,
    run_dir,
    save_config,
    seed_everything,
    setup_device,
)
from nlprnn.training import distributed as dist
from nlprnn.training.checkpoint import load_checkpoint
from nlprnn.training.trainer import Trainer

TASK = "char_lm"
UNK = "<unk>"


# ---- data -------------------------------------------------------------------------------------
def load_corpus(data_cfg: DictConfig) -> str:
    """The whole text of the configured corpus, from data.dir or (fallback) the Hub."""
    path = data_file(data_cfg.dir, data_cfg.file)
    if path is not None:
        text = read_text(path)
        if data_cfg.strip_gutenberg:
            text = strip_gutenberg(text, path)
    else:
        failure = missing_data(f"corpus {data_cfg.name!r}", data_cfg.dir, data_cfg.file)
        if not data_cfg.hub:
            raise failure
        ds = load_from_hub(data_cfg.hub, failure)
        text = "".join(ds[s][0]["text"] for s in ("train", "validation", "test"))
    return text[: data_cfg.max_chars] if data_cfg.max_chars else text


def load_splits(data_cfg: DictConfig, vocab: Vocab | None = None):
    """(vocab, {split: ids (N,)}): the vocabulary comes from the training split only."""
    texts = dict(zip(("train", "val", "test"), split_text(load_corpus(data_cfg), list(data_cfg.splits))))
    vocab = vocab or Vocab.build(texts["train"], specials=[UNK], unk=UNK)
    return vocab, {name: vocab.encode(text) for name, text in texts.items()}


# ---- the task the trainer drives ----------------------------------------------------------------
class CharLMTask:
    """Truncated BPTT over contiguous streams; the hidden state is carried (detached) between
    consecutive batches and reset at each epoch, whose start offset is drawn from the seed."""

    metric, metric_mode = "val_loss", "min"

    def __init__(self, cfg: DictConfig, ids: dict[str, torch.Tensor], device: torch.device):
        self.cfg, self.ids, self.device = cfg, ids, device
        self.hidden = None

    def train_batches(self, epoch: int) -> BpttBatches:
        gen = torch.Generator().manual_seed(self.cfg.seed + epoch)
        offset = int(torch.randint(self.cfg.bptt, (1,), generator=gen))
        return BpttBatches(
            self.ids["train"], self.cfg.batch_size, self.cfg.bptt, offset, dist.rank(), dist.world_size()
        )

    def start_epoch(self, epoch: int) -> None:
        self.hidden = None

    def train_loss(self, model, batch) -> tuple[torch.Tensor, int]:
        x, y = (t.to(self.device, non_blocking=True) for t in batch)
        logits, hidden = model(x, self.hidden)
        self.hidden = detach_state(hidden)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel()

    def evaluate(self, model) -> dict[str, float]:
        nats = self.loss_on(model, "val")
        return {"val_loss": nats, "val_bpc": nats / math.log(2)}

    @torch.inference_mode()
    def loss_on(self, model, split: str) -> float:
        """Mean cross-entropy (nats/char) over the whole split, state carried across windows."""
        model.eval()
        batches = BpttBatches(self.ids[split], self.cfg.eval_batch_size, self.cfg.bptt)
        total, count, hidden = 0.0, 0, None
        for x, y in batches:
            x, y = x.to(self.device), y.to(self.device)
            logits, hidden = model(x, hidden)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
        return total / count

    def state_dict(self) -> dict:
        return {"hidden": self.hidden}

    def load_state_dict(self, state: dict) -> None:
        hidden = state["hidden"]
        if isinstance(hidden, (list, tuple)):
            hidden = tuple(h.to(self.device) for h in hidden)
        self.hidden = hidden.to(self.device) if isinstance(hidden, torch.Tensor) else hidden


# ---- modes --------------------------------------------------------------------------------------
def train(cfg: DictConfig) -> dict:
    seed_everything(cfg.seed)
    device = setup_device(cfg)
    vocab, ids = load_splits(cfg.data)
    out = run_dir()
    resolved = save_config(cfg, out)
    if dist.is_main():
        vocab.save(out / "vocab.json")
        print(
            f"data: {cfg.data.name}: "
            + ", ".join(f"{k} {len(v):,} chars" for k, v in ids.items())
            + f"; vocabulary {len(vocab)}"
        )
    model = instantiate(cfg.model, vocab_size=len(vocab)).to(device)
    task = CharLMTask(cfg, ids, device)
    extra = {"task": TASK, "config": resolved, "vocab": vocab.to_dict()}
    Trainer(cfg.trainer, cfg.optimizer, model, task, out, extra).fit()
    if not dist.is_main():
        dist.cleanup()
        return {}
    results = report(model, task, load_checkpoint(out / "best.pt", TASK), out)
    print(
        "sample:\n"
        + generate_text(
            model, vocab, cfg.prompt, cfg.length, cfg.temperature, cfg.top_k, cfg.top_p, cfg.seed, device
        )
    )
    dist.cleanup()
    return results


def report(model, task: CharLMTask, best: dict, out) -> dict:
    """Validation and test loss of the best checkpoint, printed and written to results.json."""
    model.load_state_dict(best["model"])
    results = {"step": best["trainer"]["step"]}
    for split in ("val", "test"):
        nats = task.loss_on(model, split)
        results[f"{split}_loss"], results[f"{split}_bpc"] = nats, nats / math.log(2)
    print(
        f"best checkpoint (step {results['step']}): "
        + "  ".join(
            f"{s}: {results[f'{s}_loss']:.4f} nats/char, {results[f'{s}_bpc']:.4f} bpc"
            for s in ("val", "test")
        )
    )
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


def evaluate(cfg: DictConfig) -> dict:
    ckpt = load_checkpoint(cfg.ckpt, TASK)
    device = setup_device(cfg)
    vocab = Vocab.from_dict(ckpt["vocab"])
    data_cfg = DictConfig({**ckpt["config"]["data"], "dir": cfg.data.dir})
    _, ids = load_splits(data_cfg, vocab)
    model = model_from_checkpoint(ckpt, device, vocab_size=len(vocab))
    task = CharLMTask(DictConfig({**ckpt["config"], "eval_batch_size": cfg.eval_batch_size}), ids, device)
    return report(model, task, ckpt, run_dir())


def generate(cfg: DictConfig) -> str:
    ckpt = load_checkpoint(cfg.ckpt, TASK)
    device = setup_device(cfg)
    vocab = Vocab.from_dict(ckpt["vocab"])
    model = model_from_checkpoint(ckpt, device, vocab_size=len(vocab))
    text = generate_text(
        model, vocab, cfg.prompt, cfg.length, cfg.temperature, cfg.top_k, cfg.top_p, cfg.seed, device
    )
    print(text)
    return text


MODES = {"train": train, "evaluate": evaluate, "generate": generate}


# ---- generation ---------------------------------------------------------------------------------
def encode_prompt(vocab: Vocab, prompt: str) -> list[int]:
    """Prompt -> ids. Characters the model never saw are dropped with a warning; an empty
    prompt (or one with nothing left) starts from a newline, as if at a paragraph break."""
    prompt = str(prompt or "")
    unseen = sorted({c for c in prompt if c not in vocab})
    if unseen:
        warnings.warn(f"prompt characters not in the vocabulary were dropped: {unseen}", stacklevel=2)
        prompt = "".join(c for c in prompt if c in vocab)
    start = prompt or ("\n" if "\n" in vocab else vocab.itos[-1])
    return vocab.encode(start).tolist()


@torch.inference_mode()
def generate_text(
    model,
    vocab: Vocab,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> str:
    """The prompt followed by ``length`` sampled characters; the same seed gives the same text."""
    model.eval()
    ids = encode_prompt(vocab, prompt)
    state = None
    if len(ids) > 1:  # read the prompt in one fused call, then continue step by step
        _, state = model(torch.tensor([ids[:-1]], device=device), None)
    gen = torch.Generator(device=device).manual_seed(seed)
    last = torch.tensor([ids[-1]], device=device)
    out = sample(_never_unk(model.step, vocab), last, state, length, temperature, top_k, top_p, generator=gen)
    return vocab_text(vocab, ids) + vocab_text(vocab, out[0].tolist())


def _never_unk(step, vocab: Vocab):
    """Wrap a step function so <unk> (a stand-in, not a character) is never generated."""

    def masked(tokens, state):
        logits, state = step(tokens, state)
        return logits.index_fill(-1, torch.tensor([vocab.unk_id], device=logits.device), -1e9), state

    return masked


def vocab_text(vocab: Vocab, ids: list[int]) -> str:
    return "".join(vocab.decode(ids))
