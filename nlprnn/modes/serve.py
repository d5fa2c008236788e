"""``mode=serve``: an HTTP server (FastAPI, ``nlprnn.inference.server``) answering with the recipe's
Predictor."""

from __future__ import annotations

from omegaconf import DictConfig

from nlprnn.inference import server  # fastapi and uvicorn are imported only when serving
from nlprnn.modes.run_setup import setup_device


def serve(recipe_cls: type, cfg: DictConfig) -> None:
    """Answer HTTP requests (FastAPI): ckpt=RUN [host=127.0.0.1] [port=8000]; POST /predict, docs at /docs."""
    server.require_serve()  # before loading the model: a missing package is the first thing to say
    recipe = recipe_cls(cfg, setup_device(cfg))
    predictor = recipe.load_predictor(cfg.ckpt)
    limits = server.Limits(cfg.max_request_bytes, cfg.max_inputs, cfg.max_chars)
    app = server.build_app(predictor, recipe_cls.name, recipe.inference_mode, limits)
    verbs = " and /".join(dict.fromkeys(["predict", recipe.inference_mode]))
    kept = predictor.runtime["fp32"]
    model = predictor.runtime_name() + (f" ({', '.join(kept)} kept fp32)" if kept else "")
    announce = f"{recipe_cls.name} (step {predictor.step}, {model}), POST /{verbs}: "
    server.serve(app, cfg.host, cfg.port, announce)
