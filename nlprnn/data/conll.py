"""CoNLL column files (one token per line, blank lines between sentences) and IOB tag schemes.

IOB2: every entity starts with B-TYPE, continues with I-TYPE.  IOB1: entities are I-TYPE throughout,
and B-TYPE appears only to start an entity right after another of the same type. The toolkit works
in IOB2 (what seqeval expects); ``to_iob2`` converts either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, first_n, missing_data
from nlprnn.errors import UserError

Sentence = tuple[list[str], list[str]]  # tokens, tags


def _entity_type(tag: str) -> str | None:
    return None if tag == "O" else tag[2:]


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """An I-X that opens an entity (after O or after another type) becomes B-X."""
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("I-") and _entity_type(prev) != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def iob2_to_iob1(tags: list[str]) -> list[str]:
    """B-X stays B-X only right after an X token (two adjacent X entities); otherwise I-X."""
    out, prev = [], "O"
    for tag in tags:
        out.append("I-" + tag[2:] if tag.startswith("B-") and _entity_type(prev) != tag[2:] else tag)
        prev = tag
    return out


def to_iob2(tags: list[str], scheme: str) -> list[str]:
    """Tags of either scheme as IOB2. For IOB2 input this changes nothing but an I-X that opens an
    entity (invalid IOB2), which becomes B-X, as seqeval itself would read it."""
    if scheme not in ("iob1", "iob2"):
        raise UserError(f"data.scheme={scheme!r}: the tag scheme of the files must be iob1 or iob2")
    return iob1_to_iob2(tags)


def iob2_to_iobes(tags: list[str]) -> list[str]:
    """IOBES marks where an entity ends too: S-X a one-token entity, E-X the last token of a longer
    one. A tagger that predicts ends learns entity boundaries a little more sharply."""
    out = []
    for i, tag in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = nxt == "I-" + tag[2:]
        if tag.startswith("B-"):
            tag = tag if continues else "S-" + tag[2:]
        elif tag.startswith("I-"):
            tag = tag if continues else "E-" + tag[2:]
        out.append(tag)
    return out


def iobes_to_iob2(tags: list[str]) -> list[str]:
    """S-X -> B-X, E-X -> I-X; a predicted sequence that breaks IOBES rules still maps to IOB2."""
    return [{"S-": "B-", "E-": "I-"}.get(t[:2], t[:2]) + t[2:] if t != "O" else t for t in tags]


TAGGINGS = {"iob2": (lambda tags: tags, lambda tags: tags), "iobes": (iob2_to_iobes, iobes_to_iob2)}


def tagging(name: str):
    """(from IOB2, back to IOB2) converters of the scheme a tagger is trained on."""
    if name not in TAGGINGS:
        raise UserError(f"tagging={name!r}: choose one of {', '.join(TAGGINGS)}")
    return TAGGINGS[name]


def _valid_tag(tag: str) -> bool:
    return tag == "O" or (len(tag) > 2 and tag[:2] in ("B-", "I-"))


def read_conll(path: str | Path, tag_column: int = -1, scheme: str = "iob2") -> list[Sentence]:
    """Sentences of a CoNLL file as (tokens, IOB2 tags). ``tag_column`` counts from 0 (-1: last).

    ``-DOCSTART-`` lines are skipped. Every token line must have as many columns as the file's
    first one; a wrong column count or a tag that is not O / B-X / I-X stops with the file and
    line number.
    """
    path = Path(path)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    width = None

    def close() -> None:
        if tokens:
            sentences.append((tokens.copy(), to_iob2(tags, scheme)))
            tokens.clear()
            tags.clear()

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    for lineno, line in enumerate(lines, 1):
        cols = line.split()
        if not cols:
            close()
            continue
        if cols[0] == "-DOCSTART-":
            close()
            continue
        width = width or len(cols)
        if len(cols) != width or not -width <= tag_column < width:
            raise UserError(
                f"{path}:{lineno}: expected {width} space-separated columns (token ... tag) with the tag "
                f"in column {tag_column}, got {len(cols)}: {line!r}"
            )
        tag = cols[tag_column]
        if not _valid_tag(tag):
            raise UserError(f"{path}:{lineno}: tag {tag!r} is not O, B-TYPE or I-TYPE: {line!r}")
        tokens.append(cols[0])
        tags.append(tag)
    close()
    if not sentences:
        raise UserError(f"{path}: no sentences found (expected CoNLL columns: token ... tag)")
    return sentences


# abbreviations such as "U.S.", numbers such as "3,5" or "1.000", words with inner hyphens or
# apostrophes, or one punctuation mark
_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split raw text into CoNLL-style tokens: words and punctuation marks."""
    return _TOKEN.findall(text)


def spans(tokens: Sequence[str], tags: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """Entities of an IOB2 tagging as (type, first token, last token, text)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(kind, i, j, " ".join(tokens[i : j + 1])) for kind, i, j in get_entities(list(tags))]


class ConllDataset:
    """NER splits {train, val, test: [(tokens, IOB2 tags)]} from CoNLL ``files`` under ``dir``
    (tag in ``tag_column``, tags in ``scheme``), else from the hub dataset ``hub`` (name, config)."""

    def __init__(
        self,
        name: str,
        dir: str | None,
        files: dict[str, str],
        tag_column: int = -1,
        scheme: str = "iob2",
        hub: dict | None = None,
        train_limit: int | None = None,
        eval_limit: int | None = None,
    ) -> None:
        self.name, self.dir, self.files, self.tag_column, self.scheme = name, dir, files, tag_column, scheme
        self.hub, self.train_limit, self.eval_limit = hub, train_limit, eval_limit

    def splits(self, seed: int = 0) -> dict[str, list[Sentence]]:
        paths = {split: data_file(self.dir, rel) for split, rel in self.files.items()}
        if all(paths.values()):
            splits = {s: read_conll(p, self.tag_column, self.scheme) for s, p in paths.items()}
        else:
            splits = self._from_hub()
        return first_n(splits, self.train_limit, self.eval_limit)

    def _from_hub(self) -> dict[str, list[Sentence]]:
        missing = missing_data(f"NER data {self.name!r}", self.dir, self.files["train"])
        if not self.hub:
            raise missing
        kwargs = {"name": self.hub["config"]} if self.hub.get("config") else {}
        ds = load_from_hub(self.hub["name"], missing, **kwargs)
        names = ds["train"].features["ner_tags"].feature.names
        hub_split = {"train": "train", "val": "validation", "test": "test"}
        return {
            split: [(ex["tokens"], [names[t] for t in ex["ner_tags"]]) for ex in ds[hub] if ex["tokens"]]
            for split, hub in hub_split.items()
        }
