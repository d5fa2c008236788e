"""CoNLL column files (one token per line, blank lines between sentences) and IOB tag schemes.

IOB2: every entity starts with B-TYPE, continues with I-TYPE.  IOB1: entities are I-TYPE throughout,
and B-TYPE appears only to start an entity right after another of the same type. The toolkit works
in IOB2 (what seqeval expects); ``to_iob2`` converts either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from nlprnn.data.files import read_utf8
from nlprnn.data.reader import Reader
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


SCHEMES = {  # the prefixes each scheme's tags may carry
    "iob1": ("B-", "I-"),
    "iob2": ("B-", "I-"),
    "iobes": ("B-", "I-", "E-", "S-"),
    "bilou": ("B-", "I-", "L-", "U-"),
    "bio": ("B-", "I-"),  # another name of iob2, common in other toolkits
}
_AS_IOB = {"E-": "I-", "S-": "B-", "L-": "I-", "U-": "B-"}  # end / single (unit) -> inside / begin


def to_iob2(tags: list[str], scheme: str) -> list[str]:
    """Tags of any scheme in ``SCHEMES`` as IOB2. For IOB2 input this changes nothing but an I-X
    that opens an entity (invalid IOB2), which becomes B-X, as seqeval itself would read it."""
    if scheme not in SCHEMES:
        raise UserError(
            f"data.scheme={scheme!r}: the tag scheme of the files must be one of {', '.join(SCHEMES)}"
        )
    if scheme in ("iobes", "bilou"):
        tags = [t if t == "O" else _AS_IOB.get(t[:2], t[:2]) + t[2:] for t in tags]
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


def iob2_to_bilou(tags: list[str]) -> list[str]:
    """BILOU is IOBES with other letters: L-X (last) for E-X, U-X (unit) for S-X."""
    return [
        {"E-": "L-", "S-": "U-"}.get(t[:2], t[:2]) + t[2:] if t != "O" else t for t in iob2_to_iobes(tags)
    ]


def bilou_to_iob2(tags: list[str]) -> list[str]:
    return to_iob2(tags, "bilou")


TAGGINGS = {  # name -> (from IOB2, back to IOB2)
    "iob1": (iob2_to_iob1, iob1_to_iob2),
    "iob2": (lambda tags: tags, lambda tags: tags),
    "iobes": (iob2_to_iobes, iobes_to_iob2),
    "bilou": (iob2_to_bilou, bilou_to_iob2),
}
TAGGINGS["bio"] = TAGGINGS["iob2"]  # the same scheme by another name


def tagging(name: str):
    """(from IOB2, back to IOB2) converters of a tag scheme (what a tagger trains on or writes)."""
    if name not in TAGGINGS:
        raise UserError(f"tagging={name!r}: choose one of {', '.join(TAGGINGS)}")
    return TAGGINGS[name]


def _valid_tag(tag: str, scheme: str) -> bool:
    return tag == "O" or (len(tag) > 2 and tag[:2] in SCHEMES.get(scheme, ()))


def read_conll(
    path: str | Path,
    tag_column: int = -1,
    scheme: str = "iob2",
    token_column: int = 0,
    separator: str | None = None,
    comment_prefix: str | None = "#",
) -> list[Sentence]:
    """Sentences of a CoNLL file as (tokens, IOB2 tags). Columns count from 0 (-1: the last);
    ``separator``: what splits the columns (None: any run of whitespace); tags in ``scheme``
    (iob1 | iob2 (bio) | iobes | bilou), converted to IOB2.

    ``-DOCSTART-`` lines are skipped, and so are lines that start with ``comment_prefix`` and are
    not token lines (``# sent_id = 3``, but not a ``#`` token tagged O). The file's first token line
    must hold both columns, and every other one as many columns as it; a wrong column count or a
    tag the scheme does not allow stops with the file and line number.
    """
    to_iob2([], scheme)  # an unknown scheme fails here, before reading
    if token_column == tag_column:
        raise UserError(
            f"data.token_column={token_column} and data.tag_column={tag_column} are the same column: "
            "the token and its tag are two columns"
        )
    separator = {"tab": "\t", "\\t": "\t", "space": " "}.get(separator, separator)  # command-line spellings
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

    def columns(cols: list[str]) -> tuple[str, str] | None:
        """(token, tag) of a well-formed token line, else None."""
        ok = len(cols) == (width or len(cols)) and all(
            -len(cols) <= c < len(cols) for c in (tag_column, token_column)
        )
        return (cols[token_column], cols[tag_column]) if ok and _valid_tag(cols[tag_column], scheme) else None

    for lineno, line in enumerate(read_utf8(path).splitlines(), 1):
        cols = line.split(separator) if separator else line.split()
        if not line.strip():
            close()
            continue
        if cols[0] == "-DOCSTART-":
            close()
            continue
        parsed = columns(cols)
        if parsed is None and comment_prefix and line.startswith(comment_prefix):
            continue
        if width is None:
            width = len(cols)
            _check_columns(path, lineno, width, token_column, tag_column)
        if len(cols) != width:
            sep = "space" if separator is None else repr(separator)
            raise UserError(
                f"{path}:{lineno}: expected {width} {sep}-separated columns with the token in column "
                f"{token_column} and the tag in column {tag_column}, got {len(cols)}: {line!r}"
            )
        if parsed is None:
            allowed = ", ".join(p + "TYPE" for p in SCHEMES[scheme])
            raise UserError(
                f"{path}:{lineno}: tag {cols[tag_column]!r} is not O or {allowed} "
                f"(data.scheme={scheme}): {line!r}"
            )
        tokens.append(parsed[0])
        tags.append(parsed[1])
    close()
    if not sentences:
        raise UserError(f"{path}: no sentences found (expected CoNLL columns: token ... tag)")
    return sentences


def _reach(column: int) -> int:
    """The columns a line needs to have ``column`` (counted from 0, or from the end when negative)."""
    return column + 1 if column >= 0 else -column


def _check_columns(path: Path, lineno: int, width: int, token_column: int, tag_column: int) -> None:
    """The file's first token line holds the token and the tag column, two distinct ones, among its
    ``width`` columns; else an error naming the keys and the column count (not a confusing tag error)."""
    keys = {"tag_column": tag_column, "token_column": token_column}
    key = max(keys, key=lambda k: _reach(keys[k]))  # the one reaching furthest (the tag on a tie)
    need = max(_reach(tag_column), _reach(token_column), 2)
    if width < need:
        raise UserError(
            f"{path}:{lineno}: {width} column{'s' if width > 1 else ''}, but data.{key}={keys[key]} "
            f"needs at least {need} (token and tag columns)"
        )
    if token_column % width == tag_column % width:
        raise UserError(
            f"{path}:{lineno}: {width} columns, but data.token_column={token_column} and "
            f"data.tag_column={tag_column} are the same column"
        )


# abbreviations such as "U.S.", numbers such as "3,5" or "1.000", words with inner hyphens or
# apostrophes, or one punctuation mark
_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split raw text into CoNLL-style tokens: words and punctuation marks."""
    return _TOKEN.findall(text)


def token_offsets(text: str) -> list[tuple[str, int, int]]:
    """``tokenize``'s tokens with their character offsets: (token, start, end), text[start:end] == token."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def spans(tokens: Sequence[str], tags: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """Entities of an IOB2 tagging as (type, first token, last token, text)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(kind, i, j, " ".join(tokens[i : j + 1])) for kind, i, j in get_entities(list(tags))]


class ConllFiles(Reader):
    """``data=conll`` (CoNLL-2002 / 2003 are presets of it): NER sentences [(tokens, IOB2 tags)] from
    CoNLL column files (format options as in ``read_conll``), or a hub dataset's ``tokens`` and
    ``tags`` columns (tag names, or ClassLabel ids, in ``scheme``)."""

    columns = ("tokens", "tags")

    def __init__(
        self,
        *args,
        tag_column: int = -1,
        scheme: str = "iob2",
        token_column: int = 0,
        separator: str | None = None,
        comment_prefix: str | None = "#",
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.format = {
            "tag_column": tag_column,
            "scheme": scheme,
            "token_column": token_column,
            "separator": separator,
            "comment_prefix": comment_prefix,
        }

    def read_file(self, path: Path, split: str = "test") -> list[Sentence]:
        return read_conll(path, **self.format)

    def from_rows(self, rows: list[tuple]) -> list[Sentence]:
        scheme = self.format["scheme"]
        return [(list(tokens), to_iob2([str(t) for t in tags], scheme)) for tokens, tags in rows if tokens]
