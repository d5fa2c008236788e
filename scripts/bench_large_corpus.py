"""Corpora larger than memory: ``data.stream=true`` (a memory-mapped token store) against the
in-memory readers, on the default data and on a synthetic 5M-pair parallel corpus and a 1 GB text.

    taskset -c 0 env OMP_NUM_THREADS=1 python scripts/bench_large_corpus.py --work /tmp/bench \\
        [--pairs 5000000] [--small-pairs 500000] [--text-mb 1024] [--steps 100] [--json out.json]

Each row is one ``python -m nlprnn recipe=R trainer.max_steps=STEPS ...`` process, exactly what a user
runs, under ``/usr/bin/time`` for its peak RSS. Reported: the training tokens per second the
trainer measured over its steps, the seconds until data and model were ready (reading, tokenizing
into the store on a first run, opening it on a later one), the wall time and the peak RSS. The
synthetic corpus is Multi30k's training pairs drawn at random (seeded), half of them two pairs
joined, written as Moses files; the text is tiny shakespeare repeated, with its last tenth as val /
test files. The token cache goes to ``WORK/cache`` (``NLPRNN_CACHE``), emptied first, so the first
streamed run of each corpus tokenizes and the second reuses. Needs $NLPRNN_DATA.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path


def synthetic_pairs(data: Path, prefix: Path, pairs: int, seed: int = 0) -> None:
    """``pairs`` lines in PREFIX.de / PREFIX.en: Multi30k training pairs drawn at random, half of
    them two pairs joined (sentences of WMT-like length)."""
    if prefix.with_suffix(".en").is_file():
        return
    sides = [
        gzip.open(data / f"translation/multi30k/train.{lang}.gz", "rt").read().splitlines()
        for lang in ("de", "en")
    ]
    rng = random.Random(seed)
    n = len(sides[0])
    with open(prefix.with_suffix(".de"), "w") as de, open(prefix.with_suffix(".en"), "w") as en:
        for _ in range(pairs):
            picks = [rng.randrange(n) for _ in range(rng.choice((1, 2)))]
            de.write(" ".join(sides[0][i] for i in picks) + "\n")
            en.write(" ".join(sides[1][i] for i in picks) + "\n")


def big_text(data: Path, folder: Path, megabytes: int) -> dict[str, Path]:
    """train.txt of about ``megabytes`` MB (tiny shakespeare's first 90% repeated), val / test.txt its
    last tenth cut in two."""
    text = (data / "charlm/tinyshakespeare/input.txt").read_text()
    cut = int(len(text) * 0.9)
    files = {s: folder / f"{s}.txt" for s in ("train", "val", "test")}
    if not files["train"].is_file():
        files["val"].write_text(text[cut : (cut + len(text)) // 2])
        files["test"].write_text(text[(cut + len(text)) // 2 :])
        with open(files["train"], "w") as f:
            for _ in range(megabytes * 2**20 // cut + 1):
                f.write(text[:cut])
    return files


def run(name: str, work: Path, overrides: list[str]) -> dict:
    """One training process; its tokens/s, time to the first step, wall time and peak RSS."""
    out = work / "runs" / name
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "nlprnn", *overrides, f"hydra.run.dir={out}", "trainer.progress=false"]
    cmd += ["trainer.tensorboard=false"]
    rss = work / f"{name}.rss"
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    started = re.search(r"data and model ready in ([\d.]+) s", proc.stdout)
    row = {
        "run": name,
        "tok_s": metrics[-1]["train_tok_s"],
        "train_seconds": metrics[-1]["train_seconds"],
        "ready_s": float(started.group(1)) if started else None,
        "wall_s": wall,
        "peak_rss_mb": int(rss.read_text().split()[-1]) / 1024,
        "val": {k: v for k, v in metrics[-1].items() if k.startswith("val_")},
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--pairs", type=int, default=5_000_000)
    ap.add_argument("--small-pairs", type=int, default=500_000)
    ap.add_argument("--text-mb", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    data = Path(os.environ["NLPRNN_DATA"])
    work = args.work.resolve()
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "cache", ignore_errors=True)
    os.environ["NLPRNN_CACHE"] = str(work / "cache")

    start = time.perf_counter()
    big, small = work / "corpus" / f"pairs{args.pairs}", work / "corpus" / f"pairs{args.small_pairs}"
    synthetic_pairs(data, big, args.pairs)
    synthetic_pairs(data, small, args.small_pairs)
    text = big_text(data, work / "corpus", args.text_mb)
    print(f"corpora ready in {time.perf_counter() - start:.0f} s", flush=True)

    steps = [f"trainer.max_steps={args.steps}", "trainer.eval_every=null"]
    multi30k = ["recipe=translation", *steps, "data.eval_limit=200"]
    synthetic = [
        "recipe=translation",
        *steps,
        "data=parallel",
        "data.src_lang=de",
        "data.tgt_lang=en",
        f"data.files.val={data}/translation/multi30k/val",
        "data.eval_limit=200",
        f"data.files.test={data}/translation/multi30k/test_2016_flickr",
    ]
    shakespeare = ["recipe=char_lm", *steps]
    runs = [
        ("translation multi30k in memory", multi30k + ["data.stream=false"]),
        ("translation multi30k streamed (first run)", multi30k + ["data.stream=true"]),
        ("translation multi30k streamed (cached)", multi30k + ["data.stream=true"]),
        (f"translation {args.small_pairs:,} pairs in memory", synthetic + [f"data.files.train={small}"]),
        (
            f"translation {args.small_pairs:,} pairs streamed (first run)",
            synthetic + [f"data.files.train={small}", "data.stream=true"],
        ),
        (
            f"translation {args.pairs:,} pairs streamed (first run)",
            synthetic + [f"data.files.train={big}", "data.stream=true"],
        ),
        (
            f"translation {args.pairs:,} pairs streamed (cached)",
            synthetic + [f"data.files.train={big}", "data.stream=true"],
        ),
        ("char_lm tinyshakespeare in memory", shakespeare + ["data.stream=false"]),
        ("char_lm tinyshakespeare streamed (first run)", shakespeare + ["data.stream=true"]),
        ("char_lm tinyshakespeare streamed (cached)", shakespeare + ["data.stream=true"]),
        (
            f"char_lm {args.text_mb} MB text streamed (first run)",
            ["recipe=char_lm", *steps, "data=text", "data.stream=true"]
            + [f"data.files.{s}={p}" for s, p in text.items()],
        ),
        (
            f"char_lm {args.text_mb} MB text streamed (cached)",
            ["recipe=char_lm", *steps, "data=text", "data.stream=true"]
            + [f"data.files.{s}={p}" for s, p in text.items()],
        ),
    ]
    rows = [
        run(re.sub(r"\W+", "_", name).strip("_"), work, overrides) | {"name": name}
        for name, overrides in runs
    ]
    print("\n| run | tokens/s | data and model ready | wall | peak RSS |\n|---|---|---|---|---|")
    for row in rows:
        ready = f"{row['ready_s']:.0f} s" if row["ready_s"] is not None else "?"
        cells = [
            row["name"],
            f"{row['tok_s']:,.0f}",
            ready,
            f"{row['wall_s']:.0f} s",
            f"{row['peak_rss_mb']:,.0f} MB",
        ]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
