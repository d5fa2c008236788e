"""Recipe translation: encoder-decoder with attention, sentencepiece subwords, sacrebleu.

Modes: train (default), evaluate (ckpt=... [split=test]), translate (ckpt=... [input=F] [output=F]),
attention (ckpt=... text="..." output=attention.png).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from nlprnn.atomic import atomic_path
from nlprnn.data import disk_cache
from nlprnn.data.batching import pad_batch
from nlprnn.data.disk_cache import fingerprint
from nlprnn.data.reader import StreamedSplit
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.token_store import TokenStore, file_identity, in_chunks
from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.inference import results
from nlprnn.inference.translator import Translator, model_sizes
from nlprnn.modes import modes_of
from nlprnn.modes.run_setup import check_output_of, setup_device
from nlprnn.recipes.recipe import Recipe
from nlprnn.training import distributed as dist
from nlprnn.training.metrics import corpus_scores


def encode_pairs(pairs, src_tok, tgt_tok, max_len: int | None = None) -> list[tuple[list[int], list[int]]]:
    """Tokenize once: [(source ids + eos, bos + target ids + eos)]; training drops empty and
    over-long pairs (``max_len`` subwords) rather than teaching truncated translations."""
    src = src_tok.encode([s for s, _ in pairs], add_eos=True)
    tgt = tgt_tok.encode([t for _, t in pairs], add_bos=True, add_eos=True)
    encoded = list(zip(src, tgt))
    if max_len:
        encoded = [(s, t) for s, t in encoded if 1 < len(s) <= max_len and 2 < len(t) <= max_len + 1]
    return encoded


def collate_pairs(rows, pad_id: int):
    """(source ids, target ids) pairs -> src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T)."""
    src, src_lengths = pad_batch([s for s, _ in rows], pad_id)
    tgt, _ = pad_batch([t for _, t in rows], pad_id)
    return src, src_lengths, tgt[:, :-1], tgt[:, 1:]


class Translation(Recipe):
    """Label-smoothed cross-entropy on length-bucketed batches; validation BLEU picks checkpoints."""

    name, predictor, inference_mode = "translation", Translator, "translate"
    metric, metric_mode = "val_bleu", "max"
    try_input = "input=source.txt output=translations.txt"

    def build(self, splits: dict[str, list[tuple[str, str]]], out: Path):
        cfg = self.cfg
        self.src_tok, self.tgt_tok = self.tokenizers(splits["train"], out)
        if isinstance(splits["train"], StreamedSplit):  # data.stream=true: a memory-mapped token store
            self.train = self.stored_train(splits["train"])
            read = self.train.meta["pairs"]
            # sorted by target length first, as below
            self.lengths = np.stack([self.train.lengths("tgt"), self.train.lengths("src")], axis=1)
        else:
            self.train = encode_pairs(splits["train"], self.src_tok, self.tgt_tok, cfg.data.max_len)
            read = len(splits["train"])
            # sorted by target length first: the decoder and the output layer (the bulk of the step)
            # then see little padding (~1% on Multi30k instead of ~18% when sorted by source)
            self.lengths = [(len(t), len(s)) for s, t in self.train]
        self.val = splits["val"]
        if dist.is_main():
            counts = {k: read if k == "train" else len(v) for k, v in splits.items()}
            print(
                f"data: {cfg.data.name} {cfg.data.src_lang}->{cfg.data.tgt_lang}: "
                + ", ".join(f"{k} {n:,}" for k, n in counts.items())
                + f" pairs ({len(self.train):,} train pairs kept); "
                + f"subwords {self.src_tok.vocab_size}/{self.tgt_tok.vocab_size}"
            )
        model = build(cfg.model, **model_sizes(self.src_tok, self.tgt_tok))
        return model, {"subword": {"src": self.src_tok.to_tensor(), "tgt": self.tgt_tok.to_tensor()}}

    def tokenizers(self, train, out: Path):
        """The ``subword`` node's sentencepiece models, from the training split only: rank 0 trains
        them (a streamed corpus' models come from the disk cache after its first run) and writes
        them into the run directory, the other ranks receive them."""
        src, tgt = dist.built_by_main(lambda: self.train_tokenizers(train))
        if dist.is_main():
            files = {"spm_joint": src} if src is tgt else {"spm_src": src, "spm_tgt": tgt}
            for name, tok in files.items():
                tok.save(out / f"{name}.model")
        return src, tgt

    def train_tokenizers(self, train) -> tuple[SubwordTokenizer, SubwordTokenizer]:
        src_texts, tgt_texts = (s for s, _ in train), (t for _, t in train)  # one pass each, lists or streams
        if not isinstance(train, StreamedSplit):
            return build(self.cfg.subword, src_texts, tgt_texts)
        key = fingerprint([*file_identity(train.files), OmegaConf.to_yaml(self.cfg.subword)])
        cached = disk_cache.load("sentencepiece", key)
        if cached is None:
            src, tgt = build(self.cfg.subword, src_texts, tgt_texts)
            disk_cache.save("sentencepiece", key, {"src": src.to_tensor(), "tgt": tgt.to_tensor()})
            return src, tgt
        src = SubwordTokenizer.from_tensor(cached["src"])
        joint = torch.equal(cached["src"], cached["tgt"])
        return src, src if joint else SubwordTokenizer.from_tensor(cached["tgt"])

    def stored_train(self, train: StreamedSplit) -> TokenStore:
        """The training pairs tokenized once into a token store, keyed by the files, both
        sentencepiece models and ``data.max_len``."""
        models = [tok.sp.serialized_model_proto() for tok in (self.src_tok, self.tgt_tok)]
        key = [*file_identity(train.files), *models, str(self.cfg.data.max_len)]

        def write(writer) -> dict:
            pairs, start = 0, time.perf_counter()
            for chunk in in_chunks(train, 50_000):
                writer.append(encode_pairs(chunk, self.src_tok, self.tgt_tok, self.cfg.data.max_len))
                pairs += len(chunk)
            seconds = time.perf_counter() - start
            print(f"tokenized {pairs:,} training pairs into the token cache in {seconds:.0f} s")
            return {"pairs": pairs}

        vocab = max(self.src_tok.vocab_size, self.tgt_tok.vocab_size)
        return self.open_token_store("translation", key, ("src", "tgt"), vocab, write)

    def collate(self, rows):
        return collate_pairs(rows, self.tgt_tok.pad_id)

    def train_loss(self, model, batch):
        src, src_lengths, tgt_in, tgt_out = (t.to(self.device) for t in batch)
        out = model(src, src_lengths, tgt_in, targets=tgt_out, label_smoothing=self.cfg.label_smoothing)
        return out.loss, int((tgt_out != self.tgt_tok.pad_id).sum())

    def evaluate(self, model) -> dict[str, float]:
        decoder = build(self.cfg.validation)
        translator = Translator(
            model, self.src_tok, self.tgt_tok, decoder, device=self.device, **self.cfg.translator
        )
        hyps = [t.text for t in translator([s for s, _ in self.val])]
        scores = corpus_scores(hyps, [r for _, r in self.val])
        return {"val_bleu": scores["bleu"], "val_chrf": scores["chrf"]}

    def score(self, translator: Translator, pairs: list[tuple[str, str]]) -> dict:
        hyps = [nbest[0].text for nbest in translator.translate_nbest([s for s, _ in pairs])]
        scores = corpus_scores(hyps, [r for _, r in pairs])
        return {
            "sentences": len(hyps),
            "method": translator.method,
            "beam_size": translator.beam_size,
            **scores,
            "hypotheses": hyps,  # hyps.<split>.txt beside the checkpoints (train mode)
        }

    def describe(self, split: str, scores: dict) -> str:
        method = scores["method"] + (f" {scores['beam_size']}" if scores["method"] == "beam" else "")
        return (
            f"{split}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  "
            f"({scores['sentences']} sentences in {scores['seconds']:.1f} s, {method})"
        )

    def summary(self, results: dict) -> dict:
        last = results[[k for k in results if k != "step"][-1]]
        print(f"sacrebleu: {last['bleu_signature']} | {last['chrf_signature']}")
        return {"signature": {"bleu": last["bleu_signature"], "chrf": last["chrf_signature"]}}

    def predictor_options(self) -> dict:
        return {"decoder": build(self.cfg.decoding), **self.cfg.translator}

    def format(self, source: str, translation: results.Translation | list[results.Translation]) -> str:
        """The translation; with n_best > 1 its hypotheses, one per line."""
        if isinstance(translation, list):
            return "\n".join(t.text for t in translation)
        return translation.text


def attention(cfg: DictConfig) -> Path:
    """Save the attention heatmap of text=SENTENCE's translation as a PNG (output=, else attention.png)."""
    from nlprnn.plotting import attention_heatmap

    if not cfg.text:
        raise UserError('mode=attention needs text="a sentence"')
    path = Path(cfg.output or "attention.png")
    check_output_of(cfg)
    translator = Translation(cfg, setup_device(cfg)).load_predictor(cfg.ckpt)  # as mode=translate
    src, tgt, weights = translator.attention(cfg.text)
    with atomic_path(path) as tmp:
        attention_heatmap(weights, src, tgt, tmp)
    print(f"translation: {translator.tgt_tok.sp.decode_pieces(tgt[:-1])}\nwrote {path}")
    return path


Translation.modes = {"attention": attention}
RECIPE = Translation  # the class, for code that trains a recipe itself (course comparisons)
MODES = modes_of(Translation)
