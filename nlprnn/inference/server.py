"""An HTTP server for one predictor (``python -m nlprnn recipe=X mode=serve ckpt=RUN``), on FastAPI::

    POST /predict  (and the recipe's verb: /generate, /translate, /tag)
         {"inputs": ["text", ...], "OPTION": value, ...}  ->  {"outputs": [result.to_dict(), ...]}
    GET  /health   {"status": "ok", "recipe": ..., "step": ..., "device": ...}
    GET  /docs     the OpenAPI page (/openapi.json: the schema)

Options are the predictor's own (``predictor.predict(texts, **options)``), checked by it. A bad request
gets a 4xx answer ``{"error": "..."}``. The model is loaded once; inference runs in a worker thread,
one call at a time, so the event loop keeps answering. Requests are not merged into one batch: a
Generator's seeded samples depend on an input's position in its call.

fastapi and uvicorn are imported only here, inside the functions (``pip install nlprnn[serve]``).
"""

import json
import logging
import socket
import threading
from dataclasses import dataclass

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
def build_app(predictor, recipe: str | None = None, verb: str | None = None, limits: Limits | None = None):
    """The FastAPI app answering with ``predictor``; ``verb`` (e.g. "translate") adds /VERB beside
    /predict. No socket: tests use it through ``fastapi.testclient.TestClient``."""
    fastapi, _ = require_serve()
    limits = limits or Limits()
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    lock = threading.Lock()  # one model, one call at a time (a threading lock: any event loop may wait)
    name = type(predictor).__name__
    app = fastapi.FastAPI(
        title=f"nlprnn {recipe or predictor.task}",
        description=f"{name} at step {predictor.step}. Options: {', '.join(predictor.OPTIONS)}.",
    )

    def locked_predict(texts: list[str], options: dict) -> list:
        with lock:
            return predictor.predict(texts, **options)

    async def predict(request: fastapi.Request):  # evaluated here: no __future__ annotations
        try:
            texts, options = parsed_request(await read_body(request, limits.max_request_bytes), limits)
            results = await run_in_threadpool(locked_predict, texts, options)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except UserError as exc:  # a bad option or value, as the Python API words it
            return JSONResponse({"error": str(exc)}, status_code=422)
        except Exception as exc:  # a bug: logged with its traceback; the client gets JSON too
            logging.getLogger("uvicorn.error").exception("predict failed")
            return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)
        return {"outputs": [plain(r) for r in results]}

    extra = {"requestBody": request_schema(predictor, limits), "responses": RESPONSES}
    summary = f"{name}.predict on each input: one result each"
    for path in dict.fromkeys(["/predict", f"/{verb}" if verb else "/predict"]):
        app.post(path, summary=summary, openapi_extra=extra, responses=ERRORS)(predict)

    @app.get("/health", summary="the model being served")
    def health():
        return {
            "status": "ok",
            "recipe": recipe or predictor.task,
            "step": predictor.step,
            "device": str(predictor.device),
        }

    return app


def request_schema(predictor, limits: Limits) -> dict:
    """The OpenAPI request body: the checks of ``parsed_request`` and the predictor's options."""
    inputs = {
        "type": "array",
        "items": {"type": "string", "maxLength": limits.max_chars},
        "minItems": 1,
        "maxItems": limits.max_inputs,
    }
    who = type(predictor).__name__
    options = {name: {"description": f"as in {who}.predict"} for name in predictor.OPTIONS}
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
