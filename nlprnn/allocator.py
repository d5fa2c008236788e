"""Keep freed memory in the process for reuse, instead of handing it back to the system at every step.

glibc's malloc serves each allocation larger than its mmap threshold (at most 32 MiB) with fresh
pages from the kernel and unmaps them on free. An RNN's training step allocates such blocks
(the char LM's gate activations are 52 MB a layer) and frees them again, every step: each page of
each block is then faulted in and zeroed anew, about 100 million page faults in one char LM run,
15% of its CPU time spent in the kernel. Raising the thresholds makes malloc reuse those blocks:
the char LM's training step runs 1.25x (one thread) to 1.28x (two) as many tokens a second
(scripts/bench.py; recipes/char_lm/README.md, "Throughput"), for 0.15-0.3 GB more peak memory. It
changes no result, only where the memory comes from.

The trainer asks for it where ``trainer.keep_freed_memory`` is true: the char LM, whose batches all
have one shape, so every step's blocks fit the last step's holes. Where shapes vary (padded
sentences, reviews) they need not: an IMDB run with it on from its start peaked at 3.9 GB (why was not
studied), so the other recipes leave malloc as it is. ``NLPRNN_KEEP_FREED_MEMORY=0`` turns it off
everywhere; elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (<malloc.h>)
THRESHOLD = 1 << 30  # 1 GiB: blocks below it come from the heap, and up to it stays kept when freed

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Raise malloc's mmap and trim thresholds once per process; True if they are raised."""
    global _applied
    if _applied is None:
        _applied = _raise_thresholds()
    return _applied


def _raise_thresholds() -> bool:
    if os.environ.get("NLPRNN_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))
