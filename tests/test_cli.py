"""The command line's own help and errors: ``--help`` pages built from conf/, one ``error:`` line with
the closest valid names (exit 2) for a misspelt key, recipe or option, and a warning for a key the
chosen mode ignores."""

from __future__ import annotations

import re

import pytest

from tests.conftest import CONF, compose_config, run_cli


def lines_of(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


@pytest.mark.slow
def test_help_names_the_recipes_modes_shared_keys_and_examples(data_dir):
    proc = run_cli(["--help"], data_dir)
    out, lines = proc.stdout, lines_of(proc.stdout)
    recipes = [
        p.relative_to(CONF / "recipe").with_suffix("").as_posix() for p in (CONF / "recipe").rglob("*.yaml")
    ]
    assert "course/long_memory" in recipes
    for name in recipes:  # each with its description (the yaml's first comment line)
        assert any(line.startswith(f"{name} ") for line in lines), name
    assert any(line.startswith("ner Named-entity tagging (many-to-many, equal lengths).") for line in lines)
    for mode, who in [("train", "every recipe"), ("evaluate", "char_lm"), ("generate", "char_lm"),
                      ("tag", "ner"), ("predict", "sentiment"), ("translate", "translation"),
                      ("attention", "translation")]:  # fmt: skip
        assert any(line.startswith(f"{mode} {who}") for line in lines), mode
    assert any(re.fullmatch(r"trainer\.max_time null minutes of wall time.*", line) for line in lines)
    assert "trainer.device auto auto | cpu | cuda" in lines
    assert "python -m nlprnn recipe=ner data=conll2002_es" in out and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_recipe_help_gives_its_keys_defaults_meanings_and_modes(data_dir):
    lines = lines_of(run_cli(["recipe=ner", "embeddings=ppmi_svd", "--help"], data_dir).stdout)
    assert lines[0].startswith("recipe ner: Named-entity tagging")
    for expected in [
        "model.hidden_size 200 word-level BiLSTM, per direction",  # conf/recipe/ner.yaml
        "data.tag_column 3 0-based column of the NER tag (-1: the last)",  # conf/data/conll2003_en.yaml
        "trainer.max_time 28 minutes of wall time, then validate, checkpoint and stop cleanly",  # config.yaml
        "trainer.patience 6 early stopping: evaluations without improvement (null: off)",
        "embeddings.window 5",  # the selected embeddings option's keys too (ner's default, random, has none)
    ]:
        assert expected in lines, expected
    modes = [line.split()[0] for line in lines[lines.index("modes (mode=NAME):") + 1 :][:3]]
    assert modes == ["train", "evaluate", "tag"]


@pytest.mark.slow
def test_help_takes_the_other_overrides_and_multirun(data_dir):
    """-h among a sweep's overrides: each option chosen on the command line is the one shown."""
    proc = run_cli(
        ["recipe=translation", "--multirun", "seed=1,2", "decoding=greedy", "data=anki_spa_eng", "-h"],
        data_dir,
    )
    lines = lines_of(proc.stdout)
    assert "data.name anki_spa_eng a seeded split grouped by sentence (no official split)" in lines
    assert "decoding._target_ nlprnn.inference.decoders.Greedy" in lines
    assert not any(line.startswith("decoding.beam_size") for line in lines)
    assert any(line.startswith("attention ") for line in lines) and any(
        line.startswith("translate ") for line in lines
    )


NO_FILE = "is not {} option (no conf/{}.yaml); did you mean {}?"
MISTAKES = [
    (
        ["recipe=ner", "model.hiden_size=10"],
        "model.hiden_size is not a key of recipe ner; did you mean model.hidden_size?",
    ),
    (
        ["recipe=nerr"],
        "recipe=nerr is not a recipe; did you mean ner? (choose one of: char_lm, char_lm_long,",
    ),
    (
        ["recipe=ner", "data=conll2003"],
        "data=conll2003 " + NO_FILE.format("a data", "data/conll2003", "conll2003_en"),
    ),
    (
        ["recipe=translation", "decoding=bem"],
        "decoding=bem " + NO_FILE.format("a decoding", "decoding/bem", "beam"),
    ),
    (
        ["recipe=char_lm", "mode=evaluate", "debug=tny"],
        "debug=tny " + NO_FILE.format("a debug", "debug/tny", "tiny"),
    ),  # an optional group: Hydra skipped a misspelt option
    (["recipe=ner", "model.hidden_size=[1,2"], "cannot read 'model.hidden_size=[1,2': "),
    (["recipe=ner", "seed=1,2"], "seed=1,2: add --multirun to run once per value"),
    (
        ["-m", "recipe=ner", "seed=1,2", "trainr.max_steps=3,4"],
        "trainr.max_steps is not a key of recipe ner; did",
    ),
    ([], "choose a recipe: python -m nlprnn recipe=NAME, NAME one of: char_lm, "),
]


@pytest.mark.slow
def test_command_line_mistakes_are_one_error_line_with_the_closest_names(data_dir, tmp_path):
    for args, message in MISTAKES:  # about 0.4 s each: nothing is imported beyond Hydra
        proc = run_cli([*args, f"hydra.sweep.dir={tmp_path}/sweep"], data_dir, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.splitlines() == [proc.stderr.strip()], (args, proc.stderr)
        assert proc.stderr.startswith(f"error: {message}"), (args, proc.stderr)
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_what_hydra_allows_still_composes(data_dir):
    """+new.key adds a key, a key of a selected group option exists, a swept key is checked once."""
    proc = run_cli(["recipe=translation", "decoding.beam_size=3", "+extra.key=1", "--cfg", "job"], data_dir)
    assert "beam_size: 3" in proc.stdout and "extra:\n  key: 1" in proc.stdout
    proc = run_cli(["recipe=ner", "+model.hidden_size=3", "--cfg", "job"], data_dir, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: Could not append to config.")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_key_the_mode_ignores_is_a_warning_and_the_run_goes_on(data_dir, tmp_path):
    args = [
        "recipe=ner",
        "mode=tag",
        f"ckpt={tmp_path}/none.pt",
        "model.hidden_size=10",
        "trainer.device=cpu",
    ]
    proc = run_cli([*args, "text=Peter", "data.eval_limit=3", "split=val"], data_dir, check=False)
    assert proc.stderr.splitlines() == [
        "warning: model.hidden_size=10 is ignored by mode=tag: the model comes from the checkpoint",
        "warning: data.eval_limit=3 is ignored by mode=tag: mode=tag reads text=, input=FILE or stdin, "
        "not the data",
        "warning: split=val is ignored by mode=tag: only mode=evaluate reads it",
        f"error: checkpoint not found: {tmp_path}/none.pt",  # it went on: to load the checkpoint
    ]
    assert proc.returncode == 2


def test_keys_each_mode_ignores():
    from nlprnn.cli_checks import ignored_keys

    cfg = compose_config(["recipe=sentiment", "mode=evaluate"])
    given = "recipe=sentiment mode=evaluate ckpt=x split=val data.eval_limit=5 text=a optimizer.lr=0.1"
    given = [*given.split(), "trainer.device=cpu", "tokenizer=sentencepiece", "seed=3", "hydra.run.dir=x"]
    assert [line.split(" is ignored")[0] for line in ignored_keys(cfg, given)] == [
        "warning: text=a",
        "warning: optimizer.lr=0.1",
        "warning: tokenizer=sentencepiece",
    ]
    cfg = compose_config(["recipe=char_lm"])
    given = "recipe=char_lm ckpt=x text=a input=f output=o split=val prompt=A model.cell=gru".split()
    ignored = [line.split("=")[0].removeprefix("warning: ") for line in ignored_keys(cfg, given)]
    assert ignored == ["ckpt", "text", "input", "output", "split"]
    assert ignored_keys(compose_config(["recipe=course/generation"]), ["ckpt=x"]) == []  # it reads ckpt
    cfg = compose_config(["recipe=char_lm", "mode=evaluate"])
    given = ["batching.eval_batch_size=1", "batching.bptt=50"]  # evaluation reads the streams, not bptt
    ignored = [line.split(" is ignored")[0] for line in ignored_keys(cfg, given)]
    assert ignored == ["warning: batching.bptt=50"]
    cfg = compose_config(["recipe=ner", "mode=export"])
    given = "recipe=ner mode=export ckpt=x output=o format=onnx text=a model.hidden_size=3".split()
    ignored = [line.split("=")[0].removeprefix("warning: ") for line in ignored_keys(cfg, given)]
    assert ignored == ["text", "model.hidden_size"]
    assert "only mode=export" in ignored_keys(compose_config(["recipe=ner", "mode=tag"]), ["format=onnx"])[0]


def test_yaml_comments_map_to_dotted_keys(tmp_path):
    from nlprnn import cli_help

    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "x.yaml"
    path.write_text(
        "# @package data\n# A reader.\n_target_: a.B   # the reader\n"
        "files:          # where they are\n  train: t.txt   # training file\n  test: null\n"
        'prefix: "#"     # a quoted # is a value\n'
        "corpus:\n  - train  # an item\n  - x\nwindow: 5  # words each side,\n           # both ways\n"
    )
    cli_help.CONF, old = tmp_path, cli_help.CONF
    try:
        found = cli_help.key_comments(path)
    finally:
        cli_help.CONF = old
    assert found == {
        "data._target_": ("a.B", "the reader"),
        "data.files": (None, "where they are"),
        "data.files.train": ("t.txt", "training file"),
        "data.files.test": ("null", ""),
        "data.prefix": ('"#"', "a quoted # is a value"),
        "data.corpus": (None, ""),
        "data.window": ("5", "words each side, both ways"),
    }
