"""Lines in, lines out, whatever the bytes: the plumbing of the command line's inference modes.

Only ``\n`` ends a line (``\r``, NUL, a BOM and other control characters stay inside it), so the
i-th output always answers the i-th input; non-UTF-8 input, a line over ``max_chars``, a closed stdin
and an unwritable or full output become one-line UserErrors naming the line or file. An output file
is written whole or not at all (a temporary file renamed on success), and never over the input, a
checkpoint or a file of a run directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from nlprnn.atomic import atomic_path
from nlprnn.errors import UserError

MAX_CHARS = 100_000  # the longest input line the inference modes accept (config key max_chars)
RUN_MARKERS = ("best.pt", "last.pt")  # a folder holding one of these is a run directory


def read_lines(path: str | None = None, max_chars: int = MAX_CHARS) -> Iterator[str]:
    """The lines of the UTF-8 file ``path`` (None or "-": stdin, read as it arrives), without "\\n".
    A line over ``max_chars`` characters is an error, found after reading at most 4 bytes a character:
    memory stays bounded whatever arrives."""
    name = f"input={path}" if path not in (None, "-") else "stdin"
    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.closed:
            raise UserError("stdin is closed: pass text=... or input=FILE")
        source = getattr(sys.stdin, "buffer", sys.stdin)
    else:
        try:
            source = open(path, "rb")
        except OSError as exc:
            raise UserError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    try:
        yield from _decoded(_bounded_lines(source, name, max_chars), name, max_chars)
    except OSError as exc:
        raise UserError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    finally:
        if source is not getattr(sys.stdin, "buffer", sys.stdin):
            source.close()


def _bounded_lines(source, name: str, max_chars: int) -> Iterator[bytes | str]:
    """Lines split on "\\n" only (binary readline), none read past ``max_chars`` (4 UTF-8 bytes each)."""
    limit = 4 * max_chars + 1  # the longest allowed line in bytes, with its "\\n"
    number = 0
    while raw := source.readline(limit):
        number += 1
        if len(raw) == limit and not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
            raise _too_long(name, number, max_chars)
        yield raw


def _too_long(name: str, number: int, max_chars: int) -> UserError:
    return UserError(
        f"{name}, line {number}: longer than max_chars={max_chars} characters; split the text "
        "into lines or raise max_chars"
    )


def _decoded(lines: Iterable[bytes | str], name: str, max_chars: int = MAX_CHARS) -> Iterator[str]:
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{name}, line {number}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                ) from None
        line = raw[:-1] if raw.endswith("\n") else raw
        if len(line) > max_chars:
            raise _too_long(name, number, max_chars)
        yield line


def check_output(path: str | None, inputs: Iterable[str | Path] = (), ckpt: str | None = None) -> None:
    """Refuse an ``output=`` that would destroy a file the command was not asked to create: one of
    its ``inputs``, a checkpoint (``ckpt`` or any ``.pt``), or an existing file of a run directory."""
    if not path:
        return
    target = Path(path)
    for source in inputs:
        if source not in (None, "-") and _same_file(target, Path(source)):
            raise UserError(f"output={path} is also the input {source}: write the output to another file")
    ckpt_file = Path(ckpt) / "best.pt" if ckpt and Path(ckpt).is_dir() else Path(ckpt or "")
    if target.suffix in (".pt", ".pth") or (ckpt and _same_file(target, ckpt_file)):
        raise UserError(f"output={path} is a checkpoint's name; write the output to a .txt or .json file")
    run = next((d for d in (target.parent, target.parent.parent) if _is_run_dir(d)), None)
    if run is not None and target.exists():
        raise UserError(f"output={path} would overwrite a file of the run in {run}; choose a new file name")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _is_run_dir(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RUN_MARKERS)


@contextmanager
def open_output(path: str | None = None) -> Iterator[TextIO]:
    """``path`` written as UTF-8 (None: stdout); a missing folder or a full disk -> UserError.
    The file appears only when the block ends without an error: a failed run leaves an existing
    file as it was. A closed pipe downstream (``| head``) raises BrokenPipeError for the caller."""
    name = f"output={path}" if path else "stdout"
    try:
        if path:
            with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as dst:
                yield dst
        elif sys.stdout is None or sys.stdout.closed:
            raise UserError("stdout is closed: pass output=FILE")
        else:
            yield sys.stdout
            sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UserError(f"{name}: cannot write it ({exc.strerror or exc})") from None
