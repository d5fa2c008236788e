"""Lines in, lines out, whatever the bytes: the plumbing of the command line's inference modes.

Only ``\n`` ends a line (``\r``, NUL, a BOM and other control characters stay inside it), so the
i-th output always answers the i-th input; non-UTF-8 input, a closed stdin and an unwritable or full
output become one-line UserErrors naming the line or file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from nlprnn.errors import UserError


def read_lines(path: str | None = None) -> Iterator[str]:
    """The lines of the UTF-8 file ``path`` (None or "-": stdin, read as it arrives), without "\\n"."""
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
        yield from _decoded(source, name)
    except OSError as exc:
        raise UserError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    finally:
        if source is not getattr(sys.stdin, "buffer", sys.stdin):
            source.close()


def _decoded(source, name: str) -> Iterator[str]:
    for number, raw in enumerate(source, 1):  # binary iteration splits on b"\n" only
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{name}, line {number}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                ) from None
        yield raw[:-1] if raw.endswith("\n") else raw


@contextmanager
def open_output(path: str | None = None) -> Iterator[TextIO]:
    """``path`` written as UTF-8 (None: stdout); a missing folder or a full disk -> UserError.
    A closed pipe downstream (``| head``) raises BrokenPipeError for the caller to end quietly."""
    name = f"output={path}" if path else "stdout"
    try:
        if path:
            dst = open(path, "w", encoding="utf-8")
        elif sys.stdout is None or sys.stdout.closed:
            raise UserError("stdout is closed: pass output=FILE")
        else:
            dst = sys.stdout
        try:
            yield dst
            dst.flush()
        finally:
            if path:
                dst.close()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UserError(f"{name}: cannot write it ({exc.strerror or exc})") from None
