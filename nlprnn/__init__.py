"""nlprnn: recurrent neural sequence models for NLP.

The inference APIs are importable from the top (loaded on first use, so ``python -m nlprnn`` and
``import nlprnn.modules...`` stay light): ``from nlprnn import Translator, Tagger, Classifier, Generator``.
"""

__all__ = ["Classifier", "Generator", "Tagger", "Translator"]


def __getattr__(name: str):
    if name in __all__:
        from nlprnn import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'nlprnn' has no attribute {name!r}")
