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
have one shape, so every step's blocks fit the last step's holes, and Multi30k translation (1.12x,
whole runs peaked at 1.16 GB). Where shapes vary more they need not fit: an IMDB run with it on from
its start peaked at 3.9 GB, so the other recipes and datasets leave malloc as it is.
``NLPRNN_KEEP_FREED_MEMORY=0`` turns it off everywhere; elsewhere than glibc it does nothing.

The opposite, for runs whose shapes vary: ``trainer.release_freed_memory`` (IMDB) hands the freed
pages inside the heap back to the system (``malloc_trim``) after every training step and every batch
a Classifier scores. Blocks below 32 MiB come from the heap, and batches of varying lengths leave
holes there that the next batch's blocks do not fit, so the heap grows: an IMDB run's RSS climbed to
2.9 GB in 300 steps and the test scoring. Trimmed, it stays near the memory in use, at no measured
cost in speed (a fixed low mmap threshold bounds it too, but ran 1.9x slower). The same key caps
oneDNN's kernel cache (``limit_kernel_cache``): one kernel and its buffers per input shape, 1,024
shapes kept by default, memory that no trim can give back; ``mode=evaluate`` caps it too for a
checkpoint trained with the key (recipes/sentiment/README.md, "Memory of an IMDB run").
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
    if os.environ.get("NLPRNN_KEEP_FREED_MEMORY", "1") == "0":
        return False
    mallopt = _libc_function("mallopt", [ctypes.c_int, ctypes.c_int])
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))


_trim = None  # glibc's malloc_trim, once release_freed_memory() was called
KERNEL_CACHE = 64  # oneDNN kernels kept, one per input shape (oneDNN's own default: 1,024)


def release_freed_memory() -> bool:
    """From now on, ``tidy()`` hands freed heap pages back to the system, and oneDNN keeps at most
    KERNEL_CACHE shapes' kernels; True where malloc can trim."""
    global _trim
    limit_kernel_cache()
    _trim = _malloc_trim()
    return _trim is not None


def limit_kernel_cache(capacity: int = KERNEL_CACHE) -> None:
    """oneDNN, which runs torch's CPU LSTM, GRU and convolution, builds a kernel for each input shape
    and keeps the last 1,024 with their buffers: memory that grows with every new batch shape. It
    reads the limit once, when it builds its first kernel, so this must come before the model's first
    forward; a limit the user set (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``) wins."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


def tidy() -> None:
    """Call between batches: returns the heap's free pages to the system after release_freed_memory()."""
    if _trim is not None:
        _trim(0)


def _malloc_trim():
    """glibc's malloc_trim, or None (another libc, another system)."""
    return _libc_function("malloc_trim", [ctypes.c_size_t])


def _libc_function(name: str, argtypes: list):
    """The C library's function ``name`` (returning int), or None off Linux or where the libc lacks it
    (musl has neither mallopt nor malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = argtypes, ctypes.c_int
    return function
