"""Throughput of the char_lm recipe's training step against the raw fused RNN kernel.

    python scripts/bench.py                      # recipe shapes: B64 T100 E64 H512 L2 lstm, V66
    python scripts/bench.py --cell gru --inference --json bench.json
    python scripts/bench.py --batch-size 2 --bptt 5 --emb-dim 4 --hidden-size 8 --iters 1

Measures, in one process on the same shapes:
  raw        nn.LSTM/GRU/RNN forward + backward of out.sum() on a random (B, T, E) input
  recipe     the trainer's own step on conf/recipe/char_lm.yaml's model and optimizer: token
             batches, carried detached state, cross-entropy, backward, clipping, AdamW, schedule
  inference  (--inference) forward only in torch.inference_mode, state carried
Workloads are interleaved for --repeats rounds of --iters steps; each reports its median
tokens/s (B*T*iters / elapsed), ms/step, peak memory and its ratio to raw.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

Step = Callable[[], None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python scripts/bench.py", description=__doc__.split("\n")[0])
    for name, default in [
        ("batch-size", 64),
        ("bptt", 100),
        ("emb-dim", 64),
        ("hidden-size", 512),
        ("num-layers", 2),
        ("vocab", 66),
        ("warmup", 3),
        ("iters", 5),
        ("repeats", 5),
        ("seed", 0),
    ]:
        p.add_argument(f"--{name}", type=int, default=default, help=f"default {default}")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
    p.add_argument("--dropout", type=float, default=0.1, help="recipe model dropout (default 0.1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--inference", action="store_true", help="also time forward-only inference")
    p.add_argument(
        "--system-malloc",
        action="store_true",
        help="leave malloc's thresholds as glibc sets them (nlprnn/allocator.py), to measure what they give",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="write all numbers to PATH")
    return p.parse_args(argv)


# ---- the three workloads: each builds its objects and returns one step ------------------------
def raw_step(a: argparse.Namespace, device) -> Step:
    import torch

    rnn = getattr(torch.nn, a.cell.upper())(a.emb_dim, a.hidden_size, a.num_layers, batch_first=True).to(
        device
    )
    # the input needs a gradient, as the recipe's embedding output does
    x = torch.randn(a.batch_size, a.bptt, a.emb_dim, device=device, requires_grad=True)

    def step() -> None:
        rnn.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = rnn(x)
        out.sum().backward()

    return step


def _recipe_config(a: argparse.Namespace):
    """conf/ + recipe=char_lm with the benchmark's shapes: the optimizer, clipping and schedule
    are the recipe's own."""
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    conf = Path(__file__).resolve().parents[1] / "conf"
    overrides = [
        f"model.{k}={v}"
        for k, v in [
            ("emb_dim", a.emb_dim),
            ("hidden_size", a.hidden_size),
            ("num_layers", a.num_layers),
            ("cell", a.cell),
            ("dropout", a.dropout),
        ]
    ]
    overrides += [f"batching.batch_size={a.batch_size}", f"batching.bptt={a.bptt}", "trainer.progress=false"]
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        return compose("config", overrides=["recipe=char_lm", *overrides])


def _model_and_batches(a: argparse.Namespace, device, steps: int):
    """The char_lm recipe built (public ``CharLM.build``) on random text over V-1 characters
    (the vocabulary adds <unk>): its model, and its own batches of the BPTT grid."""
    import random
    import tempfile

    from nlprnn.recipes.char_lm import CharLM

    cfg = _recipe_config(a)
    rng = random.Random(a.seed)
    alphabet = [chr(33 + i) for i in range(a.vocab - 1)]
    text = "".join(rng.choice(alphabet) for _ in range(a.batch_size * (steps * a.bptt + 1)))
    task = CharLM(cfg, device)
    with tempfile.TemporaryDirectory() as out, _quiet():
        model, _ = task.build({"train": text, "val": text[:100]}, Path(out))
    return cfg, model.to(device), task


def _quiet():
    import contextlib
    import io

    return contextlib.redirect_stdout(io.StringIO())


def recipe_step(a: argparse.Namespace, device) -> Step:
    """The trainer's own step (Trainer.train_step -> CharLM.train_loss): batches from the
    BPTT grid, carried state, cross-entropy, backward, clipping, optimizer and schedule."""
    import tempfile

    from nlprnn.training.trainer import Trainer

    cfg, model, task = _model_and_batches(a, device, a.warmup + a.iters)
    trainer = Trainer(
        cfg.trainer, cfg.optimizer, model, task, tempfile.gettempdir(), extra={"recipe": "char_lm"}
    )
    batches = task.train_batches(0)
    i = 0

    def step() -> None:
        nonlocal i
        trainer.train_step(batches[i % len(batches)])
        i += 1

    return step


def inference_step(a: argparse.Namespace, device) -> Step:
    import torch

    _, model, task = _model_and_batches(a, device, a.warmup + a.iters)
    batches = task.train_batches(0)
    model.eval()
    i, hidden = 0, None

    def step() -> None:
        nonlocal i, hidden
        with torch.inference_mode():
            x, _ = batches[i % len(batches)]
            hidden = model(x.to(device, non_blocking=True), state=hidden).state
        i += 1

    return step


# ---- measuring -----------------------------------------------------------------------------------
def _peak_mb(device, reset: bool = False) -> tuple[float, bool]:
    """Peak memory so far in MB (optionally first starting a new window), and whether the
    window could be reset."""
    import torch

    if device.type == "cuda":
        if reset:
            torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.max_memory_allocated(device) / 2**20, True
    ok = True
    if reset:
        try:  # Linux: "5" resets the process peak RSS (VmHWM, which ru_maxrss reads)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False  # the peak then also covers everything that ran before
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, ok  # KiB on Linux


def prepare(build: Callable[..., Step], a: argparse.Namespace, device) -> tuple[Step, dict]:
    """Build one workload and run its warmup steps; returns the step and its memory so far."""
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    torch.manual_seed(a.seed)
    base, reset = _peak_mb(device, reset=True)
    step = build(a, device)
    for _ in range(a.warmup):
        step()
    peak, _ = _peak_mb(device)
    return step, {"base": base, "peak_mem_mb": peak, "peak_reset": reset, "rates": []}


def time_round(step: Step, a: argparse.Namespace, device, r: dict, tokens: int) -> None:
    """Time ``iters`` steps and append the tokens/s to ``r["rates"]``; track peak memory."""
    import torch

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    _peak_mb(device, reset=True)
    sync()
    t0 = time.perf_counter()
    for _ in range(a.iters):
        step()
    sync()
    r["rates"].append(tokens * a.iters / (time.perf_counter() - t0))
    r["peak_mem_mb"] = max(r["peak_mem_mb"], _peak_mb(device)[0])


def measure_all(builds: dict[str, Callable[..., Step]], a: argparse.Namespace, device, tokens: int) -> dict:
    """Interleave the workloads for ``repeats`` rounds and keep each one's median tokens/s:
    machine load drifts over time, so ratios are only meaningful between numbers taken together,
    and the median of interleaved rounds is robust to a burst of load in one of them."""
    prepared = {name: prepare(build, a, device) for name, build in builds.items()}
    for _ in range(a.repeats):
        for step, r in prepared.values():
            time_round(step, a, device, r, tokens)
    results = {}
    for name, (_, r) in prepared.items():
        rate = statistics.median(r["rates"])
        results[name] = {
            "tokens_per_s": rate,
            "ms_per_step": 1000 * tokens / rate,
            "rounds_tokens_per_s": r["rates"],
            "peak_mem_mb": r["peak_mem_mb"],
            "mem_growth_mb": r["peak_mem_mb"] - r["base"],
            "peak_reset": r["peak_reset"],
        }
    return results


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "cpu"


def print_table(report: dict[str, Any]) -> None:
    s, mem = report["shapes"], report["memory_kind"]
    print(
        f"{s['cell']} B={s['B']} T={s['T']} E={s['E']} H={s['H']} L={s['L']} V={s['V']}  "
        f"{report['device']} ({report['device_name']}), threads={report['threads']}, "
        f"torch {report['torch']}, "
        f"malloc keeps freed memory: {'yes' if report['keeps_freed_memory'] else 'no'}"
    )
    mem_col = "peak RSS MB" if mem.startswith("cpu") else "CUDA peak MB"
    print(f"{'name':<10}{'tokens/s':>12}{'ms/step':>10}{mem_col:>14}{'vs raw':>8}")
    for name, r in report["results"].items():
        print(
            f"{name:<10}{r['tokens_per_s']:>12,.0f}{r['ms_per_step']:>10.2f}"
            f"{r['peak_mem_mb']:>14.1f}{r['vs_raw']:>8.2f}"
        )
    if not all(r["peak_reset"] for r in report["results"].values()):
        mem += " (peak could not be reset: each line includes the ones above it)"
    print(f"memory: {mem}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    a = parse_args(argv)
    import torch

    from nlprnn.allocator import keep_freed_memory

    if a.system_malloc:  # before the Trainer asks for it; a process that already kept memory still does
        os.environ["NLPRNN_KEEP_FREED_MEMORY"] = "0"
    keeps_freed_memory = keep_freed_memory()

    if a.threads:
        torch.set_num_threads(a.threads)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch.cuda.is_available() is False")
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    builds = {"raw": raw_step, "recipe": recipe_step}
    if a.inference:
        builds["inference"] = inference_step
    results = measure_all(builds, a, device, tokens=a.batch_size * a.bptt)
    for r in results.values():
        r["vs_raw"] = r["tokens_per_s"] / results["raw"]["tokens_per_s"]
    report = {
        "shapes": {
            "B": a.batch_size,
            "T": a.bptt,
            "E": a.emb_dim,
            "H": a.hidden_size,
            "L": a.num_layers,
            "V": a.vocab,
            "cell": a.cell,
            "dropout": a.dropout,
        },
        "warmup": a.warmup,
        "iters": a.iters,
        "repeats": a.repeats,
        "seed": a.seed,
        "torch": torch.__version__,
        "device": str(device),
        "device_name": _device_name(device),
        "threads": torch.get_num_threads(),
        "keeps_freed_memory": keeps_freed_memory,
        "memory_kind": (
            "cuda: torch.cuda.max_memory_allocated during the measurement"
            if cuda
            else "cpu: process peak RSS (getrusage ru_maxrss) during the measurement"
        ),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": results,
        "ratio_recipe_vs_raw": results["recipe"]["vs_raw"],
    }
    print_table(report)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
