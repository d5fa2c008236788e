"""GRU vs LSTM on small data: a learning curve on SST-2 sentences (binary sentiment).

Each seed draws its own random subset of n training sentences (the same subset for every model of
that seed, so GRU and LSTM are compared on the same data), builds the word vocabulary from that
subset only, and trains each model with early stopping on validation accuracy; the test accuracy
of the best-on-validation weights is reported. Three models: an LSTM, a GRU of the same hidden size
(3/4 of the LSTM's recurrent weights: the lecture's "fewer parameters") and a GRU widened to the
LSTM's parameter count, which separates the cell from its size.

The text helpers (``sst2_splits``, ``text_tensors``, ``TokenClassifier``, ``fit_classifier``) are
shared with the hyperparameter study.
"""

from __future__ import annotations

import random

import torch

from nlprnn.data.batching import pad_batch
from nlprnn.data.tokenizers import truncate
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.modes.run_setup import seed_everything
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    TensorRecipe,
    Verdict,
    fit,
    folder_name,
    hidden_for_budget,
    mean_sd,
    parameter_count,
    pm,
    score,
    start,
    to_device,
    write_results,
)

BETTER = Claim(
    quote="Empíricamente parece que GRU se comporta mejor con datasets pequeños",
    english="Empirically, the GRU seems to do better on small datasets",
    source="1-redes-recurrentes-etsisi.md, slide «Unidades Gated Recurrent Unit (GRU) (I)»",
)
COMPARABLE = Claim(
    quote="A menudo comparable o mejor en conjuntos de datos pequeños",
    english="(the GRU's performance) often comparable or better on small datasets; its «Comparativa» "
    "recommends the GRU for 'Datos pequeños o limitados'",
    source="4-rnn-carrillo.md, table «LSTM vs GRU», row «Rendimiento»",
)
PAD = 0  # WordTokenizer's padding id


class TokenClassifier(SequenceClassifier):
    """A SequenceClassifier fed padded token ids alone: the lengths are counted from the padding,
    so the course's TensorRecipe and ``score`` can call it as ``model(x, targets=y)``."""

    def forward(self, tokens: torch.Tensor, *, targets: torch.Tensor | None = None):
        lengths = (tokens != PAD).sum(1).clamp(min=1)
        return super().forward(tokens[:, : int(lengths.max())], lengths, targets=targets)


def make_classifier(cell: str, hidden: int, vocab_size: int, e) -> TokenClassifier:
    """A one-layer unidirectional classifier over word embeddings, ``e`` the experiment's sizes."""
    return TokenClassifier(
        vocab_size, 2, PAD, e.emb_dim, hidden, 1, cell, False, e.pooling, dropout=e.dropout
    )


def recurrent_parameters(model: TokenClassifier) -> int:
    """Parameters besides the embedding table (whose size follows the vocabulary, not the cell)."""
    return parameter_count(model) - model.embedding.weight.numel()


class AccuracyRecipe(TensorRecipe):
    """TensorRecipe whose best checkpoint and early stopping follow validation accuracy."""

    metric, metric_mode = "val_acc", "max"


def sst2_splits(cfg) -> dict[str, list[tuple[str, str]]]:
    """{train, val, test: [(text, label name)]} of the configured SST-2 files."""
    return build(cfg.data, _convert_="all").splits(cfg.seed)


def text_tensors(splits: dict, n: int | None, seed: int, e, labels: list[str]) -> tuple[dict, int]:
    """A seeded random ``n`` training texts (None: all), the word vocabulary of those alone, and
    every split as (padded ids (N, T), label ids (N,)). -> (data, vocabulary size)"""
    train = splits["train"]
    order = list(range(len(train)))
    random.Random(f"subset:{seed}").shuffle(order)
    subset = [train[i] for i in order[: n or len(train)]]
    tokenizer = WordTokenizer.build([text for text, _ in subset], min_freq=e.min_freq)
    index = {label: i for i, label in enumerate(labels)}

    def tensors(examples):
        ids = [
            truncate(i, e.max_len) or [tokenizer.unk_id] for i in tokenizer.encode([t for t, _ in examples])
        ]
        return pad_batch(ids, PAD)[0], torch.tensor([index[label] for _, label in examples])

    data = {"train": tensors(subset), "val": tensors(splits["val"]), "test": tensors(splits["test"])}
    return data, tokenizer.vocab_size


def fit_classifier(
    cfg, name: str, model, data: dict, out, seed: int, optimizer: dict | None = None, **trainer
) -> dict:
    """Train with the shared Trainer (best weights by validation accuracy; ``optimizer`` replaces
    cfg.optimizer, ``trainer`` overrides cfg.trainer) and score them.
    -> {val_acc, test_acc, val_loss, best_epoch, epochs, seconds, diverged}"""
    task = AccuracyRecipe(data["train"], data["val"], "ce", cfg.experiment.batch_size, seed)
    trained = fit(cfg, model, task, out / folder_name(name), optimizer, **trainer)
    steps_per_epoch = len(task.train_batches(0))
    curve = trained["curve"]
    best = max(curve, key=lambda r: r.get("val_acc", -1.0)) if curve else {"step": 0}
    val, test = score(model, *data["val"], "ce"), score(model, *data["test"], "ce")
    return {
        "val_acc": val["acc"],
        "test_acc": test["acc"],
        "val_loss": val["loss"],
        "best_epoch": round(best["step"] / steps_per_epoch, 2),
        "epochs": round(curve[-1]["step"] / steps_per_epoch, 2) if curve else 0.0,
        "seconds": trained["seconds"],
        "diverged": bool(trained["diverged"]),
    }


def models(e) -> dict[str, tuple[str, int]]:
    """{name: (cell, hidden size)}: LSTM, GRU of the same size, GRU with the LSTM's parameters."""
    lstm = recurrent_parameters(make_classifier("lstm", e.hidden, 2, e))
    wide = hidden_for_budget(lambda h: make_classifier("gru", h, 2, e), lstm + 2 * e.emb_dim)
    return {"LSTM": ("lstm", e.hidden), "GRU": ("gru", e.hidden), "GRU, LSTM's parameters": ("gru", wide)}


def training_sizes(e, available: int) -> tuple[list[int], list[int]]:
    """experiment.sizes (null: all) and those the verdict calls small, checked before training."""
    sizes = [n or available for n in e.sizes]
    wrong = [n for n in sizes if not 1 < n <= available]
    if wrong:
        raise UserError(f"experiment.sizes: {wrong} not between 2 and the {available:,} training texts")
    small = [n for n in sizes if n <= e.small_up_to]
    if not small:
        raise UserError(f"experiment.small_up_to={e.small_up_to}: no training size is that small")
    return sizes, small


def run(cfg) -> dict:
    e, splits = cfg.experiment, sst2_splits(cfg)
    sizes, small = training_sizes(e, len(splits["train"]))
    out, device = start(cfg)
    rows = []
    for seed in e.seeds:  # each seed: its own training subset, initial weights and batch order
        for n in sizes:
            data, vocab = text_tensors(splits, n, seed, e, list(cfg.data.labels))
            data = to_device(data, device)
            for name, (cell, hidden) in models(e).items():
                seed_everything(seed)
                model = make_classifier(cell, hidden, vocab, e).to(device)
                row = {"n": n, "model": name, "H": hidden, "seed": seed, "vocabulary": vocab}
                row["recurrent parameters"] = recurrent_parameters(model)
                row["parameters"] = parameter_count(model)
                row.update(fit_classifier(cfg, f"n={n} {name} seed {seed}", model, data, out, seed))
                print(f"n={n} {name} seed {seed}: val {row['val_acc']:.4f} test {row['test_acc']:.4f}")
                rows.append(row)
    summary, gaps = summarize(rows, sizes), compare(rows, sizes)
    findings = [(BETTER, decide_better(gaps, small)), (COMPARABLE, decide_comparable(gaps, small))]
    plot(summary, gaps, out, len(e.seeds))
    write_results(
        out,
        "GRU vs LSTM on small data: SST-2 learning curve",
        {
            "accuracy by training size": table(summary),
            "GRU minus LSTM (test accuracy)": gaps,
            "each run": rows,
        },
        {"summary": summary, "sizes": sizes},
        findings=findings,
    )
    return {"summary": summary, "gaps": gaps, "rows": rows, "findings": findings}


def accuracy_over_seeds(runs: list[dict]) -> dict:
    """Validation and test accuracy of one configuration's seeds: means, sds and "mean ± sd"."""
    val, test = (mean_sd([r[k] for r in runs]) for k in ("val_acc", "test_acc"))
    return {
        "val_acc": val[0],
        "val_sd": val[1],
        "test_acc": test[0],
        "test_sd": test[1],
        "val": pm([r["val_acc"] for r in runs]),
        "test": pm([r["test_acc"] for r in runs]),
    }


def summarize(rows: list[dict], sizes: list[int]) -> list[dict]:
    """One row per (n, model): mean and sd over the seeds of val and test accuracy."""
    summary = []
    for n in sizes:
        for name in dict.fromkeys(r["model"] for r in rows):
            runs = [r for r in rows if (r["n"], r["model"]) == (n, name)]
            summary.append(
                {
                    "n": n,
                    "model": name,
                    "H": runs[0]["H"],
                    "recurrent parameters": runs[0]["recurrent parameters"],
                    "parameters": round(mean_sd([r["parameters"] for r in runs])[0]),
                    **accuracy_over_seeds(runs),
                    "best epoch": pm([r["best_epoch"] for r in runs], 3),
                    "seconds": sum(r["seconds"] for r in runs),
                    "seeds": len(runs),
                }
            )
    return summary


TABLE_COLUMNS = (
    "n",
    "model",
    "H",
    "recurrent parameters",
    "parameters",
    "val",
    "test",
    "best epoch",
    "seconds",
)


def table(summary: list[dict]) -> list[dict]:
    return [{k: s[k] for k in TABLE_COLUMNS} for s in summary]


def compare(rows: list[dict], sizes: list[int]) -> list[dict]:
    """Each GRU against the LSTM at each n: the test-accuracy gap (same seed, same subset), the
    larger seed sd of the two, and the call: a gap beyond that sd decides, else a tie."""
    gaps = []
    for n in sizes:
        lstm = {r["seed"]: r["test_acc"] for r in rows if (r["n"], r["model"]) == (n, "LSTM")}
        for name in dict.fromkeys(r["model"] for r in rows if r["model"] != "LSTM"):
            gru = {r["seed"]: r["test_acc"] for r in rows if (r["n"], r["model"]) == (n, name)}
            diffs = [gru[s] - lstm[s] for s in lstm]
            gap, noise = mean_sd(diffs)[0], max(mean_sd(gru.values())[1], mean_sd(lstm.values())[1])
            call = "GRU better" if gap > noise else "LSTM better" if gap < -noise else "tie"
            gaps.append(
                {"n": n, "GRU": name, "gap": gap, "gap_sd": mean_sd(diffs)[1], "seed sd": noise, "call": call}
            )
    return gaps


def evidence(gaps: list[dict], small: list[int]) -> str:
    """The gaps a verdict rests on, in words: each small n, all the data, and the matched GRU."""
    same = {g["n"]: g for g in gaps if g["GRU"] == "GRU"}
    matched = {g["n"]: g for g in gaps if g["GRU"] != "GRU"}

    def said(g: dict) -> str:
        return f"n={g['n']:,}: {100 * g['gap']:+.1f} points (seed sd {100 * g['seed sd']:.1f}, {g['call']})"

    return (
        "GRU minus LSTM test accuracy at the same hidden size, "
        + "; ".join(said(same[n]) for n in small)
        + f"; at the largest size, {said(same[max(same)])}. The GRU with the LSTM's parameters: "
        + "; ".join(said(matched[n]) for n in small)
        + "."
    )


def calls(gaps: list[dict], small: list[int]) -> list[str]:
    """The same-size GRU's call against the LSTM at each small n."""
    same = {g["n"]: g["call"] for g in gaps if g["GRU"] == "GRU"}
    return [same[n] for n in small]


def decide_better(gaps: list[dict], small: list[int]) -> Verdict:
    """ "GRU better on small data": agrees when the GRU wins (gap beyond the seed sd) at every
    small n, disagrees when it wins at none, depends otherwise."""
    wins = calls(gaps, small).count("GRU better")
    word = "agrees" if wins == len(small) else "disagrees" if not wins else "depends"
    return Verdict(word, f"The GRU is better at {wins} of {len(small)} small sizes. " + evidence(gaps, small))


def decide_comparable(gaps: list[dict], small: list[int]) -> Verdict:
    """ "comparable or better on small data": agrees when the LSTM wins at no small n, disagrees
    when it wins at every one, depends otherwise."""
    losses = calls(gaps, small).count("LSTM better")
    word = "agrees" if not losses else "disagrees" if losses == len(small) else "depends"
    return Verdict(
        word, f"The LSTM is better at {losses} of {len(small)} small sizes. " + evidence(gaps, small)
    )


def plot(summary: list[dict], gaps: list[dict], out, seeds: int) -> None:
    names = list(dict.fromkeys(s["model"] for s in summary))

    def series(key: str) -> dict:
        return {
            name: tuple(
                list(v)
                for v in zip(
                    *[(s["n"], s[key], s[key.replace("acc", "sd")]) for s in summary if s["model"] == name]
                )
            )
            for name in names
        }

    line_plot(
        series("test_acc"),
        out / "test_accuracy.png",
        "training sentences (log scale)",
        "test accuracy",
        f"SST-2: test accuracy vs training size (mean ± sd of {seeds} seeds)",
        logx=True,
    )
    line_plot(
        {
            name: tuple(
                list(v)
                for v in zip(*[(g["n"], 100 * g["gap"], 100 * g["gap_sd"]) for g in gaps if g["GRU"] == name])
            )
            for name in dict.fromkeys(g["GRU"] for g in gaps)
        },
        out / "gru_minus_lstm.png",
        "training sentences (log scale)",
        "test accuracy: GRU minus LSTM (points)",
        f"SST-2: GRU minus LSTM, same subsets and seeds (mean ± sd of {seeds} paired differences)",
        logx=True,
        hline=(0.0, "no difference"),
    )


MODES = {"train": run}
