"""What the inference APIs return: plain dataclasses, one per kind of answer, that print readably
and turn into dicts (``to_dict()``) and JSON (``to_json()``).

Every result has a ``score`` (None for an empty input) and one field holding the simple answer:

    Translation     .text    the translation             score: log-probability (beam: / length penalty)
    Generation      .text    the prompt and continuation  score: log-probability of the continuation
    Classification  .label   the most probable label      score: that label's probability
    Tagging         .tags    one IOB2 tag per token       score: probability of the whole tag sequence

Scores are rounded to 6 significant digits. An input with no tokens (``""``, or only spaces for the word-level
models) gets the empty result of its class (text "", label None, no tags) with score None.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

DIGITS = 6  # significant digits of a score: what lies below is float noise (a batch's padding moves it)


class Result:
    """Shared by every result: a plain-data view, its scores rounded to ``DIGITS`` significant digits."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _rounded(getattr(self, f.name)))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, **options) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **options)


@dataclass(frozen=True)
class Translation(Result):
    text: str
    score: float | None = None


@dataclass(frozen=True)
class Generation(Result):
    text: str  # the prompt and its continuation
    prompt: str = ""
    score: float | None = None

    @property
    def continuation(self) -> str:
        return self.text[len(self.prompt) :]


@dataclass(frozen=True)
class Classification(Result):
    label: str | None
    score: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)  # every label, in the model's order
    top: list[tuple[str, float]] = field(default_factory=list)  # the top_k (label, probability), best first


@dataclass(frozen=True)
class Token(Result):
    text: str
    tag: str
    start: int  # character offsets into the input: input[start:end] == text
    end: int
    confidence: float  # the probability of this tag at this token (CRF marginal, or softmax)


@dataclass(frozen=True)
class Entity(Result):
    type: str
    text: str
    start: int  # character offsets into the input: input[start:end] == text
    end: int
    score: float  # the mean confidence of its tokens


@dataclass(frozen=True)
class Tagging(Result):
    tokens: list[Token] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    score: float | None = None

    @property
    def tags(self) -> list[str]:
        return [token.tag for token in self.tokens]


def _rounded(value):
    """``value`` with its floats (also in a dict, list or tuple) rounded to ``DIGITS`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rounded(v) for v in value)
    return value
