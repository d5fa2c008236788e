"""nlprnn/allocator.py: a training step's large blocks are reused, not faulted in from the kernel anew."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None, reason="glibc only"
)

# allocate, fill and free a 64 MB tensor (above glibc's largest mmap threshold) 40 times; print the
# page faults that took and whether the thresholds were raised
CHURN = """
import resource, torch
from nlprnn.allocator import keep_freed_memory
kept = keep_freed_memory()
torch.ones(16 << 20)  # the first block is faulted in either way
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range({rounds}):
    torch.ones(16 << 20)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
ROUNDS = 40
PAGES = (64 << 20) // os.sysconf("SC_PAGE_SIZE")  # one block's pages


def churn(keep: str) -> tuple[str, int]:
    env = {**os.environ, "NLPRNN_KEEP_FREED_MEMORY": keep, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHURN.format(rounds=ROUNDS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    kept, faults = out.stdout.split()
    return kept, int(faults)


def test_freed_blocks_are_reused_without_page_faults():
    kept, faults = churn("1")
    assert kept == "True"
    # the heap still grows and shifts now and then (6-8 blocks' pages measured), never once a round
    assert faults < ROUNDS * PAGES / 4, f"{faults / PAGES:.1f} blocks faulted in over {ROUNDS} rounds"


def test_the_opt_out_leaves_malloc_as_it_was():
    kept, faults = churn("0")
    assert kept == "False"
    # what the default avoids: every round's block is faulted in anew
    assert faults > ROUNDS * PAGES * 0.9, f"{faults / PAGES:.1f} blocks faulted in over {ROUNDS} rounds"
