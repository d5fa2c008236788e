"""Labelled texts in a table (``data=table``; SST-2 is a preset of it): rows of a CSV, TSV, JSON-lines
or ``label text`` file, with the text and label columns picked out.

Columns are named by the header (CSV/TSV with ``header=true``, JSON keys) or counted from 0. The
``label_text`` format (SST's ``stsa.binary.*``) is a label, a space, then the text: its two columns are
the label and the text whatever the column keys say. Every malformed row stops with the file, the
line number and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from nlprnn.data.files import iter_lines, iter_text_lines, read_utf8
from nlprnn.data.reader import Reader
from nlprnn.errors import UserError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".txt": "tsv"}
TABLE_FORMATS = ("csv", "tsv", "jsonl", "label_text")
Labelled = tuple[str, str]  # text, label name


def table_format(path: Path, fmt: str | None) -> str:
    """``fmt`` (one of ``TABLE_FORMATS``) or the one the file's suffix implies (.gz ignored)."""
    if fmt:
        if fmt not in TABLE_FORMATS:
            raise UserError(f"data.format={fmt!r}: choose one of {', '.join(TABLE_FORMATS)}")
        return fmt
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1] in FORMATS:
        return FORMATS[suffixes[-1]]
    raise UserError(f"{path}: cannot tell csv / tsv / jsonl from the name; set data.format")


def read_columns(
    path: str | Path, columns: list[str | int], fmt: str | None = None, header: bool = True
) -> list[tuple[int, list[str]]]:
    """[(line number, [value of each chosen column])] for every non-empty row of the file."""
    path = Path(path)
    fmt = table_format(path, fmt)
    text = read_utf8(path)
    lines = text.splitlines() if fmt in ("jsonl", "label_text") else io.StringIO(text, newline="")
    return list(iter_columns(path, lines, columns, fmt, header))


def stream_columns(
    path: str | Path, columns: list[str | int], fmt: str | None = None, header: bool = True
) -> Iterator[tuple[int, list[str]]]:
    """``read_columns`` one row at a time, the file read as a stream (``data.stream=true``)."""
    path = Path(path)
    fmt = table_format(path, fmt)
    lines = iter_lines(path) if fmt in ("jsonl", "label_text") else iter_text_lines(path)
    return iter_columns(path, lines, columns, fmt, header)


def iter_columns(
    path: Path, lines: Iterable[str], columns: list[str | int], fmt: str, header: bool
) -> Iterator[tuple[int, list[str]]]:
    """The rows of ``lines``, the text of ``path`` in format ``fmt``, as ``read_columns`` gives them."""
    if fmt == "jsonl":
        return _json_rows(path, lines, columns)
    if fmt == "label_text":
        return _label_text_rows(path, lines)
    return _csv_rows(path, lines, columns, fmt, header)


def _csv_rows(path: Path, lines: Iterable[str], columns: list[str | int], fmt: str, header: bool) -> Iterator:
    # TSV: tabs only, quotes are text (a sentence may start with "); CSV: quoted fields as usual
    options = {"delimiter": ","} if fmt == "csv" else {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
    reader = csv.reader(lines, **options)
    rows = ((reader.line_num, row) for row in reader if any(cell.strip() for cell in row))
    if header:
        first = next(rows, None)
        if first is None:
            raise UserError(f"{path}: empty file (expected a header line, then rows)")
        names = first[1]
        index = [_column_index(path, names, c) for c in columns]
        width = len(names)
    else:
        index = [_column_number(path, c) for c in columns]
        width = None
    for lineno, row in rows:
        if (width and len(row) != width) or max(index) >= len(row):
            expected = f"{width} {fmt} columns" if width else f"at least {max(index) + 1} columns"
            raise UserError(f"{path}:{lineno}: expected {expected}, got {len(row)}: {_short(row)}")
        yield lineno, [row[i] for i in index]


def filled_pairs(
    path, rows: Iterable[tuple[int, list[str]]], names: tuple[str, str]
) -> list[tuple[str, str]]:
    """The two chosen columns of each row, stripped; an empty one, or no rows at all, is an error
    naming the file (and line, and which of ``names`` is empty)."""
    return list(iter_filled_pairs(path, rows, names))


def iter_filled_pairs(path, rows: Iterable[tuple[int, list[str]]], names: tuple[str, str]) -> Iterator:
    """``filled_pairs`` one pair at a time (for streams)."""
    found = False
    for lineno, (a, b) in rows:
        a, b = a.strip(), b.strip()
        if not a or not b:
            raise UserError(f"{path}:{lineno}: empty {names[0] if not a else names[1]}")
        found = True
        yield a, b
    if not found:
        raise UserError(f"{path}: no rows found")


def _json_rows(path: Path, lines: Iterable[str], columns: list[str | int]) -> Iterator[tuple[int, list[str]]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{lineno}: not a JSON object ({exc.msg}): {line[:80]!r}") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object per line, got {line[:80]!r}")
        missing = [c for c in columns if str(c) not in row]
        if missing:
            raise UserError(
                f"{path}:{lineno}: no key {missing[0]!r} (keys: {', '.join(row)}); set the column in data.*"
            )
        yield lineno, [_as_text(row[str(c)]) for c in columns]


def _label_text_rows(path: Path, lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, [text, label]) of ``label text`` lines (blank lines skipped)."""
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            label, _, rest = line.partition(" ")
            if not rest.strip():
                raise UserError(
                    f"{path}:{lineno}: expected '<label> <text>' (data.format=label_text), got {line[:80]!r}"
                )
            yield lineno, [rest, label]


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _column_index(path: Path, names: list[str], column: str | int) -> int:
    if str(column) in names:
        return names.index(str(column))
    if isinstance(column, int) and 0 <= column < len(names):
        return column
    raise UserError(f"{path}:1: no column {column!r} in the header ({', '.join(names)})")


def _column_number(path: Path, column: str | int) -> int:
    try:
        return int(column)
    except ValueError:
        raise UserError(
            f"{path}: column {column!r} is a name, but data.header=false: give column numbers (from 0)"
        ) from None


def _short(row: list[str]) -> str:
    return repr(row)[:100]


class TableTexts(Reader):
    """``data=table``: labelled texts, one file per split (``files.train`` required; val / test
    carved from train when missing), or a hub dataset's ``text`` and ``label`` columns. ``format``:
    one for every file, or {split: format} (null: from each file's suffix). ``labels``: the class
    names in order; a file's label that is an integer i < len(labels) and not itself a name is
    ``labels[i]`` (SST-2's and IMDB's 0 / 1), every other label is kept as written."""

    columns = ("text", "label")

    def __init__(
        self,
        *args,
        text_column: str | int = "text",
        label_column: str | int = "label",
        format: str | dict | None = None,
        header: bool = True,
        labels: list[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.text_column, self.label_column, self.header = text_column, label_column, header
        self.formats = dict(format) if isinstance(format, dict) else {}
        self.format = None if isinstance(format, dict) else format
        self.labels = [str(label) for label in labels] if labels else None

    def read_file(self, path: Path, split: str = "test") -> list[Labelled]:
        fmt = self.formats.get(split, self.format)
        rows = read_columns(path, [self.text_column, self.label_column], fmt, self.header)
        return [(text, self.name_of(label)) for text, label in filled_pairs(path, rows, ("text", "label"))]

    def stream_file(self, path: Path) -> tuple[list[Path], Callable[[], Iterator[Labelled]]]:
        """The training file's examples one at a time (``data.stream=true``)."""
        columns, fmt = [self.text_column, self.label_column], self.formats.get("train", self.format)

        def examples() -> Iterator[Labelled]:
            rows = stream_columns(path, columns, fmt, self.header)
            for text, label in iter_filled_pairs(path, rows, ("text", "label")):
                yield text, self.name_of(label)

        return [path], examples

    def from_rows(self, rows: list[tuple]) -> list[tuple[str, str]]:
        return [(str(text).strip(), self.name_of(str(label))) for text, label in rows]

    def name_of(self, label: str) -> str:
        """A label as written, or ``labels[i]`` for a label that is the integer i (see the class)."""
        if self.labels and label not in self.labels and label.isdigit() and int(label) < len(self.labels):
            return self.labels[int(label)]
        return label
