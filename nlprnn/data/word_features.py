"""Tokens -> what a word-level tagger reads: a word id, a casing class, and the word's characters.

Without pretrained vectors, rare words are the weak spot. Three standard remedies:
- the word lookup is case- and digit-insensitive ("Paris", "PARIS" -> "paris"; "1996" -> "0000"),
  so each surface variant does not need its own vector;
- the casing a lookup throws away comes back as a small feature (Title, UPPER, lower, ...);
- the characters of the exact surface form feed a char-CNN / char-BiLSTM (modules/char_features.py),
  which gives unseen words a representation too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from itertools import islice

import torch

from nlprnn.data.batching import pad_batch
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_tokenizer import split_words

PAD, UNK = "<pad>", "<unk>"
CASINGS = ("pad", "lower", "title", "upper", "mixed", "numeric", "has_digit", "other")
_DIGIT = re.compile(r"\d")
EXTEND_CHUNK = 5000  # texts whose tokens WordFeatures.extended counts at once


def normalize(word: str) -> str:
    """The word-lookup key: lowercased, every digit -> 0."""
    return _DIGIT.sub("0", word.lower())


def casing(word: str) -> int:
    """Index into CASINGS of a word's shape."""
    if word.isdigit():
        kind = "numeric"
    elif any(c.isdigit() for c in word):
        kind = "has_digit"
    elif word.islower():
        kind = "lower"
    elif word.isupper():
        kind = "upper"
    elif word[:1].isupper() and word[1:].islower():
        kind = "title"
    elif any(c.isalpha() for c in word):
        kind = "mixed"
    else:
        kind = "other"
    return CASINGS.index(kind)


def text_tokens(text: str, known: Container[str]) -> list[str]:
    """A raw text's tokens as the tagger sees words: each whitespace-separated token kept whole when
    its lookup key is known (CoNLL's own tokens, such as "U.S." or "1996"), else split into words and
    punctuation marks ("Paris," -> "Paris", ",")."""
    tokens = []
    for token in text.split():
        tokens += [token] if normalize(token) in known else split_words(token, lowercase=False)
    return tokens


class WordFeatures:
    """Vocabularies of normalised words and of characters, built from the training sentences.

    ``encode(tokens)`` -> (word ids, casing ids); ``chars(forms)`` -> padded character ids of distinct
    surface forms; ``singletons`` flags word ids seen once in training (for word dropout).
    """

    def __init__(self, words: Vocab, chars: Vocab, counts: dict[str, int] | None = None) -> None:
        self.words, self.chars = words, chars
        self.counts = counts or {}
        self.pad_id, self.unk_id = words.stoi[PAD], words.unk_id
        self._char_cache: dict[str, list[int]] = {}

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]]) -> WordFeatures:
        counts = Counter(normalize(w) for s in sentences for w in s)
        words = Vocab.build(counts, specials=[PAD, UNK], unk=UNK)
        chars = Vocab.build((c for s in sentences for w in s for c in w), specials=[PAD, UNK], unk=UNK)
        return cls(words, chars, dict(counts))

    @property
    def singletons(self) -> torch.Tensor:
        """(V,) bool: word ids that occurred exactly once in training."""
        flags = torch.zeros(len(self.words), dtype=torch.bool)
        ids = [self.words.stoi[w] for w, n in self.counts.items() if n == 1]
        flags[ids] = True
        return flags

    def extended(self, texts: Iterable[str], min_count: int) -> WordFeatures:
        """These features with the words of unlabelled ``texts`` seen at least ``min_count`` times
        added after the training words (so that word vectors of those texts reach words training
        never saw); training counts unchanged: the added words are never dropped."""
        known, texts, counts = self.words.stoi, iter(texts), Counter()
        # each distinct whitespace token of a chunk is split once (4x faster than every occurrence);
        # one chunk's tokens at a time: a count of the whole corpus' raw tokens raised the NER
        # recipe's peak past 1.5 GB
        while chunk := list(islice(texts, EXTEND_CHUNK)):
            for token, n in Counter(token for text in chunk for token in text.split()).items():
                for word in text_tokens(token, known):
                    counts[normalize(word)] += n
        added = sorted(
            (w for w, n in counts.items() if n >= min_count and w not in known), key=lambda w: (-counts[w], w)
        )
        return WordFeatures(Vocab(self.words.itos + added, unk=UNK), self.chars, self.counts)

    def text_lookup(self) -> TextLookup:
        return TextLookup(self)

    def frequencies(self) -> torch.Tensor:
        """(V,) float: how often each word id occurred in training (0 for specials)."""
        counts = torch.zeros(len(self.words))
        counts[[self.words.stoi[w] for w in self.counts]] = torch.tensor(
            list(self.counts.values()), dtype=torch.float
        )
        return counts

    def encode(self, tokens: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.words.encode(normalize(w) for w in tokens), torch.tensor([casing(w) for w in tokens])

    def char_ids(self, form: str) -> list[int]:
        ids = self._char_cache.get(form)
        if ids is None:
            ids = self._char_cache[form] = self.chars.encode(form).tolist()
        return ids

    def chars_of(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Distinct surface forms of a batch, each once: char ids (U, C), lengths (U,), and for every
        token of the (B, L) batch the row of its form, index (B, L) (0 at padding)."""
        rows: dict[str, int] = {}
        index = torch.zeros(len(sentences), max(len(s) for s in sentences), dtype=torch.long)
        for b, sent in enumerate(sentences):
            index[b, : len(sent)] = torch.tensor([rows.setdefault(w, len(rows)) for w in sent])
        chars, lengths = pad_batch([self.char_ids(w) for w in rows], self.chars.stoi[PAD])
        return chars, lengths, index

    def to_dict(self) -> dict:
        return {"words": self.words.to_dict(), "chars": self.chars.to_dict(), "counts": self.counts}

    @classmethod
    def from_dict(cls, d: dict) -> WordFeatures:
        return cls(Vocab.from_dict(d["words"]), Vocab.from_dict(d["chars"]), d.get("counts"))


class TextLookup:
    """Raw texts -> word ids of a tagger's vocabulary (``text_tokens``, then the lookup key): the
    tokenizer interface the word-vector builders read (``encode(texts)``, ``to_dict()``)."""

    def __init__(self, features: WordFeatures) -> None:
        self.features = features
        self.vocab = features.words  # what embeddings=file matches its vectors against

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        stoi, unk = self.features.words.stoi, self.features.unk_id
        return [[stoi.get(normalize(w), unk) for w in text_tokens(t, stoi)] for t in texts]

    def to_dict(self) -> dict:
        return {"words": self.features.words.to_dict()}


def collate(features: WordFeatures, sentences: Sequence[Sequence[str]], tags=None, encoded=None) -> tuple:
    """Token lists -> the model's batch: words, casings (B, L), lengths (B,), chars (U, C),
    char_lengths (U,), char_index (B, L), then tags (B, L) when ``tags`` (id tensors) are given.
    ``encoded``: the sentences' (word ids, casing ids) if already computed (training encodes once)."""
    encoded = encoded or [features.encode(s) for s in sentences]
    words, lengths = pad_batch([w for w, _ in encoded], features.pad_id)
    casings, _ = pad_batch([c for _, c in encoded], 0)
    chars, char_lengths, char_index = features.chars_of(sentences)
    batch = (words, casings, lengths, chars, char_lengths, char_index)
    return batch + (pad_batch(tags, 0)[0],) if tags is not None else batch
