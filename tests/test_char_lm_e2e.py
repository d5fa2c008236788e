"""The char_lm recipe end to end through the real command line, on a slice of tiny shakespeare."""

import json

import pytest
import torch

from tests.conftest import tiny_recipe_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

cli = tiny_recipe_cli("char_lm")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    run = tmp_path_factory.mktemp("char_lm_run")
    proc = cli(f"hydra.run.dir={run}", data_dir=data_dir)
    return run, proc.stdout


def test_train_writes_run_directory(trained):
    run, out = trained
    for name in ("best.pt", "last.pt", "config.yaml", "vocab.json", "metrics.jsonl", "results.json"):
        assert (run / name).is_file(), name
    assert "nats/char" in out and "bpc" in out and "sample:\nROMEO:" in out
    ckpt = torch.load(run / "best.pt", weights_only=True)
    assert ckpt["recipe"] == "char_lm" and ckpt["vocab"]["itos"][0] == "<unk>"


def test_evaluate_mode(trained, data_dir, tmp_path):
    """mode=evaluate runs the recipe's inference default (int8 weights); training's results.json holds
    the scores of the model as trained, which mode=evaluate quantize=null reproduces."""
    run, _ = trained
    recorded = json.loads((run / "results.json").read_text())["val"]["loss"]
    scores = {}
    for quantize, override in (("int8", []), ("null", ["quantize=null"])):  # int8: the recipe's default
        out = tmp_path / f"{quantize}.json"
        args = [f"ckpt={run}/best.pt", "split=val", f"output={out}", *override]
        proc = cli("mode=evaluate", *args, data_dir=data_dir)
        assert "val:" in proc.stdout
        scores[quantize] = json.loads(out.read_text())["val"]["loss"]
    assert scores["null"] == pytest.approx(recorded, abs=1e-9)
    assert scores["int8"] != pytest.approx(recorded, abs=1e-9)  # the default really is another model


def test_generation_is_reproducible_and_respects_length(trained, data_dir, tmp_path):
    run, _ = trained
    gen = [
        "mode=generate",
        f"ckpt={run}",
        "prompt=ROMEO:",
        "length=60",
        "top_k=5",
        "top_p=0.9",
        f"hydra.run.dir={tmp_path}",
    ]
    a = cli(*gen, "seed=3", data_dir=data_dir).stdout
    b = cli(*gen, "seed=3", data_dir=data_dir).stdout
    c = cli(*gen, "seed=4", data_dir=data_dir).stdout
    assert a == b and a != c
    assert a.startswith("ROMEO:") and len(a.rstrip("\n")) >= 60


def test_prompt_with_unseen_characters_warns_and_drops_them(trained, data_dir, tmp_path):
    run, _ = trained
    out = cli(
        "mode=generate",
        f"ckpt={run}",
        "prompt='R€O'",
        "length=5",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
    )
    assert "not in the vocabulary were dropped: ['€']" in out.stderr
    assert out.stdout.startswith("RO")


@pytest.mark.parametrize(
    "args, message",
    [
        (["mode=generate", "ckpt=/no/such/file.pt"], "checkpoint not found: /no/such/file.pt"),
        (["mode=evaluate"], "this mode needs a checkpoint"),
        (["mode=dance"], "mode='dance' is not a mode of recipe 'char_lm'"),
        (["data.dir=/no/such/dir"], "data.dir='/no/such/dir' is not a directory"),
        (["data.files.train=charlm/missing.txt"], "charlm/missing.txt is not under data.dir"),
    ],
)
def test_user_errors_are_one_line(args, message, data_dir, tmp_path):
    proc = cli(*args, f"hydra.run.dir={tmp_path}", data_dir=data_dir, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_key_is_rejected(data_dir, tmp_path):
    proc = cli("trainer.max_epoch=3", f"hydra.run.dir={tmp_path}", data_dir=data_dir, check=False)
    assert proc.returncode != 0 and "max_epoch" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_checkpoints(trained, data_dir, tmp_path):
    run, _ = trained
    torn = tmp_path / "torn.pt"
    torn.write_bytes((run / "best.pt").read_bytes()[:1000])
    other = tmp_path / "other.pt"
    ckpt = torch.load(run / "best.pt", weights_only=True)
    torch.save({**ckpt, "recipe": "translation"}, other)
    for path, message in [
        (torn, "not a readable nlprnn checkpoint"),
        (other, "trained by recipe 'translation', not 'char_lm'"),
    ]:
        proc = cli(
            "mode=generate", f"ckpt={path}", f"hydra.run.dir={tmp_path}", data_dir=data_dir, check=False
        )
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_bad_text_files(data_dir, tmp_path):
    empty = tmp_path / "charlm" / "empty.txt"
    empty.parent.mkdir()
    empty.write_text("")
    (tmp_path / "charlm" / "latin1.txt").write_bytes("año\n".encode("latin-1"))
    for name, message in [("empty.txt", "empty"), ("latin1.txt", "not UTF-8")]:
        proc = cli(
            f"data.dir={tmp_path}",
            f"data.files.train=charlm/{name}",
            "data.hub=null",
            f"hydra.run.dir={tmp_path}/run",
            data_dir=data_dir,
            check=False,
        )
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_quijote_override(data_dir, tmp_path):
    out = cli(
        "data=quijote_es", "data.max_chars=30000", f"hydra.run.dir={tmp_path}", data_dir=data_dir
    ).stdout
    assert "data: quijote_es" in out and "sample:\nDON QUIJOTE:" in out
    itos = json.loads((tmp_path / "vocab.json").read_text())["itos"]
    assert "\r" not in itos and "\ufeff" not in itos and "ñ" in itos  # CRLF and BOM normalised away


def test_checkpoint_of_an_older_format_is_refused(trained, data_dir, tmp_path):
    run, _ = trained
    old = tmp_path / "old.pt"
    ckpt = torch.load(run / "best.pt", weights_only=True)
    ckpt.pop("format")
    torch.save(ckpt, old)
    proc = cli("mode=generate", f"ckpt={old}", data_dir=data_dir, check=False)
    assert proc.returncode == 2 and "written by an older nlprnn" in proc.stderr, proc.stderr
