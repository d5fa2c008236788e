"""The translation recipe end to end on a slice of Multi30k: train, evaluate, translate, attention."""

import json

import pytest
import torch

from nlprnn import Translator
from nlprnn.training.metrics import corpus_scores
from tests.conftest import tiny_recipe_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

cli = tiny_recipe_cli("translation")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    run = tmp_path_factory.mktemp("translation_run")
    proc = cli(f"hydra.run.dir={run}", "trainer.max_steps=12", "trainer.eval_every=6", data_dir=data_dir)
    return run, proc.stdout


def test_train_writes_run_and_scores(trained):
    run, out = trained
    for name in (
        "best.pt",
        "last.pt",
        "config.yaml",
        "spm_joint.model",
        "metrics.jsonl",
        "results.json",
        "hyps.test.txt",
    ):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    assert set(results) >= {"val", "test", "test_2017", "signature"}
    assert results["test"]["sentences"] == 20
    # the recorded BLEU is sacrebleu's on the written hypotheses against the test references
    from tests.conftest import preset_splits

    refs = [ref for _, ref in preset_splits("translation", "multi30k", "debug=tiny")["test"]]
    hyps = (run / "hyps.test.txt").read_text().splitlines()
    assert results["test"]["bleu"] == pytest.approx(corpus_scores(hyps, refs)["bleu"])
    assert "nrefs:1|case:mixed|eff:no|tok:13a" in out
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [6, 12]  # validation BLEU at every evaluation, including the final step


def test_translate_streams_stdin_keeps_empty_lines(trained, data_dir, tmp_path):
    run, _ = trained
    text = "Ein Hund läuft.\n\nZwei Männer spielen Fußball.\n"
    out = cli(
        "mode=translate", f"ckpt={run}/best.pt", f"hydra.run.dir={tmp_path}", data_dir=data_dir, stdin=text
    ).stdout
    lines = out.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""


def test_translate_file_to_file_and_evaluate(trained, data_dir, tmp_path):
    run, _ = trained
    src = tmp_path / "in.de"
    src.write_text("Ein Hund läuft.\nEine Frau ☃ singt.\n" + "sehr " * 400 + "lang.\n")
    proc = cli(
        "mode=translate",
        f"ckpt={run}",
        f"input={src}",
        f"output={tmp_path}/out.en",
        "decoding=greedy",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
    )
    assert len((tmp_path / "out.en").read_text().splitlines()) == 3
    assert "longer than 200 subwords were truncated" in proc.stderr
    ev = cli(
        "mode=evaluate",
        f"ckpt={run}/best.pt",
        "split=test_2017",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
    )
    assert "test_2017: BLEU" in ev.stdout


def test_attention_png(trained, data_dir, tmp_path):
    run, _ = trained
    png = tmp_path / "attn.png"
    cli(
        "mode=attention",
        f"ckpt={run}/best.pt",
        'text="Ein Hund läuft."',
        f"output={png}",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
    )
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_python_api_beam_one_equals_greedy(trained):
    run, _ = trained
    sentences = ["Ein Hund läuft.", "", "Zwei Männer stehen vor einem Haus."]
    greedy = Translator.from_checkpoint(run / "best.pt", method="greedy").translate(sentences)
    beam1 = Translator.from_checkpoint(run / "best.pt", method="beam", beam_size=1).translate(sentences)
    assert [t.text for t in greedy] == [t.text for t in beam1] and greedy[1].text == ""
    assert greedy[1].score is None and greedy[0].score <= 0  # beam's score: divided by the length penalty
    nbest = Translator.from_checkpoint(run / "best.pt", beam_size=3, n_best=3).translate_nbest(sentences[:1])
    assert len(nbest[0]) == 3


def test_wrong_recipe_checkpoint_and_bad_split(trained, data_dir, tmp_path):
    run, _ = trained
    other = tmp_path / "lm.pt"
    torch.save({**torch.load(run / "best.pt", weights_only=True), "recipe": "char_lm"}, other)
    proc = cli(
        "mode=translate",
        f"ckpt={other}",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
        stdin="x\n",
        check=False,
    )
    assert proc.returncode == 2 and "trained by recipe 'char_lm', not 'translation'" in proc.stderr
    proc = cli(
        "mode=evaluate",
        f"ckpt={run}/best.pt",
        "split=dev",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
        check=False,
    )
    assert proc.returncode == 2 and "split='dev'" in proc.stderr


def test_bleu_of_references_against_themselves_is_100():
    refs = ["A dog runs in the park.", "Two men are playing soccer.", "A woman sings."]
    scores = corpus_scores(refs, refs)
    assert scores["bleu"] == pytest.approx(100.0) and scores["chrf"] == pytest.approx(100.0)
    assert corpus_scores(["A cat sleeps."] * 3, refs)["bleu"] < 20


def test_errors_raised_inside_config_targets_are_one_line(data_dir, tmp_path):
    """Hydra wraps what a _target_ raises; the command line still shows the user's error."""
    proc = cli("subword.vocab_size=5", f"hydra.run.dir={tmp_path}", data_dir=data_dir, check=False)
    assert proc.returncode == 2 and "error: sentencepiece training failed" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_decoding_keywords_override_the_saved_decoding(trained):
    from nlprnn.errors import UserError
    from nlprnn.inference.decoders import BeamSearch, Greedy

    run, _ = trained
    saved = Translator.from_checkpoint(run).decoder
    assert isinstance(saved, BeamSearch) and saved.beam_size == 5
    tuned = Translator.from_checkpoint(run, alpha=1.0).decoder
    assert (tuned.beam_size, tuned.alpha) == (5, 1.0)  # the saved beam size stays
    assert isinstance(Translator.from_checkpoint(run, method="greedy").decoder, Greedy)
    with pytest.raises(UserError, match="not both"):
        Translator.from_checkpoint(run, decoder=Greedy(), beam_size=3)
