"""Export a trained model to ONNX graphs, and run them in onnxruntime in place of the torch model::

    export_onnx(checkpoint_or_predictor, out_dir)   -> the files written (graphs + export.json)
    onnx_predictor(out_dir, checkpoint)             -> the recipe's Predictor, its model an ORT stand-in

Graphs per recipe; every input and output is a flat tensor, dims named in export.json::

    char_lm      step(tokens (B,), h (L, B, H)[, c]) -> logits (B, V), h[, c]
    sentiment    classifier(tokens (B, T), lengths (B,)) -> logits (B, C)
    ner          emissions(words (B, L), lengths (B,)[, casings (B, L)][, chars (U, C), char_lengths (U,),
                 char_index (B, L)]) -> emissions (B, L, T); the CRF's scores are in export.json and
                 Viterbi runs outside the graph, in numpy (``viterbi``)
    translation  encoder(src (B, S), lengths (B,)) -> memory, keys, mask, hidden[, cell][, feed]
                 decoder_step(tokens (N,), hidden[, cell][, feed], memory, keys, mask)
                     -> logits (N, V), hidden[, cell][, feed], attn (N, S)
                 N = B x beams: the step returns logits (not log-probabilities) because beam search
                 breaks ties on them, so ORT decodes exactly as torch does.

Packed sequences cannot be traced, so the models are exported on StackedRNN's masked path
(``nlprnn.modules.rnn.without_packing``), which gives the same outputs. The exporter is torch's
TorchScript one by default (see ``export_graph`` for why not dynamo). onnx, onnxscript and onnxruntime
are imported only here, when called: ``pip install nlprnn[export]``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nlprnn.errors import UserError
from nlprnn.inference.classifier import Classifier
from nlprnn.inference.generator import Generator
from nlprnn.inference.predictor import Predictor
from nlprnn.inference.tagger import Tagger
from nlprnn.inference.translator import Translator
from nlprnn.models.language_model import LanguageModel
from nlprnn.models.output import ModelOutput
from nlprnn.models.seq2seq import Seq2Seq
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.models.sequence_tagger import SequenceTagger
from nlprnn.modules.crf import CRF
from nlprnn.modules.rnn import without_packing
from nlprnn.training.checkpoint import load_checkpoint

PREDICTORS = {"char_lm": Generator, "sentiment": Classifier, "ner": Tagger, "translation": Translator}
MANIFEST = "export.json"
OPSET = 18


def require(module: str):
    """Import an optional dependency of the export, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"ONNX export needs the {module} package: pip install nlprnn[export]") from None


# ---- the graphs: wrappers whose inputs and outputs are flat tensors -------------------------------
@dataclass
class Graph:
    """One graph to export: its module, example inputs, names, and the named dims of each."""

    name: str
    module: nn.Module
    example: tuple
    inputs: list[str]
    outputs: list[str]
    dims: dict[str, dict[int, str]] = field(default_factory=dict)  # tensor -> {axis: dim name}


def state_names(cell: str) -> list[str]:
    return ["h", "c"] if cell == "lstm" else ["h"]


def as_state(tensors, cell: str):
    """Flat state tensors -> the models' State (a pair for an LSTM)."""
    return tuple(tensors) if cell == "lstm" else tensors[0]


def flat(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


class LanguageModelStep(nn.Module):
    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens, *state):
        logits, new_state = self.model.step(tokens, as_state(state, self.model.rnn.cell))
        return (logits, *flat(new_state))


class ClassifierGraph(nn.Module):
    def __init__(self, model: SequenceClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens, lengths):
        return self.model(tokens, lengths).logits


class EmissionsGraph(nn.Module):
    def __init__(self, model: SequenceTagger, features: list[str]) -> None:
        super().__init__()
        self.model, self.features = model, features

    def forward(self, words, lengths, *features):
        return self.model.emissions(words, lengths, **dict(zip(self.features, features)))


def decoder_state_names(model: Seq2Seq) -> list[str]:
    """The per-beam state tensors of a translation decoder, in graph order."""
    return ["hidden", *(["cell"] if model.cell == "lstm" else []), *(["feed"] if model.input_feeding else [])]


def to_flat_state(model: Seq2Seq, state: dict) -> tuple:
    hidden = flat(state["hidden"])
    return (*hidden, *((state["feed"],) if model.input_feeding else ()))


def from_flat_state(model: Seq2Seq, tensors) -> dict:
    """Flat per-beam tensors (``decoder_state_names`` order) -> the hidden / feed entries."""
    n = 2 if model.cell == "lstm" else 1
    return {"hidden": as_state(tensors[:n], model.cell), "feed": tensors[n] if model.input_feeding else None}


class EncoderGraph(nn.Module):
    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, src, lengths):
        state = self.model.encode(src, lengths)
        return (state["memory"], state["keys"], state["mask"], *to_flat_state(self.model, state))


class DecoderStep(nn.Module):
    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens, *tensors):
        *per_beam, memory, keys, mask = tensors
        state = {"memory": memory, "keys": keys, "mask": mask, **from_flat_state(self.model, per_beam)}
        logits, state = self.model.step(tokens, state)
        return (logits, *to_flat_state(self.model, state), state["attn"])


# ---- example inputs: two (or more) rows of different lengths --------------------------------------
def example_tokens(vocab: int, rows: int, steps: int) -> torch.Tensor:
    return torch.randint(1, vocab, (rows, steps), generator=torch.Generator().manual_seed(0))


def example_lengths(rows: int, steps: int) -> torch.Tensor:
    return torch.tensor([steps] + [max(1, steps - 2 - i) for i in range(rows - 1)])


def language_model_graphs(model: LanguageModel) -> tuple[list[Graph], dict]:
    names = state_names(model.rnn.cell)
    shape = (model.rnn.num_layers, 3, model.rnn.hidden_size)
    tokens = example_tokens(model.embedding.num_embeddings, 3, 1)[:, 0]
    example = (tokens, *(torch.zeros(shape) for _ in names))
    dims = {"tokens": {0: "batch"}, "logits": {0: "batch"}}
    dims.update({n: {1: "batch"} for n in names} | {f"{n}_out": {1: "batch"} for n in names})
    graph = Graph("step", LanguageModelStep(model), example, ["tokens", *names], ["logits"], dims)
    graph.outputs += [f"{n}_out" for n in names]
    return [graph], {"state": names, "state_shape": ["layers", "batch", model.rnn.hidden_size]}


def classifier_graphs(model: SequenceClassifier) -> tuple[list[Graph], dict]:
    example = (example_tokens(model.embedding.num_embeddings, 3, 7), example_lengths(3, 7))
    dims = {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}}
    return [Graph("classifier", ClassifierGraph(model), example, ["tokens", "lengths"], ["logits"], dims)], {}


def tagger_graphs(model: SequenceTagger) -> tuple[list[Graph], dict]:
    rows, steps = 3, 6
    lengths = example_lengths(rows, steps)
    words = example_tokens(model.embedding.num_embeddings, rows, steps)
    inputs, dims = {"words": words, "lengths": lengths}, {"words": {0: "batch", 1: "time"}}
    dims["lengths"] = {0: "batch"}
    if model.casings is not None:
        inputs["casings"] = example_tokens(model.casings.num_embeddings, rows, steps)
        dims["casings"] = {0: "batch", 1: "time"}
    if model.chars is not None:
        forms = 5  # distinct word forms: a dim of its own
        inputs["chars"] = example_tokens(model.chars.embed.num_embeddings, forms, 4)
        inputs["char_lengths"] = torch.tensor([4, 1, 3, 2, 4])
        inputs["char_index"] = torch.arange(rows * steps).view(rows, steps) % forms
        dims.update({"chars": {0: "forms", 1: "chars"}, "char_lengths": {0: "forms"}})
        dims["char_index"] = {0: "batch", 1: "time"}
    dims["emissions"] = {0: "batch", 1: "time"}
    names = list(inputs)
    graph = Graph("emissions", EmissionsGraph(model, names[2:]), tuple(inputs.values()), names, ["emissions"])
    graph.dims = dims
    crf = None
    if model.crf is not None:
        crf = {k: getattr(model.crf, k).tolist() for k in ("transitions", "start", "end")}
    return [graph], {"features": names[2:], "crf": crf}


def seq2seq_graphs(model: Seq2Seq) -> tuple[list[Graph], dict]:
    rows, beams, steps = 2, 3, 6
    src = example_tokens(model.src_embedding.num_embeddings, rows, steps)
    lengths = example_lengths(rows, steps)
    per_beam = decoder_state_names(model)
    shared = ["memory", "keys", "mask"]
    src_dims = {"memory": {0: "batch", 1: "src_time"}, "keys": {0: "batch", 1: "src_time"}}
    src_dims["mask"] = {0: "batch", 1: "src_time"}
    beam_dims = {n: {0: "rows"} if n == "feed" else {1: "rows"} for n in per_beam}
    encoder = Graph("encoder", EncoderGraph(model), (src, lengths), ["src", "lengths"], shared + per_beam)
    encoder.dims = {"src": {0: "batch", 1: "src_time"}, "lengths": {0: "batch"}, **src_dims}
    encoder.dims.update({n: {0: "batch"} if n == "feed" else {1: "batch"} for n in per_beam})
    with torch.no_grad():
        state = model.encode(src, lengths)
    rows_of = torch.arange(rows).repeat_interleave(beams)
    state = Seq2Seq.reorder_state(state, rows_of)
    tokens = example_tokens(model.tgt_embedding.num_embeddings, rows * beams, 1)[:, 0]
    example = (tokens, *to_flat_state(model, state), state["memory"], state["keys"], state["mask"])
    outputs = ["logits", *(f"{n}_out" for n in per_beam), "attn"]
    step = Graph("decoder_step", DecoderStep(model), example, ["tokens", *per_beam, *shared], outputs)
    step.dims = {"tokens": {0: "rows"}, "logits": {0: "rows"}, "attn": {0: "rows", 1: "src_time"}}
    step.dims.update({**beam_dims, **src_dims})
    step.dims.update({f"{n}_out": beam_dims[n] for n in per_beam})
    ids = {"bos_id": model.bos_id, "eos_id": model.eos_id, "pad_id": model.pad_id}
    return [encoder, step], {"state": per_beam, "cell": model.cell, **ids}


GRAPHS = [
    (LanguageModel, "char_lm", language_model_graphs),
    (SequenceClassifier, "sentiment", classifier_graphs),
    (SequenceTagger, "ner", tagger_graphs),
    (Seq2Seq, "translation", seq2seq_graphs),
]


# ---- export ---------------------------------------------------------------------------------------
def export_onnx(
    source, out_dir: str | Path, exporter: str = "torchscript", quantize: str | None = None
) -> list[Path]:
    """Export ``source`` (a checkpoint file or run directory, a Predictor, or one of the four models)
    to ``out_dir``: one .onnx file per graph and export.json (inputs, outputs, named dims, what the
    runners need). ``out_dir`` must not exist; it appears complete or not at all.

    Args:
        source: a checkpoint file or run directory, a Predictor, or a LanguageModel,
            SequenceClassifier, SequenceTagger or Seq2Seq.
        out_dir: the directory to create.
        exporter: "torchscript" (default) or "dynamo" (see ``export_graph``).
        quantize: None (fp32 graphs) or "int8": onnxruntime's dynamic quantization of each graph
            (``nlprnn.inference.runtime.quantize_graphs``: uint8 weights).

    Returns:
        The files written, sorted.

    Example::

        files = export_onnx("runs/sentiment/RUN", "exported/sentiment")
        clf = onnx_predictor("exported/sentiment", "runs/sentiment/RUN")
        clf("a gripping film .").label    # as the torch model answers
    """
    if exporter not in EXPORTERS:
        raise UserError(f"exporter={exporter!r}: choose one of {', '.join(EXPORTERS)}")
    if quantize not in (None, "int8"):
        raise UserError(f"quantize={quantize!r}: choose int8, or None for fp32 graphs")
    model = model_of(source)
    task, make = next((task, make) for kind, task, make in GRAPHS if isinstance(model, kind))
    out = Path(out_dir)
    if out.exists():
        raise UserError(f"output={out} exists: the export writes a new directory, it replaces nothing")
    require("onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest = write_graphs(model.eval(), task, make, tmp, exporter)
        if quantize:
            from nlprnn.inference.runtime import quantize_graphs  # it imports this module

            quantize_graphs(tmp)
        (tmp / MANIFEST).write_text(json.dumps({**manifest, "quantize": quantize}, indent=1) + "\n")
        os.rename(tmp, out)  # atomic: no half-written export under the final name
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(out.iterdir())


def model_of(source) -> nn.Module:
    if isinstance(source, nn.Module):
        return source
    if isinstance(source, Predictor):
        if not source.is_plain_torch():
            raise UserError(f"the export needs the fp32 torch model, not {source.runtime_name()}")
        return source.model
    task = load_checkpoint(source)["recipe"]
    if task not in PREDICTORS:
        raise UserError(f"{source}: recipe {task!r} has no ONNX export (only {', '.join(PREDICTORS)})")
    return PREDICTORS[task].from_checkpoint(source, device="cpu").model


def write_graphs(model: nn.Module, task: str, make, out: Path, exporter: str) -> dict:
    model = model.cpu()
    with without_packing(model), torch.no_grad():
        graphs, extra = make(model)
        manifest = {
            "format": "onnx",
            "recipe": task,
            "opset": OPSET,
            "torch": torch.__version__,
            "graphs": {},
        }
        for graph in graphs:
            graph.module.eval()  # a wrapper left in training mode would put the model back in it
            start = time.perf_counter()
            export_graph(graph, out / f"{graph.name}.onnx", exporter)
            manifest["graphs"][graph.name] = {
                "file": f"{graph.name}.onnx",
                "exporter": exporter,
                "seconds": round(time.perf_counter() - start, 3),
                "inputs": describe(graph.inputs, graph.example, graph.dims),
                "outputs": describe(graph.outputs, flat(graph.module(*graph.example)), graph.dims),
            }
    return {**manifest, **extra}


def describe(names: list[str], tensors, dims: dict) -> list[dict]:
    """[{name, dtype, shape}] with named dims where they vary."""
    return [
        {
            "name": name,
            "dtype": str(t.dtype).removeprefix("torch."),
            "shape": [dims.get(name, {}).get(axis, size) for axis, size in enumerate(t.shape)],
        }
        for name, t in zip(names, tensors)
    ]


EXPORTERS = ("torchscript", "dynamo")


def export_graph(graph: Graph, path: Path, exporter: str) -> None:
    """torch.onnx.export with every named dim dynamic; an exporter that fixed one is an error.

    "torchscript" (the default) traces the graph. "dynamo" (torch.export + onnxscript) fixes the time
    dim of the LSTM graphs (sentiment, ner) to the example's length, so it is opt-in and checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' notes on LSTM batch sizes, TracerWarnings
        if exporter == "dynamo":
            require("onnxscript")
            options = {"dynamic_shapes": dynamic_shapes(graph), "external_data": False, "verbose": False}
        else:
            options = {"dynamic_axes": graph.dims}
        torch.onnx.export(
            graph.module,
            graph.example,
            str(path),
            input_names=graph.inputs,
            output_names=graph.outputs,
            opset_version=OPSET,
            dynamo=exporter == "dynamo",
            **options,
        )
    fixed = fixed_dims(path, graph)
    if fixed:
        raise UserError(f"{graph.name}: the {exporter} exporter fixed dims {fixed}; use another exporter")


def fixed_dims(path: Path, graph: Graph) -> list[str]:
    """The named dims of the graph's inputs that the saved graph has as constants."""
    onnx = require("onnx")
    shapes = {i.name: i.type.tensor_type.shape.dim for i in onnx.load(str(path)).graph.input}
    return [
        f"{name}[{axis}]={shapes[name][axis].dim_value}"
        for name, axes in graph.dims.items()
        if name in shapes
        for axis in axes
        if shapes[name][axis].HasField("dim_value")
    ]


def dynamic_shapes(graph: Graph) -> tuple:
    """One torch.export Dim per dim name, shared by every input that has it."""
    dim = {}
    for axes in graph.dims.values():
        for name in axes.values():
            dim.setdefault(name, torch.export.Dim(name, min=1))
    shapes = [{axis: dim[n] for axis, n in graph.dims.get(name, {}).items()} for name in graph.inputs]
    fixed = [
        p for p in inspect.signature(graph.module.forward).parameters.values() if p.kind != p.VAR_POSITIONAL
    ]
    return (*shapes[: len(fixed)], tuple(shapes[len(fixed) :]))[: len(fixed) + (len(shapes) > len(fixed))]


# ---- onnxruntime: stand-ins for the torch models --------------------------------------------------
class OnnxGraphs:
    """The sessions of an export directory; ``run(graph, inputs)`` takes and returns torch tensors."""

    def __init__(self, out_dir: str | Path, threads: int | None = None) -> None:
        ort = require("onnxruntime")
        self.dir = Path(out_dir)
        self.manifest = json.loads((self.dir / MANIFEST).read_text())
        self.manifest.setdefault("recipe", self.manifest.get("task"))  # exported before 2026-12-05
        options = ort.SessionOptions()
        options.log_severity_level = 3  # no shape-metadata warnings on every call
        if threads:  # as torch's: one thread each in a side by side
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        files = {name: self.dir / g["file"] for name, g in self.manifest["graphs"].items()}
        self.sizes = {name: path.stat().st_size for name, path in files.items()}
        # read into memory: the directory may go once the sessions exist
        self.sessions = {
            name: ort.InferenceSession(path.read_bytes(), options, providers=["CPUExecutionProvider"])
            for name, path in files.items()
        }

    def run(self, graph: str, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        feed = {name: tensor.detach().cpu().numpy() for name, tensor in inputs.items()}
        return [torch.from_numpy(x) for x in self.sessions[graph].run(None, feed)]


class OnnxModel:
    """What the predictors call besides forward: ``eval`` (nothing to switch in a graph)."""

    def __init__(self, graphs: OnnxGraphs) -> None:
        self.graphs, self.manifest = graphs, graphs.manifest

    def eval(self):
        return self


class OnnxLanguageModel(OnnxModel):
    """LanguageModel's ``step`` and ``forward`` (step by step) on the exported step graph."""

    def step(self, tokens: torch.Tensor, state):
        names = self.manifest["state"]
        if state is None:
            layers, _, hidden = self.manifest["graphs"]["step"]["inputs"][1]["shape"]
            state = tuple(torch.zeros(layers, tokens.size(0), hidden) for _ in names)
        logits, *new = self.graphs.run("step", {"tokens": tokens, **dict(zip(names, flat(state)))})
        return logits, as_state(new, "lstm" if len(names) == 2 else "gru")

    def __call__(self, tokens: torch.Tensor, *, state=None) -> ModelOutput:
        logits = []
        for t in range(tokens.size(1)):
            step_logits, state = self.step(tokens[:, t], state)
            logits.append(step_logits)
        return ModelOutput(None, torch.stack(logits, 1), state)


class OnnxClassifier(OnnxModel):
    """SequenceClassifier's ``forward`` (class logits) on the exported classifier graph."""

    def __call__(self, tokens: torch.Tensor, lengths: torch.Tensor) -> ModelOutput:
        return ModelOutput(None, self.graphs.run("classifier", {"tokens": tokens, "lengths": lengths})[0])


class OnnxTagger(OnnxModel):
    """SequenceTagger's ``forward`` (emissions) and ``decode`` (Viterbi in numpy, or argmax); ``crf``:
    the CRF's scores in a torch CRF, for the confidences (marginals) the Tagger computes from it."""

    def __init__(self, graphs: OnnxGraphs) -> None:
        super().__init__(graphs)
        self.crf = None
        if self.manifest["crf"] is not None:
            scores = {k: torch.tensor(v) for k, v in self.manifest["crf"].items()}
            self.crf = CRF(scores["start"].numel())
            self.crf.load_state_dict(scores)

    def __call__(self, words, lengths, **features) -> ModelOutput:
        inputs = {"words": words, "lengths": lengths}
        inputs.update({name: features[name] for name in self.manifest["features"]})
        return ModelOutput(None, self.graphs.run("emissions", inputs)[0])

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.manifest["crf"] is None:
            return emissions.argmax(-1).masked_fill(~mask, 0)
        return torch.from_numpy(viterbi(emissions.numpy(), mask.numpy(), self.manifest["crf"]))


def viterbi(emissions: np.ndarray, mask: np.ndarray, crf: dict) -> np.ndarray:
    """nlprnn.modules.crf.CRF.decode in numpy: emissions (B, L, T), mask (B, L) -> tags (B, L)."""
    trans, start, end = (np.asarray(crf[k], dtype=emissions.dtype) for k in ("transitions", "start", "end"))
    batch, length, _ = emissions.shape
    best, pointers = start + emissions[:, 0], []
    for t in range(1, length):
        scores = best[:, :, None] + trans  # (B, from, to)
        pointers.append(scores.argmax(1))
        best = np.where(mask[:, t : t + 1], scores.max(1) + emissions[:, t], best)
    cur, lengths = (best + end).argmax(1), mask.sum(1)
    tags = np.zeros((batch, length), dtype=np.int64)
    for t in range(length - 1, -1, -1):
        real = t < lengths
        tags[:, t] = np.where(real, cur, 0)
        if t > 0:
            cur = np.where(real, np.take_along_axis(pointers[t - 1], cur[:, None], 1)[:, 0], cur)
    return tags


class OnnxSeq2Seq(OnnxModel):
    """Seq2Seq's decoding interface (encode, step, reorder_state, select_sentences) on the encoder
    and decoder_step graphs: the existing decoders (beam search, greedy, sampling) run it as is."""

    reorder_state = staticmethod(Seq2Seq.reorder_state)
    select_sentences = staticmethod(Seq2Seq.select_sentences)

    def __init__(self, graphs: OnnxGraphs) -> None:
        super().__init__(graphs)
        m = self.manifest
        self.bos_id, self.eos_id, self.pad_id, self.names = m["bos_id"], m["eos_id"], m["pad_id"], m["state"]

    def _state(self, tensors) -> dict:
        lstm = self.manifest["cell"] == "lstm"
        n = 2 if lstm else 1
        hidden = tuple(tensors[:n]) if lstm else tensors[0]
        return {"hidden": hidden, "feed": tensors[n] if "feed" in self.names else None}

    def encode(self, src: torch.Tensor, lengths) -> dict:
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        memory, keys, mask, *per_beam = self.graphs.run("encoder", {"src": src, "lengths": lengths})
        return {"memory": memory, "keys": keys, "mask": mask, **self._state(per_beam)}

    def step(self, tokens: torch.Tensor, state: dict):
        per_beam = flat(state["hidden"]) + ((state["feed"],) if "feed" in self.names else ())
        inputs = {"tokens": tokens, **dict(zip(self.names, per_beam))}
        inputs.update({k: state[k] for k in ("memory", "keys", "mask")})
        logits, *new = self.graphs.run("decoder_step", inputs)
        if len(new) > len(self.names):  # attn (N, S): in graphs exported by nlprnn after 0.1.0
            *new, attn = new
            return logits, {**state, **self._state(new), "attn": attn}
        return logits, {**state, **self._state(new)}


RUNNERS = {"char_lm": OnnxLanguageModel, "sentiment": OnnxClassifier, "ner": OnnxTagger}
RUNNERS["translation"] = OnnxSeq2Seq


def onnx_model(out_dir: str | Path, threads: int | None = None) -> OnnxModel:
    """The ORT stand-in for the exported model of ``out_dir``: an OnnxLanguageModel, OnnxClassifier,
    OnnxTagger or OnnxSeq2Seq, with the calls the predictors make of the torch model. ``threads``:
    each session's intra-op threads (None: onnxruntime's default, every core)."""
    graphs = OnnxGraphs(out_dir, threads)
    return RUNNERS[graphs.manifest["recipe"]](graphs)


def onnx_predictor(out_dir: str | Path, checkpoint: str | Path, **options) -> Predictor:
    """The recipe's Predictor (tokenizers, vocabularies, settings from ``checkpoint``) whose model is
    the ORT stand-in for the graphs in ``out_dir``: same calls, same results.

    Args:
        out_dir: a directory written by ``export_onnx``.
        checkpoint: the checkpoint (or model folder) it was exported from.
        **options: the Predictor's options, as in ``from_checkpoint``.
    """
    model = onnx_model(out_dir)
    task = model.manifest["recipe"]
    predictor = PREDICTORS[task].from_checkpoint(checkpoint, device="cpu", **options)
    predictor.model = model
    return predictor
