"""One inference API for every recipe, and the streamed inference mode at the edges of text I/O."""

import io
import subprocess
import sys

import pytest
import torch

from nlprnn import Classifier, Generator, Tagger, Translator
from nlprnn.errors import UserError
from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

RECIPES = {"char_lm": Generator, "ner": Tagger, "sentiment": Classifier, "translation": Translator}
MODE = {"char_lm": "generate", "ner": "tag", "sentiment": "predict", "translation": "translate"}
LINES_PER_INPUT = {"char_lm": 1, "ner": 2, "sentiment": 1, "translation": 1}  # char_lm at length=0
OPTIONS = {
    "char_lm": {"length": 5, "seed": 0},
    "ner": {},
    "sentiment": {},
    "translation": {"method": "greedy"},
}


@pytest.fixture(scope="module")
def runs(tiny_runs):
    return tiny_runs  # conftest.py: each recipe trained tiny once per session


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_training_says_where_its_run_is_and_how_to_use_it(runs, recipe):
    out = (runs[recipe] / "stdout.txt").read_text()
    assert out.startswith(f"run directory: {runs[recipe]}\n")
    assert f"python -m nlprnn recipe={recipe} mode=evaluate ckpt={runs[recipe]}" in out
    assert f"python -m nlprnn recipe={recipe} mode={MODE[recipe]} ckpt={runs[recipe]}" in out


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_one_string_is_one_input(runs, recipe):
    api = RECIPES[recipe].from_checkpoint(runs[recipe], device="auto", **OPTIONS[recipe])
    one = api("Ein Hund läuft.")
    assert same(one, api(["Ein Hund läuft."])[0])  # never one result per character
    many = api(["Peter lives in Paris.", "", "Zwei Männer."])
    assert len(many) == 3 and api([]) == []
    assert same(list(api.stream(iter(["Peter lives in Paris.", "", "Zwei Männer."]))), many)
    assert same(list(api.stream(["Peter lives in Paris.", ""], batch_size=1)), many[:2])
    assert same(list(api.stream(["Peter lives in Paris.\n", "\n"])), many[:2])  # lines of a file


def same(a, b) -> bool:
    """Equal results, scores up to float noise (another batch, another padding)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and _close(a.to_dict(), b.to_dict())


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-4, abs=1e-5)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_close, a, b))
    return a == b


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_non_string_inputs_are_clear_errors(runs, recipe):
    api = RECIPES[recipe].from_checkpoint(runs[recipe], **OPTIONS[recipe])
    for bad, where in [([1, None], "input #0 is int"), (["ok", None], "input #1 is NoneType"), (42, "int")]:
        with pytest.raises(UserError, match=where):
            api(bad)
    with pytest.raises(ValueError):  # UserError is a ValueError too
        list(api.stream(["fine", b"bytes"]))
    with pytest.raises(UserError, match="no_such_option"):
        RECIPES[recipe].from_checkpoint(runs[recipe], no_such_option=1)
    with pytest.raises(UserError, match="trained by recipe"):
        other = next(r for r in RECIPES if r != recipe)
        RECIPES[recipe].from_checkpoint(runs[other])


def test_recipe_specific_calls(runs):
    tagger = Tagger.from_checkpoint(runs["ner"])
    assert tagger.entities([]) == [] and isinstance(tagger.entities("Peter lives in Paris."), list)
    assert len(tagger.tag_tokens(["Peter", "lives"])) == 2  # one token list -> its tags
    assert [len(t) for t in tagger.tag_tokens([["Peter"], ["in", "Paris"]])] == [1, 2]
    with pytest.raises(UserError, match="token lists"):
        tagger.tag_tokens("Peter lives")
    clf = Classifier.from_checkpoint(runs["sentiment"])
    assert clf.probabilities("fine").shape == (len(clf.labels),)
    assert clf.probabilities(["a", "b"]).shape == (2, len(clf.labels))
    translator = Translator.from_checkpoint(runs["translation"], method="greedy")
    assert translator.translate("Ein Hund.") == translator(["Ein Hund."])[0]
    gen = Generator.from_checkpoint(runs["char_lm"], length=30, seed=3)
    assert gen("ROMEO:") == gen("ROMEO:") and gen("ROMEO:").text.startswith("ROMEO:")
    assert gen(["ROMEO:", "JULIET:"])[0] == gen("ROMEO:")  # each prompt as if alone
    for bad in ({"temperature": -1}, {"length": -5}, {"top_p": 0}, {"top_k": 0}):
        with pytest.raises(UserError, match=next(iter(bad))):
            Generator.from_checkpoint(runs["char_lm"], **bad)


# ---- the streamed inference mode: python -m nlprnn recipe=X mode=... ----------------------------
def _argv(recipe, runs, *args):
    argv = [
        sys.executable,
        "-m",
        "nlprnn",
        f"recipe={recipe}",
        f"mode={MODE[recipe]}",
        f"ckpt={runs[recipe]}",
    ]
    return argv + (["length=0"] if recipe == "char_lm" else []) + list(args)


def _cli(recipe, runs, data_dir, *args, stdin: bytes | None = None, shell_suffix: str = ""):
    """The inference mode in a subprocess with raw bytes in and out (or through a shell pipeline)."""
    argv, env = _argv(recipe, runs, *args), cli_env(data_dir)
    if shell_suffix:
        command = " ".join(f"'{a}'" for a in argv) + shell_suffix
        return subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True)
    return subprocess.run(argv, cwd=REPO, env=env, input=stdin, capture_output=True, timeout=300)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_lines_stay_aligned_whatever_the_bytes(runs, data_dir, recipe):
    lines = ["Ein\rHund", "NUL\x00inside", "\ufeffBOM first", "ctrl\x1b[0m", "", "Peter lives in Paris."]
    if recipe == "char_lm":  # an empty prompt starts a paragraph: its text is a newline
        lines.remove("")
    proc = _cli(recipe, runs, data_dir, "input=-", stdin="\n".join(lines).encode() + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode().split("\n")  # only \n ends a line
    assert out[-1] == "" and len(out) - 1 == len(lines) * LINES_PER_INPUT[recipe]
    if recipe == "sentiment":  # the text is echoed as it came
        assert [row.split("\t", 2)[2] for row in out[:-1]] == lines


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_io_errors_are_one_line(runs, data_dir, recipe, tmp_path):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("fine\naño\n".encode("latin-1"))
    cases = [
        ({"stdin": b"fine\n\xff\xfe\n"}, ["input=-"], "stdin, line 2: not UTF-8"),
        ({}, [f"input={latin}"], f"input={latin}, line 2: not UTF-8"),
        ({}, ["input=/nonexistent/x.txt"], "input=/nonexistent/x.txt: cannot read it"),
        (
            {"stdin": b"x\n"},
            ["input=-", f"output={tmp_path}/missing/out.txt"],
            "missing/out.txt: cannot write",
        ),
        ({"stdin": b"x\n"}, ["input=-", "output=/dev/full"], "output=/dev/full: cannot write it"),
        ({"shell_suffix": " <&-"}, ["input=-"], "stdin is closed"),
    ]
    for kwargs, args, message in cases:
        proc = _cli(recipe, runs, data_dir, *args, **kwargs)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and message in err and "Traceback" not in err, (args, err)
        assert err.count("error:") == 1


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_closed_pipe_downstream_is_a_quiet_exit(runs, data_dir, recipe):
    command = " ".join(f"'{a}'" for a in _argv(recipe, runs, "input=-"))
    pipeline = f"yes 'Peter lives in Paris.' | head -n 3000 | {command} | head -n 1; exit ${{PIPESTATUS[2]}}"
    proc = subprocess.run(["bash", "-c", pipeline], cwd=REPO, env=cli_env(data_dir), capture_output=True)
    assert proc.returncode in (0, 141) and b"Traceback" not in proc.stderr and b"error" not in proc.stderr
    assert len(proc.stdout.decode().split("\n")) == 2  # head's one line


def test_inference_modes_leave_no_run_directory(runs, data_dir, tmp_path):
    for recipe in RECIPES:
        argv = [sys.executable, "-m", "nlprnn", f"recipe={recipe}", f"ckpt={runs[recipe]}", "debug=tiny"]
        for mode in (f"mode={MODE[recipe]} text=Peter", "mode=evaluate split=val"):
            command = [*argv, *mode.split()]
            proc = subprocess.run(
                command, cwd=tmp_path, env=cli_env(data_dir), capture_output=True, timeout=300
            )
            assert proc.returncode == 0, proc.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_weights_match_the_saved_model(runs):
    ckpt = torch.load(runs["ner"] / "best.pt", weights_only=True)
    tagger = Tagger.from_checkpoint(runs["ner"])
    assert all(torch.equal(v, ckpt["model"][k]) for k, v in tagger.model.state_dict().items())


def test_output_never_destroys_a_file_it_was_not_asked_to_create(runs, data_dir, tmp_path):
    run, mine = runs["sentiment"], tmp_path / "mine.txt"
    mine.write_text("a good film\n")
    protected = {p: p.read_bytes() for p in [mine, run / "best.pt", run / "config.yaml"]}
    cases = [
        ([f"input={mine}", f"output={mine}"], "is also the input"),
        (["mode=evaluate", "split=val", f"output={run}/best.pt"], "checkpoint"),
        (["mode=evaluate", "split=val", f"output={run}/config.yaml"], "would overwrite a file of the run"),
        ([f"input={tmp_path}/missing.txt", f"output={mine}"], "cannot read it"),  # fails after opening output
        (["text=fine", f"output={tmp_path}/model.pt"], "checkpoint"),
    ]
    for args, message in cases:
        proc = _cli("sentiment", runs, data_dir, *args)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and message in err and "Traceback" not in err, (args, err)
        assert {p: p.read_bytes() for p in protected} == protected, args
    assert not list(tmp_path.glob(".*tmp*")) and not (tmp_path / "model.pt").exists()
    mine.chmod(0o640)  # asked for: an existing output is replaced whole, keeping its permissions
    proc = _cli("sentiment", runs, data_dir, f"input={run}/stdout.txt", f"output={mine}")
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(mine.read_text().splitlines()) == len((run / "stdout.txt").read_text().splitlines())
    assert mine.stat().st_mode & 0o777 == 0o640


def test_input_lines_are_read_in_bounded_memory(runs, data_dir, monkeypatch):
    from nlprnn.inference.textio import read_lines

    stream = io.BytesIO(b"short\n" + b"x" * 10_000_000 + b"\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
    lines = read_lines("-", max_chars=1000)
    assert next(lines) == "short"
    with pytest.raises(UserError, match="stdin, line 2: longer than max_chars=1000"):
        next(lines)
    assert stream.tell() < 10_000  # stopped reading at the limit, not at the line's end
    emoji = "\U0001f600" * 1000  # 4 bytes a character: exactly max_chars is accepted
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{emoji}\n{emoji}x".encode())))
    lines = read_lines(None, max_chars=1000)
    assert next(lines) == emoji
    with pytest.raises(UserError, match="line 2: longer than max_chars=1000"):
        next(lines)
    proc = _cli("sentiment", runs, data_dir, "input=-", "max_chars=10", stdin=b"ok\n" + b"y" * 11 + b"\n")
    assert proc.returncode == 2 and b"stdin, line 2: longer than max_chars=10" in proc.stderr
