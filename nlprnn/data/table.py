"""Rows of a CSV, TSV or JSON-lines file, with chosen columns picked out.

Columns are named by the header (CSV/TSV with ``header=true``, JSON keys) or counted from 0.
Every malformed row stops with the file, the line number and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from nlprnn.data.user_files import read_utf8
from nlprnn.errors import UserError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".txt": "tsv"}


def table_format(path: Path, fmt: str | None) -> str:
    """``fmt`` (csv | tsv | jsonl) or the one the file's suffix implies (.gz ignored)."""
    if fmt:
        if fmt not in ("csv", "tsv", "jsonl"):
            raise UserError(f"data.format={fmt!r}: choose csv, tsv or jsonl")
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
    if fmt == "jsonl":
        return _json_rows(path, text, columns)
    # TSV: tabs only, quotes are text (a sentence may start with "); CSV: quoted fields as usual
    options = {"delimiter": ","} if fmt == "csv" else {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
    reader = csv.reader(io.StringIO(text, newline=""), **options)
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if header:
        if not rows:
            raise UserError(f"{path}: empty file (expected a header line, then rows)")
        (_, names), rows = rows[0], rows[1:]
        index = [_column_index(path, names, c) for c in columns]
        width = len(names)
    else:
        index = [_column_number(path, c) for c in columns]
        width = None
    out = []
    for lineno, row in rows:
        if (width and len(row) != width) or max(index) >= len(row):
            expected = f"{width} {fmt} columns" if width else f"at least {max(index) + 1} columns"
            raise UserError(f"{path}:{lineno}: expected {expected}, got {len(row)}: {_short(row)}")
        out.append((lineno, [row[i] for i in index]))
    return out


def filled_pairs(path, rows: list[tuple[int, list[str]]], names: tuple[str, str]) -> list[tuple[str, str]]:
    """The two chosen columns of each row, stripped; an empty one, or no rows at all, is an error
    naming the file (and line, and which of ``names`` is empty)."""
    pairs = []
    for lineno, (a, b) in rows:
        a, b = a.strip(), b.strip()
        if not a or not b:
            raise UserError(f"{path}:{lineno}: empty {names[0] if not a else names[1]}")
        pairs.append((a, b))
    if not pairs:
        raise UserError(f"{path}: no rows found")
    return pairs


def _json_rows(path: Path, text: str, columns: list[str | int]) -> list[tuple[int, list[str]]]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
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
        out.append((lineno, [_as_text(row[str(c)]) for c in columns]))
    return out


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
