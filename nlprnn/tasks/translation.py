"""Recipe translation: encoder-decoder with attention, sentencepiece subwords, sacrebleu.

Modes: train (default), evaluate (ckpt=... split=test), translate (ckpt=... [input=F] [output=F]),
attention (ckpt=... sentence="..." output=attention.png).
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nlprnn.data.batching import IndexedBatches, make_batches, pad_batch
from nlprnn.data.parallel import load_anki, load_multi30k
from nlprnn.data.subword import SubwordTokenizer, train_sentencepiece
from nlprnn.errors import UserError
from nlprnn.tasks.common import run_dir, save_config, seed_everything, setup_device, trained_data_config
from nlprnn.training import distributed as dist
from nlprnn.training.loss import smoothed_cross_entropy
from nlprnn.training.trainer import Trainer
from nlprnn.translator import Translator, corpus_scores

TASK = "translation"


# ---- data -------------------------------------------------------------------------------------
def load_pairs(data_cfg: DictConfig, seed: int) -> dict[str, list[tuple[str, str]]]:
    """{split: [(source, reference)]} for the configured corpus and direction."""
    if data_cfg.name == "multi30k":
        splits = load_multi30k(data_cfg.dir, data_cfg.src_lang, data_cfg.tgt_lang)
    elif data_cfg.name == "anki_spa_eng":
        splits = load_anki(data_cfg.dir, data_cfg.src_lang, data_cfg.tgt_lang, list(data_cfg.splits), seed)
    else:
        raise UserError(f"data.name={data_cfg.name!r}: translation knows multi30k and anki_spa_eng")
    if data_cfg.train_limit:
        splits["train"] = splits["train"][: data_cfg.train_limit]
    if data_cfg.eval_limit:
        splits = {k: v if k == "train" else v[: data_cfg.eval_limit] for k, v in splits.items()}
    return splits


def build_tokenizers(cfg: DictConfig, train: list[tuple[str, str]], out: Path):
    """Train sentencepiece on the training split only (joint or one per side), saved in the run."""
    sw = cfg.subword
    src_texts, tgt_texts = [s for s, _ in train], [t for _, t in train]
    kwargs = {
        "vocab_size": sw.vocab_size,
        "model_type": sw.model_type,
        "character_coverage": sw.character_coverage,
        "seed": cfg.seed,
    }
    if sw.joint:
        tok = SubwordTokenizer.from_file(
            train_sentencepiece(src_texts + tgt_texts, out / "spm_joint", **kwargs)
        )
        return tok, tok
    src = SubwordTokenizer.from_file(train_sentencepiece(src_texts, out / "spm_src", **kwargs))
    return src, SubwordTokenizer.from_file(train_sentencepiece(tgt_texts, out / "spm_tgt", **kwargs))


def encode_pairs(pairs, src_tok, tgt_tok, max_len: int | None = None) -> list[tuple[list[int], list[int]]]:
    """Tokenize once: [(source ids + eos, bos + target ids + eos)]; training drops empty and
    over-long pairs (``max_len`` subwords) rather than teaching truncated translations."""
    src = src_tok.encode([s for s, _ in pairs], add_eos=True)
    tgt = tgt_tok.encode([t for _, t in pairs], add_bos=True, add_eos=True)
    encoded = list(zip(src, tgt))
    if max_len:
        encoded = [(s, t) for s, t in encoded if 1 < len(s) <= max_len and 2 < len(t) <= max_len + 1]
    return encoded


# ---- the task the trainer drives ----------------------------------------------------------------
def collate_pairs(rows, pad_id: int):
    """(source ids, target ids) pairs -> src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T)."""
    src, src_lengths = pad_batch([s for s, _ in rows], pad_id)
    tgt, _ = pad_batch([t for _, t in rows], pad_id)
    return src, src_lengths, tgt[:, :-1], tgt[:, 1:]


class TranslationTask:
    """Label-smoothed cross-entropy on length-bucketed batches; validation BLEU picks checkpoints."""

    metric, metric_mode = "val_bleu", "max"

    def __init__(self, cfg: DictConfig, train, val_pairs, src_tok, tgt_tok, device: torch.device):
        self.cfg, self.train, self.val_pairs, self.device = cfg, train, val_pairs, device
        self.src_tok, self.tgt_tok = src_tok, tgt_tok
        # sorted by target length first: the decoder and the output layer (the bulk of the step)
        # then see little padding (~1% on Multi30k instead of ~18% when sorted by source)
        self.lengths = [(len(t), len(s)) for s, t in train]

    def train_batches(self, epoch: int) -> IndexedBatches:
        b = self.cfg.batching
        batches = make_batches(self.lengths, b.max_tokens, b.batch_size, True, self.cfg.seed, epoch)
        return IndexedBatches(
            self.train, dist.shard(batches), partial(collate_pairs, pad_id=self.tgt_tok.pad_id)
        )

    def start_epoch(self, epoch: int) -> None:
        pass

    def train_loss(self, model, batch) -> tuple[torch.Tensor, int]:
        src, src_lengths, tgt_in, tgt_out = (t.to(self.device) for t in batch)
        logits = model(src, src_lengths, tgt_in)
        loss = smoothed_cross_entropy(
            logits.flatten(0, 1), tgt_out.flatten(), self.cfg.label_smoothing, self.tgt_tok.pad_id
        )
        return loss, int((tgt_out != self.tgt_tok.pad_id).sum())

    def evaluate(self, model) -> dict[str, float]:
        translator = self.translator(model, **self.cfg.validation)
        hyps = translator.translate([s for s, _ in self.val_pairs])
        scores = corpus_scores(hyps, [r for _, r in self.val_pairs])
        return {"val_bleu": scores["bleu"], "val_chrf": scores["chrf"]}

    def translator(self, model, **decoding) -> Translator:
        settings = {**OmegaConf.to_container(self.cfg.decoding), **decoding}
        return Translator(model, self.src_tok, self.tgt_tok, device=self.device, **settings)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


# ---- modes --------------------------------------------------------------------------------------
def train(cfg: DictConfig) -> dict:
    seed_everything(cfg.seed)
    device = setup_device(cfg)
    out = run_dir()
    resolved = save_config(cfg, out)
    pairs = load_pairs(cfg.data, cfg.seed)
    src_tok, tgt_tok = build_tokenizers(cfg, pairs["train"], out)
    train_ids = encode_pairs(pairs["train"], src_tok, tgt_tok, cfg.data.max_len)
    if dist.is_main():
        print(
            f"data: {cfg.data.name} {cfg.data.src_lang}->{cfg.data.tgt_lang}: "
            + ", ".join(f"{k} {len(v):,}" for k, v in pairs.items())
            + f" pairs ({len(train_ids):,} train pairs kept); "
            + f"subwords {src_tok.vocab_size}/{tgt_tok.vocab_size}"
        )
    model = instantiate(
        cfg.model, src_vocab_size=src_tok.vocab_size, tgt_vocab_size=tgt_tok.vocab_size, pad_id=tgt_tok.pad_id
    ).to(device)
    task = TranslationTask(cfg, train_ids, pairs["val"], src_tok, tgt_tok, device)
    extra = {
        "task": TASK,
        "config": resolved,
        "subword": {"src": src_tok.to_tensor(), "tgt": tgt_tok.to_tensor()},
    }
    Trainer(cfg.trainer, cfg.optimizer, model, task, out, extra).fit()
    results = {}
    if dist.is_main():
        translator = Translator.from_checkpoint(out / "best.pt", device=str(device))
        results = report(translator, pairs, [s for s in pairs if s != "train"], out)
    dist.cleanup()
    return results


def report(translator: Translator, pairs, splits: list[str], out: Path) -> dict:
    """BLEU/chrF of each split with the configured decoding; printed and written to results.json."""
    results = {}
    for split in splits:
        start = time.perf_counter()
        hyps = translator.translate([s for s, _ in pairs[split]])
        seconds = time.perf_counter() - start
        scores = corpus_scores(hyps, [r for _, r in pairs[split]])
        results[split] = {
            "bleu": scores["bleu"],
            "chrf": scores["chrf"],
            "decode_seconds": seconds,
            "sentences": len(hyps),
            "method": translator.method,
            "beam_size": translator.beam_size,
        }
        print(
            f"{split}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  "
            f"({len(hyps)} sentences in {seconds:.1f} s, {translator.method}"
            f"{' ' + str(translator.beam_size) if translator.method == 'beam' else ''})"
        )
        (out / f"hyps.{split}.txt").write_text("\n".join(hyps) + "\n")
    print(f"sacrebleu: {scores['bleu_signature']} | {scores['chrf_signature']}")
    results["signature"] = {"bleu": scores["bleu_signature"], "chrf": scores["chrf_signature"]}
    with open(out / "results.json", "w") as f:
        json.dump(results, f, indent=1)
    return results


def _translator(cfg: DictConfig) -> Translator:
    device = setup_device(cfg)
    decoding = {k: v for k, v in OmegaConf.to_container(cfg.decoding).items()}
    return Translator.from_checkpoint(cfg.ckpt, device=str(device), **decoding)


def evaluate(cfg: DictConfig) -> dict:
    translator = _translator(cfg)
    pairs = load_pairs(trained_data_config(cfg, translator.config), cfg.seed)  # its corpus and direction
    split = cfg.split
    if split not in pairs or split == "train":
        raise UserError(f"split={split!r}: choose one of {', '.join(k for k in pairs if k != 'train')}")
    return report(translator, pairs, [split], run_dir())


def translate(cfg: DictConfig) -> None:
    """Stream input (file, stdin, or an interactive prompt) to output (file or stdout)."""
    translator = _translator(cfg)
    if cfg.input is None and sys.stdin.isatty():
        return _interactive(translator)
    src = open(cfg.input, encoding="utf-8") if cfg.input else sys.stdin
    dst = open(cfg.output, "w", encoding="utf-8") if cfg.output else sys.stdout
    try:
        for line in translator.translate_stream(src):
            dst.write(line + "\n")
            dst.flush()  # batch by batch: an interruption keeps what was written
    except UnicodeDecodeError as exc:
        raise UserError(f"{cfg.input or 'stdin'}: not UTF-8 text ({exc.reason})") from None
    finally:
        if cfg.input:
            src.close()
        if cfg.output:
            dst.close()


def _interactive(translator: Translator) -> None:
    print("Type a sentence and press Enter (Ctrl-D to quit).")
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        print(translator.translate([line])[0])


def attention(cfg: DictConfig) -> Path:
    """Save the attention heatmap of one sentence's translation as a PNG."""
    from nlprnn.plotting import attention_heatmap

    if not cfg.sentence:
        raise UserError('mode=attention needs sentence="..."')
    translator = _translator(cfg)
    src, tgt, weights = translator.attention(cfg.sentence)
    path = Path(cfg.output or run_dir() / "attention.png")
    attention_heatmap(weights, src, tgt, path)
    print(f"translation: {translator.tgt_tok.sp.decode_pieces(tgt[:-1])}\nwrote {path}")
    return path


MODES = {"train": train, "evaluate": evaluate, "translate": translate, "attention": attention}
