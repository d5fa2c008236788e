"""quantize=int8 and backend=onnxruntime (nlprnn/inference/runtime.py): every predictor, every decoding
method, the command line's modes, and what stays fp32."""

import json

import pytest
import torch

from nlprnn import Classifier, Generator, Tagger, Translator
from nlprnn.errors import UserError
from nlprnn.inference.runtime import int8_model, with_runtime
from nlprnn.models.seq2seq import Seq2Seq
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

pytest.importorskip("onnxruntime")

PREDICTORS = {"char_lm": Generator, "ner": Tagger, "sentiment": Classifier, "translation": Translator}
INPUTS = {
    "char_lm": ["ROMEO:", "", "JULIET: O"],
    "ner": ["Angela Merkel visited Paris .", "", "EU rejects German call"],
    "sentiment": ["a fine film", "dull and long", ""],
    "translation": ["Ein Hund läuft .", "", "Zwei Männer spielen ."],
}
RUNTIMES = [("torch", "int8"), ("onnxruntime", None), ("onnxruntime", "int8")]


def plain(results) -> list:
    return [[x.to_dict() for x in r] if isinstance(r, list) else r.to_dict() for r in results]


def same_answers(a, b) -> bool:
    """Equal answers: the same texts, tags and structure, and numbers equal to float32 round-off
    (to_dict rounds to 6 digits, so 0.0795651 and 0.079565 are one number on either side of a 5)."""
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-3)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_answers(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_answers(x, y) for x, y in zip(a, b))
    return a == b


def test_same_answers_tolerates_round_off_only():
    one = {"tokens": [{"tag": "B-LOC", "confidence": 0.0795651}], "score": -4.3e-05}
    assert same_answers(one, {"tokens": [{"tag": "B-LOC", "confidence": 0.079565}], "score": -4.3e-05})
    assert not same_answers(one, {"tokens": [{"tag": "I-LOC", "confidence": 0.0795651}], "score": -4.3e-05})
    assert not same_answers(one, {"tokens": [{"tag": "B-LOC", "confidence": 0.0796}], "score": -4.3e-05})


def scores(results) -> list:
    return [r["score"] for r in plain(results) if r["score"] is not None]


@pytest.fixture(scope="module")
def loaded(tiny_runs):
    """{(recipe, backend, quantize): predictor} of each tiny run."""
    return {
        (recipe, backend, quantize): cls.from_checkpoint(
            tiny_runs[recipe], device="cpu", backend=backend, quantize=quantize
        )
        for recipe, cls in PREDICTORS.items()
        for backend, quantize in [("torch", None), *RUNTIMES]
    }


@pytest.mark.parametrize("backend,quantize", RUNTIMES)
@pytest.mark.parametrize("recipe", sorted(PREDICTORS))
def test_each_runtime_answers_like_fp32_torch(loaded, recipe, backend, quantize):
    reference, predictor = loaded[recipe, "torch", None], loaded[recipe, backend, quantize]
    options = {"seed": 3, "length": 20} if recipe == "char_lm" else {}
    expected, got = reference.predict(INPUTS[recipe], **options), predictor.predict(INPUTS[recipe], **options)
    assert predictor.runtime["backend"] == backend and predictor.runtime["quantize"] == quantize
    assert f"runtime='{predictor.runtime_name()}'" in repr(predictor)
    if quantize is None:  # the same graph, the same numbers: the same answers
        assert same_answers(plain(got), plain(expected)), (plain(got), plain(expected))
        return
    # int8: the answers' shape is kept and their scores move a little (tiny models: near-uniform
    # outputs, so argmax ties may flip; scores are what must stay close)
    assert [type(r) for r in got] == [type(r) for r in expected]
    assert [r.to_dict()["score"] is None for r in got] == [r.to_dict()["score"] is None for r in expected]
    for a, b in zip(scores(got), scores(expected)):
        tolerance = 0.05 * len(INPUTS[recipe][0]) if recipe in ("char_lm", "translation") else 0.02
        assert abs(a - b) <= max(tolerance, 0.02 * abs(b)), (a, b)


@pytest.mark.parametrize("backend,quantize", RUNTIMES)
def test_every_decoding_method_runs_on_every_runtime(loaded, backend, quantize):
    translator = loaded["translation", backend, quantize]
    for method, options in (("beam", {}), ("greedy", {}), ("sample", {"seed": 1})):
        results = translator.predict(INPUTS["translation"], method=method, **options)
        assert [bool(r.text) for r in results] == [True, False, True], method
    nbest = translator.predict("Ein Hund läuft .", beam_size=4, n_best=3)
    assert len(nbest) == 3 and nbest[0].score >= nbest[-1].score
    sources, targets, weights = translator.attention("Ein Hund läuft .")
    assert weights.shape == (len(targets), len(sources))
    assert torch.allclose(weights.sum(1), torch.ones(len(targets)), atol=1e-4)
    generator = loaded["char_lm", backend, quantize]
    for temperature, top_p in ((0.0, None), (0.8, 0.9)):
        out = generator.predict("ROMEO:", seed=2, length=15, temperature=temperature, top_p=top_p)
        assert len(out.continuation) == 15


def test_int8_quantizes_the_linear_and_recurrent_layers(loaded):
    model = loaded["translation", "torch", "int8"].model
    for name in ("encoder.rnn", "decoder.rnn", "bridge", "attention.key_proj", "combine", "output"):
        assert is_int8(model.get_submodule(name)), name
    fp32 = loaded["translation", "torch", None]
    assert loaded["translation", "torch", "int8"].runtime["weights_mb"] < fp32.runtime["weights_mb"]
    assert fp32.model is not model and not is_int8(fp32.model.output)  # the original is kept


def is_int8(module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized.dynamic")


def test_input_feeding_keeps_the_hand_stepped_decoder_fp32(loaded):
    """The decoder RNN under input feeding is stepped from its raw weights: int8 leaves the fused module
    fp32 and gives the step int8 copies of those weights; Bahdanau's v stays fp32, and says so;
    decoding stays close to fp32."""
    torch.manual_seed(0)
    fp32 = loaded["translation", "torch", None]
    vocab = fp32.src_tok.vocab_size
    model = Seq2Seq(vocab, vocab, 16, 16, 32, 1, 2, "lstm", "bahdanau", input_feeding=True).eval()
    quantized, kept = int8_model(model)
    assert kept == ["attention.v"] and not is_int8(quantized.decoder.rnn)  # decoding steps int8 copies
    assert not is_int8(quantized.attention.v) and is_int8(quantized.encoder.rnn)
    assert is_int8(quantized.output) and is_int8(quantized.combine)
    translator = Translator(model, fp32.src_tok, fp32.tgt_tok)
    expected = translator.predict(INPUTS["translation"], method="greedy")
    with_runtime(translator, "torch", "int8")
    assert translator.runtime["fp32"] == ["attention.v"]  # the hand-stepped decoder got int8 copies
    steps = translator.model.step_linears
    assert set(steps) == {"emb", "feed"} and all(is_int8(m) for m in steps.values())
    assert all(is_int8(m) for m in translator.model.decoder.step_linears.values())
    got = translator.predict(INPUTS["translation"], method="greedy")
    assert [bool(r.text) for r in got] == [bool(r.text) for r in expected]
    src, lengths = torch.tensor([[5, 6, 7, 3]]), torch.tensor([4])
    with torch.no_grad():
        a, _ = model.step(torch.tensor([2]), model.encode(src, lengths))
        b, _ = translator.model.step(torch.tensor([2]), translator.model.encode(src, lengths))
    assert (a - b).abs().max() < 0.05


def test_a_converted_model_stays_on_the_cpu_and_is_not_saved_as_fp32(loaded, tmp_path):
    predictor = loaded["sentiment", "onnxruntime", "int8"]
    with pytest.raises(UserError, match="save_pretrained saves fp32 torch weights"):
        predictor.save_pretrained(tmp_path / "folder")
    assert not (tmp_path / "folder").exists()
    assert predictor.to("cpu") is predictor
    with pytest.raises(UserError, match="runs on the CPU|no CUDA GPU"):
        predictor.to("cuda")


def test_bad_runtime_values_are_named(tiny_runs):
    with pytest.raises(UserError, match="quantize='int4': choose int8"):
        Classifier.from_checkpoint(tiny_runs["sentiment"], device="cpu", quantize="int4")
    with pytest.raises(UserError, match="backend='tensorrt': choose torch or onnxruntime"):
        Classifier.from_checkpoint(tiny_runs["sentiment"], device="cpu", backend="tensorrt")


def test_the_command_line_modes_take_backend_and_quantize(tiny_runs, data_dir, tmp_path):
    run = tiny_runs["ner"]
    out = tmp_path / "scores.json"
    args = ["recipe=ner", "mode=evaluate", f"ckpt={run}", "split=test", "data.eval_limit=30"]
    proc = run_cli([*args, "backend=onnxruntime", "quantize=int8", f"output={out}"], data_dir)
    assert "model: onnxruntime int8," in proc.stdout
    runtime = json.loads(out.read_text())["runtime"]
    assert runtime["backend"] == "onnxruntime" and runtime["quantize"] == "int8" and runtime["weights_mb"] > 0
    tagged = run_cli(["recipe=ner", "mode=tag", f"ckpt={run}", "text=EU rejects", "quantize=int8"], data_dir)
    assert tagged.stdout.startswith("EU/")
    bad = run_cli([*args, "quantize=int4"], data_dir, check=False)
    assert bad.returncode == 2 and "quantize" in bad.stderr and "int8" in bad.stderr


def test_modes_that_ignore_backend_or_quantize_say_so():
    from nlprnn.cli_checks import ignored_keys
    from tests.conftest import compose_config

    given = ["backend=onnxruntime", "quantize=int8"]
    for mode, ignored in [("train", 2), ("export", 1), ("evaluate", 0), ("tag", 0), ("serve", 0)]:
        warnings = ignored_keys(compose_config(["recipe=ner", f"mode={mode}"]), given)
        assert len(warnings) == ignored, (mode, warnings)


def test_export_writes_int8_graphs(tiny_runs, data_dir, tmp_path):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "int8"
    run_cli(["recipe=translation", "mode=export", f"ckpt={tiny_runs['translation']}", f"output={out}",
             "quantize=int8"], data_dir)  # fmt: skip
    assert json.loads((out / "export.json").read_text())["quantize"] == "int8"
    ops = {node.op_type for node in onnx.load(str(out / "decoder_step.onnx")).graph.node}
    assert "MatMulInteger" in ops  # the output layer's weights are uint8
    from nlprnn.inference.export import onnx_predictor

    translator = onnx_predictor(out, tiny_runs["translation"])
    assert isinstance(translator.predict("Ein Hund läuft .").text, str)


def test_bench_inference_prints_the_side_by_side_table(tiny_runs, data_dir, tmp_path):
    import subprocess
    import sys

    from tests.conftest import cli_env

    out = tmp_path / "bench.json"
    cmd = [sys.executable, "scripts/bench_inference.py", "--recipe", "sentiment", "--ckpt",
           str(tiny_runs["sentiment"]), "--repeats", "1", "--variants", "torch fp32", "onnxruntime int8",
           "--json", str(out), "--", "data.eval_limit=40"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=cli_env(data_dir), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| variant |") and "accuracy" in rows[0]
    assert rows[1].startswith("| torch fp32 |") and "| 1.00x |" in rows[1]
    assert rows[2].startswith("| onnxruntime int8 |")
    runs = json.loads(out.read_text())["runs"]
    assert runs["onnxruntime int8"][0]["results"]["runtime"]["quantize"] == "int8"


def test_a_recipe_default_applies_on_the_cpu_and_falls_back_with_a_note(monkeypatch, capsys):
    """recipe=translation defaults to quantize=int8 for its inference modes: on the CPU as configured,
    on a GPU the model as trained (a note says why); what the command line asks for is kept as asked."""
    from nlprnn.recipes import recipe as recipe_module
    from nlprnn.recipes.translation import Translation
    from tests.conftest import compose_config

    cfg = compose_config(["recipe=translation", "mode=translate"])
    assert (cfg.backend, cfg.quantize) == ("torch", "int8")
    monkeypatch.setattr(recipe_module, "command_line_overrides", lambda: [])
    assert Translation(cfg, torch.device("cpu")).runtime_choice() == ("torch", "int8")
    assert Translation(cfg, torch.device("cuda")).runtime_choice() == ("torch", None)
    assert "quantize=int8: they are CPU paths; on cuda the model runs as trained" in capsys.readouterr().err
    ort = compose_config(["recipe=translation", "backend=onnxruntime"])
    monkeypatch.setattr(recipe_module.importlib.util, "find_spec", lambda name: None)  # not installed
    assert Translation(ort, torch.device("cpu")).runtime_choice() == ("torch", None)
    assert "onnxruntime is not installed (pip install nlprnn[export])" in capsys.readouterr().err
    monkeypatch.setattr(recipe_module, "command_line_overrides", lambda: ["backend=onnxruntime"])
    assert Translation(ort, torch.device("cpu")).runtime_choice() == ("onnxruntime", "int8")  # as asked
