"""nlprnn: recurrent neural sequence models for NLP.

The inference APIs are importable from the top (loaded on first use, so ``python -m nlprnn`` and
``import nlprnn.modules...`` stay light): ``from nlprnn import Translator, Tagger, Classifier, Generator``.
All four share one shape: ``X.from_checkpoint(path, device="auto", **options)``, ``x.predict(text or
texts, **options)`` (also ``x(...)``), ``x.stream(lines)``, ``x.to(device)``; results are the
dataclasses of ``nlprnn.inference.results`` (Translation, Tagging, Classification, Generation).
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("nlprnn")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.1.0"

__all__ = ["Classifier", "Generator", "Tagger", "Translator", "__version__"]


def __getattr__(name: str):
    if name in __all__:
        from nlprnn import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'nlprnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (the lazily loaded classes too), not the submodules loaded so far."""
    return sorted(__all__)
