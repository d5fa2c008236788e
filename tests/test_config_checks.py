"""Every documented value is checked when a run starts: one line with the key, the value and what
is allowed; checkpoints that are not checkpoints are one-line errors too."""

import pytest
import torch

from nlprnn.config_checks import CHECKS, check_config
from nlprnn.errors import UserError
from nlprnn.training.checkpoint import FORMAT, load_checkpoint
from tests.conftest import CONF, compose_config, tiny_recipe_cli

RECIPES = sorted(p.stem for p in (CONF / "recipe").glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("debug", [[], ["debug=tiny"]])
def test_every_shipped_config_passes(recipe, debug):
    check_config(compose_config([f"recipe={recipe}", *debug]))


@pytest.mark.parametrize(
    "recipe, override, message",
    [
        ("char_lm", "trainer.max_steps=abc", "trainer.max_steps='abc': must be a whole number >= 1 or null"),
        ("char_lm", "trainer.max_steps=-1", "trainer.max_steps=-1: must be a whole number >= 1"),
        ("char_lm", "trainer.scheduler.name=foo", "trainer.scheduler.name='foo': must be one of constant"),
        ("char_lm", "temperature=-1", "temperature=-1: must be a number in [0, inf)"),
        ("char_lm", "length=-5", "length=-5: must be a whole number >= 0"),
        ("char_lm", "top_p=0", "top_p=0: must be a number in (0, 1] or null"),
        ("char_lm", "batching.bptt=0", "batching.bptt=0"),
        ("ner", "model.dropout=1.5", "model.dropout=1.5: must be a number in [0, 1)"),
        ("ner", "tagging=bioes", "tagging='bioes': must be one of iob1, iob2, iobes, bilou"),
        ("sentiment", "truncate=middle", "truncate='middle': must be one of head, tail"),
        ("translation", "decoding.beam_size=0", "decoding.beam_size=0"),
        ("translation", "trainer.ema=1", "trainer.ema=1: must be a number in (0, 1) or null"),
        ("translation", "trainer.resume=maybe", "trainer.resume='maybe': must be true or false"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(recipe, override, message):
    with pytest.raises(UserError) as err:
        check_config(compose_config([f"recipe={recipe}", override]))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "recipe, override, message",
    [
        (
            "char_lm",
            "model.cell=lstn",
            "model (LanguageModel): cell must be one of ['gru', 'lstm', 'rnn'], got 'lstn'",
        ),
        ("translation", "model.attention=foo", "model (Seq2Seq): attention must be one of"),
        ("sentiment", "model.pooling=min", "model (SequenceClassifier): pooling must be one of last, max"),
        ("ner", "model.output=x", "model (SequenceTagger): output must be crf or softmax, got 'x'"),
        ("ner", "model.char_features=y", "char_features must be cnn, lstm or none, got 'y'"),
        ("char_lm", "+model.foo=1", "unexpected keyword argument 'foo'"),
    ],
)
def test_the_models_own_choices_are_checked_by_its_constructors_before_any_data(recipe, override, message):
    """The constructors hold the choices (stated once); the check builds the model on the meta
    device with stand-in sizes, so no memory is taken and no data read."""
    with pytest.raises(UserError) as err:
        check_config(compose_config([f"recipe={recipe}", override]))
    assert message in str(err.value) and "\n" not in str(err.value)
    not_trained = compose_config([f"recipe={recipe}", override, "mode=evaluate"])
    check_config(not_trained)  # the other modes read the model from the checkpoint


@pytest.mark.parametrize(
    "override", ["trainer.device=cuda:1", "trainer.device=mps", "model.char_features=null"]
)
def test_valid_values_pass(override):
    check_config(compose_config(["recipe=ner", override]))


def test_every_checked_key_exists_in_some_recipe():
    from omegaconf import OmegaConf

    configs = [compose_config([f"recipe={r}"]) for r in RECIPES]
    for extra in (
        ["recipe=translation", "decoding=sample"],
        ["recipe=sentiment", "data=imdb", "tokenizer=sentencepiece"],
        ["recipe=sentiment", "data=table"],
        ["recipe=ner", "data=conll"],
    ):
        configs.append(compose_config(extra))
    missing = [
        k for k in CHECKS if all(OmegaConf.select(c, k, default="<absent>") == "<absent>" for c in configs)
    ]
    assert not missing, f"checks for keys no recipe has: {missing}"


def test_bad_value_on_the_command_line_is_one_line(data_dir, tmp_path):
    proc = tiny_recipe_cli("char_lm")(
        "trainer.max_steps=abc", f"hydra.run.dir={tmp_path}/run", data_dir=data_dir, check=False
    )
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: trainer.max_steps='abc': must be a whole number >= 1 or null"
    ]
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").iterdir())  # nothing written


@pytest.mark.parametrize(
    "content", [b"", b"hello, not a checkpoint\n", bytes(range(256)) * 40, b"PK\x03\x04" + b"\0" * 100]
)
def test_files_that_are_not_checkpoints(tmp_path, content):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(UserError, match="not a readable nlprnn checkpoint"):
        load_checkpoint(path)


def test_checkpoint_versions(tmp_path):
    versions = [(FORMAT + 1, "unknown to this nlprnn"), ("4", "unknown"), (2, "older nlprnn"), (1, "older")]
    for version, message in versions:
        torch.save({"recipe": "char_lm", "model": {}, "format": version}, tmp_path / "c.pt")
        with pytest.raises(UserError, match=message):
            load_checkpoint(tmp_path / "c.pt", "char_lm")
    torch.save({"task": "char_lm", "model": {}}, tmp_path / "c.pt")  # older ones had no version
    with pytest.raises(UserError, match="older nlprnn"):
        load_checkpoint(tmp_path / "c.pt")
    # format 3 named the recipe "task" (and the config key too): read by renaming
    old = {"task": "char_lm", "task_state": [{}], "model": {}, "format": 3, "config": {"task": "char_lm"}}
    torch.save(old, tmp_path / "c.pt")
    ckpt = load_checkpoint(tmp_path / "c.pt", "char_lm")
    assert (ckpt["recipe"], ckpt["recipe_state"], ckpt["config"]) == (
        "char_lm",
        [{}],
        {"recipe_module": "char_lm"},
    )
    with pytest.raises(UserError, match="trained by recipe 'char_lm', not 'ner'"):
        load_checkpoint(tmp_path / "c.pt", "ner")
