"""The sentiment recipe end to end on slices of SST-2 and IMDB: train, evaluate, predict, the API."""

import json

import pytest

from nlprnn import Classifier
from tests.conftest import tiny_recipe_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

cli = tiny_recipe_cli("sentiment")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    run = tmp_path_factory.mktemp("sentiment_run")
    proc = cli(f"hydra.run.dir={run}", "trainer.max_steps=8", "trainer.eval_every=4", data_dir=data_dir)
    return run, proc.stdout


def test_train_writes_run_and_scores(trained):
    run, out = trained
    for name in ("best.pt", "last.pt", "config.yaml", "metrics.jsonl", "results.json"):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["texts"] == 50 and sum(map(sum, results["test"]["confusion"])) == 50
    for split in ("val", "test"):  # the accuracy is the confusion matrix's diagonal
        confusion = results[split]["confusion"]
        right = sum(row[i] for i, row in enumerate(confusion))
        assert results[split]["accuracy"] == pytest.approx(100 * right / sum(map(sum, confusion)))
    assert "macro_f1" in results["val"]
    assert "gold \\ predicted" in out  # the confusion matrix is printed
    assert "embeddings: PPMI-SVD vectors for" in out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [4, 8] and "val_acc" in records[0]


def test_predict_text_stdin_and_file(trained, data_dir, tmp_path):
    run, _ = trained
    common = ["mode=predict", f"ckpt={run}", f"hydra.run.dir={tmp_path}"]
    line = cli(*common, "text='a moving , funny film .'", data_dir=data_dir).stdout.strip()
    label, prob, text = line.split("\t")
    assert label in ("negative", "positive") and 0.5 <= float(prob) <= 1 and text == "a moving , funny film ."
    lines = cli(*common, data_dir=data_dir, stdin="dull\n\ngreat fun\n").stdout.splitlines()
    assert len(lines) == 3 and lines[1].endswith("\t")  # an empty line still gets a prediction
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("boring\nbrilliant\n")
    cli(*common, f"input={src}", f"output={dst}", data_dir=data_dir)
    assert [row.split("\t")[2] for row in dst.read_text().splitlines()] == ["boring", "brilliant"]


def test_evaluate_and_python_api(trained, data_dir, tmp_path):
    run, _ = trained
    out = cli("mode=evaluate", f"ckpt={run}", "split=val", f"hydra.run.dir={tmp_path}", data_dir=data_dir)
    assert out.stdout.startswith("val: accuracy")
    clf = Classifier.from_checkpoint(run / "best.pt")
    full, empty = clf.predict(["a gripping film", ""])
    assert full.label in clf.labels and 0.5 <= full.score <= 1 and empty.label is None
    assert clf.predict("tedious").label in clf.labels and clf.predict([]) == []
    assert clf.probabilities(["a", "b c"]).sum(-1).tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_imdb_with_sentencepiece_and_conv_front_end(data_dir, tmp_path, pooling):
    out = cli(
        "data=imdb",
        "tokenizer=sentencepiece",
        "tokenizer.vocab_size=300",
        f"model.pooling={pooling}",
        "trainer.max_steps=2",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
    ).stdout
    assert (
        "data: imdb: train 400, val 50, test 50; labels negative, positive; sentencepiece vocabulary" in out
        and "test: accuracy" in out
    )
    assert json.loads((tmp_path / "results.json").read_text())["test"]["texts"] == 50


def test_user_errors_are_clear(trained, data_dir, tmp_path):
    run, _ = trained
    bad = cli("mode=predict", f"ckpt={tmp_path}/none.pt", "text=x", data_dir=data_dir, check=False)
    assert bad.returncode != 0 and "checkpoint not found" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli("tokenizer=chars", f"hydra.run.dir={tmp_path}", data_dir=data_dir, check=False)
    assert bad.returncode != 0 and "tokenizer/chars" in bad.stderr and "sentencepiece" in bad.stderr
    bad = cli(f"data.dir={tmp_path}", f"hydra.run.dir={tmp_path}", data_dir=data_dir, check=False)
    assert bad.returncode != 0 and "NLPRNN_DATA" in bad.stderr and "sentiment/sst2" in bad.stderr
    bad = cli("mode=predict", f"ckpt={run}", f"input={tmp_path}/missing.txt", data_dir=data_dir, check=False)
    assert bad.returncode != 0 and "missing.txt" in bad.stderr
