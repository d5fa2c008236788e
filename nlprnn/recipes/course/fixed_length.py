"""The sequence length T of Keras-style fixed-length batches, measured on IMDB reviews.

Keras' recurrent layers read N x T x D batches: every text is cut or padded to one T (``pad_sequences``:
zeros before the text, the beginning of a longer text cut off). Review lengths have a long tail.

(a) The same small classifier (embedding -> one GRU/LSTM layer -> its last state -> linear, built from
    nlprnn.modules) trained at T = quantiles of the training texts' token counts: seconds per training
    epoch, the share of padding among the steps the RNN runs, validation and test accuracy.
(b) At one T: that fixed padding against packing by length (StackedRNN with ``lengths``, random or
    length-bucketed batches), bucketed batches padded only to their own longest text, and zeros after
    the text (post-padding) read without a mask. A probe then feeds one packed-trained model the same
    test texts padded to T without a mask: how far the padding moves its last state.

Every run: the same data and epochs, the best epoch by validation accuracy, the test split once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.data.batching import IndexedBatches, make_batches
from nlprnn.data.tokenizers import truncate
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.errors import UserError
from nlprnn.models.output import ModelOutput
from nlprnn.modes.splits import load_splits
from nlprnn.modules.embedding import Embedding
from nlprnn.modules.pooling import Pooling
from nlprnn.modules.rnn import StackedRNN, as_lengths
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    fit,
    folder_name,
    mean_sd,
    parameter_count,
    pm,
    start,
    write_results,
)

CLAIM = Claim(
    quote="Lo malo es que tenemos que elegir la longitud de secuencia T. No caer en la trampa de escoger "
    "la más larga: Las secuencias más cortas se rellenarán con ceros; Las más largas se truncarán "
    "(e.g. conjunto de test); Son muy raras (derroche de espacio y de tiempo)",
    english="The catch is that we must choose the sequence length T. Do not fall into the trap of "
    "picking the longest: shorter sequences get padded with zeros, longer ones truncated, and the "
    "longest are very rare (a waste of space and time).",
    source="1-redes-recurrentes-etsisi.md, slide «Un apunte las limitaciones de Keras»",
)
BATCH_CLAIM = Claim(
    quote="En Keras las SRU usan secuencias de longitud fija N x T x D [...] El código resultante es más "
    "sencillo y más rápido (operaciones en batch)",
    english="In Keras recurrent layers use fixed-length sequences N x T x D [...] The resulting code is "
    "simpler and faster (batch operations).",
    source="1-redes-recurrentes-etsisi.md, slide «Un apunte las limitaciones de Keras»",
)
CELLS = ("gru", "lstm", "rnn")
PAD = 0  # WordTokenizer's pad id: its embedding is the zero vector, the "zeros" the slide means
EVAL_BATCH = 256
SLOWER = 1.5  # the longest T "wastes time" when an epoch takes at least this many times as long
FASTER = 1.1  # one batching is faster than another when an epoch takes this many times less


@dataclass(frozen=True)
class Batching:
    """How one run turns texts (already cut to T) into batches.

    order: "random" (shuffled) or "bucketed" (``make_batches``: similar lengths together);
    width: "T" (every batch N x T, Keras) or "batch" (padded to the batch's longest text);
    side: "pre" (zeros before the text, Keras' default) or "post" (zeros after it);
    packed: pass the lengths, so the RNN skips the padding; else it reads every position."""

    name: str
    order: str
    width: str
    side: str
    packed: bool


STRATEGIES = {  # experiment.batchings picks among these for part (b); part (a) is fixed_pre
    "fixed_pre": Batching("fixed T, pre-padded (Keras)", "random", "T", "pre", False),
    "fixed_post": Batching("fixed T, post-padded, no mask", "random", "T", "post", False),
    "packed_random": Batching("packed, random batches", "random", "batch", "post", True),
    "packed_bucketed": Batching("packed, length-bucketed batches", "bucketed", "batch", "post", True),
    "bucketed_padded": Batching(
        "length-bucketed, padded to the batch's longest", "bucketed", "batch", "pre", False
    ),
}
PROBED = "packed_bucketed"  # the model whose last state the padding probe perturbs


class LastStateClassifier(nn.Module):
    """Keras' Embedding -> GRU/LSTM -> Dense on the last state. With ``lengths`` the RNN packs the batch
    and the state after each text's last real token is read; without, the state after position T-1,
    padding or not (no mask)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int, cell: str, classes: int = 2):
        super().__init__()
        self.embedding = Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.rnn = StackedRNN(emb_dim, hidden_size, cell=cell)
        self.pool = Pooling("last", hidden_size)
        self.output = nn.Linear(hidden_size, classes)

    def features(self, tokens: torch.Tensor, lengths=None) -> torch.Tensor:
        outputs, _ = self.rnn(self.embedding(tokens), lengths)
        if lengths is None:
            return outputs[:, -1]
        return self.pool(outputs, as_lengths(lengths, tokens.device))

    def forward(self, tokens: torch.Tensor, lengths=None, *, targets=None) -> ModelOutput:
        logits = self.output(self.features(tokens, lengths))
        return ModelOutput(None if targets is None else F.cross_entropy(logits, targets), logits)


# ---- data ----------------------------------------------------------------------------------------


def encoded_splits(cfg) -> tuple[dict, int]:
    """{split: (token id lists, labels (N,))} of the fixed IMDB subset, and the vocabulary size
    (the most frequent ``experiment.vocab_size`` words of the training texts)."""
    splits = load_splits(cfg.data, cfg.seed)
    names = list(cfg.data.labels)
    tokenizer = WordTokenizer.build([t for t, _ in splits["train"]], max_size=cfg.experiment.vocab_size)
    encoded = {
        split: (tokenizer.encode([t for t, _ in rows]), torch.tensor([names.index(y) for _, y in rows]))
        for split, rows in splits.items()
    }
    return encoded, tokenizer.vocab_size


_QUANTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def length_at(lengths: list[int], name, key: str) -> int:
    """T named by ``name``: median | pNN (the NN-th percentile, nearest rank) | max | a number of
    tokens; ``key`` is the config key, for the error message."""
    ordered = sorted(lengths)
    if isinstance(name, int) and not isinstance(name, bool) and name > 0:
        return name
    quantile = {"median": 50.0, "max": 100.0}.get(str(name))
    match = _QUANTILE.match(str(name))
    if match and 0 < float(match[1]) <= 100:
        quantile = float(match[1])
    if quantile is None:
        raise UserError(f"{key}: {name!r} is not a length: use median, max, pNN (e.g. p90) or a token count")
    return ordered[max(0, math.ceil(quantile / 100 * len(ordered)) - 1)]


def length_stats(lengths: list[int], width: int) -> dict:
    """What cutting and padding every text to ``width`` does: texts cut, tokens lost, padding share."""
    kept = sum(min(n, width) for n in lengths)
    return {
        "texts truncated %": 100 * sum(n > width for n in lengths) / len(lengths),
        "tokens dropped %": 100 * (1 - kept / sum(lengths)),
        "padding % of N x T": 100 * (1 - kept / (len(lengths) * width)),
    }


# ---- batches -------------------------------------------------------------------------------------


def pad_to(seqs: list[list[int]], width: int, side: str) -> torch.Tensor:
    """(B, width) ids, zeros before ("pre") or after ("post") each sequence (none longer than width)."""
    tokens = torch.full((len(seqs), width), PAD, dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            at = slice(width - len(seq), width) if side == "pre" else slice(0, len(seq))
            tokens[row, at] = torch.as_tensor(seq, dtype=torch.long)
    return tokens


class Collate:
    """Rows of (ids cut to T, label) -> (tokens, lengths or None, labels) as ``batching`` says."""

    def __init__(self, batching: Batching, length: int) -> None:
        self.batching, self.length = batching, length

    def __call__(self, rows):
        seqs, labels = zip(*rows)
        lengths = [len(s) for s in seqs]
        b = self.batching
        width = self.length if b.width == "T" else max(1, max(lengths))
        packed = torch.tensor([max(1, n) for n in lengths]) if b.packed else None
        return pad_to(list(seqs), width, b.side), packed, torch.stack(labels)


def batch_indices(batching: Batching, lengths: list[int], size: int, seed: int, epoch: int | None):
    """Index batches: one epoch's (``epoch``) or, with epoch=None, evaluation's (in length order)."""
    if batching.order == "bucketed" or epoch is None:
        return make_batches(lengths, batch_size=size, shuffle=epoch is not None, seed=seed, epoch=epoch or 0)
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
    return [chunk.tolist() for chunk in order.split(size)]


def rnn_steps(batching: Batching, length: int, batches: list[list[int]], lengths: list[int]) -> tuple:
    """(steps the RNN runs over these batches, how many of them read padding)."""
    real = sum(lengths[i] for b in batches for i in b)
    if batching.packed:
        return real, 0
    width = [length if batching.width == "T" else max(lengths[i] for i in b) for b in batches]
    steps = sum(w * len(b) for w, b in zip(width, batches))
    return steps, steps - real


class LengthRecipe:
    """The Trainer's task: one Batching of the texts cut to T; validation accuracy picks the epoch."""

    metric, metric_mode = "val_acc", "max"

    def __init__(self, batching: Batching, length: int, data: dict, batch_size: int, seed, device):
        self.batching, self.length, self.batch_size, self.seed = batching, length, batch_size, seed
        self.device, self.collate = device, Collate(batching, length)
        self.rows = {split: cut(ids, labels, length) for split, (ids, labels) in data.items()}

    def lengths(self, split: str) -> list[int]:
        return [len(ids) for ids, _ in self.rows[split]]

    def train_batches(self, epoch: int) -> IndexedBatches:
        batches = batch_indices(self.batching, self.lengths("train"), self.batch_size, self.seed, epoch)
        return IndexedBatches(self.rows["train"], batches, self.collate)

    def start_epoch(self, epoch: int) -> None:
        pass

    def train_loss(self, model, batch):
        tokens, lengths, labels = batch
        loss = model(tokens.to(self.device), lengths, targets=labels.to(self.device)).loss
        return loss, int((tokens != PAD).sum()), len(labels)

    @torch.no_grad()
    def score(self, model, split: str) -> dict[str, float]:
        """Accuracy and mean cross-entropy on ``split``, batched as in training."""
        was_training, total, correct, loss = model.training, 0, 0, 0.0
        model.eval()
        for index in batch_indices(self.batching, self.lengths(split), EVAL_BATCH, self.seed, None):
            tokens, lengths, labels = self.collate([self.rows[split][i] for i in index])
            logits = model(tokens.to(self.device), lengths).logits
            labels = labels.to(self.device)
            loss += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.argmax(-1) == labels).sum())
            total += len(labels)
        model.train(was_training)
        return {"acc": correct / total, "loss": loss / total}

    def evaluate(self, model) -> dict[str, float]:
        return {f"val_{k}": v for k, v in self.score(model, "val").items()}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def cut(ids: list[list[int]], labels: torch.Tensor, length: int) -> list[tuple[list[int], torch.Tensor]]:
    """Each text cut to ``length`` tokens as ``pad_sequences`` does by default: its end is kept."""
    return [(truncate(seq, length, "head"), label) for seq, label in zip(ids, labels)]


# ---- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One trained configuration: T (and the name it came from) and a batching."""

    length: int
    named: str
    batching: str

    @property
    def label(self) -> str:
        return f"T={self.length} ({self.named}), {STRATEGIES[self.batching].name}"


def train_one(cfg, setting: Setting, seed: int, data: dict, vocab_size: int, out, device):
    """Train one model; -> (its row, its per-epoch curve, the model with its best weights, its task)."""
    e = cfg.experiment
    torch.manual_seed(seed)  # every setting starts from the same weights for a given seed
    model = LastStateClassifier(vocab_size, e.emb_dim, e.hidden_size, e.cell).to(device)
    batching = STRATEGIES[setting.batching]
    task = LengthRecipe(batching, setting.length, data, e.batch_size, seed, device)
    trained = fit(cfg, model, task, out / folder_name(f"{setting.label} seed {seed}"))
    curve = [{**r, "T": setting.length, "batching": setting.batching, "seed": seed} for r in trained["curve"]]
    best = max(curve, key=lambda r: r["val_acc"])  # the first best: the checkpoint fit() reloaded
    test = task.score(model, "test")
    steps, padded = rnn_steps(batching, setting.length, task.train_batches(0).batches, task.lengths("train"))
    row = {
        "T": setting.length,
        "T from": setting.named,
        "batching": setting.batching,
        "seed": seed,
        "parameters": parameter_count(model),
        "seconds / epoch": curve[-1]["train_seconds"] / curve[-1]["epochs"],
        "RNN steps / epoch": steps,
        "padding read %": 100 * padded / steps,
        "best epoch": best["epochs"],
        "val acc": best["val_acc"],
        "test acc": test["acc"],
        "test loss": test["loss"],
    }
    return row, curve, model, task


@torch.no_grad()
def padding_probe(model, task: LengthRecipe) -> list[dict]:
    """The packed-trained model on the test texts cut to T: its exact last state (packed) against the
    same texts padded to T before or after and read without a mask. -> per input: the mean relative
    change of the last state, the predictions that flip, the accuracy."""
    model.eval()
    index = batch_indices(STRATEGIES[PROBED], task.lengths("test"), EVAL_BATCH, task.seed, None)
    inputs = {
        "packed (exact)": Collate(STRATEGIES[PROBED], task.length),
        "pre-padded to T, no mask": Collate(STRATEGIES["fixed_pre"], task.length),
        "post-padded to T, no mask": Collate(STRATEGIES["fixed_post"], task.length),
    }
    states = {name: [] for name in inputs}
    labels = []
    for batch in index:
        rows = [task.rows["test"][i] for i in batch]
        for name, collate in inputs.items():
            tokens, lengths, y = collate(rows)
            states[name].append(model.features(tokens.to(task.device), lengths))
        labels.append(y.to(task.device))
    labels = torch.cat(labels)
    states = {name: torch.cat(h) for name, h in states.items()}
    exact = states["packed (exact)"]
    exact_pred = model.output(exact).argmax(-1)
    rows = []
    for name, h in states.items():
        predicted = model.output(h).argmax(-1)
        change = (h - exact).norm(dim=-1) / exact.norm(dim=-1).clamp_min(1e-12)
        rows.append(
            {
                "input": name,
                "last state change (relative)": change.mean().item(),
                "predictions flipped %": 100 * (predicted != exact_pred).float().mean().item(),
                "test acc": (predicted == labels).float().mean().item(),
            }
        )
    return rows


# ---- tables, verdict, plots ----------------------------------------------------------------------


def summary(rows: list[dict], settings: list[Setting], baseline: float | None = None) -> list[dict]:
    """One row per setting: mean ± sd over the seeds; ``baseline``: seconds per epoch that "x time"
    is relative to."""
    table = []
    for s in settings:
        runs = [r for r in rows if (r["T"], r["batching"]) == (s.length, s.batching)]
        seconds = [r["seconds / epoch"] for r in runs]
        table.append(
            {
                "T": s.length,
                "T from": s.named,
                "batching": STRATEGIES[s.batching].name,
                "RNN steps / epoch": runs[0]["RNN steps / epoch"],
                "padding read %": round(runs[0]["padding read %"], 1),
                "seconds / epoch": pm(seconds, 3),
                "x time": round(mean_sd(seconds)[0] / baseline, 2) if baseline else None,
                "best epoch, each seed": " / ".join(f"{r['best epoch']:.0f}" for r in runs),
                "val acc": pm([r["val acc"] for r in runs], 3),
                "test acc": pm([r["test acc"] for r in runs], 3),
            }
        )
    return table


def stats_of(rows: list[dict], s: Setting) -> dict:
    """Means and sds of one setting's runs, for the verdict."""
    runs = [r for r in rows if (r["T"], r["batching"]) == (s.length, s.batching)]
    seconds, val = mean_sd([r["seconds / epoch"] for r in runs]), mean_sd([r["val acc"] for r in runs])
    test = mean_sd([r["test acc"] for r in runs])
    padding = runs[0]["padding read %"]
    return {"seconds": seconds[0], "val": val[0], "test": test[0], "test_sd": test[1], "padding": padding}


def verdict(rows: list[dict], part_a: list[Setting]) -> Verdict:
    """The longest T against the shorter T that validation prefers: does it cost time (and padding)
    without buying accuracy beyond the spread over seeds?"""
    longest = max(part_a, key=lambda s: s.length)
    shorter = [s for s in part_a if s.length < longest.length]
    if not shorter:
        return Verdict("depends", f"only T={longest.length} was trained: nothing to compare it with.")
    chosen = max(shorter, key=lambda s: stats_of(rows, s)["val"])
    a, b = stats_of(rows, longest), stats_of(rows, chosen)
    ratio, gain = a["seconds"] / b["seconds"], a["test"] - b["test"]
    noise = max(a["test_sd"], b["test_sd"])
    said = (
        f"T={longest.length} ({longest.named}) takes {ratio:.1f}x the seconds per epoch of "
        f"T={chosen.length} ({chosen.named}, the shorter T with the best validation accuracy) and "
        f"{a['padding']:.0f}% of its RNN steps read padding (vs {b['padding']:.0f}%), for test accuracy "
        f"{a['test']:.3f} vs {b['test']:.3f} (a difference of {gain:+.3f}; seed sd up to {noise:.3f})"
    )
    if ratio < SLOWER:
        return Verdict("disagrees", f"{said}: the longest T is not much slower here.")
    if gain > noise:
        return Verdict("depends", f"{said}: the time buys accuracy beyond the spread over seeds.")
    return Verdict("agrees", f"{said}: the extra time and padding buy no accuracy beyond the seed spread.")


def batch_verdict(rows: list[dict], part_b: list[Setting]) -> Verdict:
    """Fixed-length batches against packing by length at the same T: which trains an epoch faster?"""
    fixed = stats_of(rows, next(s for s in part_b if s.batching == "fixed_pre"))
    packed = [s for s in part_b if STRATEGIES[s.batching].packed]
    fastest = min(packed, key=lambda s: stats_of(rows, s)["seconds"])
    st = stats_of(rows, fastest)
    ratio = st["seconds"] / fixed["seconds"]
    said = (
        f"At T={fastest.length}, fixed pre-padded batches take {fixed['seconds']:.1f} s per epoch "
        f"(test acc {fixed['test']:.3f}) with {fixed['padding']:.0f}% of their steps on padding; the faster "
        f"packing ({STRATEGIES[fastest.batching].name}) runs no padding step yet takes "
        f"{st['seconds']:.1f} s ({ratio:.2f}x; test acc {st['test']:.3f})"
    )
    if ratio >= FASTER:
        return Verdict("agrees", f"{said}: the batch operations on N x T win on this machine.")
    if ratio <= 1 / FASTER:
        return Verdict("disagrees", f"{said}: skipping the padding wins on this machine.")
    return Verdict("depends", f"{said}: within {FASTER:.1f}x of each other.")


def packing_note(rows: list[dict], part_b: list[Setting]) -> str:
    """One sentence per (b) setting, relative to fixed pre-padding at the same T."""
    fixed = next(s for s in part_b if s.batching == "fixed_pre")
    base = stats_of(rows, fixed)
    parts = []
    for s in part_b:
        if s is not fixed:
            st = stats_of(rows, s)
            parts.append(
                f"{STRATEGIES[s.batching].name}: {st['seconds'] / base['seconds']:.2f}x the time, "
                f"test acc {st['test']:.3f}"
            )
    return (
        f"At T={fixed.length}, against fixed pre-padding ({base['seconds']:.1f} s/epoch, test acc "
        f"{base['test']:.3f}): " + "; ".join(parts) + "."
    )


def mean_curve(curves: list[dict], s: Setting, key: str) -> tuple[list, list, list]:
    """Per epoch, over the seeds: mean training seconds so far, mean and sd of ``key``."""
    by_epoch: dict[float, list[dict]] = {}
    for r in curves:
        if (r["T"], r["batching"]) == (s.length, s.batching):
            by_epoch.setdefault(r["epochs"], []).append(r)
    epochs = sorted(by_epoch)
    xs = [mean_sd([r["train_seconds"] for r in by_epoch[x]])[0] for x in epochs]
    stats = [mean_sd([r[key] for r in by_epoch[x]]) for x in epochs]
    return xs, [m for m, _ in stats], [sd for _, sd in stats]


def plot(out, cfg, lengths: list[int], curves: list[dict], part_a, part_b) -> None:
    e = cfg.experiment
    ordered = sorted(lengths)
    cdf = {"training texts": (ordered, [(i + 1) / len(ordered) for i in range(len(ordered))])}
    cdf.update({f"T={s.length} ({s.named})": ([s.length, s.length], [0.0, 1.0]) for s in part_a})
    line_plot(
        cdf,
        out / "lengths.png",
        "tokens per review (log scale)",
        "fraction of training reviews this long or shorter",
        title=f"IMDB: word counts of the {len(lengths):,} training reviews; the T values tried",
        logx=True,
    )
    model = f"{e.cell.upper()} {e.hidden_size}, embedding {e.emb_dim}, batch {e.batch_size}"
    seeds = f"mean ± sd over {len(e.seeds)} seeds"
    line_plot(
        {f"T={s.length} ({s.named})": mean_curve(curves, s, "val_acc") for s in part_a},
        out / "T_val_acc.png",
        "training seconds (one thread, evaluation excluded)",
        "validation accuracy",
        title=f"(a) fixed-length batches, pre-padded: {model}; one point per epoch, {seeds}",
    )
    if part_b:
        line_plot(
            {STRATEGIES[s.batching].name: mean_curve(curves, s, "val_acc") for s in part_b},
            out / "batching_val_acc.png",
            "training seconds (one thread, evaluation excluded)",
            "validation accuracy",
            title=f"(b) at T={part_b[0].length}: padding vs packing; one point per epoch, {seeds}",
        )


# ---- the run -------------------------------------------------------------------------------------


def settings_of(e, lengths: list[int]) -> tuple[list[Setting], list[Setting]]:
    """Part (a): fixed pre-padding at each T of experiment.lengths; part (b): each of
    experiment.batchings at T = experiment.packing_length (reusing (a)'s fixed run there)."""
    unknown = [b for b in e.batchings if b not in STRATEGIES]
    if unknown:
        raise UserError(f"experiment.batchings: {unknown} unknown; choose from {list(STRATEGIES)}")
    part_a, seen = [], set()
    for name in e.lengths:
        t = length_at(lengths, name, "experiment.lengths")
        if t not in seen:  # two names of one T (a short subset): train it once
            part_a.append(Setting(t, str(name), "fixed_pre"))
            seen.add(t)
    if not e.batchings:
        return part_a, []
    t = length_at(lengths, e.packing_length, "experiment.packing_length")
    fixed = next((s for s in part_a if s.length == t), Setting(t, str(e.packing_length), "fixed_pre"))
    part_b = [fixed] + [Setting(t, fixed.named, b) for b in e.batchings if b != "fixed_pre"]
    return part_a, part_b


def check(e) -> None:
    """The experiment's own keys, checked before any data is read or any folder written."""
    if e.cell not in CELLS:
        raise UserError(f"experiment.cell={e.cell!r}: choose one of {', '.join(CELLS)}")
    if not e.seeds:
        raise UserError("experiment.seeds is empty: give at least one seed (three for a spread)")
    settings_of(e, [1])  # the length and batching names


def warm_up(cfg, data: dict, vocab_size: int, device) -> None:
    """A few throwaway steps of each batching, so that the first timed run does not pay for the
    kernels' first calls (allocations, dispatch caches)."""
    e = cfg.experiment
    model = LastStateClassifier(vocab_size, e.emb_dim, e.hidden_size, e.cell).to(device)
    small = {split: (ids[: 2 * e.batch_size], y[: 2 * e.batch_size]) for split, (ids, y) in data.items()}
    for batching in STRATEGIES.values():
        longest = max(len(ids) for ids in small["train"][0])
        task = LengthRecipe(batching, longest, small, e.batch_size, 0, device)
        for batch in task.train_batches(0):
            task.train_loss(model, batch)[0].backward()


def run(cfg) -> dict:
    e = cfg.experiment
    check(e)
    out, device = start(cfg)
    data, vocab_size = encoded_splits(cfg)
    lengths = [len(ids) for ids in data["train"][0]]
    part_a, part_b = settings_of(e, lengths)
    warm_up(cfg, data, vocab_size, device)
    rows, curves, probes = [], [], []
    for setting in dict.fromkeys([*part_a, *part_b]):
        for seed in e.seeds:
            row, curve, model, task = train_one(cfg, setting, seed, data, vocab_size, out, device)
            rows.append(row)
            curves += curve
            if setting.batching == PROBED:
                probes += [{**p, "seed": seed} for p in padding_probe(model, task)]
            print(
                f"{setting.label} seed {seed}: {row['seconds / epoch']:.1f} s/epoch, "
                f"val {row['val acc']:.3f}, test {row['test acc']:.3f}",
                flush=True,
            )
    return report(cfg, out, lengths, rows, curves, probes, part_a, part_b)


def probe_table(probes: list[dict]) -> list[dict]:
    """The padding probe's rows, mean ± sd over the seeds."""
    table = []
    for name in dict.fromkeys(p["input"] for p in probes):
        runs = [p for p in probes if p["input"] == name]
        table.append({"input": name, **{k: pm([p[k] for p in runs], 3) for k in list(runs[0])[1:-1]}})
    return table


def report(cfg, out, lengths, rows, curves, probes, part_a, part_b) -> dict:
    base = stats_of(rows, min(part_a, key=lambda s: s.length))["seconds"]
    tables = {
        "training texts": [length_row(lengths, s) for s in part_a],
        "(a) fixed-length batches: the choice of T": summary(rows, part_a, base),
    }
    if part_b:
        tables[f"(b) padding vs packing at T={part_b[0].length}"] = summary(rows, part_b, base)
    if probes:
        tables["padding read without a mask: the packed model's last state"] = probe_table(probes)
    tables["every run"] = rows
    findings = [(CLAIM, verdict(rows, part_a))]
    if any(s.batching == "fixed_pre" for s in part_b) and any(STRATEGIES[s.batching].packed for s in part_b):
        findings.append((BATCH_CLAIM, batch_verdict(rows, part_b)))
    plot(out, cfg, lengths, curves, part_a, part_b)
    notes = ([{"part (b) at the same T": packing_note(rows, part_b)}] if part_b else []) + (
        [{"part (b) at the same T": probe_note(probes)}] if probes else []
    )
    title = "The sequence length T of fixed-length batches (IMDB)"
    more = {"in words": notes} if notes else {}
    write_results(
        out, title, {"setup": setup(cfg, lengths), **more, **tables}, {"curves": curves}, findings=findings
    )
    return {
        "rows": rows,
        "curves": curves,
        "probes": probes,
        "tables": tables,
        "verdicts": [v.word for _, v in findings],
        "part_a": [s.length for s in part_a],
        "part_b": [s.batching for s in part_b],
    }


def setup(cfg, lengths: list[int]) -> list[dict]:
    e = cfg.experiment
    return [
        {
            "what": "data",
            "how": f"IMDB ({cfg.data.name}), a fixed seeded subset: {len(lengths):,} training "
            f"reviews, validation carved from train, the test split scored once per run; words "
            f"(vocabulary {e.vocab_size:,}); texts longer than T lose their beginning (Keras' default)",
        },
        {
            "what": "model",
            "how": f"embedding {e.emb_dim} -> one {e.cell.upper()} layer of {e.hidden_size}"
            " -> its last state -> linear (nlprnn.modules)",
        },
        {
            "what": "training",
            "how": f"{cfg.trainer.max_epochs} epochs per run, batch {e.batch_size}, "
            f"Adam lr {cfg.optimizer.lr}; the best epoch by validation accuracy; seeds {list(e.seeds)}",
        },
    ]


def probe_note(probes: list[dict]) -> str:
    """How far padding read without a mask moves the packed model's last state."""
    said = []
    for name in ("pre-padded to T, no mask", "post-padded to T, no mask"):
        runs = [p for p in probes if p["input"] == name]
        change = mean_sd([p["last state change (relative)"] for p in runs])[0]
        flipped = mean_sd([p["predictions flipped %"] for p in runs])[0]
        acc = mean_sd([p["test acc"] for p in runs])[0]
        said.append(
            f"{name}: last state moved by {change:.2f} of its norm, {flipped:.1f}% of predictions "
            f"flipped, test acc {acc:.3f}"
        )
    exact = mean_sd([p["test acc"] for p in probes if p["input"] == "packed (exact)"])[0]
    return f"The packed model (test acc {exact:.3f}) fed the same texts " + "; ".join(said) + "."


def length_row(lengths: list[int], s: Setting) -> dict:
    ordered = sorted(lengths)
    return {
        "T": s.length,
        "T from": s.named,
        "reviews": len(lengths),
        "mean tokens": round(sum(lengths) / len(lengths), 1),
        "longest": ordered[-1],
        **{k: round(v, 1) for k, v in length_stats(lengths, s.length).items()},
    }


MODES = {"train": run}
