"""The API reference: the docstrings' examples run (doctest), and docs/ builds into HTML with Sphinx
with no warning (``-W``), its inference page documenting the four classes with ``from_pretrained``."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

# the modules whose docstrings hold examples (hand-built tiny models: no checkpoint needed)
DOCTEST_MODULES = [
    "nlprnn.inference.results",
    "nlprnn.models.output",
    "nlprnn.models.language_model",
    "nlprnn.models.seq2seq",
    "nlprnn.models.sequence_tagger",
    "nlprnn.models.sequence_classifier",
    "nlprnn.modules.rnn",
    "nlprnn.modules.cells",
    "nlprnn.modules.attention",
    "nlprnn.modules.crf",
    "nlprnn.modules.decoding",
    "nlprnn.modules.pooling",
]


def test_docstring_examples_run():
    attempted = failed = 0
    with torch.random.fork_rng():  # the examples draw random weights: leave the global stream as it was
        torch.manual_seed(0)
        for name in DOCTEST_MODULES:
            result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
            assert result.attempted > 0, f"{name} has no doctest examples"
            attempted += result.attempted
            failed += result.failed
    assert failed == 0, f"{failed} of {attempted} doctest examples failed (their output is above)"


def test_the_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")  # in the dev and docs extras
    out = tmp_path / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-E", "docs", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    page = (out / "api" / "inference.html").read_text()
    for cls in ("Translator", "Tagger", "Classifier", "Generator"):
        for member in ("", ".from_checkpoint", ".from_pretrained", ".save_pretrained", ".predict", ".stream"):
            assert f'id="nlprnn.inference.{cls}{member}"' in page, f"{cls}{member} is not documented"
        # each class lists its options, under an "Options" heading of its own entry
        entry = page.split(f'id="nlprnn.inference.{cls}"', 1)[1].split('<dt class="sig', 1)[0]
        assert "Options" in entry and "batch_size" in entry, f"{cls} lists no options"
    for name in ("export", "models", "modules"):
        assert (out / "api" / f"{name}.html").is_file()
    export = (out / "api" / "export.html").read_text()
    for function in ("export_onnx", "onnx_predictor", "onnx_model"):
        assert f'id="nlprnn.inference.export.{function}"' in export, f"{function} is not documented"
