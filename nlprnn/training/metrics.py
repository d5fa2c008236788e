"""Scores of each task: sacrebleu BLEU/chrF, seqeval entity F1, accuracy / macro F1 / confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def corpus_scores(hyps: list[str], refs: list[str]) -> dict:
    """sacrebleu BLEU and chrF of detokenized hypotheses against raw references, with signatures."""
    import sacrebleu

    bleu, chrf = sacrebleu.BLEU(), sacrebleu.CHRF()
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {
        "bleu": b.score,
        "chrf": c.score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_detail": str(b),
    }


def ner_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """seqeval entity-level micro precision / recall / F1 (x100) and per-type scores."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    # plain floats: seqeval returns numpy scalars, which checkpoints (weights_only) refuse
    scores = {
        "precision": 100 * float(precision_score(gold, predicted, zero_division=0)),
        "recall": 100 * float(recall_score(gold, predicted, zero_division=0)),
        "f1": 100 * float(f1_score(gold, predicted, zero_division=0)),
        "per_type": {
            kind: {
                "precision": 100 * float(v["precision"]),
                "recall": 100 * float(v["recall"]),
                "f1": 100 * float(v["f1-score"]),
                "support": int(v["support"]),
            }
            for kind, v in report.items()
            if "avg" not in kind
        },
    }
    return scores


def classification_scores(gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict:
    """Accuracy and macro F1 (x100), per-class precision / recall / F1 (x100) and support, and the
    confusion matrix (rows: gold label, columns: predicted)."""
    k = len(labels)
    gold_t, pred_t = torch.as_tensor(list(gold)), torch.as_tensor(list(predicted))
    confusion = torch.bincount(gold_t * k + pred_t, minlength=k * k).reshape(k, k)
    hits = confusion.diag().double()
    precision = hits / confusion.sum(0).clamp(min=1)
    recall = hits / confusion.sum(1).clamp(min=1)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "accuracy": 100 * float(hits.sum() / max(1, len(gold_t))),
        "macro_f1": 100 * float(f1.mean()),
        "confusion": confusion.tolist(),
        "per_class": {
            label: {
                "precision": 100 * float(precision[i]),
                "recall": 100 * float(recall[i]),
                "f1": 100 * float(f1[i]),
                "support": int(confusion[i].sum()),
            }
            for i, label in enumerate(labels)
        },
    }


def format_confusion(confusion: list[list[int]], labels: Sequence[str]) -> str:
    width = max(8, *(len(label) for label in labels)) + 2
    lines = ["gold \\ predicted".ljust(width + 6) + "".join(label.rjust(width) for label in labels)]
    for label, row in zip(labels, confusion):
        lines.append(label.ljust(width + 6) + "".join(str(n).rjust(width) for n in row))
    return "\n".join(lines)
