"""Word-level tokenisation with a frequency-cut vocabulary: the classic front end of an RNN classifier.

Same interface as ``SubwordTokenizer`` where a recipe needs it: ``encode(texts) -> id lists``,
``vocab_size``, ``pad_id``, ``unk_id``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from nlprnn.data.vocab import Vocab
from nlprnn.errors import UserError

PAD, UNK = "<pad>", "<unk>"

# words with inner apostrophes or hyphens (don't, n't, well-made), numbers, or one punctuation mark
_WORD = re.compile(r"\w+(?:['’-]\w+)*|'\w+|[^\w\s]")


def split_words(text: str, lowercase: bool = True) -> list[str]:
    return _WORD.findall(text.lower() if lowercase else text)


class WordTokenizer:
    """Text -> ids of the words kept by ``build``; every other word becomes <unk>."""

    def __init__(self, vocab: Vocab, lowercase: bool = True) -> None:
        self.vocab, self.lowercase = vocab, lowercase

    @classmethod
    def build(
        cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None, lowercase: bool = True
    ) -> WordTokenizer:
        """Keep words seen at least ``min_freq`` times, the ``max_size`` most frequent at most (ties
        broken alphabetically, so the vocabulary is deterministic)."""
        counts = Counter(w for t in texts for w in split_words(t, lowercase))
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        if max_size:
            kept = kept[: max(0, max_size - 2)]
        if not kept:
            raise UserError(f"no word occurs at least {min_freq} times in the training texts")
        return cls(Vocab([PAD, UNK] + kept, unk=UNK), lowercase)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return self.vocab.unk_id

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        stoi, unk = self.vocab.stoi, self.vocab.unk_id
        return [[stoi.get(w, unk) for w in split_words(t, self.lowercase)] for t in texts]

    def to_dict(self) -> dict:
        return {"vocab": self.vocab.to_dict(), "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict) -> WordTokenizer:
        return cls(Vocab.from_dict(d["vocab"]), d["lowercase"])
