"""fp32 vs int8 vs ONNX Runtime fp32 vs ONNX Runtime int8: one recipe's test set, side by side.

    taskset -c 0 env OMP_NUM_THREADS=1 python scripts/bench_inference.py --recipe translation \\
        --ckpt runs/translation/RUN [--split test] [--repeats 2] [--json out.json] [-- KEY=VALUE ...]

Each measurement is one ``python -m nlprnn recipe=R mode=evaluate ckpt=RUN split=S backend=B
quantize=Q`` process, exactly what a user runs: the variants are interleaved for ``--repeats``
rounds (A B C D, A B C D) so that a change in the machine's load hits all of them alike. Reported
per variant: the seconds ``mode=evaluate`` spent scoring the split (decoding and the metric; no
model loading), the fastest run's speed-up over the first row (torch fp32, or with ``--before DIR``
the torch fp32 of an earlier checkout, e.g. ``git worktree add DIR COMMIT``), the weights' size as
stored, the process's peak RSS, and the split's metric. For char_lm, what users run is sampling, so
each variant also samples ``--generate`` characters (64 samples of the recipe's prompt, seed 1, in a
process of its own: ``Generator.predict`` timed) and reports characters per second. Extra
``KEY=VALUE`` overrides after ``--`` go to every evaluate run (e.g. ``decoding.beam_size=5``). Run
it pinned to one core on an idle machine."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

VARIANTS = {  # name -> (backend, quantize)
    "torch fp32": ("torch", "null"),
    "torch int8": ("torch", "int8"),
    "onnxruntime fp32": ("onnxruntime", "null"),
    "onnxruntime int8": ("onnxruntime", "int8"),
}
METRICS = {  # recipe -> the split's (key, label, digits) shown
    "translation": [("bleu", "BLEU", 2), ("chrf", "chrF", 2)],
    "ner": [("f1", "F1", 2)],
    "sentiment": [("accuracy", "accuracy", 2)],
    "char_lm": [("loss", "nats/char", 4)],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python scripts/bench_inference.py", description=__doc__.split("\n")[0])
    p.add_argument("--recipe", required=True, choices=sorted(METRICS))
    p.add_argument("--ckpt", required=True, help="a run directory, checkpoint or model folder")
    p.add_argument("--split", default="test")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--json", type=Path, help="also write every measurement here")
    p.add_argument("--generate", type=int, default=500, help="char_lm: characters per sample timed")
    p.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)  # one timed sampling run
    p.add_argument("--before", type=Path, help="a checkout of an earlier commit: its torch fp32 is timed too")
    p.add_argument("overrides", nargs="*", help="KEY=VALUE for every run (after --)")
    return p.parse_args(argv)


def measure(a: argparse.Namespace, variant: str, work: Path) -> dict:
    """One mode=evaluate process: its results JSON, plus its peak RSS (MB)."""
    before = variant == BEFORE
    backend, quantize = VARIANTS["torch fp32" if before else variant]
    out = work / (re.sub(r"\W+", "_", variant) + ".json")
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "nlprnn", f"recipe={a.recipe}", "mode=evaluate", f"ckpt={a.ckpt}"]
    cmd += [f"split={a.split}", f"output={out}", *a.overrides]
    cmd += [] if before else [f"backend={backend}", f"quantize={quantize}"]  # the earlier code has none
    cwd = a.before.resolve() if before else None  # run from the earlier checkout: its nlprnn is imported
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        sys.exit(f"{variant}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    results = json.loads(out.read_text())
    results.setdefault("runtime", {"weights_mb": float("nan")})  # not reported by the earlier code
    run = {"results": results, "peak_rss_mb": int(rss.group(1)) / 1024 if rss else None}
    if a.recipe == "char_lm":
        worker = [sys.executable, __file__, "--recipe", a.recipe, "--ckpt", a.ckpt, "--worker", variant]
        proc = subprocess.run([*worker, "--generate", str(a.generate)], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{variant}: sampling failed\n{proc.stderr[-2000:]}")
        run["chars_per_s"] = json.loads(proc.stdout)["chars_per_s"]
    return run


SAMPLES = 64
BEFORE = "torch fp32 before"


def sample_speed(a: argparse.Namespace) -> None:
    """The worker: load the variant, sample once to warm up, then time one call; print JSON."""
    import time

    from nlprnn import Generator

    backend, quantize = VARIANTS[a.worker]
    generator = Generator.from_checkpoint(
        a.ckpt, device="cpu", backend=backend, quantize=None if quantize == "null" else quantize
    )
    prompt = generator.config["data"].get("prompt") or "\n"
    options = {"length": a.generate, "num_samples": SAMPLES, "batch_size": SAMPLES, "seed": 1}
    generator.predict(prompt, **{**options, "length": 10})
    start = time.perf_counter()
    generator.predict(prompt, **options)
    print(json.dumps({"chars_per_s": SAMPLES * a.generate / (time.perf_counter() - start)}))


def table(a: argparse.Namespace, runs: dict[str, list[dict]]) -> str:
    metrics = METRICS[a.recipe]
    head = ["variant", f"{a.split} seconds (each run)", "speed-up", "weights MB", "peak RSS MB"]
    sampling = a.recipe == "char_lm"
    if sampling:
        head += [f"sampling chars/s ({SAMPLES} x {a.generate})", "sampling speed-up"]
        base_rate = max(r["chars_per_s"] for r in runs[a.variants[0]])
    lines = ["| " + " | ".join(head + [label for _, label, _ in metrics]) + " |"]
    lines.append("|" + "---|" * (len(head) + len(metrics)))
    base = min(r["results"][a.split]["seconds"] for r in runs[a.variants[0]])
    for variant in a.variants:
        seconds = [r["results"][a.split]["seconds"] for r in runs[variant]]
        first = runs[variant][0]
        scores = first["results"][a.split]
        cells = [
            variant,
            ", ".join(f"{s:.2f}" for s in seconds),
            f"{base / min(seconds):.2f}x",
            f"{first['results']['runtime']['weights_mb']:.1f}",
            f"{max(r['peak_rss_mb'] for r in runs[variant]):,.0f}",
        ]
        if sampling:
            rate = max(r["chars_per_s"] for r in runs[variant])
            cells += [f"{rate:,.0f}", f"{rate / base_rate:.2f}x"]
        cells += [f"{scores[key]:.{digits}f}" for key, _, digits in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    a.ckpt = str(Path(a.ckpt).resolve())  # the earlier checkout runs elsewhere
    if a.worker:
        return sample_speed(a)
    if a.before:
        if a.recipe == "char_lm":
            sys.exit("--before times mode=evaluate only; char_lm's sampling needs the current API")
        a.variants = [BEFORE, *a.variants]
    runs: dict[str, list[dict]] = {v: [] for v in a.variants}
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(a.repeats):
            for variant in a.variants:
                run = measure(a, variant, Path(work))
                runs[variant].append(run)
                seconds = run["results"][a.split]["seconds"]
                print(f"round {round_ + 1}: {variant}: {seconds:.2f} s", file=sys.stderr, flush=True)
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    print(f"{a.recipe}, ckpt={a.ckpt}, split={a.split}, OMP_NUM_THREADS={threads}, {' '.join(a.overrides)}")
    print(table(a, runs))
    if a.json:
        plain = (int, float, list, type(None))
        args = {k: v if isinstance(v, plain) else str(v) for k, v in vars(a).items()}
        a.json.write_text(json.dumps({"args": args, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
