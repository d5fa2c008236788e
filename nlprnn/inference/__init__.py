"""The user APIs, one per recipe, all alike (see ``predictor.py``): ``X.from_checkpoint(path,
device="auto", **options)``, ``x.predict("one text")`` (or ``x(...)``) -> one result, ``x.predict([...])``
-> one result each, ``x.stream(lines)``; results are the dataclasses of ``results.py``."""

from nlprnn.inference.classifier import Classifier
from nlprnn.inference.generator import Generator
from nlprnn.inference.results import Classification, Entity, Generation, Tagging, Token, Translation
from nlprnn.inference.tagger import Tagger
from nlprnn.inference.translator import Translator

__all__ = [
    "Classification",
    "Classifier",
    "Entity",
    "Generation",
    "Generator",
    "Tagger",
    "Tagging",
    "Token",
    "Translation",
    "Translator",
]
