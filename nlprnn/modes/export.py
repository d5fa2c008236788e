"""``mode=export``: a checkpoint's model as ONNX graphs for onnxruntime, into a new directory."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from omegaconf import DictConfig

from nlprnn.inference.export import export_onnx  # onnx itself is imported only when exporting


def export(recipe_cls: type, cfg: DictConfig) -> list[Path]:
    """Export a checkpoint's model as ONNX graphs for onnxruntime: ckpt=RUN [output=DIR] [quantize=int8]."""
    out = Path(cfg.output or Path("export") / recipe_cls.name)  # a new directory, never the run's files
    predictor = recipe_cls(cfg, torch.device("cpu")).load_predictor(cfg.ckpt, runtime=False)
    start = time.perf_counter()
    files = export_onnx(predictor, out, quantize=cfg.get("quantize"))
    for path in files:
        print(f"wrote {path} ({path.stat().st_size / 1e3:,.1f} kB)")
    seconds = time.perf_counter() - start
    print(f"exported in {seconds:.1f} s; run it: nlprnn.inference.export.onnx_predictor({str(out)!r}, CKPT)")
    return files
