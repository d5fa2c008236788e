"""The lecture's stacked Keras model (1-redes-recurrentes-etsisi.md, «Implementación de RNN con
Modelo Secuencial»)::

    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.SimpleRNN(256, return_sequences=True))
    model.add(layers.SimpleRNN(128))
    model.add(layers.Dense(10))

trained on a real task (SST-2 sentences; Dense(2) for its two classes), against one layer of 256,
one layer with the stack's parameters, and two equal layers with the stack's parameters: does
stacking add what one layer of the same size cannot? Layers of different widths are ``RNNStack``
(``StackedRNN(num_layers=L)`` has one width); Keras' initialisers (``keras_init``) as in the lecture.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nlprnn.data.batching import pad_batch
from nlprnn.data.tokenizers import truncate
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.models.course import objective
from nlprnn.models.output import ModelOutput
from nlprnn.models.summary import summary
from nlprnn.modes.run_setup import seed_everything
from nlprnn.modules.init import keras_init
from nlprnn.modules.rnn import RNNStack, last_real
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    band_over_seeds,
    folder_name,
    hidden_for_budget,
    mean_sd,
    parameter_count,
    pm,
    read_curve,
    start,
    to_device,
    without,
    write_results,
)
from nlprnn.recipes.course.small_data import PAD, fit_classifier, sst2_splits

CLAIM = Claim(
    quote="Apilar una SRU sobre otra nos lleva al concepto de RNN profundas (DRNN) [...] En realidad es "
    "prácticamente lo mismo que añadir capas en un MLP",
    english="stacking one recurrent layer on another gives deep RNNs; it is practically the same as adding "
    "layers to an MLP",
    source="1-redes-recurrentes-etsisi.md, «Conceptos generales: Stacked RNN»; the model: «Implementación de "
    "RNN con Modelo Secuencial»",
)
LECTURE = "the lecture's stack 256 -> 128"


class StackClassifier(nn.Module):
    """Embedding -> recurrent layers of the given widths -> Dense on each text's last real step
    (Keras' ``mask_zero=True``: padding is never read). tokens (B, T) -> ModelOutput (logits (B, C))."""

    def __init__(self, vocab: int, emb_dim: int, widths: list[int], classes: int, cell: str = "rnn") -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb_dim, padding_idx=PAD)
        self.rnn = RNNStack(emb_dim, list(widths), cell=cell)
        self.dense = nn.Linear(widths[-1], classes)

    def forward(self, tokens: torch.Tensor, *, targets: torch.Tensor | None = None) -> ModelOutput:
        lengths = (tokens != PAD).sum(1).clamp(min=1)
        outputs, _ = self.rnn(self.embedding(tokens[:, : int(lengths.max())]), lengths)
        logits = self.dense(last_real(outputs, lengths))
        return ModelOutput(None if targets is None else objective("ce", logits, targets), logits)


def variants(e, vocab: int, classes: int) -> dict[str, list[int]]:
    """{name: widths}: the lecture's stack, one layer of its first width, and one and two equal
    layers with the stack's parameters."""

    def make(widths):
        return StackClassifier(vocab, e.emb_dim, widths, classes, e.cell)

    budget = parameter_count(make(list(e.widths)))
    wide = hidden_for_budget(lambda h: make([h]), budget)
    pair = hidden_for_budget(lambda h: make([h, h]), budget)
    return {
        LECTURE.replace("256 -> 128", " -> ".join(map(str, e.widths))): list(e.widths),
        f"one layer of {e.widths[0]}": [e.widths[0]],
        f"one layer of {wide} (the stack's parameters)": [wide],
        f"two layers of {pair} (the stack's parameters)": [pair, pair],
    }


def text_data(cfg, labels: list[str]) -> tuple[dict, int]:
    """Every split as (padded ids, label ids), over the ``vocabulary`` most frequent training words
    (Keras' Embedding(input_dim=1000): ids past the table are out-of-vocabulary)."""
    e, splits = cfg.experiment, sst2_splits(cfg)
    tokenizer = WordTokenizer.build([t for t, _ in splits["train"]], max_size=e.vocabulary)
    index = {label: i for i, label in enumerate(labels)}

    def tensors(examples):
        ids = [
            truncate(i, e.max_len) or [tokenizer.unk_id] for i in tokenizer.encode([t for t, _ in examples])
        ]
        return pad_batch(ids, PAD)[0], torch.tensor([index[label] for _, label in examples])

    return {split: tensors(examples) for split, examples in splits.items()}, tokenizer.vocab_size


def verdict(rows: list[dict]) -> Verdict:
    """Agrees when the lecture's stack beats one layer of the same parameters by more than the
    seeds' spread on validation; disagrees when it is worse by as much; depends otherwise."""
    stack = next(r for r in rows if r["model"].startswith("the lecture's stack"))
    single = next(r for r in rows if r["model"].startswith("one layer") and "parameters" in r["model"])
    gap = stack["val mean"] - single["val mean"]
    noise = max(stack["val sd"], single["val sd"])
    said = (
        f"validation accuracy {stack['val acc']} (the stack) vs {single['val acc']} ({single['model']}); "
        f"test {stack['test acc']} vs {single['test acc']}"
    )
    if gap > noise:
        return Verdict("agrees", f"stacking helps at equal parameters: {said}.")
    if gap < -noise:
        return Verdict("disagrees", f"one layer of the same parameters is better: {said}.")
    return Verdict("depends", f"within the seeds' spread ({gap:+.4f}, sd {noise:.4f}): {said}.")


def run(cfg) -> dict:
    e = cfg.experiment
    labels = list(cfg.data.labels)
    data, vocab = text_data(cfg, labels)
    out, device = start(cfg)
    data = to_device(data, device)
    rows, runs, curves = [], [], {}
    for name, widths in variants(e, vocab, len(labels)).items():
        per_seed = []
        for seed in e.seeds:
            seed_everything(seed)
            model = StackClassifier(vocab, e.emb_dim, widths, len(labels), e.cell)
            if e.init == "keras":
                keras_init(model)
            result = fit_classifier(cfg, f"{name} seed {seed}", model.to(device), data, out, seed)
            per_seed.append({"model": name, "seed": seed, "parameters": parameter_count(model), **result})
        runs += per_seed
        val, test = ([r[k] for r in per_seed] for k in ("val_acc", "test_acc"))
        rows.append(
            {
                "model": name,
                "widths": " -> ".join(map(str, widths)),
                "parameters": per_seed[0]["parameters"],
                "val acc": pm(val),
                "test acc": pm(test),
                "best epoch (each seed)": " / ".join(f"{r['best_epoch']:.0f}" for r in per_seed),
                "seconds (all seeds)": sum(r["seconds"] for r in per_seed),
                "val mean": mean_sd(val)[0],
                "val sd": mean_sd(val)[1],
            }
        )
        curves[name] = per_seed
    lecture = StackClassifier(vocab, e.emb_dim, list(e.widths), len(labels), e.cell)
    printed = summary(lecture, data["val"][0][:32].cpu())
    plot([r["model"] for r in rows], out, e, math.ceil(len(data["train"][0]) / e.batch_size))
    shown = without(rows, "val mean", "val sd")
    write_results(
        out,
        f"The lecture's stacked model on {cfg.data.name}: stacked vs one layer",
        {"result": shown, "each run": runs},
        {"summary": printed},
        findings=[(CLAIM, verdict(rows))],
    )
    with open(out / "results.md", "a") as md:  # Keras' model.summary() for the lecture's model
        md.write(f"\n## summary() of the lecture's model\n\n```\n{printed}\n```\n")
    return {"rows": rows, "runs": runs, "summary": printed}


def plot(names: list[str], out, e, steps_per_epoch: int) -> None:
    """Validation accuracy per epoch for each model, mean ± sd over the seeds still training."""

    def curve(name):
        for seed in e.seeds:
            for r in read_curve(out / folder_name(f"{name} seed {seed}") / "metrics.jsonl"):
                yield r["step"] / steps_per_epoch, r["val_acc"]

    series = {name: band_over_seeds(curve(name)) for name in names}
    line_plot(
        series,
        out / "val_accuracy.png",
        "epoch",
        "validation accuracy",
        title=f"SST-2 sentences, {e.cell} layers, Keras' initialisers: mean ± sd over {len(e.seeds)} seeds "
        "(early stopping ends each seed)",
        hline=(0.5, "chance"),
    )


MODES = {"train": run}
