"""Training throughput of the translation recipe against the raw fused recurrent kernels.

    python scripts/bench_translation.py                     # recipe=translation defaults, B=100 S=16 T=17
    python scripts/bench_translation.py --json bench.json --override model.hidden_size=256

Measures, in one process on the same shapes (target tokens per second):
  raw     the fused kernels alone: bidirectional encoder RNN over (B, S, E) and decoder RNN over
          (B, T, E), forward + backward
  recipe  the trainer's own step (Trainer.train_step -> TranslationTask.train_loss) on the recipe's
          Seq2Seq, optimizer and label-smoothed loss: embeddings, packing, attention, output layer
Workloads are interleaved for --repeats rounds (see scripts/bench.py); each reports its median.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for scripts/bench.py

import argparse
import json
import tempfile

from bench import Step, _device_name, measure_all  # scripts/bench.py

CONF = Path(__file__).resolve().parents[1] / "conf"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python scripts/bench_translation.py", description=__doc__.split("\n")[0]
    )
    for name, default in [
        ("batch-size", 100),
        ("src-len", 16),
        ("tgt-len", 17),
        ("vocab", 8000),
        ("warmup", 2),
        ("iters", 3),
        ("repeats", 5),
        ("seed", 0),
    ]:
        p.add_argument(f"--{name}", type=int, default=default, help=f"default {default}")
    p.add_argument("--override", nargs="*", default=[], help="config overrides, e.g. model.cell=lstm")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, metavar="PATH")
    return p.parse_args(argv)


def recipe_config(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose("config", overrides=["recipe=translation", "trainer.progress=false", *overrides])


def raw_step(a: argparse.Namespace, device) -> Step:
    import torch

    m = recipe_config(a.override).model
    rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[m.cell]
    enc = rnn(m.emb_dim, m.encoder_hidden_size, m.encoder_layers, batch_first=True, bidirectional=True)
    dec = rnn(m.emb_dim, m.hidden_size, m.decoder_layers, batch_first=True)
    xs = torch.randn(a.batch_size, a.src_len, m.emb_dim, requires_grad=True)
    xt = torch.randn(a.batch_size, a.tgt_len, m.emb_dim, requires_grad=True)

    def step() -> None:
        (enc(xs)[0].sum() + dec(xt)[0].sum()).backward()

    return step


class FixedShapes:
    """The trainer's recipe protocol over fixed-shape random pairs: the recipe's collate and the
    model's own loss (``Seq2Seq.forward`` with ``tgt_out``), as ``recipe=translation`` trains."""

    metric, metric_mode = "val_bleu", "max"

    def __init__(self, pairs, batch_size: int, label_smoothing: float, device) -> None:
        from functools import partial

        from nlprnn.data.batching import IndexedBatches
        from nlprnn.recipes.translation import collate_pairs

        batches = [list(range(i, i + batch_size)) for i in range(0, len(pairs), batch_size)]
        self.batches = IndexedBatches(pairs, batches, partial(collate_pairs, pad_id=0))
        self.label_smoothing, self.device = label_smoothing, device

    def train_batches(self, epoch: int):
        return self.batches

    def train_loss(self, model, batch):
        src, src_lengths, tgt_in, tgt_out = (t.to(self.device) for t in batch)
        out = model(src, src_lengths, tgt_in, targets=tgt_out, label_smoothing=self.label_smoothing)
        return out.loss, int((tgt_out != 0).sum())


def recipe_step(a: argparse.Namespace, device) -> Step:
    import torch
    from hydra.utils import instantiate

    from nlprnn.training.trainer import Trainer

    cfg = recipe_config(a.override)
    model = instantiate(cfg.model, src_vocab_size=a.vocab, tgt_vocab_size=a.vocab, pad_id=0)
    gen = torch.Generator().manual_seed(a.seed)
    pairs = [
        (
            torch.randint(4, a.vocab, (a.src_len,), generator=gen).tolist(),
            torch.randint(4, a.vocab, (a.tgt_len + 1,), generator=gen).tolist(),
        )
        for _ in range(a.batch_size * 4)
    ]
    task = FixedShapes(pairs, a.batch_size, cfg.label_smoothing, device)
    trainer = Trainer(
        cfg.trainer, cfg.optimizer, model, task, tempfile.gettempdir(), {"recipe": "translation"}
    )
    batches, i = task.train_batches(0), 0

    def step() -> None:
        nonlocal i
        trainer.train_step(batches[i % len(batches)])
        i += 1

    return step


def main(argv: list[str] | None = None) -> dict:
    a = parse_args(argv)
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cpu")
    results = measure_all(
        {"raw": raw_step, "recipe": recipe_step}, a, device, tokens=a.batch_size * a.tgt_len
    )
    for r in results.values():
        r["vs_raw"] = r["tokens_per_s"] / results["raw"]["tokens_per_s"]
    report = {
        "shapes": {"B": a.batch_size, "S": a.src_len, "T": a.tgt_len, "V": a.vocab},
        "overrides": a.override,
        "model": dict(recipe_config(a.override).model),
        "device_name": _device_name(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "results": results,
    }
    print(
        f"translation B={a.batch_size} S={a.src_len} T={a.tgt_len} V={a.vocab} {a.override or ''} "
        f"({report['device_name']}, threads={report['threads']})"
    )
    print(f"{'name':<8}{'tgt tokens/s':>14}{'ms/step':>10}{'peak RSS MB':>13}{'vs raw':>8}")
    for name, r in results.items():
        print(
            f"{name:<8}{r['tokens_per_s']:>14,.0f}{r['ms_per_step']:>10.1f}{r['peak_mem_mb']:>13.0f}"
            f"{r['vs_raw']:>8.2f}"
        )
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1, default=str))
    return report


if __name__ == "__main__":
    main()
