"""What the inference APIs return: plain dataclasses, one per kind of answer, that print readably
and turn into dicts (``to_dict()``) and JSON (``to_json()``).

Every result has a ``score`` (None for an empty input) and one field holding the simple answer::

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
    """Shared by every result: a plain-data view, its scores rounded to ``DIGITS`` significant digits.

    Example:
        >>> from nlprnn.inference.results import Translation
        >>> result = Translation("A dog is running.", score=-0.6123456789)
        >>> result
        Translation(text='A dog is running.', score=-0.612346)
        >>> result.to_dict()
        {'text': 'A dog is running.', 'score': -0.612346}
        >>> result.to_json()
        '{"text": "A dog is running.", "score": -0.612346}'
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _rounded(getattr(self, f.name)))

    def to_dict(self) -> dict:
        """The result as plain dicts, lists, strings and numbers (nested results too)."""
        return dataclasses.asdict(self)

    def to_json(self, **options) -> str:
        """The result as one JSON object (non-ASCII text kept); ``options`` go to ``json.dumps``
        (``indent=2``, ...)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **options)


@dataclass(frozen=True)
class Translation(Result):
    """A Translator's answer: ``text``, the translation, and ``score``, its log-probability
    (beam search: divided by the length penalty); ``Translation("")`` (score None) for an empty input.
    """

    text: str
    score: float | None = None


@dataclass(frozen=True)
class Generation(Result):
    """A Generator's answer: ``text``, the prompt and its continuation; ``prompt``; ``score``, the
    continuation's log-probability under the model.

    Example:
        >>> from nlprnn.inference.results import Generation
        >>> Generation("ROMEO: I am", prompt="ROMEO:", score=-12.5).continuation
        ' I am'
    """

    text: str  # the prompt and its continuation
    prompt: str = ""
    score: float | None = None

    @property
    def continuation(self) -> str:
        """The generated text after the prompt."""
        return self.text[len(self.prompt) :]


@dataclass(frozen=True)
class Classification(Result):
    """A Classifier's answer: ``label``, the most probable class; ``score``, its probability;
    ``probabilities``, every label's, in the model's order; ``top``, the ``top_k`` (label,
    probability) pairs, best first. ``Classification(None)`` for a text with no tokens.

    Example:
        >>> from nlprnn.inference.results import Classification
        >>> probabilities = {"negative": 0.03, "positive": 0.97}
        >>> result = Classification("positive", 0.97, probabilities, [("positive", 0.97)])
        >>> result.label, result.score
        ('positive', 0.97)
        >>> result.to_json()  # doctest: +NORMALIZE_WHITESPACE
        '{"label": "positive", "score": 0.97, "probabilities": {"negative": 0.03, "positive": 0.97},
          "top": [["positive", 0.97]]}'
    """

    label: str | None
    score: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)  # every label, in the model's order
    top: list[tuple[str, float]] = field(default_factory=list)  # the top_k (label, probability), best first


@dataclass(frozen=True)
class Token(Result):
    """One tagged token: its ``text``, IOB2 ``tag``, character offsets ``start`` / ``end`` into the
    input (``input[start:end] == text``) and ``confidence``, p(tag | sentence) (CRF marginal, or
    softmax)."""

    text: str
    tag: str
    start: int  # character offsets into the input: input[start:end] == text
    end: int
    confidence: float  # the probability of this tag at this token (CRF marginal, or softmax)


@dataclass(frozen=True)
class Entity(Result):
    """One entity: its ``type`` (PER, LOC, ...), ``text``, character offsets ``start`` / ``end`` into
    the input, and ``score``, the mean confidence of its tokens."""

    type: str
    text: str
    start: int  # character offsets into the input: input[start:end] == text
    end: int
    score: float  # the mean confidence of its tokens


@dataclass(frozen=True)
class Tagging(Result):
    """A Tagger's answer: ``tokens`` (Token each), ``entities`` (Entity each) and ``score``, the
    probability of the whole tag sequence; ``tags`` lists the tokens' tags.

    Example:
        >>> from nlprnn.inference.results import Entity, Tagging, Token
        >>> tagging = Tagging(
        ...     [Token("Paris", "B-LOC", 0, 5, 0.99), Token("!", "O", 5, 6, 1.0)],
        ...     [Entity("LOC", "Paris", 0, 5, 0.99)],
        ...     0.98,
        ... )
        >>> tagging.tags
        ['B-LOC', 'O']
        >>> tagging.to_dict()["entities"]
        [{'type': 'LOC', 'text': 'Paris', 'start': 0, 'end': 5, 'score': 0.99}]
    """

    tokens: list[Token] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    score: float | None = None

    @property
    def tags(self) -> list[str]:
        """One IOB2 tag per token."""
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
