"""Translate with a trained checkpoint: batched greedy / sampling / beam search, streaming.

from nlprnn import Translator
tr = Translator.from_checkpoint("runs/translation/RUN", beam_size=5)   # or method="greedy"
tr("Ein Hund läuft.")                      # -> "A dog is running."
tr(["Ein Hund läuft.", "Zwei Männer."])    # -> one translation each
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch
from omegaconf import OmegaConf

from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.errors import UserError, build
from nlprnn.inference.decoders import BeamSearch, decoder_for
from nlprnn.inference.predictor import Predictor, checked_id_lists, checked_text, checked_texts
from nlprnn.training.checkpoint import model_from_checkpoint

TRANSLATOR_KEYS = ("max_len_ratio", "max_len_extra", "max_src_len", "batch_size")


class Translator(Predictor):
    """Batched translation of raw sentences (sentencepiece in, detokenized text out).

    Args:
        model: a Seq2Seq in eval mode; src_tok, tgt_tok: its subword tokenizers.
        decoder: a decoding strategy (``nlprnn.inference.decoders``: BeamSearch, Greedy, Sampling).
        max_len_ratio, max_len_extra: each output is at most ratio * source length + extra tokens.
        max_src_len: longer inputs are truncated (with a warning).
        batch_size: sentences decoded together (sorted by length to keep padding small).
    """

    task = "translation"

    def __init__(
        self,
        model,
        src_tok: SubwordTokenizer,
        tgt_tok: SubwordTokenizer,
        decoder=None,
        max_len_ratio: float = 1.5,
        max_len_extra: int = 5,
        max_src_len: int = 200,
        batch_size: int = 128,
        device: str | torch.device = "cpu",
    ) -> None:
        self.model, self.src_tok, self.tgt_tok = model.eval(), src_tok, tgt_tok
        self.decoder = decoder or BeamSearch()
        self.max_len_ratio, self.max_len_extra, self.max_src_len = max_len_ratio, max_len_extra, max_src_len
        self.batch_size, self.device = batch_size, torch.device(device)
        self.config: dict = {}

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, decoder=None, **options) -> Translator:
        """Model and tokenizers from a translation checkpoint. ``decoder`` (or the keywords method=,
        beam_size=, alpha=, n_best=, temperature=, seed=) replaces the decoding saved with it;
        max_len_ratio=, max_len_extra=, max_src_len=, batch_size= override its translator settings."""
        src_tok, tgt_tok = (SubwordTokenizer.from_tensor(ckpt["subword"][k]) for k in ("src", "tgt"))
        model = model_from_checkpoint(
            ckpt,
            device,
            src_vocab_size=src_tok.vocab_size,
            tgt_vocab_size=tgt_tok.vocab_size,
            pad_id=tgt_tok.pad_id,
            bos_id=tgt_tok.bos_id,
            eos_id=tgt_tok.eos_id,
        )
        config = ckpt["config"]
        settings = {**config["translator"], **{k: options.pop(k) for k in TRANSLATOR_KEYS if k in options}}
        if decoder is not None and options:
            raise UserError(f"give decoder= or decoding keywords {sorted(options)}, not both")
        return cls(
            model,
            src_tok,
            tgt_tok,
            decoder or saved_decoder(config["decoding"], options),
            device=device,
            **settings,
        )

    @property
    def method(self) -> str:
        return self.decoder.method

    @property
    def beam_size(self) -> int | None:
        return getattr(self.decoder, "beam_size", None)

    @property
    def stream_batch(self) -> int:
        return self.batch_size * 4

    # ---- text in, text out -----------------------------------------------------------------------
    def translate(self, sentences: str | Iterable[str]) -> str | list[str]:
        """A sentence -> its best translation; a list -> one each, in order. Empty stays empty."""
        return self._answer(sentences, "Translator.translate")

    def predict_batch(self, sentences: list[str]) -> list[str]:
        sentences = checked_texts(sentences, "Translator.predict_batch", "a list of strings")
        return [hyps[0] for hyps in self.translate_nbest(sentences)]

    def translate_nbest(self, sentences: Iterable[str]) -> list[list[str]]:
        """Sentences -> the n_best translations of each (one unless method="beam" and n_best > 1)."""
        sentences = [sentences] if isinstance(sentences, str) else sentences
        sentences = checked_texts(sentences, "Translator.translate_nbest")
        src = self.encode_sources(sentences)
        out: list[list[str]] = [[""] for _ in sentences]
        live = [i for i, ids in enumerate(src) if ids]  # empty lines stay empty translations
        for batch in make_batches([len(src[i]) for i in live], batch_size=self.batch_size, shuffle=False):
            rows = [live[j] for j in batch]
            for row, hyps in zip(rows, self.decode_ids([src[r] for r in rows])):
                out[row] = self.tgt_tok.decode(hyps)
        return out

    def encode_sources(self, sentences: list[str]) -> list[list[int]]:
        """Sentences -> source id lists ending in eos ([] for an empty one), cut to ``max_src_len``."""
        sentences = checked_texts(sentences, "Translator.encode_sources", "a list of strings")
        ids = self.src_tok.encode([s.strip() for s in sentences], add_eos=True)
        too_long = [i for i, x in enumerate(ids) if len(x) > self.max_src_len]
        if too_long:
            warnings.warn(
                f"{len(too_long)} input sentence(s) longer than {self.max_src_len} subwords "
                f"were truncated (first: #{too_long[0] + 1})",
                stacklevel=3,
            )
            for i in too_long:
                ids[i] = ids[i][: self.max_src_len - 1] + [self.src_tok.eos_id]
        return [x if len(x) > 1 else [] for x in ids]  # just eos: an empty line

    # ---- ids in, ids out -----------------------------------------------------------------------
    @torch.inference_mode()
    def decode_ids(self, src_ids: list[list[int]]) -> list[list[list[int]]]:
        """Source id lists (with eos) -> for each, a list of hypotheses (target ids, no eos)."""
        src_ids = checked_id_lists(src_ids, "Translator.decode_ids", self.src_tok.vocab_size)
        if not src_ids:
            return []
        src, lengths = pad_batch(src_ids, self.src_tok.pad_id)
        src, lengths = src.to(self.device), lengths.to(self.device)
        state = self.model.encode(src, lengths)
        bos = torch.full((len(src_ids),), self.tgt_tok.bos_id, dtype=torch.long, device=self.device)
        limits = (lengths.float() * self.max_len_ratio).ceil().long() + self.max_len_extra
        return self.decoder(self.model, bos, state, limits, self.tgt_tok.eos_id)

    @torch.inference_mode()
    def attention(self, sentence: str) -> tuple[list[str], list[str], torch.Tensor]:
        """Source pieces, target pieces and attention weights (T, S) of one sentence's translation,
        from the translation forced through the decoder (teacher forcing)."""
        src_ids = self.encode_sources([checked_text(sentence, "Translator.attention")])[0]
        if not src_ids:
            raise UserError("cannot plot attention for an empty sentence")
        hyp = self.decode_ids([src_ids])[0][0]
        src = torch.tensor([src_ids], device=self.device)
        tgt_in = torch.tensor([[self.tgt_tok.bos_id, *hyp]], device=self.device)
        state = self.model.encode(src, torch.tensor([len(src_ids)], device=self.device))
        _, weights = self.model.decode(tgt_in, state)
        src_pieces = [self.src_tok.sp.id_to_piece(i) for i in src_ids]
        tgt_pieces = [self.tgt_tok.sp.id_to_piece(i) for i in hyp] + ["</s>"]
        return src_pieces, tgt_pieces, weights[0].cpu()


def saved_decoder(saved: dict, options: dict):
    """The checkpoint's decoding node, with ``options`` (method=, beam_size=, ...) overriding its
    keys; another method starts from that method's defaults."""
    saved_method = build(OmegaConf.create(saved)).method
    method = options.pop("method", saved_method)
    if not options and method == saved_method:
        return build(OmegaConf.create(saved))
    keys = {k: v for k, v in saved.items() if k != "_target_"} if method == saved_method else {}
    return decoder_for(method, **{**keys, **options})
