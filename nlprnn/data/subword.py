"""Subword tokenisation with sentencepiece (unigram LM or BPE), with the same special ids in every model.

Joint or separate vocabularies: call ``train_sentencepiece`` once on source + target sentences for one
joint model shared by both sides (needed to tie encoder/decoder embeddings; helps with shared names and
numbers), or twice, once per language, for separate models. Either way ids 0-3 are pad/unk/bos/eos.

Text is normalised by sentencepiece's default ``nmt_nfkc`` rule (NFKC, extra whitespace collapsed), so
``decode(encode(x)) == x`` holds for text that is already normalised; compute BLEU against the raw
references, not against decoded references. A character never seen in training (or dropped by
``character_coverage`` < 1) becomes the unk id, and decodes as `` ⁇ ``.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm
import torch

from nlprnn.errors import UserError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def train_sentencepiece(
    texts: Iterable[str],
    model_prefix: str | Path | None,
    vocab_size: int,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
    num_threads: int = 1,
    seed: int = 1234,
    max_sentences: int | None = None,
) -> Path | bytes:
    """Train a model on ``texts`` (one sentence each) and write ``{model_prefix}.model`` / ``.vocab``
    (returns the .model path), or with ``model_prefix=None`` keep it in memory (returns its bytes).

    ``vocab_size`` is an upper bound (``hard_vocab_limit=False``), so tiny corpora still train. With one
    thread and a fixed seed the result is reproducible; more threads train faster. ``texts`` may be a
    stream; ``max_sentences``: train on a seeded random sample of that many (``reservoir_sample``: a
    corpus larger than memory trains in bounded memory), null: on all of them.
    """
    if model_type not in ("unigram", "bpe"):
        raise UserError(f"sentencepiece model_type must be 'unigram' or 'bpe', got {model_type!r}")
    sentences = (t for t in texts if t.strip())
    if max_sentences:  # ours, not sentencepiece's input_sentence_size: its draw ignores the seed
        sentences = iter(reservoir_sample(sentences, max_sentences, seed))
    first = next(sentences, None)
    if first is None:
        raise UserError(
            f"no text to train the sentencepiece model{f' {model_prefix}' if model_prefix else ''} on"
        )
    if model_prefix is None:
        output = {"model_writer": io.BytesIO()}
    else:
        model_prefix = Path(model_prefix)
        model_prefix.parent.mkdir(parents=True, exist_ok=True)
        output = {"model_prefix": str(model_prefix)}
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=itertools.chain([first], sentences),
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            hard_vocab_limit=False,
            num_threads=num_threads,
            minloglevel=2,  # errors only: no training log on stderr
            **output,
        )
    except RuntimeError as exc:  # e.g. vocab_size below the number of required characters
        raise UserError(
            f"sentencepiece training{f' of {model_prefix}' if model_prefix else ''} failed: {exc}"
        ) from None
    return Path(f"{model_prefix}.model") if model_prefix is not None else output["model_writer"].getvalue()


def reservoir_sample(items: Iterable, k: int, seed: int) -> list:
    """A uniform random ``k`` of ``items`` in one pass that holds only ``k`` (all of them, in their
    order, when there are fewer), the same for the same seed."""
    rng, sample = random.Random(f"reservoir:{seed}"), []
    for i, item in enumerate(items):
        if i < k:
            sample.append(item)
        elif (j := rng.randrange(i + 1)) < k:
            sample[j] = item
    return sample


def subword_pair(
    src_texts: Iterable[str],
    tgt_texts: Iterable[str],
    joint: bool = True,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
    seed: int = 1234,
    max_sentences: int | None = None,
) -> tuple[SubwordTokenizer, SubwordTokenizer]:
    """(source, target) tokenizers trained on a parallel corpus: one joint model (the same object
    twice) or one per side. ``max_sentences``: see ``train_sentencepiece``."""
    options = {"model_type": model_type, "character_coverage": character_coverage, "seed": seed}
    options["max_sentences"] = max_sentences
    if joint:
        tok = SubwordTokenizer.train(itertools.chain(src_texts, tgt_texts), vocab_size, **options)
        return tok, tok
    return SubwordTokenizer.train(src_texts, vocab_size, **options), SubwordTokenizer.train(
        tgt_texts, vocab_size, **options
    )


class SubwordTokenizer:
    """Batched text <-> id lists through a trained sentencepiece model."""

    def __init__(self, processor: spm.SentencePieceProcessor) -> None:
        self.sp = processor

    @classmethod
    def train(
        cls, texts: Iterable[str], vocab_size: int, num_threads: int = 1, **options
    ) -> SubwordTokenizer:
        """A model trained in memory on ``texts`` (see ``train_sentencepiece`` for the options)."""
        proto = train_sentencepiece(texts, None, vocab_size, num_threads=num_threads, **options)
        return cls(spm.SentencePieceProcessor(model_proto=proto))

    @classmethod
    def from_file(cls, path: str | Path) -> SubwordTokenizer:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"sentencepiece model {path} not found")
        try:
            return cls(spm.SentencePieceProcessor(model_file=str(path)))
        except (OSError, RuntimeError) as exc:
            raise UserError(f"{path}: not a sentencepiece model ({exc})") from None

    @classmethod
    def from_tensor(cls, blob: torch.Tensor) -> SubwordTokenizer:
        """The model as stored in a checkpoint (see ``to_tensor``)."""
        return cls(spm.SentencePieceProcessor(model_proto=bytes(blob.numpy().tobytes())))

    def to_tensor(self) -> torch.Tensor:
        """The model as a uint8 tensor: checkpoints stay self-contained and load with weights_only."""
        return torch.frombuffer(bytearray(self.sp.serialized_model_proto()), dtype=torch.uint8).clone()

    def save(self, path: str | Path) -> None:
        """Write the model (e.g. beside a run's checkpoint), loadable with ``from_file``."""
        Path(path).write_bytes(self.sp.serialized_model_proto())

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def pad_id(self) -> int:
        return self.sp.pad_id()

    @property
    def unk_id(self) -> int:
        return self.sp.unk_id()

    @property
    def bos_id(self) -> int:
        return self.sp.bos_id()

    @property
    def eos_id(self) -> int:
        return self.sp.eos_id()

    def encode(self, texts: Sequence[str], add_bos: bool = False, add_eos: bool = False) -> list[list[int]]:
        """Sentences -> id lists, in one batched call."""
        return self.sp.encode(list(texts), add_bos=add_bos, add_eos=add_eos)

    def decode(self, ids) -> list[str]:
        """Id lists (or a (B, T) tensor) -> sentences; each row ends at its first eos, pad/bos are dropped."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        skip = {self.pad_id, self.bos_id}
        rows = []
        for row in ids:
            row = [int(i) for i in row]
            if self.eos_id in row:
                row = row[: row.index(self.eos_id)]
            rows.append([i for i in row if i not in skip])
        return self.sp.decode(rows)

    def pieces(self, text: str) -> list[str]:
        """The subword pieces of one sentence (for inspection)."""
        return self.sp.encode(text, out_type=str)
