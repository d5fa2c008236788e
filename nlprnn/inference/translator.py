"""Translate with a trained checkpoint: batched greedy / sampling / beam search, streaming.

from nlprnn import Translator
tr = Translator.from_checkpoint("runs/translation/RUN", beam_size=5)   # or method="greedy"
tr("Ein Hund läuft.")                  # -> Translation(text='A dog is running.', score=-0.61)
tr("Ein Hund läuft.").text             # -> 'A dog is running.'
tr(["Ein Hund läuft.", "Zwei Männer."])          # -> one Translation each
tr("Ein Hund läuft.", n_best=3)        # -> [Translation(...), ...]: 3 hypotheses, best first
tr(["a", "b"], n_best=3)               # -> one such list per input

Options (constructor, attribute or per call): method (beam | greedy | sample), beam_size, alpha, n_best,
temperature, seed (sampling), batch_size, max_tokens, max_len_ratio, max_len_extra, max_src_len.
An empty input (or only spaces) gives Translation(text='', score=None).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch
from omegaconf import OmegaConf

from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.inference.decoders import DECODING_KEYS, STRATEGIES, BeamSearch, decoder_for, decoder_with
from nlprnn.inference.predictor import (
    COUNT,
    LENGTH,
    NUMBER,
    POSITIVE,
    SEED,
    TEMPERATURE,
    Predictor,
    checked_id_lists,
    checked_option,
    checked_text,
    checked_texts,
)
from nlprnn.inference.results import Translation
from nlprnn.models.config import model_config
from nlprnn.training.checkpoint import model_from_checkpoint

TRANSLATOR_KEYS = ("max_len_ratio", "max_len_extra", "max_src_len", "batch_size")
METHOD = (lambda v: v in STRATEGIES, " | ".join(STRATEGIES))


class Translator(Predictor):
    """Batched translation of raw sentences (sentencepiece in, detokenized text out).

    Load one with ``Translator.from_checkpoint(path, device="auto", **options)`` (a checkpoint or a
    run directory of ``recipe=translation``) or ``Translator.from_pretrained(folder_or_owner_name,
    device="auto", **options)``; ``translate`` is ``predict``. Results are ``Translation`` objects.

    Example::

        tr = Translator.from_pretrained("my-de-en", beam_size=5)
        tr("Ein Hund läuft.").text           # 'A dog is running.'
        tr("Ein Hund läuft.", n_best=3)      # 3 Translations, best first
        tr(["Ein Hund läuft.", "Zwei Männer."], method="greedy")

    Options:
        method: "beam" (default), "greedy" or "sample".
        beam_size: beams per sentence (beam search; default 5).
        alpha: the GNMT length penalty's exponent (beam search; default 0.6; 0: the plain sum).
        n_best: hypotheses per sentence (beam search; > 1: a list per input, best first).
        temperature: sampling temperature (method "sample").
        seed: sampling seed (method "sample"; None: fresh randomness).
        batch_size: sentences decoded together, sorted by length (default 128).
        max_len_ratio: each output is at most ``max_len_ratio * source length + max_len_extra``
            tokens (default 1.5).
        max_len_extra: see ``max_len_ratio`` (default 5).
        max_src_len: longer inputs are truncated, with a warning (default 200 subwords).

    The defaults are those saved with the checkpoint (its ``decoding`` and ``translator`` config).
    ``from_checkpoint`` also takes ``decoder=`` (a strategy of ``nlprnn.inference.decoders``) in
    place of the decoding options.

    Args:
        model: a Seq2Seq in eval mode.
        src_tok: its source subword tokenizer.
        tgt_tok: its target subword tokenizer.
        decoder: a decoding strategy (``nlprnn.inference.decoders``: BeamSearch, Greedy, Sampling);
            its settings (method, beam_size, alpha, n_best, temperature, seed) read and set as attributes.
        max_len_ratio: see Options.
        max_len_extra: see Options.
        max_src_len: see Options.
        batch_size: see Options.
        device: where the model runs.
    """

    recipe = "translation"
    OPTIONS = {
        "method": METHOD,
        "beam_size": COUNT,
        "alpha": NUMBER,
        "n_best": COUNT,
        "temperature": TEMPERATURE,
        "seed": SEED,
        "batch_size": COUNT,
        "max_len_ratio": POSITIVE,
        "max_len_extra": LENGTH,
        "max_src_len": (lambda v: COUNT[0](v) and v >= 2, "a whole number >= 2"),
    }
    BUILD_OPTIONS = ("decoder",)

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
        self.batch_size, self.device = batch_size, device
        self.config: dict = {}

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, decoder=None, **options) -> Translator:
        """Model and tokenizers from a translation checkpoint. ``decoder`` (or the keywords method=,
        beam_size=, alpha=, n_best=, temperature=, seed=) replaces the decoding saved with it;
        max_len_ratio=, max_len_extra=, max_src_len=, batch_size= override its translator settings."""
        src_tok, tgt_tok = (SubwordTokenizer.from_tensor(ckpt["subword"][k]) for k in ("src", "tgt"))
        model = model_from_checkpoint(ckpt, device)
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

    def _checkpoint_entries(self) -> dict:
        kind = type(self.decoder)
        config = {
            "model": model_config(self.model, model_sizes(self.src_tok, self.tgt_tok)),
            "translator": {k: getattr(self, k) for k in TRANSLATOR_KEYS},
            "decoding": {"_target_": f"{kind.__module__}.{kind.__qualname__}", **self.decoder.settings()},
        }
        subword = {"src": self.src_tok.to_tensor(), "tgt": self.tgt_tok.to_tensor()}
        return {"config": config, "subword": subword}

    # ---- the decoder's settings, as attributes -------------------------------------------------
    def __getattr__(self, name: str):
        """method, beam_size, alpha, n_best, temperature, seed: the decoder's (None where it has none)."""
        if name in DECODING_KEYS and "decoder" in self.__dict__:
            return self.decoder.method if name == "method" else self.decoder.settings().get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name in DECODING_KEYS:  # checked, then a new decoder with that setting
            value = checked_option(name, value, self.OPTIONS[name], type(self).__name__)
            name, value = "decoder", self._decoder_with({name: value}, type(self).__name__)
        super().__setattr__(name, value)

    def call_settings(self, options: dict, who: str) -> dict:
        settings = super().call_settings(options, who)
        given = {k: options[k] for k in DECODING_KEYS if k in options}
        return {**settings, "decoder": self._decoder_with(given, who) if given else self.decoder}

    def _decoder_with(self, options: dict, who: str):
        try:
            return decoder_with(self.decoder, **options)
        except UserError as exc:
            raise UserError(f"{who}: {exc}") from None

    # ---- text in, results out ------------------------------------------------------------------
    def translate(self, sentences: str | Iterable[str], **options):
        """``predict``: a sentence -> its Translation (n_best > 1: a list of them); a list -> one each."""
        return self._answer(sentences, "Translator.translate", options)

    def _predict(self, sentences: list[str], settings: dict) -> list:
        nbest = self._translations(sentences, settings)
        return nbest if settings["decoder"].settings().get("n_best", 1) > 1 else [hyps[0] for hyps in nbest]

    def translate_nbest(self, sentences: str | Iterable[str], **options) -> list[list[Translation]]:
        """A sentence -> its n_best Translations, best first; a list -> one such list each."""
        who = "Translator.translate_nbest"
        settings = self.call_settings(options, who)
        if isinstance(sentences, str):
            return self._translations([sentences], settings)[0]
        return self._translations(checked_texts(sentences, who), settings)

    def _translations(self, sentences: list[str], settings: dict) -> list[list[Translation]]:
        """Each sentence's hypotheses, best first; an empty one gets [Translation("", None)]."""
        src = self._encode(sentences, settings["max_src_len"])
        out: list[list[Translation]] = [[Translation("")] for _ in sentences]
        live = [i for i, ids in enumerate(src) if ids]
        batch_size = settings["batch_size"]
        for batch in make_batches([len(src[i]) for i in live], batch_size=batch_size, shuffle=False):
            rows = [live[j] for j in batch]
            hyps = self._decode_scored([src[r] for r in rows], settings["decoder"], settings)
            for row, scored in zip(rows, hyps):
                texts = self.tgt_tok.decode([ids for ids, _ in scored])
                out[row] = [Translation(text, score) for text, (_, score) in zip(texts, scored)]
        return out

    def encode_sources(self, sentences: list[str]) -> list[list[int]]:
        """Sentences -> source id lists ending in eos ([] for an empty one), cut to ``max_src_len``."""
        sentences = checked_texts(sentences, "Translator.encode_sources", "a list of strings")
        return self._encode(sentences, self.max_src_len)

    def _encode(self, sentences: list[str], max_src_len: int) -> list[list[int]]:
        ids = self.src_tok.encode([s.strip() for s in sentences], add_eos=True)
        too_long = [i for i, x in enumerate(ids) if len(x) > max_src_len]
        if too_long:
            warnings.warn(
                f"{len(too_long)} input sentence(s) longer than {max_src_len} subwords "
                f"were truncated (first: #{too_long[0] + 1})",
                stacklevel=4,
            )
            for i in too_long:
                ids[i] = ids[i][: max_src_len - 1] + [self.src_tok.eos_id]
        return [x if len(x) > 1 else [] for x in ids]  # just eos: an empty line

    # ---- ids in, ids out -----------------------------------------------------------------------
    def decode_ids(self, src_ids: list[list[int]]) -> list[list[list[int]]]:
        """Source id lists (with eos) -> for each, a list of hypotheses (target ids, no eos)."""
        src_ids = checked_id_lists(src_ids, "Translator.decode_ids", self.src_tok.vocab_size)
        scored = self._decode_scored(src_ids, self.decoder, self.settings())
        return [[ids for ids, _ in hyps] for hyps in scored]

    @torch.inference_mode()
    def _decode_scored(self, src_ids: list[list[int]], decoder, settings: dict) -> list:
        if not src_ids:
            return []
        src, lengths = pad_batch(src_ids, self.src_tok.pad_id)
        src, lengths = src.to(self.device), lengths.to(self.device)
        state = self.model.encode(src, lengths)
        bos = torch.full((len(src_ids),), self.tgt_tok.bos_id, dtype=torch.long, device=self.device)
        limits = (lengths.float() * settings["max_len_ratio"]).ceil().long() + settings["max_len_extra"]
        return decoder(self.model, bos, state, limits, self.tgt_tok.eos_id)

    @torch.inference_mode()
    def attention(self, sentence: str) -> tuple[list[str], list[str], torch.Tensor]:
        """Source pieces, target pieces and attention weights (T, S) of one sentence's translation,
        from its best translation fed back through the decoder step by step."""
        src_ids = self.encode_sources([checked_text(sentence, "Translator.attention")])[0]
        if not src_ids:
            raise UserError("cannot plot attention for an empty sentence")
        hyp = self.decode_ids([src_ids])[0][0]
        src = torch.tensor([src_ids], device=self.device)
        state = self.model.encode(src, torch.tensor([len(src_ids)], device=self.device))
        weights = []  # step by step, as decoding runs: any backend's model has encode and step
        for token in [self.tgt_tok.bos_id, *hyp]:
            _, state = self.model.step(torch.tensor([token], device=self.device), state)
            weights.append(state["attn"][0])
        src_pieces = [self.src_tok.sp.id_to_piece(i) for i in src_ids]
        tgt_pieces = [self.tgt_tok.sp.id_to_piece(i) for i in hyp] + ["</s>"]
        return src_pieces, tgt_pieces, torch.stack(weights).cpu()


def model_sizes(src_tok: SubwordTokenizer, tgt_tok: SubwordTokenizer) -> dict:
    """The Seq2Seq keywords that the tokenizers give."""
    return {
        "src_vocab_size": src_tok.vocab_size,
        "tgt_vocab_size": tgt_tok.vocab_size,
        "pad_id": tgt_tok.pad_id,
        "bos_id": tgt_tok.bos_id,
        "eos_id": tgt_tok.eos_id,
    }


def saved_decoder(saved: dict, options: dict):
    """The checkpoint's decoding node, with ``options`` (method=, beam_size=, ...) overriding its
    keys; another method starts from that method's defaults."""
    saved_method = build(OmegaConf.create(saved)).method
    method = options.pop("method", saved_method)
    if not options and method == saved_method:
        return build(OmegaConf.create(saved))
    keys = {k: v for k, v in saved.items() if k != "_target_"} if method == saved_method else {}
    return decoder_for(method, **{**keys, **options})
