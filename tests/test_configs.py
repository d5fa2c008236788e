"""Every recipe config (and data option) composes, with and without debug=tiny, and instantiates."""

from pathlib import Path

import pytest
from hydra.utils import instantiate

from tests.conftest import CONF, compose_config

RECIPES = sorted(p.stem for p in (CONF / "recipe").glob("*.yaml"))
RUNTIME = {"char_lm": {"vocab_size": 50}}  # by task


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


@pytest.mark.parametrize("data", sorted(p.stem for p in (CONF / "data").glob("*.yaml")))
def test_char_lm_data_options(data):
    cfg = compose_config(["recipe=char_lm", f"data={data}"])
    assert cfg.data.name == data and Path(cfg.data.file).suffix == ".txt"


def test_misspelt_key_fails_loudly():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        compose_config(["recipe=char_lm", "trainer.max_epoch=3"])
