"""Results people can use (issue 22): scored, structured results of one shape for the four inference
APIs, the same method and option names on each, and every bad argument a UserError naming it."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch

import nlprnn
from nlprnn import Classifier, Generator, Tagger, Translator
from nlprnn.data.conll import token_offsets
from nlprnn.errors import UserError
from nlprnn.inference.results import Classification, Generation, Tagging, Translation
from nlprnn.inference.tagger import tagging_of
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.modules.crf import CRF

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

RECIPES = {"char_lm": Generator, "ner": Tagger, "sentiment": Classifier, "translation": Translator}
VERBS = {Generator: "generate", Tagger: "tag", Classifier: "predict", Translator: "translate"}
RESULTS = {Generator: Generation, Tagger: Tagging, Classifier: Classification, Translator: Translation}
OPTIONS = {"char_lm": {"length": 20, "seed": 1}, "ner": {}, "sentiment": {}, "translation": {"beam_size": 3}}
TEXT = "Angela  Merkel visited Paris."


@pytest.fixture(scope="module")
def runs(tiny_runs):
    return tiny_runs  # conftest.py: each recipe trained tiny once per session


@pytest.fixture(scope="module")
def apis(runs):
    return {r: api.from_checkpoint(runs[r], device="cpu", **OPTIONS[r]) for r, api in RECIPES.items()}


# ---- one shape for all four ------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_class_has_the_same_methods_and_options(apis, recipe):
    api = apis[recipe]
    cls = type(api)
    for method in ("predict", "__call__", "stream", "predict_batch", "to", "settings", VERBS[cls]):
        assert callable(getattr(api, method)), method
    assert "batch_size" in api.settings() and isinstance(api.batch_size, int)
    greedy = {"temperature": 0} if cls is Generator else {}  # the same text for every prompt
    one = api.predict(TEXT, **greedy)
    assert isinstance(one, RESULTS[cls])
    assert one == api(TEXT, **greedy) == getattr(api, VERBS[cls])(TEXT, **greedy)
    assert close(api.predict([TEXT, TEXT], **greedy), [one, one])
    assert close(list(api.stream((TEXT + "\n" for _ in range(2)), **greedy)), [one, one])
    assert close(list(api.stream(TEXT, **greedy)), [one])  # one string is one line, as for predict
    assert json.loads(json.dumps(one.to_dict())) == json.loads(one.to_json())
    assert repr(one).startswith(RESULTS[cls].__name__ + "(")


def close(a: list, b: list) -> bool:
    """The same results, scores up to float noise (another batch: other padding, other kernels)."""
    return len(a) == len(b) and all(_approx(x.to_dict(), y.to_dict()) for x, y in zip(a, b))


def _approx(a, b) -> bool:
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-4, abs=1e-5)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_approx(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_approx, a, b))
    return a == b


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_an_empty_input_is_an_empty_result_without_a_score(apis, recipe):
    empty = apis[recipe]("")
    assert empty.score is None
    simple = {"char_lm": "text", "ner": "tags", "sentiment": "label", "translation": "text"}[recipe]
    assert getattr(empty, simple) in ("", [], None)


# ---- translations ----------------------------------------------------------------------------------
def test_n_best_translations_are_scored_best_first(apis):
    translator = apis["translation"]
    hyps = translator("Ein Hund läuft.", n_best=3)
    assert isinstance(hyps, list) and 1 <= len(hyps) <= 3 and all(isinstance(h, Translation) for h in hyps)
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    assert [len(x) >= 1 for x in translator(["Ein Hund.", "Zwei Männer."], n_best=2)] == [True, True]
    best = translator("Ein Hund läuft.")
    assert (
        isinstance(best, Translation) and best.text == hyps[0].text and best.score == pytest.approx(scores[0])
    )
    greedy = translator("Ein Hund läuft.", method="greedy")
    assert isinstance(greedy.score, float) and greedy.score <= 0
    assert translator.n_best == 1 and translator.method == "beam"  # per-call options leave it as it was


def test_n_best_from_the_constructor_gives_lists(runs):
    translator = Translator.from_checkpoint(runs["translation"], beam_size=3, n_best=2)
    assert isinstance(translator("Ein Hund."), list)
    assert [type(x) for x in translator(["Ein Hund.", ""])] == [list, list]


# ---- tags and entities -----------------------------------------------------------------------------
def test_token_and_entity_offsets_slice_back_to_their_text(apis):
    tagged = apis["ner"](TEXT)
    assert [t.text for t in tagged.tokens] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert all(TEXT[t.start : t.end] == t.text for t in tagged.tokens)
    assert all(TEXT[e.start : e.end] == e.text for e in tagged.entities)
    tags, confidence = ["B-PER", "I-PER", "O", "B-LOC", "O"], [0.9, 0.7, 1.0, 0.6, 1.0]
    forced = tagging_of(TEXT, token_offsets(TEXT), tags, confidence, 0.3)
    assert [(e.type, e.text, e.start, e.end) for e in forced.entities] == [
        ("PER", "Angela  Merkel", 0, 14),
        ("LOC", "Paris", 23, 28),
    ]
    assert all(TEXT[e.start : e.end] == e.text for e in forced.entities)
    assert forced.entities[0].score == pytest.approx(0.8) and forced.tags == tags


def brute_force_marginals(crf: CRF, emissions: torch.Tensor) -> torch.Tensor:
    """p(y_t = tag) of one sentence (L, T) by summing p(y) over every tag sequence."""
    length, num_tags = emissions.shape
    mask = torch.ones(1, length, dtype=torch.bool)
    log_z = crf.log_partition(emissions[None], mask)
    out = torch.zeros(length, num_tags)
    for tags in itertools.product(range(num_tags), repeat=length):
        p = (crf.score(emissions[None], torch.tensor([tags]), mask) - log_z).exp()[0]
        for t, tag in enumerate(tags):
            out[t, tag] += p
    return out


def test_crf_marginals_match_brute_force_enumeration():
    torch.manual_seed(0)
    crf = CRF(3)
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    with torch.no_grad():
        marginals = crf.marginals(emissions, mask)
    assert torch.allclose(marginals[0], brute_force_marginals(crf, emissions[0]), atol=1e-5)
    assert torch.allclose(marginals[1, :2], brute_force_marginals(crf, emissions[1, :2]), atol=1e-5)
    assert marginals[1, 2:].abs().sum() == 0  # padding


def test_token_confidences_are_probabilities_of_the_tags(apis):
    tagger = apis["ner"]
    tagged = tagger(TEXT)
    confidence = [t.confidence for t in tagged.tokens]
    assert all(0 <= c <= 1 for c in confidence) and 0 < tagged.score <= 1
    assert min(confidence) >= tagged.score - 1e-6  # a token's tag is in at least the best path's mass
    one = tagger("Paris")
    assert one.tokens[0].confidence == pytest.approx(one.score)  # one token: its marginal is the path's
    with torch.no_grad():
        expected = tagger.model.crf.marginals(
            emissions_of(tagger, ["Paris"]), torch.ones(1, 1, dtype=torch.bool)
        )
    assert one.tokens[0].confidence == pytest.approx(float(expected.max()), abs=1e-6)


def test_without_a_crf_confidences_are_softmax_probabilities(runs):
    tagger = Tagger.from_checkpoint(runs["ner"], device="cpu")
    tagger.model.crf = None  # the softmax output: each token's argmax tag
    tagged = tagger(TEXT)
    with torch.no_grad():
        probs = emissions_of(tagger, [t.text for t in tagged.tokens]).softmax(-1)[0]
    assert [t.confidence for t in tagged.tokens] == pytest.approx(probs.max(-1).values.tolist(), abs=1e-6)
    assert tagged.score == pytest.approx(float(probs.max(-1).values.prod()), rel=1e-5)


def emissions_of(tagger, tokens: list[str]) -> torch.Tensor:
    from nlprnn.data.word_features import collate

    words, casings, lengths, chars, char_lengths, char_index = collate(tagger.features, [tokens])
    features = {"casings": casings, "chars": chars, "char_lengths": char_lengths, "char_index": char_index}
    return tagger.model(words, lengths, **features).logits


# ---- classification --------------------------------------------------------------------------------
def test_label_probabilities_sum_to_one_and_top_k_is_best_first(apis):
    clf = apis["sentiment"]
    result = clf("a gripping , beautifully acted film .")
    assert set(result.probabilities) == set(clf.labels)
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert result.score == result.probabilities[result.label] == max(result.probabilities.values())
    assert [p for _, p in result.top] == sorted(result.probabilities.values(), reverse=True)
    top1 = clf("a gripping film .", top_k=1).top
    assert len(top1) == 1 and top1[0][0] == clf("a gripping film .").label


# ---- generation ------------------------------------------------------------------------------------
def test_samples_differ_and_a_seed_repeats_them(apis):
    gen = apis["char_lm"]
    samples = gen("ROMEO:", num_samples=3, seed=7)
    assert len(samples) == 3 and len({s.text for s in samples}) == 3
    assert all(s.text.startswith("ROMEO:") and isinstance(s.score, float) for s in samples)
    assert gen("ROMEO:", num_samples=3, seed=7) == samples
    assert gen("ROMEO:", num_samples=3, seed=7, batch_size=1) == samples  # batching changes nothing
    assert gen("ROMEO:", seed=None) != gen("ROMEO:", seed=None)  # no seed: fresh randomness each call
    first, second = gen(["ROMEO:", "ROMEO:"], seed=7)
    assert first != second and first == gen("ROMEO:", seed=7)  # each prompt its own draws
    assert len(gen("ROMEO:", length=7).continuation) == 7
    assert gen("ROMEO:", temperature=0, seed=1) == gen("ROMEO:", temperature=0, seed=2)  # greedy


# ---- bad arguments: UserErrors naming them -----------------------------------------------------------
BAD_OPTIONS = {
    "char_lm": [("temperature", -3), ("length", -1), ("top_p", 0), ("top_k", 0), ("num_samples", 0)],
    "ner": [("batch_size", 0)],
    "sentiment": [("top_k", 0), ("batch_size", -1)],
    "translation": [("beam_size", 0), ("n_best", "2"), ("method", "nucleus"), ("max_len_ratio", 0)],
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_bad_options_are_refused_per_call_as_attributes_and_at_load(apis, runs, recipe):
    api, name = apis[recipe], type(apis[recipe]).__name__
    for option, bad in [*BAD_OPTIONS[recipe], ("batch_size", "2"), ("batch_size", True)]:
        with pytest.raises(UserError, match=rf"^{name}.predict: {option}={bad!r}"):
            api.predict("text", **{option: bad})
        with pytest.raises(UserError, match=rf"^{name}: {option}={bad!r}"):
            setattr(api, option, bad)
        with pytest.raises(UserError, match=rf"{option}={bad!r}"):
            type(api).from_checkpoint(runs[recipe], **{option: bad})
    with pytest.raises(
        UserError, match=rf"^{name}.predict: unknown option\(s\) bogus; it takes .*batch_size"
    ):
        api.predict("text", bogus=1)
    with pytest.raises(UserError, match=rf"^{name}.from_checkpoint: unknown option\(s\) bogus; it takes"):
        type(api).from_checkpoint(runs[recipe], bogus=1)
    assert api.settings() == type(api).from_checkpoint(runs[recipe], **OPTIONS[recipe]).settings()


def test_n_best_above_the_beam_is_refused(apis):
    with pytest.raises(UserError, match="n_best=9"):
        apis["translation"]("Ein Hund.", n_best=9)


@pytest.mark.parametrize("bad", ["cuda:7", "mps", "cuda"])
def test_devices_this_machine_lacks_are_user_errors(runs, bad):
    if bad == "mps" and torch.backends.mps.is_available() or bad == "cuda" and torch.cuda.is_available():
        pytest.skip(f"this machine has {bad}")
    with pytest.raises(UserError, match=rf"^Tagger.from_checkpoint: device={bad!r}") as err:
        Tagger.from_checkpoint(runs["ner"], device=bad)
    assert "trainer.device" not in str(err.value)


def test_to_moves_the_model_and_repr_shows_the_settings(apis):
    tagger = apis["ner"]
    assert tagger.to("cpu") is tagger and tagger.device == torch.device("cpu")
    with pytest.raises(UserError, match=r"^Tagger.to: device='gpu'"):
        tagger.to("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match=r"device='cuda'.*no CUDA GPU"):
            tagger.to("cuda")
    text = repr(apis["translation"])
    assert text.startswith("Translator(method='beam', beam_size=3") and "device='cpu'" in text
    assert repr(tagger).startswith("Tagger(batch_size=256, device='cpu'")


def test_version_and_dir_of_the_package():
    assert isinstance(nlprnn.__version__, str) and nlprnn.__version__[0].isdigit()
    assert {"Classifier", "Generator", "Tagger", "Translator", "__version__"} <= set(dir(nlprnn))


def test_an_attention_pooling_classifier_deep_copies_after_backward():
    model = SequenceClassifier(20, 3, emb_dim=8, hidden_size=6, pooling="attention")
    tokens, lengths = torch.randint(1, 20, (2, 5)), torch.tensor([5, 3])
    model(tokens, lengths, targets=torch.tensor([0, 2])).loss.backward()
    copied = copy.deepcopy(model)
    assert copied.pool.weights is not None and copied.pool.weights.grad_fn is None
