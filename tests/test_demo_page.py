"""The demo page (GET /) in a real browser: the system's Chromium driven by Playwright, against a real
server (uvicorn in a thread) for each tiny run. Checks what a person would see: the heatmap's coloured
cells, the highlighted entities, the probability bars and shaded words, the sample as it streams."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
if not Path("/usr/bin/chromium").exists():
    pytest.skip("no /usr/bin/chromium: apt-get install chromium", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="no playwright: pip install -e .[dev]")

from nlprnn.inference import Classifier, Generator, Tagger, Translator  # noqa: E402
from nlprnn.inference.server import build_app  # noqa: E402
from scripts.demo_screenshots import chromium, fill_and_run  # noqa: E402

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

PREDICTORS = {"char_lm": Generator, "ner": Tagger, "sentiment": Classifier, "translation": Translator}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.set_default_timeout(20_000)
    yield page
    page.close()


@pytest.fixture(scope="module")
def predictors(tiny_runs):
    return {name: cls.from_checkpoint(tiny_runs[name], device="cpu") for name, cls in PREDICTORS.items()}


@contextmanager
def serving(app):
    """The URL of ``app`` served by uvicorn on a free loopback port, in a thread; stopped on exit."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def urls(predictors):
    """{recipe: URL}: each tiny predictor served; char_lm's samples slowed down to be seen streaming."""
    with (
        serving(build_app(predictors["translation"], "translation", "translate")) as translation,
        serving(build_app(predictors["ner"], "ner", "tag")) as ner,
        serving(build_app(predictors["sentiment"], "sentiment")) as sentiment,
        serving(build_app(Slow(predictors["char_lm"]), "char_lm", "generate")) as char_lm,
    ):
        yield {"translation": translation, "ner": ner, "sentiment": sentiment, "char_lm": char_lm}


class Slow:
    """A Generator whose stream_text waits 15 ms before each chunk, as a big model on a CPU would."""

    def __init__(self, generator) -> None:
        self.inner = generator

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stream_text(self, prompt, **options):
        chunks = self.inner.stream_text(prompt, **options)  # checked now, as the real one does

        def slowly():
            for chunk in chunks:
                time.sleep(0.015)
                yield chunk

        return slowly()


def styles(page, selector: str, prop: str) -> list[str]:
    return page.eval_on_selector_all(selector, f"nodes => nodes.map(n => getComputedStyle(n).{prop})")


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.textContent)")


# ---- translation --------------------------------------------------------------------------------------
def test_translation_draws_the_attention_heatmap_and_the_nbest_list(page, urls, predictors):
    sentence = "Ein Hund läuft ."
    assert fill_and_run(page, urls["translation"], sentence) == "done"
    source, target, _ = predictors["translation"].attention(sentence)
    assert texts(page, ".heatmap th.src") == source and texts(page, ".heatmap th.tgt") == target
    cells = styles(page, ".heatmap td", "backgroundColor")
    assert len(cells) == len(source) * len(target)
    assert len(set(cells)) > 1 and all(c.startswith("rgb(") for c in cells)  # coloured by weight
    nbest = predictors["translation"].predict(sentence, method="beam", beam_size=5, n_best=5)
    assert texts(page, ".nbest .hyp") == [h.text or "∅" for h in nbest]
    assert texts(page, ".nbest .score") == [f"{h.score:.3f}" for h in nbest]
    assert page.text_content(".translation") == nbest[0].text


def test_an_error_of_the_api_is_shown(page, urls):
    assert fill_and_run(page, urls["translation"], "   ") == "error"
    assert page.is_visible("#error")
    assert page.text_content("#error") == "cannot plot attention for an empty sentence"  # the server's words
    assert page.locator(".heatmap").count() == 0


# ---- ner ----------------------------------------------------------------------------------------------
def test_ner_shows_the_tokens_tags_and_legend(page, urls, predictors):
    text = "Angela Merkel visited Paris ."
    assert fill_and_run(page, urls["ner"], text) == "done"
    tagging = predictors["ner"].predict(text)
    assert texts(page, ".tokens .token") == [t.text for t in tagging.tokens]
    assert texts(page, ".tokens .tag") == tagging.tags
    assert texts(page, ".legend li")[:4] == ["PER", "LOC", "ORG", "MISC"]
    assert texts(page, "mark.entity .entity-text") == [e.text for e in tagging.entities]


TAGGING = {  # what a trained model would answer: three entities, one of a type without a set colour
    "tokens": [],
    "entities": [
        {"type": "PER", "text": "Angela Merkel", "start": 0, "end": 13, "score": 0.97},
        {"type": "LOC", "text": "Paris", "start": 22, "end": 27, "score": 0.88},
        {"type": "EVENT", "text": "Olympics", "start": 40, "end": 48, "score": 0.5},
    ],
    "score": 0.8,
}


def test_ner_colours_each_entity_by_its_type(page, urls):
    text = "Angela Merkel visited Paris to open the Olympics ."
    page.route("**/predict", lambda route: route.fulfill(json={"outputs": [TAGGING]}))
    assert fill_and_run(page, urls["ner"], text) == "done"
    assert texts(page, "mark.entity .entity-text") == ["Angela Merkel", "Paris", "Olympics"]
    assert texts(page, "mark.entity .entity-label") == ["PER 97.0%", "LOC 88.0%", "EVENT 50.0%"]
    marks = styles(page, "mark.entity", "backgroundColor")
    assert len(set(marks)) == 3  # three types, three colours
    legend = dict(zip(texts(page, ".legend li"), styles(page, ".legend .swatch", "backgroundColor")))
    assert list(legend) == ["PER", "LOC", "ORG", "MISC", "EVENT"]
    assert marks == [legend["PER"], legend["LOC"], legend["EVENT"]]
    plain = page.eval_on_selector(".tagged", "p => [...p.childNodes].map(n => n.nodeType === 3 ? n.data : "
                                  "n.querySelector('.entity-text').textContent).join('')")  # fmt: skip
    assert plain == text  # the text around the entities is kept


# ---- sentiment ----------------------------------------------------------------------------------------
def test_sentiment_draws_probability_bars_and_shades_words(page, urls, predictors):
    text = "a gripping , beautifully acted film"
    assert fill_and_run(page, urls["sentiment"], text) == "done"
    explained = predictors["sentiment"].explain(text)
    widths = page.eval_on_selector_all(
        ".bar-row",
        "rows => rows.map(r => [r.querySelector('.bar-label').textContent,"
        " r.querySelector('.bar-fill').getBoundingClientRect().width"
        " / r.querySelector('.bar-track').getBoundingClientRect().width])",
    )
    assert [label for label, _ in widths] == list(explained.probabilities)
    for label, fraction in widths:
        assert fraction == pytest.approx(explained.probabilities[label], abs=0.01)
    assert texts(page, ".word") == explained.tokens
    alphas = [float(c.split(",")[-1].rstrip(")")) for c in styles(page, ".word", "backgroundColor")]
    heaviest = explained.weights.index(max(explained.weights))
    assert all(a > 0 for a in alphas) and alphas[heaviest] == pytest.approx(0.85, abs=0.01)
    assert len(set(alphas)) > 1  # shaded by weight


def test_sentiment_without_attention_pooling_says_why_words_are_plain(page, urls):
    explained = {"tokens": ["a", "film"], "weights": None, "label": "pos", "pooling": "max",
                 "probabilities": {"neg": 0.25, "pos": 0.75}}  # fmt: skip
    page.route("**/explain", lambda route: route.fulfill(json={"outputs": [explained]}))
    assert fill_and_run(page, urls["sentiment"], "a film") == "done"
    assert styles(page, ".word", "backgroundColor") == ["rgba(0, 0, 0, 0)"] * 2
    assert "needs attention pooling" in page.text_content(".note") and "by max" in page.text_content(".note")


# ---- char_lm ------------------------------------------------------------------------------------------
def test_char_lm_streams_the_sample_into_the_page(page, urls):
    url = urls["char_lm"]
    fill_and_run(page, url, "ROMEO:", {"#length": "40", "#seed": "5"})  # a first run: the page is warm
    seen = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            const timer = setInterval(() => {
                const sample = document.getElementById("sample");
                if (sample && sample.isConnected) seen.push(sample.textContent.length);
                if (document.body.dataset.state !== "running") { clearInterval(timer); resolve(seen); }
            }, 5);
            document.getElementById("run").click();
        })"""
    )
    assert page.evaluate("document.body.dataset.state") == "done"
    grown = sorted(set(seen))
    assert len(grown) >= 5 and seen == sorted(seen)  # it grew, step by step, never lost text
    answer = page.request.post(url + "/predict", data=json.dumps(
        {"inputs": ["ROMEO:"], "seed": 5, "length": 40, "temperature": 0.8}))  # fmt: skip
    assert page.text_content("#sample") == answer.json()["outputs"][0]["text"]
    assert page.get_attribute("#sample", "data-chunks") == "41"  # the prompt, then one per character
