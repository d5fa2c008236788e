"""Every recipe config (and data option) composes, with and without debug=tiny, and instantiates."""

import pytest
from hydra.utils import instantiate

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


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("debug", [[], ["debug=tiny"]])
def test_recipe_composes_and_instantiates(recipe, debug):
    cfg = compose_config([f"recipe={recipe}", *debug])
    assert recipe.startswith(cfg.task)
    for key in ("seed", "mode", "ckpt"):
        assert key in cfg
    for key in ("max_epochs", "max_steps", "max_time", "device", "resume"):
        assert key in cfg.trainer
    assert "dir" in cfg.data
    model = instantiate(cfg.model, **RUNTIME[cfg.task])
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("task, data", [(t, d) for t, names in DATA.items() for d in names])
def test_data_options(task, data):
    cfg = compose_config([f"recipe={task}", f"data={data}"])
    assert cfg.data.name == data and "dir" in cfg.data
    reader = instantiate(cfg.data, _convert_="all")  # every key is an argument of its _target_
    assert reader.name == data and callable(reader.splits)


def test_every_data_config_belongs_to_a_recipe():
    assert sorted(p.stem for p in (CONF / "data").glob("*.yaml")) == sorted(sum(DATA.values(), []))


def test_misspelt_key_fails_loudly():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        compose_config(["recipe=char_lm", "trainer.max_epoch=3"])


def test_per_dataset_recipe_settings():
    """conf/recipe_data/<recipe>_<data>.yaml applies on top of the recipe, under command-line overrides."""
    assert compose_config(["recipe=sentiment"]).tokenizer.max_len is None
    imdb = compose_config(["recipe=sentiment", "data=imdb"])
    assert imdb.tokenizer.max_len == 400 and imdb.model.conv_channels > 0
    assert compose_config(["recipe=sentiment", "data=imdb", "tokenizer.max_len=50"]).tokenizer.max_len == 50
