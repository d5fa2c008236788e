"""The tokenizers of a text classifier: a word vocabulary or sentencepiece (optionally fed lowercased
text), stored in checkpoints as plain data, and truncation of long texts."""

from __future__ import annotations

from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.errors import UserError

TRUNCATE = ("head", "tail")


def truncate(ids: list[int], max_len: int | None, side: str = "tail") -> list[int]:
    """At most ``max_len`` ids: ``side="tail"`` cuts the end (keeps the opening), ``"head"`` cuts the
    beginning (keeps the ending, where reviews tend to sum up)."""
    if side not in TRUNCATE:
        raise UserError(f"truncate={side!r}: choose head (drop the beginning) or tail (drop the end)")
    if not max_len or len(ids) <= max_len:
        return ids
    return ids[:max_len] if side == "tail" else ids[-max_len:]


class LowercasingSubwords(SubwordTokenizer):
    """A sentencepiece model trained on lowercased text, fed lowercased text."""

    def encode(self, texts, add_bos: bool = False, add_eos: bool = False) -> list[list[int]]:
        return super().encode([t.lower() for t in texts], add_bos, add_eos)


def tokenizer_to_dict(tokenizer) -> dict:
    """A word or sentencepiece tokenizer as plain checkpoint data."""
    if isinstance(tokenizer, SubwordTokenizer):
        lowercase = isinstance(tokenizer, LowercasingSubwords)
        return {"kind": "sentencepiece", "model": tokenizer.to_tensor(), "lowercase": lowercase}
    return {"kind": "word", **tokenizer.to_dict()}


def tokenizer_from_dict(d: dict):
    if d["kind"] == "word":
        return WordTokenizer.from_dict(d)
    subwords = SubwordTokenizer.from_tensor(d["model"])
    return LowercasingSubwords(subwords.sp) if d["lowercase"] else subwords


def subword_tokenizer(
    texts: list[str], vocab_size: int = 8000, lowercase: bool = True, num_threads: int = 1, seed: int = 0
) -> SubwordTokenizer:
    """sentencepiece trained on the (optionally lowercased) training texts; a lowercasing model then
    lowercases what it encodes too."""
    if lowercase:
        return LowercasingSubwords.train((t.lower() for t in texts), vocab_size, num_threads, seed=seed)
    return SubwordTokenizer.train(texts, vocab_size, num_threads, seed=seed)
