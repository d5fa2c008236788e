"""The user APIs, one per recipe, all alike: ``X.from_checkpoint(path, device="auto", **options)``,
``x("one text")`` -> one result, ``x([...])`` -> one result each, ``x.stream(lines)``."""

from nlprnn.inference.classifier import Classifier
from nlprnn.inference.generator import Generator
from nlprnn.inference.tagger import Tagger
from nlprnn.inference.translator import Translator

__all__ = ["Classifier", "Generator", "Tagger", "Translator"]
