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

from nlprnn.inference import Classifier, Generator, Tagger, Translator  # noqa: E402
from nlprnn.inference.server import Limits, build_app  # noqa: E402

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
    assert client.get("/health").json() == {"status": "ok", "recipe": "ner", "step": 2, "device": "cpu"}
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
        task, step, device, OPTIONS = "sentiment", 1, "cpu", {}

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
