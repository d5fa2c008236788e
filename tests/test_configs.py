"""Every recipe config (and data option) composes, with and without debug=tiny, and instantiates."""

import pytest
from hydra.utils import instantiate

from nlprnn.modes.splits import reader_of
from tests.conftest import CONF, compose_config

RECIPES = sorted(p.stem for p in (CONF / "recipe").glob("*.yaml"))
RUNTIME = {  # what each task passes at instantiate time, by task
    "char_lm": {"vocab_size": 50},
    "translation": {"src_vocab_size": 50, "tgt_vocab_size": 50, "pad_id": 0},
    "ner": {"vocab_size": 50, "num_tags": 9, "num_chars": 30, "pad_id": 0},
    "sentiment": {"vocab_size": 50, "num_classes": 2, "pad_id": 0},
}
DATA = {
    "char_lm": ["tinyshakespeare", "quijote_es"],
    "translation": ["multi30k", "anki_spa_eng"],
    "ner": ["conll2003_en", "conll2002_es"],
    "sentiment": ["sst2", "imdb"],
}
USER_DATA = {  # the user's own files, and what each needs on the command line to instantiate
    "char_lm": {"text": []},
    "translation": {"parallel": ["data.src_lang=fr", "data.tgt_lang=en"]},
    "ner": {"conll": []},
    "sentiment": {"table": []},
}
COURSE_DATA = ["synthetic", "sunspots", "co2"]  # conf/recipe/course/: the course experiments
COURSE = sorted(p.stem for p in (CONF / "recipe" / "course").glob("*.yaml"))


@pytest.mark.parametrize("name", COURSE)
def test_every_course_recipe_has_a_module_and_a_tiny_config(name):
    from importlib import import_module

    cfg = compose_config([f"recipe=course/{name}", "debug=tiny"])
    assert "train" in import_module(f"nlprnn.recipes.{cfg.recipe_module}").MODES
    assert (CONF / "debug_recipe" / "tiny_course" / f"{name}.yaml").exists()


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("debug", [[], ["debug=tiny"]])
def test_recipe_composes_and_instantiates(recipe, debug):
    cfg = compose_config([f"recipe={recipe}", *debug])
    assert recipe.startswith(cfg.recipe_module)
    for key in ("seed", "mode", "ckpt"):
        assert key in cfg
    for key in ("max_epochs", "max_steps", "max_time", "device", "resume"):
        assert key in cfg.trainer
    assert "dir" in cfg.data
    model = instantiate(cfg.model, **RUNTIME[cfg.recipe_module])
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("task, data", [(t, d) for t, names in DATA.items() for d in names])
def test_data_options(task, data):
    cfg = compose_config([f"recipe={task}", f"data={data}"])
    assert cfg.data.name == data and "dir" in cfg.data
    reader = reader_of(cfg.data)  # every key is an argument of its _target_ (or read by the recipe)
    assert reader.name == data and callable(reader.splits)


@pytest.mark.parametrize("task, data", [(t, d) for t, names in USER_DATA.items() for d in names])
def test_user_data_options(task, data):
    cfg = compose_config([f"recipe={task}", f"data={data}", *USER_DATA[task][data]])
    assert "dir" in cfg.data and "files" in cfg.data and "path" in cfg.data.hub
    reader = reader_of(cfg.data)  # every key is an argument of its _target_ (or read by the recipe)
    assert reader.name == data and callable(reader.splits) and reader.hub is None  # path null: no hub


CHOICES = {  # the config groups that pick an implementation, each option once
    "char_lm": [[]],
    "ner": [[]],
    "sentiment": [
        ["tokenizer=word", "embeddings=ppmi_svd"],
        ["tokenizer=sentencepiece", "embeddings=random"],
    ],
    "translation": [["decoding=beam"], ["decoding=greedy"], ["decoding=sample"], ["subword.joint=false"]],
}
TEXTS = ["a small text to learn subwords from", "another one , with a comma"] * 5


def _targets(node, path=""):
    """{dotted path: node} of every config node with a _target_."""
    if not hasattr(node, "items"):
        return {}
    found = {path: node} if "_target_" in node else {}
    for key, value in node.items():
        found.update(_targets(value, f"{path}.{key}".lstrip(".")))
    return found


def _runtime(path: str, task: str) -> dict:
    """What the recipe passes at instantiate time, beside the node's own keys."""
    import torch

    return {
        "model": RUNTIME[task],
        "optimizer": {"params": [torch.nn.Parameter(torch.zeros(1))]},
        "tokenizer": {"texts": TEXTS},
        "subword": {"src_texts": TEXTS, "tgt_texts": TEXTS},
    }.get(path, {})


@pytest.mark.parametrize(
    "task, data, choices", [(t, d, c) for t, names in DATA.items() for d in names for c in CHOICES[t]]
)
def test_every_node_instantiates(task, data, choices):
    """Every implementation-picking node (data reader, tokenizer or subword model, embedding
    initialisation, decoding, model, optimizer) is a _target_ whose keys are its arguments."""
    cfg = compose_config([f"recipe={task}", f"data={data}", *choices])
    nodes = _targets(cfg)
    expected = {"data", "model", "optimizer"} | {
        "sentiment": {"tokenizer", "embeddings"},
        "ner": {"embeddings"},
        "translation": {"subword", "decoding", "validation"},
    }.get(task, set())
    assert set(nodes) == expected
    for path, node in nodes.items():
        built = (
            reader_of(node) if path == "data" else instantiate(node, _convert_="all", **_runtime(path, task))
        )
        assert built is not None, path


def test_every_data_config_belongs_to_a_recipe():
    user = sorted({d for names in USER_DATA.values() for d in names})
    assert sorted(p.stem for p in (CONF / "data").glob("*.yaml")) == sorted(
        sum(DATA.values(), COURSE_DATA + user)
    )


def test_misspelt_key_fails_loudly():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        compose_config(["recipe=char_lm", "trainer.max_epoch=3"])


def test_per_dataset_recipe_settings():
    """conf/recipe_data/<recipe>_<data>.yaml applies on top of the recipe, under command-line overrides."""
    assert compose_config(["recipe=sentiment"]).max_len is None
    imdb = compose_config(["recipe=sentiment", "data=imdb"])
    assert imdb.max_len == 400 and imdb.model.conv_channels > 0
    assert compose_config(["recipe=sentiment", "data=imdb", "max_len=50"]).max_len == 50
    # the per-dataset corpus setting composes with either embedding initialisation
    assert compose_config(["recipe=sentiment", "data=imdb"]).embeddings.corpus == ["train"]
    assert "corpus" not in compose_config(["recipe=sentiment", "data=imdb", "embeddings=random"]).embeddings
    assert len(compose_config(["recipe=sentiment"]).embeddings.corpus) == 2  # SST-2: + IMDB's reviews
    assert len(compose_config(["recipe=ner", "embeddings=ppmi_svd"]).embeddings.corpus) == 2  # + IMDB
    spanish = compose_config(["recipe=ner", "data=conll2002_es", "embeddings=ppmi_svd"])
    assert spanish.embeddings.corpus == ["train"]  # no English reviews for Spanish news


def test_ner_word_vectors_by_dataset():
    """CoNLL-2003 English starts from PPMI-SVD vectors (its preset overrides the recipe's random
    default, measured on 3 seeds); Spanish and the course's comparisons keep random vectors; the
    command line still chooses."""
    target = "nlprnn.embeddings.word_vectors."
    assert compose_config(["recipe=ner"]).embeddings._target_ == target + "PpmiSvdInit"
    assert compose_config(["recipe=ner", "embeddings=random"]).embeddings._target_ == target + "RandomInit"
    assert compose_config(["recipe=ner", "data=conll2002_es"]).embeddings._target_ == target + "RandomInit"
    assert compose_config(["recipe=ner", "debug=tiny"]).vectors_corpus == ["train"]  # no IMDB in tests
    for course in ("depth", "cells"):
        ner = [
            c for c in compose_config([f"recipe=course/{course}"]).experiment.comparisons if c.recipe == "ner"
        ]
        assert "embeddings=random" in ner[0].overrides and "model.char_size=25" in ner[0].overrides


def test_ner_char_features_by_dataset():
    """CoNLL-2003 English's char-BiLSTM is 2 x 50 (chosen on its validation F1 over 3 seeds); Spanish
    keeps the recipe's 2 x 25; the command line still chooses."""
    assert compose_config(["recipe=ner"]).model.char_size == 50
    assert compose_config(["recipe=ner", "model.char_size=25"]).model.char_size == 25
    assert compose_config(["recipe=ner", "data=conll2002_es"]).model.char_size == 25


def test_multi30k_trains_on_the_schedule_its_seeds_validated():
    """The 3-seed comparison (recipes/translation/README.md) chose 4,800 updates on a cosine to 5% for
    Multi30k; corpora where that was not measured keep the recipe's plateau schedule."""
    multi30k = compose_config(["recipe=translation", "data=multi30k"]).trainer
    assert multi30k.max_steps == 4800 and multi30k.max_time == 55
    assert (multi30k.scheduler.name, multi30k.scheduler.min_lr_ratio) == ("cosine", 0.05)
    assert multi30k.scheduler.anneal_by_time is True  # a slower machine still ends at the floor rate
    anki = compose_config(["recipe=translation", "data=anki_spa_eng"]).trainer
    assert anki.max_steps is None and anki.scheduler.name == "plateau"
