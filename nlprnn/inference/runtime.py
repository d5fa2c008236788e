"""Faster CPU inference for any predictor: int8 weights and ONNX Runtime, chosen at load time::

    Translator.from_checkpoint(RUN, quantize="int8")                          # torch, int8 weights
    Translator.from_checkpoint(RUN, backend="onnxruntime")                    # ORT, fp32
    Translator.from_checkpoint(RUN, backend="onnxruntime", quantize="int8")   # ORT, uint8 weights
    python -m nlprnn recipe=translation mode=evaluate ckpt=RUN quantize=int8 [backend=onnxruntime]

The predictor keeps its API; only its ``model`` changes: the same calls (encode / step / forward)
answered by int8 modules, or by the ONNX graphs of ``export.py`` in an onnxruntime session. Greedy,
sampling and beam search run on either, unchanged. CPU only (dynamic int8 kernels and ORT's CPU
provider); inference only (no ``save_pretrained`` or export of a converted model).

torch int8 is dynamic quantization: weights of the Linear, LSTM and GRU layers stored as int8,
activations quantized on the fly, per call. A module whose weights the model reads itself
(``fp32_modules()``) stays fp32, and the predictor says so (``runtime["fp32"]``), unless the model
makes int8 copies of what it reads (``int8_steps``: the decoder RNN under input feeding, stepped by
hand, gets int8 projections). Elman (``cell=rnn``) layers and embeddings
have no dynamic int8 kernel and stay fp32 too.

ORT int8 is onnxruntime's dynamic quantization of the exported graphs with *unsigned* 8-bit weights:
on CPUs without VNNI, signed weights lose accuracy (issue 23's measurement). ORT quantizes MatMul
and LSTM nodes; GRU nodes stay fp32.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from nlprnn.errors import UserError

BACKENDS = ("torch", "onnxruntime")
QUANTIZE = (None, "int8")
INT8_MODULES = (nn.Linear, nn.LSTM, nn.GRU)  # the layer kinds with dynamic int8 kernels in torch


def checked_runtime(backend, quantize, who: str) -> tuple[str, str | None]:
    """(backend, quantize) when both are known values; else a UserError naming ``who``."""
    if backend not in BACKENDS:
        raise UserError(f"{who}: backend={backend!r}: choose torch or onnxruntime")
    if quantize not in QUANTIZE:
        raise UserError(f"{who}: quantize={quantize!r}: choose int8, or None for fp32")
    return backend, quantize


def with_runtime(predictor, backend: str, quantize: str | None, inplace: bool = False):
    """``predictor`` with its model replaced for ``backend`` / ``quantize`` (torch / None: as it is);
    ``predictor.runtime`` records the choice and what stayed fp32. ``inplace``: torch int8 converts
    the predictor's model itself (a model nobody else holds, as ``from_checkpoint``'s)."""
    predictor.runtime = {"backend": backend, "quantize": quantize, "fp32": []}
    if (backend, quantize) != ("torch", None):
        if predictor.device.type != "cpu":
            raise UserError(
                f"backend={backend} quantize={quantize}: int8 and ONNX Runtime decoding run on the CPU; "
                f"load with device='cpu' (command line: trainer.device=cpu), not {predictor.device}"
            )
        if backend == "onnxruntime":
            predictor.model = onnx_runtime_model(predictor.model, int8=quantize == "int8")
        else:
            predictor.model, predictor.runtime["fp32"] = int8_model(predictor.model, inplace)
    predictor.runtime["weights_mb"] = round(weights_bytes(predictor.model) / 1e6, 2)
    return predictor


# ---- torch: dynamic int8 ------------------------------------------------------------------------
def int8_model(model: nn.Module, inplace: bool = False) -> tuple[nn.Module, list[str]]:
    """A copy of ``model`` (``inplace``: the model itself, no second copy in memory) with int8 Linear /
    LSTM / GRU layers, and the names of those left fp32 because the model reads their weights itself
    (``model.fp32_modules()``), but for those whose reads it can make int8 (``model.int8_steps``)."""
    kept = list(getattr(model, "fp32_modules", list)())
    names = {
        name
        for name, module in model.named_modules()
        if isinstance(module, INT8_MODULES) and not any(name == k or name.startswith(k + ".") for k in kept)
    }
    quantized = quantize_dynamic(model, names, inplace)
    stepped = quantized.int8_steps(int8_linear) if hasattr(quantized, "int8_steps") else []
    return quantized.eval(), [k for k in kept if k not in stepped]


def int8_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    """A dynamic int8 Linear computing ``weight @ x + bias`` (weights copied, not shared)."""
    linear = nn.Linear(weight.size(1), weight.size(0), bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)
    return quantize_dynamic(nn.Sequential(linear), {nn.Linear})[0]


def quantize_dynamic(model: nn.Module, modules: set, inplace: bool = False) -> nn.Module:
    """torch's dynamic int8 quantization of ``modules`` (names or types) of ``model``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice: it still works
        return torch.ao.quantization.quantize_dynamic(model, modules, dtype=torch.qint8, inplace=inplace)


def weights_bytes(model) -> int:
    """The size of a model's weights as stored: its serialized state dict (int8 packed weights as
    int8), or an ORT model's graphs (weights included)."""
    if isinstance(model, nn.Module):
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        return buffer.tell()
    return sum(model.graphs.sizes.values())


# ---- onnxruntime --------------------------------------------------------------------------------
def onnx_runtime_model(model: nn.Module, int8: bool = False):
    """The ORT stand-in of ``model`` (``export.onnx_model``): exported to a temporary directory,
    quantized there when ``int8``, loaded into sessions with torch's thread count, the files removed."""
    from nlprnn.inference.export import export_onnx, onnx_model

    tmp = Path(tempfile.mkdtemp(prefix="nlprnn-ort-"))
    try:
        out = tmp / "graphs"
        export_onnx(model, out)
        if int8:
            quantize_graphs(out)
        return onnx_model(out, threads=torch.get_num_threads())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def quantize_graphs(out_dir: Path) -> None:
    """Replace each .onnx file of an export directory by its dynamically quantized version
    (uint8 weights; see the module docstring)."""
    from nlprnn.inference.export import require

    require("onnxruntime")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer's advice to pre-process, logged for every graph
    try:
        for graph in sorted(out_dir.glob("*.onnx")):
            fp32 = graph.with_suffix(".fp32")
            graph.rename(fp32)
            quantize_dynamic(fp32, graph, weight_type=QuantType.QUInt8)
            fp32.unlink()
    finally:
        root.setLevel(level)
