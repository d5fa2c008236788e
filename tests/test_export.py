"""ONNX export: each recipe's tiny model exported, run in onnxruntime, and compared with torch on the
same inputs (outputs within 1e-4; identical beam-5 translations of 100 real test sentences)."""

import gzip
import json
import sys

import pytest
import torch

from nlprnn import Classifier, Generator, Tagger, Translator
from nlprnn.data.word_features import collate
from nlprnn.errors import UserError
from nlprnn.inference.export import export_onnx, onnx_model, onnx_predictor
from nlprnn.models.language_model import LanguageModel
from nlprnn.models.seq2seq import Seq2Seq
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.models.sequence_tagger import SequenceTagger
from nlprnn.modules.beam_search import beam_search
from nlprnn.modules.rnn import StackedRNN, without_packing
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

RECIPES = {"char_lm": Generator, "sentiment": Classifier, "ner": Tagger, "translation": Translator}
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def runs(tiny_runs):
    """The session's tiny checkpoint of each recipe (conftest.py), exported once."""
    for run in tiny_runs.values():
        if not (run / "onnx").exists():
            export_onnx(run, run / "onnx")
    return tiny_runs


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype
    return (a.float() - b.float()).abs().max().item()


def assert_close(name: str, torch_out: list, ort_out: list) -> None:
    diffs = [max_diff(a, b) for a, b in zip(torch_out, ort_out, strict=True)]
    print(f"{name}: max abs diff {max(diffs):.2e}")
    assert max(diffs) < TOLERANCE


def text_of(result):
    return getattr(result, "text", result)


def test_the_masked_path_equals_packing():
    torch.manual_seed(0)
    x, lengths = torch.randn(4, 6, 5), torch.tensor([6, 1, 4, 2])
    for cell in ("lstm", "gru", "rnn"):
        rnn = StackedRNN(5, 7, 2, cell, bidirectional=True).eval()
        packed, state = rnn(x, lengths)
        with without_packing(rnn):
            masked, masked_state = rnn(x, lengths)
        h, masked_h = (state[0], masked_state[0]) if cell == "lstm" else (state, masked_state)
        assert max_diff(packed, masked) < 1e-6 and max_diff(h, masked_h) < 1e-6
        assert rnn.packed  # restored


def test_export_json_describes_every_graph(runs):
    graphs = {"char_lm": ["step"], "sentiment": ["classifier"], "ner": ["emissions"]}
    graphs["translation"] = ["encoder", "decoder_step"]
    for recipe, names in graphs.items():
        manifest = json.loads((runs[recipe] / "onnx" / "export.json").read_text())
        assert manifest["recipe"] == recipe and list(manifest["graphs"]) == names
        for graph in manifest["graphs"].values():
            assert (runs[recipe] / "onnx" / graph["file"]).is_file()
            assert (
                graph["inputs"] and graph["outputs"] and graph["inputs"][0]["shape"][0] in ("batch", "rows")
            )


def test_char_lm_step(runs):
    torch_model, ort = Generator.from_checkpoint(runs["char_lm"]).model, onnx_model(runs["char_lm"] / "onnx")
    torch.manual_seed(1)
    tokens = torch.randint(1, torch_model.output.out_features, (5, 9))  # 5 rows: not the export's 3
    state = tuple(torch.randn(2, 5, 32) for _ in range(2))  # a carried state, not zeros
    with torch.no_grad():
        expected = torch_model(tokens, state=state)
    got = ort(tokens, state=state)
    assert_close("char_lm", [expected.logits, *expected.state], [got.logits, *got.state])
    options = {"length": 30, "temperature": 0}
    torch_gen = Generator.from_checkpoint(runs["char_lm"], **options)
    ort_gen = onnx_predictor(runs["char_lm"] / "onnx", runs["char_lm"], **options)
    prompts = ["ROMEO:", "JULIET:"]
    assert [text_of(g) for g in ort_gen(prompts)] == [text_of(g) for g in torch_gen(prompts)]


def test_sentiment_logits(runs):
    torch_model = Classifier.from_checkpoint(runs["sentiment"]).model
    ort = onnx_model(runs["sentiment"] / "onnx")
    tokens = torch.randint(1, torch_model.embedding.weight.size(0), (5, 11))
    lengths = torch.tensor([11, 3, 1, 7, 10])
    with torch.no_grad():
        expected = torch_model(tokens, lengths).logits
    assert_close("sentiment", [expected], [ort(tokens, lengths).logits])
    texts = ["a gripping , beautifully acted film .", "dull", "it is not what it could have been , sadly ."]
    torch_clf = Classifier.from_checkpoint(runs["sentiment"])
    ort_clf = onnx_predictor(runs["sentiment"] / "onnx", runs["sentiment"])
    assert max_diff(torch_clf.probabilities(texts), ort_clf.probabilities(texts)) < TOLERANCE


def test_ner_emissions_and_viterbi(runs):
    tagger = Tagger.from_checkpoint(runs["ner"])
    ort = onnx_model(runs["ner"] / "onnx")
    sentences = [
        s.split() for s in ["Peter lives in Paris .", "EU", "The Bank of England said Xyzzy 12 times ."]
    ]
    words, casings, lengths, chars, char_lengths, char_index = collate(tagger.features, sentences)
    features = {"casings": casings, "chars": chars, "char_lengths": char_lengths, "char_index": char_index}
    with torch.no_grad():
        expected = tagger.model(words, lengths, **features).logits
    got = ort(words, lengths, **features).logits
    assert_close("ner", [expected], [got])
    mask = torch.arange(words.size(1))[None, :] < lengths[:, None]
    assert torch.equal(ort.decode(expected, mask), tagger.model.decode(expected, mask))  # numpy Viterbi
    ort_tagger = onnx_predictor(runs["ner"] / "onnx", runs["ner"])
    assert ort_tagger.tag_tokens(sentences) == tagger.tag_tokens(sentences)


def test_translation_graphs_and_beam_search(runs, data_dir):
    run = runs["translation"]
    torch_tr, ort_tr = (
        Translator.from_checkpoint(run, beam_size=5),
        onnx_predictor(run / "onnx", run, beam_size=5),
    )
    model, ort = torch_tr.model, ort_tr.model
    src = torch.randint(4, 300, (5, 8))
    lengths = torch.tensor([8, 2, 5, 1, 7])
    with torch.no_grad():
        expected = model.encode(src, lengths)
    got = ort.encode(src, lengths)
    keys = ["memory", "keys", "hidden"]
    assert torch.equal(expected["mask"], got["mask"])
    rows = torch.arange(5).repeat_interleave(3)  # 3 beams a sentence
    expected_b, got_b = (model.reorder_state(s, rows) for s in (expected, got))
    tokens = torch.randint(4, 300, (15,))
    with torch.no_grad():
        step_logits, step_state = model.step(tokens, expected_b)
    ort_logits, ort_state = ort.step(tokens, got_b)
    torch_out = [expected[k] for k in keys] + [step_logits, step_state["hidden"]]
    assert_close("translation graphs", torch_out, [got[k] for k in keys] + [ort_logits, ort_state["hidden"]])

    with gzip.open(data_dir / "translation/multi30k/test_2016_flickr.de.gz", "rt", encoding="utf-8") as f:
        sentences = [next(f).strip() for _ in range(100)]
    expected_texts = [text_of(t) for t in torch_tr(sentences)]
    got_texts = [text_of(t) for t in ort_tr(sentences)]
    same = sum(a == b for a, b in zip(expected_texts, got_texts))
    print(f"translation: {same}/100 beam-5 translations identical")
    assert same == 100


def test_cli_export_writes_a_new_directory_and_refuses_to_overwrite(runs, data_dir, tmp_path):
    out = tmp_path / "exported"
    args = ["recipe=sentiment", "mode=export", f"ckpt={runs['sentiment']}", f"output={out}", "format=onnx"]
    proc = run_cli(args, data_dir)
    assert f"wrote {out / 'classifier.onnx'}" in proc.stdout and (out / "export.json").is_file()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = run_cli(args, data_dir, check=False)
    assert again.returncode != 0 and "exists" in again.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    wrong = run_cli([*args[:-1], "format=tflite"], data_dir, check=False)
    assert wrong.returncode != 0 and "format" in wrong.stderr


def test_missing_onnxruntime_says_what_to_install(runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(UserError, match=r"pip install nlprnn\[export\]"):
        onnx_model(runs["sentiment"] / "onnx")


def tagger_with_fixed_rows() -> SequenceTagger:
    model = SequenceTagger(50, 5, 20, 8, 0, "lstm", 4, 6, 8)
    model.embedding.fix_rows(12)  # the tokens below (ids 1..19) read both parts of the table
    return model


VARIANTS = {
    "lm_gru": lambda: LanguageModel(40, 8, 16, num_layers=3, cell="gru"),
    "clf_conv_last_gru": lambda: SequenceClassifier(50, 3, cell="gru", pooling="last", conv_channels=8),
    "clf_mean_rnn": lambda: SequenceClassifier(50, 2, emb_dim=8, hidden_size=8, num_layers=2, cell="rnn"),
    "tagger_cnn_softmax": lambda: SequenceTagger(50, 5, 20, 8, 0, "cnn", 4, 6, 8, output="softmax"),
    "tagger_fixed_rows": tagger_with_fixed_rows,
    "s2s_lstm_feeding_bahdanau": lambda: Seq2Seq(
        60, 60, 8, 8, 16, 2, 2, "lstm", "bahdanau", input_feeding=True, tie_embeddings=False
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_model_variants(variant, tmp_path):
    """Cells, poolings, features and decoder states the tiny recipes do not use, with random weights."""
    torch.manual_seed(0)
    model = VARIANTS[variant]().eval()
    export_onnx(model, tmp_path / "onnx")
    ort = onnx_model(tmp_path / "onnx")
    lengths = torch.tensor([9, 4, 1, 6])
    tokens = torch.randint(1, 20, (4, 9))
    with torch.no_grad():
        if variant.startswith("lm"):
            expected, got = model(tokens).logits, ort(tokens).logits
        elif variant.startswith("clf"):
            expected, got = model(tokens, lengths).logits, ort(tokens, lengths).logits
        elif variant.startswith("tagger"):
            chars = torch.randint(1, 20, (7, 5))
            char_lengths, char_index = torch.tensor([5, 1, 3, 2, 4, 5, 1]), torch.randint(0, 7, (4, 9))
            expected = model(tokens, lengths, chars=chars, char_lengths=char_lengths, char_index=char_index)
            got = ort(tokens, lengths, chars=chars, char_lengths=char_lengths, char_index=char_index)
            expected, got = expected.logits, got.logits
        else:
            expected, got = (beam_search_of(m, tokens, lengths) for m in (model, ort))
            assert ids_of(expected) == ids_of(got)
            expected, got = scores_of(expected), scores_of(got)
    assert_close(variant, [expected], [got])
    assert not model.training  # the export leaves the model's mode alone


def ids_of(hypotheses) -> list:
    return [[ids for ids, _ in hyps] for hyps in hypotheses]


def scores_of(hypotheses) -> torch.Tensor:
    return torch.tensor([[score for _, score in hyps] for hyps in hypotheses])


def beam_search_of(model, src, lengths):
    bos = torch.full((src.size(0),), model.bos_id)
    state = model.encode(src, lengths)
    return beam_search(model.step, bos, state, 12, 3, model.eos_id, model.reorder_state, n_best=3,
                       select_sentences=model.select_sentences)  # fmt: skip
