"""Karpathy's char-rnn experiment: samples from one checkpoint at several temperatures and with
top-p (``experiment.samples`` seeds at each setting, the same seeds for every setting), and the
per-character loss of a held-out passage.

Low temperatures pick the likeliest characters: real words, but loops; high ones invent words.
The passage shows where the model is unsure: each character's loss, averaged by its place in a
word (the first letter, the rest of the word, spaces and punctuation).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from nlprnn.inference.generator import Generator
from nlprnn.modes.splits import load_splits
from nlprnn.plotting import line_plot
from nlprnn.recipes.char_lm import CharLM
from nlprnn.recipes.course.experiment import Claim, Verdict, fit, mean_sd, start, write_results

WORD = re.compile(r"[A-Za-z']+")
REAL = 80.0  # % real words that count as "generates text"
VISIBLE = {" ": "␣", "\n": "⏎"}  # how a plot labels characters that would not show

ONE_TO_MANY = Claim(
    quote="Arquitectura one-to-many: Generación de secuencias a partir de una única entrada. "
    "Aplicaciones: generación de texto, ...",
    english="one-to-many: generating a sequence from a single input, e.g. text",
    source="1-redes-recurrentes-etsisi.md, «Arquitectura one-to-many»",
)
TEMPERATURE = Claim(
    quote="Ejemplo: modelo de lenguaje a nivel símbolo (Imagen tomada de Karpathy 2015)",
    english="the lecture's symbol-level language model is Karpathy's char-rnn, whose sampling temperature "
    "trades likely, repetitive text (low) for varied text with more invented words (high)",
    source="3-redes-recurrentes-unam.md, «Ejemplo: modelo de lenguaje a nivel símbolo», after Karpathy 2015",
)


def trained_generator(cfg, splits: dict, out, device) -> Generator:
    """A char LM trained here (the char_lm recipe's code, ``experiment.train_chars`` characters),
    saved as a char_lm checkpoint that ``recipe=char_lm mode=generate ckpt=...`` can use too."""
    recipe = CharLM(cfg, device)
    folder = out / "char_lm"
    folder.mkdir(parents=True, exist_ok=True)
    model, extra = recipe.build(splits, folder)
    steps = max(1, cfg.experiment.train_chars // (cfg.batching.batch_size * cfg.batching.bptt))
    fit(
        cfg,
        model.to(device),
        recipe,
        folder,
        extra={**extra, "recipe": "char_lm"},
        max_steps=steps,
        eval_every=max(1, steps // 5),
    )
    return Generator.from_checkpoint(folder / "best.pt", device=str(device))


def sample_stats(text: str, known_words: set[str]) -> dict:
    words = WORD.findall(text)
    return {
        "words": len(words),
        "real words %": 100 * sum(w.lower() in known_words for w in words) / max(1, len(words)),
        "distinct words %": 100 * len({w.lower() for w in words}) / max(1, len(words)),
    }


def rank_correlation(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (no ties expected among a handful of settings)."""

    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        return [order.index(i) for i in range(len(values))]

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    if n < 2:
        return 0.0
    return 1 - 6 * sum((a - b) ** 2 for a, b in zip(rx, ry)) / (n * (n * n - 1))


def verdicts(rows: list[dict], temperatures: list[float]) -> list[tuple[Claim, Verdict]]:
    """The model generates text (most words real at some temperature), and temperature trades real
    words for distinct ones: ranks of the means against temperature, a trend of at least 0.8."""
    by_t = [r for r in rows if r["top_p"] is None]
    best = max(by_t, key=lambda r: r["real words %"])
    real = [r["real words %"] for r in by_t]
    distinct = [r["distinct words %"] for r in by_t]
    generates = Verdict(
        "agrees" if best["real words %"] >= REAL else "disagrees",
        f"from the prompt alone the model writes {best['words']:.0f} words a sample, "
        f"{best['real words %']:.0f}% of them words of the training text, at {best['sampling']}.",
    )
    trend = (rank_correlation(temperatures, real), rank_correlation(temperatures, distinct))
    said = ", ".join(f"{t}: {r:.0f}% / {d:.0f}%" for t, r, d in zip(temperatures, real, distinct))
    word = "agrees" if trend[0] <= -0.8 and trend[1] >= 0.8 else ("disagrees" if trend[0] > 0 else "depends")
    trades = Verdict(
        word,
        f"real / distinct words (mean over the samples) at temperature {said}; rank correlation with "
        f"temperature {trend[0]:+.1f} (real) and {trend[1]:+.1f} (distinct).",
    )
    return [(ONE_TO_MANY, generates), (TEMPERATURE, trades)]


def kind(passage: str, i: int) -> str:
    """Where character i of the passage stands: a word's first letter, a later letter, or other."""
    if not passage[i].isalpha():
        return "space or punctuation"
    return "later letter of a word" if i and passage[i - 1].isalpha() else "first letter of a word"


def cost_by_kind(passage: str, losses: list[float]) -> list[dict]:
    """Mean loss of the passage's characters by their place in a word (character i+1 has loss i)."""
    groups: dict[str, list[float]] = {}
    for i, loss in enumerate(losses):
        groups.setdefault(kind(passage, i + 1), []).append(loss)
    return [
        {"characters": k, "count": len(v), "mean nats": sum(v) / len(v)}
        for k, v in sorted(groups.items(), key=lambda kv: -sum(kv[1]) / len(kv[1]))
    ]


def mean_stats(stats: list[dict]) -> dict:
    """Each sample's statistics -> their means, and the sd over samples of the percentages."""
    mean = {k: sum(x[k] for x in stats) / len(stats) for k in stats[0]}
    for k in ("real words %", "distinct words %"):
        mean[f"{k} sd"] = mean_sd([x[k] for x in stats])[1]
    return mean


@torch.inference_mode()
def per_char_loss(generator: Generator, passage: str) -> list[float]:
    """nats of each character of ``passage`` after the ones before it (from a zero state)."""
    ids = generator.vocab.encode(passage).to(generator.device)
    logits = generator.model(ids[None, :-1]).logits
    return F.cross_entropy(logits[0], ids[1:], reduction="none").tolist()


def run(cfg) -> dict:
    out, device = start(cfg)
    e = cfg.experiment
    if cfg.ckpt:  # that model's own data and split: the passage stays held out from it
        generator = Generator.from_checkpoint(cfg.ckpt, device=str(device))
        trained = generator.config
        splits = load_splits(OmegaConf.merge(trained["data"], {"dir": cfg.data.dir}), trained["seed"])
    else:
        splits = load_splits(cfg.data, cfg.seed)
        generator = trained_generator(cfg, splits, out, device)
    known = {w.lower() for w in WORD.findall(splits["train"])}
    settings = [{"temperature": t, "top_p": None} for t in e.temperatures] + [
        {"temperature": 1.0, "top_p": e.top_p}
    ]
    rows, samples = [], []
    for s in settings:  # each setting: experiment.samples samples, seeds seed, seed + 1, ...
        label = f"temperature {s['temperature']}" + (f", top-p {s['top_p']}" if s["top_p"] else "")
        stats = []
        for k in range(e.samples):
            generator.length, generator.temperature, generator.top_p, generator.seed = (
                e.length,
                s["temperature"],
                s["top_p"],
                cfg.seed + k,
            )
            text = generator(e.prompt).text
            stats.append(sample_stats(text[len(e.prompt) :], known))
            if k == 0:
                samples.append((label, text))
        rows.append({"sampling": label, "top_p": s["top_p"], **mean_stats(stats)})
    passage = splits["test"][: e.passage_chars]
    losses = per_char_loss(generator, passage)
    hardest = sorted(range(len(losses)), key=lambda i: -losses[i])[:10]
    hard_rows = [
        {
            "char": repr(passage[i + 1]),
            "where": kind(passage, i + 1),
            "context": repr(passage[max(0, i - 15) : i + 2]),
            "nats": losses[i],
        }
        for i in hardest
    ]
    mean = sum(losses) / len(losses)
    line_plot(
        {"per character": (list(range(1, len(losses) + 1)), losses)},
        out / "passage_loss.png",
        "character of the held-out passage",
        "nats",
        hline=(mean, f"mean {mean:.2f}"),
        title="loss of each character given the ones before it (the 10 costliest labelled)",
        annotate=[(i + 1, losses[i], VISIBLE.get(passage[i + 1], passage[i + 1])) for i in hardest],
    )
    write_results(
        out,
        "Sampling a char LM: temperature and top-p, same checkpoint and seed",
        {
            "samples": [{k: v for k, v in r.items() if k != "top_p"} for r in rows],
            "loss by place in a word, held-out passage": cost_by_kind(passage, losses),
            "hardest characters of the held-out passage": hard_rows,
        },
        {
            "samples_text": dict(samples),
            "passage": passage,
            "passage_losses": losses,
            "passage nats/char": mean,
            "checkpoint step": generator.step,
        },
        findings=verdicts(rows, list(e.temperatures)),
    )
    with open(out / "results.md", "a") as md:  # the samples themselves, side by side
        md.write(f"\npassage: {mean:.3f} nats/char over {len(losses)} characters\n")
        for label, text in samples:
            md.write(f"\n### {label}\n\n```\n{text}\n```\n")
    return {"rows": rows, "samples": dict(samples), "passage_losses": losses, "passage": passage}


MODES = {"train": run}
