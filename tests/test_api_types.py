"""Every public method of the inference APIs answers a wrong argument type (None, a number, bytes, a
list holding a non-string, a non-iterable) with a UserError naming the method, never a TypeError
from deep inside."""

from __future__ import annotations

import pytest

from nlprnn import Classifier, Generator, Tagger, Translator
from nlprnn.errors import UserError

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

RECIPES = {"char_lm": Generator, "ner": Tagger, "sentiment": Classifier, "translation": Translator}
OPTIONS = {"char_lm": {"length": 3}, "ner": {}, "sentiment": {}, "translation": {"method": "greedy"}}
BAD = [None, 5, b"abc", [1, None], ["a", None], object()]

# (recipe, method): methods taking one text or a list of texts, then those taking a list only
TEXTS = [
    *[("ner", m) for m in ("__call__", "tag", "entities")],
    *[("sentiment", m) for m in ("__call__", "predict", "probabilities")],
    *[("translation", m) for m in ("__call__", "translate", "translate_nbest")],
    *[("char_lm", m) for m in ("__call__", "generate")],
]
LISTS = [(r, "predict_batch") for r in RECIPES] + [("sentiment", "encode"), ("translation", "encode_sources")]
ONE_TEXT = [("translation", "attention"), ("char_lm", "encode_prompt")]
IDS = [("sentiment", "probabilities_of"), ("translation", "decode_ids")]


@pytest.fixture(scope="module")
def runs(tiny_runs):
    return tiny_runs  # conftest.py: each recipe trained tiny once per session


@pytest.fixture(scope="module")
def apis(runs):
    return {r: api.from_checkpoint(runs[r], device="cpu", **OPTIONS[r]) for r, api in RECIPES.items()}


def name_of(api, method: str) -> str:
    """How an error names the method: ``Tagger`` for a call of the object, else ``Tagger.tag``."""
    return type(api).__name__ + ("" if method == "__call__" else f".{method}")


def raises_naming(api, method: str, bad, lazy: bool = False):
    with pytest.raises(UserError, match=rf"^{name_of(api, method)}[ :]") as err:
        result = getattr(api, method)(bad)
        if lazy:
            list(result)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("recipe, method", TEXTS + LISTS)
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_text_methods_refuse_what_is_not_text(apis, recipe, method, bad):
    raises_naming(apis[recipe], method, bad)


@pytest.mark.parametrize("recipe, method", LISTS)
def test_list_methods_refuse_one_string(apis, recipe, method):
    assert "not one string" in raises_naming(apis[recipe], method, "one text")


@pytest.mark.parametrize("recipe, method", ONE_TEXT)
@pytest.mark.parametrize("bad", [*BAD, ["a list"]], ids=repr)
def test_one_text_methods_refuse_anything_else(apis, recipe, method, bad):
    raises_naming(apis[recipe], method, bad)


@pytest.mark.parametrize("recipe, method", IDS)
@pytest.mark.parametrize("bad", [*BAD, "text", [[]], [[1, 10**9]], [[-1]], [[1, None]]], ids=repr)
def test_id_methods_refuse_what_is_not_token_ids(apis, recipe, method, bad):
    raises_naming(apis[recipe], method, bad)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
@pytest.mark.parametrize("method", ["stream", "pairs"])
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_streams_refuse_what_is_not_lines(apis, recipe, method, bad):
    raises_naming(apis[recipe], method, bad, lazy=True)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_streams_take_one_string_as_one_line(apis, recipe):
    assert len(list(apis[recipe].stream("one text"))) == 1


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_streams_refuse_a_batch_size_that_is_not_a_count(apis, recipe):
    api = apis[recipe]
    for bad in (0, -1, "2", 1.5, True):
        with pytest.raises(UserError, match=rf"{type(api).__name__}.stream: batch_size={bad!r}"):
            api.stream(["a"], batch_size=bad)


@pytest.mark.parametrize(
    "bad, message",
    [
        (None, "takes a token list or a list of token lists, got NoneType"),
        (5, "takes a token list or a list of token lists, got int"),
        (b"abc", "takes str, not bytes"),
        ([1, None], "sentence #0 is int, not a token list"),
        (["a", None], "token #1 is NoneType, not a string"),
        ([["a"], None], "sentence #1 is NoneType, not a token list"),
        ([["a"], "b"], "sentence #1 is str, not a token list"),
        ([["a", 2]], r"sentence #0: token #1 is int, not a string"),
    ],
)
def test_tag_tokens_refuses_what_is_not_token_lists(apis, bad, message):
    with pytest.raises(UserError, match=rf"^Tagger.tag_tokens[: ].*{message}"):
        apis["ner"].tag_tokens(bad)


def test_good_calls_still_answer(apis):
    tagger = apis["ner"]
    assert len(tagger.tag_tokens(("Peter", "lives"))) == 2 and tagger.tag_tokens([]) == []
    assert [len(t) for t in tagger.tag_tokens(iter([["Peter"], ("in", "Paris")]))] == [1, 2]
    assert len(list(tagger.stream(iter(["a", "b", "c"]), batch_size=2))) == 3
    clf = apis["sentiment"]
    assert clf.probabilities_of(clf.encode(("good", "bad"))).shape[0] == 2
    translator = apis["translation"]
    assert translator.decode_ids([]) == [] and len(translator.encode_sources(("Hund",))) == 1
    gen = apis["char_lm"]
    assert gen.encode_prompt("R") and gen.encode_prompt("") == [] and gen.predict_batch([""])[0].text == ""


@pytest.mark.parametrize("bad", [None, 5, b"runs/x", ["runs/x"]], ids=repr)
def test_from_checkpoint_refuses_what_is_not_a_path(bad):
    with pytest.raises(UserError, match=r"^Tagger.from_checkpoint[: ]"):
        Tagger.from_checkpoint(bad)


@pytest.mark.parametrize("bad", [None, 5, "gpu"], ids=repr)
def test_from_checkpoint_refuses_a_device_that_is_not_one(runs, bad):
    with pytest.raises(UserError, match=r"^Tagger.from_checkpoint: device="):
        Tagger.from_checkpoint(runs["ner"], device=bad)
