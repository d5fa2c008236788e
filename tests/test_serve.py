"""mode=serve: the HTTP app (through TestClient, no socket) on each tiny run, and one real server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO, cli_env

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from nlprnn.errors import UserError  # noqa: E402
from nlprnn.inference import Classifier, Generator, Tagger, Translator  # noqa: E402
from nlprnn.inference.server import Limits, build_app  # noqa: E402

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

PREDICTORS = {"char_lm": Generator, "ner": Tagger, "sentiment": Classifier, "translation": Translator}
VERBS = {"char_lm": "generate", "ner": "tag", "sentiment": "predict", "translation": "translate"}
INPUTS = {
    "char_lm": ["ROMEO:", "", "JULIET: O"],
    "ner": ["Angela Merkel visited Paris .", "", "EU rejects German call"],
    "sentiment": ["a fine film", "dull and long", ""],
    "translation": ["Ein Hund läuft .", "", "Zwei Männer spielen ."],
}
OPTIONS = {
    "char_lm": {"seed": 7, "length": 12, "temperature": 0.8},
    "ner": {"batch_size": 2},
    "sentiment": {"top_k": 2},
    "translation": {"beam_size": 2, "n_best": 2},
}
LIMITS = Limits(max_request_bytes=4000, max_inputs=5, max_chars=50)


@pytest.fixture(scope="module")
def served(tiny_runs):
    """{recipe: (predictor, TestClient)} for each tiny run, on the CPU."""
    out = {}
    for recipe, cls in PREDICTORS.items():
        predictor = cls.from_checkpoint(tiny_runs[recipe], device="cpu")
        out[recipe] = predictor, TestClient(build_app(predictor, recipe, VERBS[recipe], LIMITS))
    return out


@pytest.mark.parametrize("recipe", list(PREDICTORS))
def test_predict_matches_the_python_api(served, recipe):
    predictor, client = served[recipe]
    texts, options = INPUTS[recipe], OPTIONS[recipe]
    expected = [
        [x.to_dict() for x in r] if isinstance(r, list) else r.to_dict()
        for r in predictor.predict(texts, **options)
    ]
    expected = json.loads(json.dumps(expected))  # as JSON carries them: tuples become lists
    for path in ("/predict", f"/{VERBS[recipe]}"):
        answer = client.post(path, json={"inputs": texts, **options})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"outputs": expected}
    assert len(expected) == len(texts)


def test_health_and_docs(served):
    predictor, client = served["ner"]
    health = {"status": "ok", "recipe": "ner", "step": 2, "device": "cpu", "runtime": "torch"}
    health["options"] = predictor.settings()
    assert client.get("/health").json() == health
    assert predictor.step == 2
    assert client.get("/docs").status_code == 200 and "swagger" in client.get("/docs").text.lower()
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/tag", "/health"} <= set(schema["paths"])
    body = schema["paths"]["/tag"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["inputs"]["maxItems"] == LIMITS.max_inputs
    assert "batch_size" in body["properties"]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"inputs": []}, 422, "empty"),
        ({"inputs": "a film"}, 422, "must be a list"),
        ({"inputs": ["ok", 3]}, 422, '"inputs"[1] is int'),
        ({"inputs": ["x" * 51]}, 413, "at most 50"),
        ({"inputs": ["a"] * 6}, 413, "at most 5"),
        ({"texts": ["a"]}, 422, 'missing "inputs"'),
        ({"inputs": ["a"], "beam": 3}, 422, "unknown option(s) beam"),
        ({"inputs": ["a"], "top_k": 0}, 422, "top_k=0"),
        ({"inputs": ["a"], "top_k": "2"}, 422, "top_k='2'"),
        (["a"], 422, "JSON object"),
    ],
)
def test_bad_requests_get_a_json_error(served, body, status, words):
    answer = served["sentiment"][1].post("/predict", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_malformed_and_oversized_bodies(served):
    client = served["sentiment"][1]
    answer = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "not JSON" in answer.json()["error"]
    answer = client.post("/predict", content=json.dumps({"inputs": ["a" * 40] * 200}))
    assert answer.status_code == 413 and "bytes" in answer.json()["error"]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_real_server_answers_concurrent_requests_and_stops_cleanly(tiny_runs, data_dir, stop):
    run = tiny_runs["sentiment"]
    args = ["recipe=sentiment", "mode=serve", f"ckpt={run}", "port=0", "trainer.device=cpu"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nlprnn", *args, "hydra/job_logging=none", "hydra/hydra_logging=none"],
        cwd=REPO,
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = drained(proc.stdout)  # the access log goes to stdout: read it all, so the pipe never fills
    try:
        url = announced_url(lines, timeout=60)
        assert url.startswith("http://127.0.0.1:")  # loopback by default
        wait_healthy(url, timeout=30)
        with ThreadPoolExecutor(20) as pool:
            bodies = [{"inputs": [f"film {i}", "good"]} for i in range(20)]
            answers = list(pool.map(lambda body: post(url + "/predict", body), bodies))
        assert all(status == 200 and len(body["outputs"]) == 2 for status, body in answers)
        proc.send_signal(stop)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Shutting down" in err
    assert sum('"POST /predict HTTP/1.1" 200' in line for line in lines) == 20


def drained(stream) -> list[str]:
    """The lines of ``stream`` as a reader thread gets them."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(stream), daemon=True).start()
    return lines


def announced_url(lines: list[str], timeout: float) -> str:
    """The URL of the ``serving on http://...`` line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if "serving on " in line:
                return line.split("serving on ")[1].split()[0]
        time.sleep(0.1)
    raise AssertionError(f"no URL announced in {timeout} s: {lines}")


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as answer:
                assert json.load(answer)["recipe"] == "sentiment"
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, json.load(answer)


def test_a_failing_predictor_gets_a_json_500():
    class Broken:
        recipe, step, device, OPTIONS = "sentiment", 1, "cpu", {}

        def predict(self, texts, **options):
            raise RuntimeError("boom")

    answer = TestClient(build_app(Broken())).post("/predict", json={"inputs": ["a"]})
    assert answer.status_code == 500 and answer.json() == {"error": "internal error: RuntimeError: boom"}


def test_without_fastapi_the_error_says_what_to_install(monkeypatch):
    from nlprnn.errors import UserError
    from nlprnn.inference.server import require_serve

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    with pytest.raises(UserError, match=r"needs uvicorn: pip install nlprnn\[serve\]"):
        require_serve()


def test_serve_keys_are_checked_and_ignored_outside_serve():
    from nlprnn.cli_checks import ignored_keys
    from nlprnn.config_checks import check_config
    from nlprnn.errors import UserError
    from tests.conftest import compose_config

    cfg = compose_config(["recipe=ner", "mode=serve"])
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)  # loopback by default
    given = "ckpt=x host=0.0.0.0 port=9 max_inputs=3 max_chars=9 text=a data.eval_limit=2 model.cell=gru"
    given = given.split()
    ignored = [line.split("=")[0].removeprefix("warning: ") for line in ignored_keys(cfg, given)]
    assert ignored == ["text", "data.eval_limit", "model.cell"]
    for mode in ("train", "evaluate", "tag", "export"):
        cfg = compose_config(["recipe=ner", f"mode={mode}"])
        ignored = [line.split("=")[0].removeprefix("warning: ") for line in ignored_keys(cfg, given)]
        assert {"host", "port", "max_inputs"} <= set(ignored), mode
    for bad in ("port=70000", "port=-1", "max_inputs=0", "max_request_bytes=0", "host=''"):
        with pytest.raises(UserError, match=bad.split("=")[0]):
            check_config(compose_config(["recipe=ner", "mode=serve", bad]))


# ---- requests that wait together share one predict call ----------------------------------------------
class Held:
    """A predictor that counts its predict calls and holds the first one until ``release`` is set: the
    model is busy while the other requests arrive."""

    def __init__(self, predictor, fail_on: str | None = None) -> None:
        self.inner, self.fail_on = predictor, fail_on
        self.calls: list[list[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):  # recipe, step, device, OPTIONS, settings, seed: the real predictor's
        return getattr(self.inner, name)

    def predict(self, texts, **options):
        self.calls.append(list(texts))
        self.entered.set()
        assert self.release.wait(30)
        if self.fail_on in texts:
            raise UserError(f"refusing {self.fail_on!r}")
        return self.inner.predict(texts, **options)


def concurrently(app, bodies: list[dict], held: Held) -> list:
    """POST each body to /predict at once, the first one holding the model until all others wait."""
    with TestClient(app) as client, ThreadPoolExecutor(len(bodies)) as pool:
        first = pool.submit(client.post, "/predict", json=bodies[0])
        assert held.entered.wait(30)
        rest = [pool.submit(client.post, "/predict", json=body) for body in bodies[1:]]
        deadline = time.monotonic() + 30
        while len(app.state.batcher.pending) < len(rest) and time.monotonic() < deadline:
            time.sleep(0.01)
        held.release.set()
        return [future.result() for future in [first, *rest]]


MERGE_OPTIONS = {**OPTIONS, "char_lm": {"temperature": 0, "length": 12}}  # greedy: same without a seed


@pytest.mark.parametrize("recipe", list(PREDICTORS))
def test_concurrent_requests_are_merged_and_answered_as_the_python_api(served, recipe):
    predictor = served[recipe][0]
    held = Held(predictor)
    app = build_app(held, recipe, VERBS[recipe], Limits(max_inputs=64))
    options = MERGE_OPTIONS[recipe]
    bodies = [{"inputs": [INPUTS[recipe][i % 3], INPUTS[recipe][(i + 1) % 3]], **options} for i in range(8)]
    answers = concurrently(app, bodies, held)
    for body, answer in zip(bodies, answers):
        assert answer.status_code == 200, answer.text
        expected = [plain_json(r) for r in predictor.predict(body["inputs"], **options)]
        assert_same(answer.json()["outputs"], expected)
    assert [len(call) for call in held.calls] == [2, 14]  # the first alone, the seven that waited in one


def plain_json(result):
    """A result as JSON carries it (tuples become lists)."""
    plain = [x.to_dict() for x in result] if isinstance(result, list) else result.to_dict()
    return json.loads(json.dumps(plain))


def assert_same(got, expected, where="outputs"):
    """Equal, but for the float noise of batching in scores (an input's batch partners change them in
    the 6th digit, as they do in the Python API for a list with other neighbours)."""
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-9), where
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert got == expected, where


def test_seeded_samples_are_never_merged(served):
    """A seeded Generator draws input i's sample from the call's i-th seed: merged, a request's
    prompts would move to other positions and get other samples."""
    predictor = served["char_lm"][0]
    held = Held(predictor)
    bodies = [{"inputs": ["ROMEO:", "JULIET: O"], "seed": 7, "length": 10} for _ in range(4)]
    answers = concurrently(build_app(held, "char_lm"), bodies, held)
    expected = [plain_json(r) for r in predictor.predict(["ROMEO:", "JULIET: O"], seed=7, length=10)]
    assert all(answer.json() == {"outputs": expected} for answer in answers)
    assert len(held.calls) == 4


def test_merged_requests_are_capped_and_keep_their_own_options(served):
    predictor = served["sentiment"][0]
    held = Held(predictor)
    app = build_app(held, "sentiment", limits=Limits(max_inputs=4))
    bodies = [{"inputs": ["a fine film"] * 2, "top_k": 1 + i % 2} for i in range(7)]
    answers = concurrently(app, bodies, held)
    for body, answer in zip(bodies, answers):
        expected = [plain_json(r) for r in predictor.predict(body["inputs"], top_k=body["top_k"])]
        assert_same(answer.json()["outputs"], expected)
    # the first alone; then per options, 4 inputs (the cap) and the rest: 4 + 2 for top_k=1 and for
    # top_k=2, in an order that depends on which request the threads delivered first
    lengths = [len(call) for call in held.calls]
    assert lengths[0] == 2 and sorted(lengths[1:]) == [2, 2, 4, 4]


def test_a_failing_merged_call_answers_each_request_on_its_own(served):
    held = Held(served["sentiment"][0], fail_on="boom")
    bodies = [{"inputs": ["first"]}, {"inputs": ["a film"]}, {"inputs": ["boom"]}, {"inputs": ["dull"]}]
    answers = concurrently(build_app(held, "sentiment"), bodies, held)
    assert [a.status_code for a in answers] == [200, 200, 422, 200]
    assert answers[2].json() == {"error": "refusing 'boom'"}
    assert [len(call) for call in held.calls] == [1, 3, 1, 1, 1]  # merged, failed, then one by one


# ---- what the demo page draws: /attention, /explain, /stream, and the page itself -------------------
def test_attention_gives_pieces_and_weights(served):
    predictor, client = served["translation"]
    answer = client.post("/attention", json={"inputs": ["Ein Hund läuft ."]})
    assert answer.status_code == 200, answer.text
    (out,) = answer.json()["outputs"]
    source, target, weights = predictor.attention("Ein Hund läuft .")
    assert (out["source"], out["target"]) == (source, target)
    assert out["weights"] == [[round(w, 4) for w in row] for row in weights.tolist()]
    assert len(out["weights"]) == len(target) and all(len(row) == len(source) for row in out["weights"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in out["weights"])
    bad = [({"inputs": [""]}, "empty sentence"), ({"inputs": ["a"], "beam_size": 2}, "beam_size")]
    for body, words in bad:
        answer = client.post("/attention", json=body)
        assert answer.status_code == 422 and words in answer.json()["error"]


def test_explain_gives_tokens_weights_and_probabilities(served):
    predictor, client = served["sentiment"]
    answer = client.post("/explain", json={"inputs": ["A fine, fine film!", "dull"]})
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["outputs"]
    assert first == json.loads(predictor.explain("A fine, fine film!").to_json())
    assert first["tokens"] == ["a", "fine", ",", "fine", "film", "!"] and second["tokens"] == ["dull"]
    answer = client.post("/explain", json={"inputs": ["  "]})
    assert answer.status_code == 422 and "no tokens" in answer.json()["error"]


def test_the_endpoints_of_other_recipes_are_absent(served):
    assert served["ner"][1].post("/attention", json={"inputs": ["a"]}).status_code == 404
    assert served["translation"][1].post("/explain", json={"inputs": ["a"]}).status_code == 404
    assert served["sentiment"][1].post("/stream", json={"inputs": ["a"]}).status_code == 404


def sse(text: str) -> list[tuple[str, dict]]:
    """(event type, data) of each Server-Sent Event in ``text``."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_stream_sends_the_sample_of_predict_chunk_by_chunk(served):
    predictor, client = served["char_lm"]
    options = {"seed": 3, "length": 30, "temperature": 0.9, "top_k": 20}
    with client.stream("POST", "/stream", json={"inputs": ["ROMEO:"], **options}) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        events = sse(answer.read().decode())
    assert events[-1] == ("end", {}) and all(kind == "message" for kind, _ in events[:-1])
    chunks = [data["text"] for _, data in events[:-1]]
    assert len(chunks) == 31 and chunks[0] == "ROMEO:"
    assert "".join(chunks) == predictor.predict("ROMEO:", **options).text


@pytest.mark.parametrize(
    "body, words",
    [
        ({"inputs": ["a", "b"]}, "one prompt"),
        ({"inputs": [""]}, "prompt is empty"),
        ({"inputs": ["a"], "num_samples": 2}, "num_samples=2"),
        ({"inputs": ["a"], "temperature": -1}, "temperature=-1"),
        ({"inputs": ["a"], "beam": 1}, "unknown option(s) beam"),
    ],
)
def test_stream_refuses_bad_requests_before_streaming(served, body, words):
    answer = served["char_lm"][1].post("/stream", json=body)
    assert answer.status_code == 422 and words in answer.json()["error"], answer.text


def test_the_demo_page_and_its_files_are_served(served):
    client = served["ner"][1]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/demo/demo.js">' in page.text
    assert '<link rel="stylesheet" href="/demo/demo.css">' in page.text
    assert "http" not in page.text.replace('href="/docs"', "")  # offline: no external URL
    for name, kind in [("demo.js", "text/javascript"), ("demo.css", "text/css")]:
        answer = client.get(f"/demo/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind)
        assert "http://" not in answer.text and "https://" not in answer.text
    assert client.get("/demo/../server.py").status_code == 404
    assert client.get("/demo/missing.js").json() == {"error": "no demo file missing.js"}
    assert "/" not in client.get("/openapi.json").json()["paths"]


# ---- the APIs behind them ---------------------------------------------------------------------------------
def test_generator_stream_text_is_predicts_sample(served):
    predictor = served["char_lm"][0]
    for options in ({"seed": 1, "length": 25}, {"temperature": 0, "length": 8}, {"seed": 2, "top_p": 0.9}):
        chunks = list(predictor.stream_text("JULIET: O", **options))
        assert len(chunks) == options["length"] + 1 if "length" in options else len(chunks) > 1
        assert "".join(chunks) == predictor.predict("JULIET: O", **options).text
    assert list(predictor.stream_text("", seed=1)) == [] == [predictor.predict("", seed=1).text][:0]
    with pytest.raises(UserError, match="num_samples=3, give 1"):
        predictor.stream_text("a", num_samples=3)  # at the call, not at the first chunk
    with pytest.raises(UserError, match="takes one string"):
        predictor.stream_text(["a"])


def test_classifier_explain(served, tmp_path):
    import torch

    from nlprnn.data.tokenizers import subword_tokenizer
    from nlprnn.inference.classifier import Explanation, token_weights
    from nlprnn.models.sequence_classifier import SequenceClassifier

    clf = served["sentiment"][0]
    text = "A gripping, beautifully acted film."
    explained = clf.explain(text)
    assert isinstance(explained, Explanation) and explained.pooling == "attention"
    assert explained.tokens == ["a", "gripping", ",", "beautifully", "acted", "film", "."]
    assert len(explained.weights) == len(explained.tokens) and abs(sum(explained.weights) - 1) < 1e-5
    assert len(set(explained.weights)) > 1
    result = clf.predict(text)
    assert explained.label == result.label
    assert explained.probabilities == pytest.approx(result.probabilities, abs=1e-5)
    with pytest.raises(UserError, match="no tokens"):
        clf.explain(" ")

    # sentencepiece pieces, truncated as encode truncates; another pooling: no weights
    texts = ["a gripping film", "a dull and tedious mess", "beautifully acted"] * 20
    pieces = subword_tokenizer(texts, vocab_size=40)
    model = SequenceClassifier(pieces.vocab_size, 2, pieces.pad_id, emb_dim=8, hidden_size=8, pooling="mean")
    other = Classifier(model, pieces, ["neg", "pos"], max_len=4, truncate="head")
    explained = other.explain("A Gripping Film, beautifully acted")
    assert explained.tokens == pieces.sp.encode("a gripping film, beautifully acted", out_type=str)[-4:]
    assert len(explained.tokens) == len(other.encode(["A Gripping Film, beautifully acted"])[0]) == 4
    assert (explained.weights, explained.pooling) == (None, "mean")

    # a convolution front end pools windows: each token gets its share of its window's weight
    spread = token_weights(torch.tensor([0.5, 0.3, 0.2]), num_tokens=5, stride=2)
    assert spread.tolist() == pytest.approx([0.25, 0.25, 0.15, 0.15, 0.2])
    model = SequenceClassifier(pieces.vocab_size, 2, pieces.pad_id, emb_dim=8, hidden_size=8,
                               pooling="attention", conv_channels=4, conv_pool=3)  # fmt: skip
    explained = Classifier(model, pieces, ["neg", "pos"]).explain("a gripping film , beautifully acted")
    assert len(explained.weights) == len(explained.tokens) > 3 and abs(sum(explained.weights) - 1) < 1e-5
