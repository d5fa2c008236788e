"""Truncated BPTT on the char LM, with the recipe's own code (``CharLM``) in each run.

- stateful vs stateless: at the same window, one run carries the (detached) state from each
  window into the next, so the model reads context across window edges even though gradients
  stop there; the other starts every window from zeros (and is scored the same way).
- the window length: gradients flow back at most ``bptt`` characters; longer windows mean fewer,
  larger updates for the same characters read.

Every run reads the same number of training characters; validation nats/char, time and speed.
"""

from __future__ import annotations

import time

import torch
from omegaconf import OmegaConf

from nlprnn.modes.splits import load_splits
from nlprnn.plotting import line_plot
from nlprnn.recipes.char_lm import CharLM
from nlprnn.recipes.course.experiment import Claim, Verdict, fit, start, write_results

CLAIM = Claim(
    quote="normalmente se fija una ventana temporal de pasos de tiempo y no se propaga el error más "
    "(retropropagación truncada en el tiempo). El estado de la red sí se puede pasar de forma continua de "
    "un batch al siguiente y, por tanto, la red lleva la cuenta de lo que ha ocurrido hace mucho.",
    english="the error is propagated back through a fixed window only (truncated BPTT), but the state can "
    "be passed on from one batch to the next, so the network keeps track of what happened long ago",
    source="5-redes-recurrentes-ii.md, «Retropropagación a lo largo del tiempo»",
)


def verdict(rows: list[dict], e) -> Verdict:
    """Stateful against stateless at the same window and updates, on validation nats/char."""
    by = {r["run"]: r for r in rows}
    carried = by.get(f"stateful bptt={e.stateless_bptt}")
    blank = by[f"stateless bptt={e.stateless_bptt}"]
    if carried is None:
        return Verdict("depends", f"no stateful run with bptt={e.stateless_bptt} to compare with")
    val, test = "best val nats/char", "test nats/char"
    gain = blank[val] - carried[val]
    said = (
        f"at bptt={e.stateless_bptt} and {carried['updates']:,} updates, carrying the state gives "
        f"{carried[val]:.3f} val nats/char against {blank[val]:.3f} from a blank state ({gain:+.3f}; "
        f"test {carried[test]:.3f} vs {blank[test]:.3f}; one seed)."
    )
    return Verdict("agrees" if gain > 0 else "disagrees", said)


def variants(e) -> dict[str, dict]:
    """{run name: batching overrides}."""
    runs = {f"stateful bptt={b}": {"bptt": b, "stateful": True} for b in e.bptts}
    runs[f"stateless bptt={e.stateless_bptt}"] = {"bptt": e.stateless_bptt, "stateful": False}
    return runs


def train_variant(cfg, name: str, batching: dict, splits: dict, out, device) -> tuple[dict, list]:
    e = cfg.experiment
    run_cfg = OmegaConf.merge(cfg, {"batching": batching})
    steps = max(1, e.train_chars // (run_cfg.batching.batch_size * run_cfg.batching.bptt))
    recipe = CharLM(run_cfg, device)
    folder = out / name.replace(" ", "_").replace("=", "")
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # every run starts from the same weights
    model, extra = recipe.build(splits, folder)
    trained = fit(
        run_cfg,
        model.to(device),
        recipe,
        folder,
        extra={**extra, "recipe": "char_lm"},  # a char_lm checkpoint: recipe=char_lm modes load it
        max_steps=steps,
        eval_every=max(1, steps // e.evals),
    )
    start_time = time.perf_counter()
    test = recipe.nats_per_char(model, recipe.ids["test"], run_cfg.batching.bptt)
    curve = trained["curve"]
    row = {
        "run": name,
        "updates": curve[-1]["step"],
        "chars read": round(curve[-1]["train_tok_s"] * curve[-1]["train_seconds"]),  # the trainer's count
        "best val nats/char": min(r["val_loss"] for r in curve),
        "test nats/char": test,
        "train chars/s": curve[-1]["train_tok_s"],
        "seconds": trained["seconds"] + time.perf_counter() - start_time,
    }
    return row, curve


def run(cfg) -> dict:
    out, device = start(cfg)
    splits = load_splits(cfg.data, cfg.seed)
    rows, curves = [], {}
    for name, batching in variants(cfg.experiment).items():
        row, curves[name] = train_variant(cfg, name, batching, splits, out, device)
        rows.append(row)
    chars = lambda name, r: r["step"] * cfg.batching.batch_size * variants(cfg.experiment)[name]["bptt"]  # noqa: E731
    line_plot(
        {n: ([chars(n, r) / 1e6 for r in c], [r["val_loss"] for r in c]) for n, c in curves.items()},
        out / "val_loss_vs_chars.png",
        "training characters read (millions)",
        "validation nats/char",
        title=f"char LM {cfg.model.num_layers} x {cfg.model.hidden_size} {cfg.model.cell}, {cfg.data.name}",
    )
    write_results(
        out,
        "Truncated BPTT: stateful vs stateless, and the window length",
        {"result": rows},
        findings=[(CLAIM, verdict(rows, cfg.experiment))],
    )
    return {"rows": rows, "curves": curves}


MODES = {"train": run}
