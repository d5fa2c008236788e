"""Sphinx configuration of the nlprnn API reference.

Build it with ``sphinx-build -b html docs docs/_build/html`` (``-W --keep-going``: warnings are
errors, as tests/test_docs.py builds it). Everything is local: the builtin alabaster theme, no
intersphinx, no downloads.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the source tree, installed or not

import nlprnn  # noqa: E402

project = "nlprnn"
author = "nlprnn contributors"
copyright = "nlprnn contributors"
release = version = nlprnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
]

html_theme = "alabaster"
html_static_path: list[str] = []
templates_path: list[str] = []
exclude_patterns = ["_build"]

# Google style docstrings ("Args:", "Returns:", "Example:")
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
# "Options:" on the inference classes lists what from_checkpoint / from_pretrained / a call take
napoleon_custom_sections = [("Options", "params_style")]

# Every reference to our own objects must resolve (nitpicky); third-party types (torch, numpy, the
# standard library) have no local target, since the build uses no intersphinx (no network).
nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"(torch|numpy|collections\.abc|pathlib|typing|sentencepiece)\..*"),
    ("py:class", r"Module"),  # torch.nn.Module, as autodoc shortens it in bases
    # the result dataclasses' signatures: autodoc splits "dict[str, float]" (a field with a default
    # factory) at the comma and looks up the halves as classes
    ("py:class", r"'?(dict|list)\[.*"),
]

# ``sphinx-build -b doctest docs DIR`` runs the examples too; in the source they see their module's
# names (tests/test_docs.py runs them with doctest.testmod), here these imports stand in for them
doctest_global_setup = """
from nlprnn.models.language_model import LanguageModel
from nlprnn.models.seq2seq import Seq2Seq
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.models.sequence_tagger import SequenceTagger
from nlprnn.modules.attention import Attention
from nlprnn.modules.cells import CellRNN, LSTMCell
from nlprnn.modules.crf import CRF
from nlprnn.modules.decoding import filter_logits
from nlprnn.modules.pooling import Pooling
from nlprnn.modules.rnn import StackedRNN
"""
