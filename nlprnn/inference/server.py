"""An HTTP server for one predictor (``python -m nlprnn recipe=X mode=serve ckpt=RUN``), on FastAPI::

    POST /predict  (and the recipe's verb: /generate, /translate, /tag)
         {"inputs": ["text", ...], "OPTION": value, ...}  ->  {"outputs": [result.to_dict(), ...]}
    GET  /health   {"status": "ok", "recipe": ..., "step": ..., "device": ..., "options": {...}}
    GET  /docs     the OpenAPI page (/openapi.json: the schema)
    GET  /         the demo page (``nlprnn/inference/demo/``), which draws what these answer:
    POST /attention  translation: {"inputs": [...]} -> each sentence's pieces and attention weights
    POST /explain    sentiment: {"inputs": [...]} -> each text's tokens, pooling weights, probabilities
    POST /stream     char_lm: {"inputs": ["prompt"], ...options} -> the sample as Server-Sent Events

Options are the predictor's own (``predictor.predict(texts, **options)``), checked by it. A bad request
gets a 4xx answer ``{"error": "..."}``. The model is loaded once and runs one call at a time in a worker
thread, so the event loop keeps answering.

Requests that arrive while the model is busy wait in a queue; when it is free, the waiting requests
with the same options become one ``predict`` call (at most ``max_inputs`` inputs) and each gets its own
slice of the results (``Batcher``). An input's result does not depend on what else is in its call, up
to the float noise of batching (its batch partners change the padding and the kernels: a score may move
in its 6th digit, as it does in the Python API for a list with other neighbours), except where a seed
is in play. A seeded Generator draws the i-th input's samples from the i-th seed of the call, and a
seeded Translator sampling draws from one stream in input order: merged, an input would get another
position's sample. So a request whose effective ``seed`` is not None is never merged.

fastapi and uvicorn are imported only here, inside the functions (``pip install nlprnn[serve]``).
"""

import asyncio
import json
import logging
import socket
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from importlib import resources

from nlprnn.errors import UserError


@dataclass(frozen=True)
class Limits:
    """What one request may hold."""

    max_request_bytes: int = 1_000_000
    max_inputs: int = 256
    max_chars: int = 100_000  # of one input


class BadRequest(Exception):
    """A request the server refuses: its HTTP status and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require_serve():
    """(fastapi, uvicorn), or a UserError saying how to install them."""
    try:
        import fastapi
        import uvicorn
    except ImportError as exc:
        raise UserError(f"mode=serve needs {exc.name}: pip install nlprnn[serve]") from None
    return fastapi, uvicorn


# ---- the request's checks -------------------------------------------------------------------------
def parsed_request(body: bytes, limits: Limits) -> tuple[list[str], dict]:
    """(inputs, options) of a request body; BadRequest for anything the predictor should not see."""
    if len(body) > limits.max_request_bytes:
        raise BadRequest(413, f"the request has {len(body)} bytes; at most {limits.max_request_bytes}")
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest(422, 'send a JSON object: {"inputs": ["text", ...], "OPTION": value, ...}')
    if "inputs" not in request:
        raise BadRequest(422, 'missing "inputs": a list of strings')
    inputs = request.pop("inputs")
    return checked_inputs(inputs, limits), request


def checked_inputs(inputs, limits: Limits) -> list[str]:
    if not isinstance(inputs, list):
        raise BadRequest(422, f'"inputs" must be a list of strings, got {type(inputs).__name__}')
    if not inputs:
        raise BadRequest(422, '"inputs" is empty: give at least one string')
    if len(inputs) > limits.max_inputs:
        raise BadRequest(413, f'"inputs" has {len(inputs)} items; at most {limits.max_inputs} a request')
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise BadRequest(422, f'"inputs"[{i}] is {type(text).__name__}, not a string')
        if len(text) > limits.max_chars:
            raise BadRequest(413, f'"inputs"[{i}] has {len(text)} characters; at most {limits.max_chars}')
    return inputs


def plain(result):
    """A result (or a list of them: n_best, num_samples) as plain JSON data."""
    return [r.to_dict() for r in result] if isinstance(result, list) else result.to_dict()


# ---- merging the requests that wait for the model ------------------------------------------------
@dataclass
class Job:
    """One request's share of a call: its inputs and options, and where its results go."""

    texts: list[str]
    options: dict
    key: str | None  # requests with one key may share a call; None: this one runs alone
    future: Future = field(default_factory=Future)


class Batcher:
    """Runs ``predict(texts, options)`` for the requests submitted, one call at a time under ``lock``,
    merging the requests that wait meanwhile (same options, at most ``max_inputs`` inputs in all).

    No timer: a request that finds the model free runs at once, alone; only those arriving during a
    call wait, and they wait for that call anyway. A worker thread runs while requests are pending.
    """

    def __init__(self, predict, lock: threading.Lock, max_inputs: int) -> None:
        self.predict, self.lock, self.max_inputs = predict, lock, max_inputs
        self.pending: list[Job] = []
        self.guard = threading.Lock()  # over pending and draining
        self.draining = False

    def submit(self, texts: list[str], options: dict, mergeable: bool = True) -> Future:
        """A Future of ``texts``' results (a list, one each) or of the exception the call raised."""
        key = json.dumps(options, sort_keys=True) if mergeable else None
        job = Job(texts, options, key)
        with self.guard:
            self.pending.append(job)
            start, self.draining = not self.draining, True
        if start:
            threading.Thread(target=self.drain, name="nlprnn-batcher", daemon=True).start()
        return job.future

    def drain(self) -> None:
        while True:
            with self.guard:
                if not self.pending:
                    self.draining = False
                    return
                jobs = self.take()
            self.run(jobs)

    def take(self) -> list[Job]:
        """The oldest pending job and the later ones that may share its call."""
        first = self.pending.pop(0)
        jobs, size, rest = [first], len(first.texts), []
        for job in self.pending:
            if first.key is not None and job.key == first.key and size + len(job.texts) <= self.max_inputs:
                jobs.append(job)
                size += len(job.texts)
            else:
                rest.append(job)
        self.pending = rest
        return jobs

    def run(self, jobs: list[Job]) -> None:
        texts = [text for job in jobs for text in job.texts]
        try:
            with self.lock:
                results = self.predict(texts, jobs[0].options)
        except Exception as exc:
            if len(jobs) > 1:  # which request failed it? each runs alone: its own answer or error
                for job in jobs:
                    self.run([job])
            else:
                jobs[0].future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            job.future.set_result(results[start : start + len(job.texts)])
            start += len(job.texts)


def mergeable(predictor, options: dict) -> bool:
    """Whether a request may share a call with others: not when a seed fixes its samples by position."""
    seed = options["seed"] if "seed" in options else getattr(predictor, "seed", None)
    return seed is None


async def read_body(request, limit: int) -> bytes:
    """The body, read no further than one byte past ``limit`` (a huge upload is refused early)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"the request has {declared} bytes; at most {limit}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            break
    return body


# ---- the app --------------------------------------------------------------------------------------
DEMO_FILES = {"demo.js": "text/javascript", "demo.css": "text/css"}


def build_app(predictor, recipe: str | None = None, verb: str | None = None, limits: Limits | None = None):
    """The FastAPI app answering with ``predictor``; ``verb`` (e.g. "translate") adds /VERB beside
    /predict. No socket: tests use it through ``fastapi.testclient.TestClient``."""
    fastapi, _ = require_serve()
    limits = limits or Limits()
    from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.concurrency import run_in_threadpool

    lock = threading.Lock()  # one model, one call at a time (a threading lock: any event loop may wait)
    batcher = Batcher(lambda texts, options: predictor.predict(texts, **options), lock, limits.max_inputs)
    name = type(predictor).__name__
    app = fastapi.FastAPI(
        title=f"nlprnn {recipe or predictor.recipe}",
        description=f"{name} at step {predictor.step}. Options: {', '.join(predictor.OPTIONS)}. "
        "The demo page is at /.",
    )
    app.state.batcher = batcher  # for tests: what waits

    def answered(compute):
        """The endpoint ``compute(request) -> JSON data``, its errors turned into JSON answers."""

        async def endpoint(request: fastapi.Request):  # evaluated here: no __future__ annotations
            try:
                return await compute(request)
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except UserError as exc:  # a bad option or value, as the Python API words it
                return JSONResponse({"error": str(exc)}, status_code=422)
            except Exception as exc:  # a bug: logged with its traceback; the client gets JSON too
                logging.getLogger("uvicorn.error").exception("%s failed", request.url.path)
                error = f"internal error: {type(exc).__name__}: {exc}"
                return JSONResponse({"error": error}, status_code=500)

        return endpoint

    async def parsed(request) -> tuple[list[str], dict]:
        return parsed_request(await read_body(request, limits.max_request_bytes), limits)

    async def locked(function, *args):
        """``function(*args)`` in a worker thread, holding the model."""

        def call():
            with lock:
                return function(*args)

        return await run_in_threadpool(call)

    @answered
    async def predict(request):
        texts, options = await parsed(request)
        results = await asyncio.wrap_future(batcher.submit(texts, options, mergeable(predictor, options)))
        return {"outputs": [plain(r) for r in results]}

    extra = {"requestBody": request_schema(predictor, limits), "responses": RESPONSES}
    summary = f"{name}.predict on each input: one result each"
    for path in dict.fromkeys(["/predict", f"/{verb}" if verb else "/predict"]):
        app.post(path, summary=summary, openapi_extra=extra, responses=ERRORS)(predict)

    only_inputs = {"requestBody": request_schema(predictor, limits, options=False)}

    def per_text(path: str, answer, summary: str) -> None:
        """POST ``path`` {"inputs": [...]} (no options) -> {"outputs": [answer(text) for each]}."""

        @answered
        async def endpoint(request):
            texts, options = await parsed(request)
            no_options(options, path)
            return {"outputs": [await locked(answer, text) for text in texts]}

        app.post(path, summary=summary, openapi_extra=only_inputs, responses=ERRORS)(endpoint)

    if callable(getattr(predictor, "attention", None)):
        summary = "each sentence's source and target pieces and attention weights (target x source)"
        per_text("/attention", lambda text: attention_of(predictor, text), summary)
    if callable(getattr(predictor, "explain", None)):
        summary = "each text's tokens, their attention-pooling weights and the label probabilities"
        per_text("/explain", lambda text: plain(predictor.explain(text)), summary)

    if callable(getattr(predictor, "stream_text", None)):

        @answered
        async def stream(request):
            texts, options = await parsed(request)
            if len(texts) != 1:
                raise BadRequest(422, f'/stream takes one prompt ("inputs": ["ROMEO:"]), got {len(texts)}')
            if not texts[0]:
                raise BadRequest(422, "the prompt is empty: give a few characters for the sample to continue")
            chunks = predictor.stream_text(texts[0], **options)  # options checked here, before a byte
            headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
            return StreamingResponse(events(chunks, lock), media_type="text/event-stream", headers=headers)

        summary = 'one sample as it is drawn: Server-Sent Events `data: {"text": chunk}`, then `event: end`'
        extra = {"requestBody": request_schema(predictor, limits), "responses": STREAM_RESPONSES}
        app.post("/stream", summary=summary, openapi_extra=extra, responses=ERRORS)(stream)

    @app.get("/health", summary="the model being served")
    def health():
        return {
            "status": "ok",
            "recipe": recipe or predictor.recipe,
            "step": predictor.step,
            "device": str(predictor.device),
            "runtime": predictor.runtime_name(),  # torch, torch int8, onnxruntime, onnxruntime int8
            "options": settings_of(predictor),
        }

    page = demo_file("index.html")

    @app.get("/", include_in_schema=False)
    def demo_page():
        return HTMLResponse(page)

    files = {file: demo_file(file) for file in DEMO_FILES}

    @app.get("/demo/{file}", include_in_schema=False)
    def demo_asset(file: str):
        if file not in files:
            return JSONResponse({"error": f"no demo file {file}"}, status_code=404)
        return Response(files[file], media_type=DEMO_FILES[file])

    return app


def demo_file(name: str) -> str:
    """A file of the demo page, shipped in the package (pyproject's package-data)."""
    return resources.files("nlprnn.inference").joinpath("demo", name).read_text(encoding="utf-8")


def no_options(options: dict, path: str) -> None:
    if options:
        raise BadRequest(422, f'{path} takes only "inputs", not {", ".join(sorted(options))}')


def settings_of(predictor) -> dict:
    """The predictor's option values (what a request leaves out), as JSON can carry them."""
    settings = predictor.settings() if callable(getattr(predictor, "settings", None)) else {}
    return {k: v for k, v in settings.items() if v is None or isinstance(v, (bool, int, float, str))}


def attention_of(translator, sentence: str) -> dict:
    """``Translator.attention`` as JSON data: weights rounded to 4 decimals, one row per target piece."""
    source, target, weights = translator.attention(sentence)
    rows = [[round(float(w), 4) for w in row] for row in weights.tolist()]
    return {"source": source, "target": target, "weights": rows}


def events(chunks, lock: threading.Lock):
    """The Server-Sent Events of a stream of text chunks: ``data: {"text": ...}`` each, then ``event:
    end`` (or ``event: error`` with ``{"error": ...}``). The model is held for one step at a time, so
    a slow reader does not stop other requests."""
    try:
        while True:
            with lock:
                chunk = next(chunks, None)
            if chunk is None:
                break
            yield f"data: {json.dumps({'text': chunk}, ensure_ascii=False)}\n\n"
    except Exception as exc:  # the response has started: the error goes in the stream
        logging.getLogger("uvicorn.error").exception("stream failed")
        yield f"event: error\ndata: {json.dumps({'error': f'{type(exc).__name__}: {exc}'})}\n\n"
        return
    yield "event: end\ndata: {}\n\n"


def request_schema(predictor, limits: Limits, options: bool = True) -> dict:
    """The OpenAPI request body: the checks of ``parsed_request`` and (``options``) the predictor's."""
    inputs = {
        "type": "array",
        "items": {"type": "string", "maxLength": limits.max_chars},
        "minItems": 1,
        "maxItems": limits.max_inputs,
    }
    who = type(predictor).__name__
    names = predictor.OPTIONS if options else ()
    options = {name: {"description": f"as in {who}.predict"} for name in names}
    schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {"inputs": inputs, **options},
        "additionalProperties": False,
        "example": {"inputs": ["a text"]},
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ERROR = {"content": {"application/json": {"example": {"error": "what was wrong"}}}}
ERRORS = {400: {"description": "not JSON", **ERROR}, 413: {"description": "too large", **ERROR},
          422: {"description": "a bad input or option", **ERROR}}  # fmt: skip
RESPONSES = {"200": {"description": "one result per input", "content": {"application/json": {
    "example": {"outputs": [{"label": "pos", "score": 0.9}]}}}}}  # fmt: skip
SSE = 'data: {"text": "ROMEO:"}\n\ndata: {"text": "\\n"}\n\nevent: end\ndata: {}\n\n'
STREAM_RESPONSES = {"200": {"description": "the chunks", "content": {"text/event-stream": {"example": SSE}}}}


# ---- serving on a socket --------------------------------------------------------------------------
def serve(app, host: str, port: int, announce: str = "") -> None:
    """Serve ``app`` until SIGINT / SIGTERM. The socket is bound here so that ``port=0`` (any free
    port) can be announced: one line on stdout with the URL."""
    _, uvicorn = require_serve()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"host={host} port={port}: cannot listen there ({exc.strerror})") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"{announce}serving on http://{shown}:{bound} (docs: http://{shown}:{bound}/docs)", flush=True)
    server = quiet_stop(uvicorn)(uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=5))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def quiet_stop(uvicorn) -> type:
    """uvicorn's Server, but SIGINT / SIGTERM end it with exit status 0: a stop asked for is the
    server's normal end (uvicorn >= 0.29 raises the signal again once it has shut down)."""

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            getattr(self, "_captured_signals", []).clear()

    return Server
