"""The NER recipe end to end on slices of CoNLL-2003 / CoNLL-2002: train, evaluate, tag."""

import json

import pytest

from nlprnn import Tagger
from tests.conftest import tiny_recipe_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

cli = tiny_recipe_cli("ner")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    run = tmp_path_factory.mktemp("ner_run")
    proc = cli(f"hydra.run.dir={run}", "trainer.max_steps=8", "trainer.eval_every=4", data_dir=data_dir)
    return run, proc.stdout


def test_train_writes_run_and_seqeval_scores(trained):
    run, out = trained
    for name in ("best.pt", "last.pt", "config.yaml", "metrics.jsonl", "results.json"):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["sentences"] == 40
    assert "precision" in out and "support" in out  # the per-type report is printed
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [4, 8] and "val_f1" in records[0]


def test_the_recorded_f1_is_seqeval_on_the_saved_models_tags(trained, data_dir):
    """results.json's test F1 is what seqeval gives the best checkpoint's tags of the test split."""
    from nlprnn.training.metrics import ner_scores
    from tests.conftest import preset_splits

    run, _ = trained
    test = preset_splits("ner", "conll2003_en", "debug=tiny")["test"]
    tagged = Tagger.from_checkpoint(run / "best.pt").tag_tokens([tokens for tokens, _ in test])
    recorded = json.loads((run / "results.json").read_text())["test"]
    assert recorded["f1"] == pytest.approx(ner_scores([tags for _, tags in test], tagged)["f1"])


def test_tag_text_stdin_and_file(trained, data_dir, tmp_path):
    run, _ = trained
    out = cli(
        "mode=tag",
        f"ckpt={run}",
        f"hydra.run.dir={tmp_path}",
        "text='Peter lives in Paris.'",
        data_dir=data_dir,
    )
    tokens = out.stdout.splitlines()[0].split()
    assert [t.rsplit("/", 1)[0] for t in tokens] == ["Peter", "lives", "in", "Paris", "."]
    assert all(
        t.rsplit("/", 1)[1] in {"O"} | {f"{p}-{k}" for p in "BI" for k in ("PER", "LOC", "ORG", "MISC")}
        for t in tokens
    )
    lines = cli(
        "mode=tag", f"ckpt={run}", f"hydra.run.dir={tmp_path}", data_dir=data_dir, stdin="EU rejects it.\n\n"
    ).stdout
    assert len(lines.splitlines()) == 4  # two input lines -> tags + spans each; the empty one stays empty
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("Peter went to Madrid.\n")
    cli(
        "mode=tag",
        f"ckpt={run}",
        f"input={src}",
        f"output={dst}",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
    )
    assert dst.read_text().startswith("Peter/")


def test_evaluate_and_python_api(trained, data_dir, tmp_path):
    run, _ = trained
    out = cli(
        "mode=evaluate", f"ckpt={run}", "split=val", f"hydra.run.dir={tmp_path}", data_dir=data_dir
    ).stdout
    assert out.startswith("val: F1")
    tagger = Tagger.from_checkpoint(run / "best.pt")
    tagged = tagger.tag(["Angela Merkel visited Paris.", ""])
    assert [t.text for t in tagged[0].tokens] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert tagged[1].tokens == [] and tagged[1].score is None


def test_word_vectors_from_unlabelled_text_reach_words_training_never_saw(data_dir, tmp_path):
    """embeddings=ppmi_svd: vectors counted from the training text and a text file; the file's words
    join the vocabulary, their rows start at their vectors, and the tagger reads them as known."""
    import torch

    corpus = tmp_path / "news.txt"
    corpus.write_text(
        "Zanzibar officials met in Zanzibar on Monday .\n" * 3 + "Officials said Zanzibar grew .\n"
    )
    run = tmp_path / "run"
    options = ["embeddings=ppmi_svd", f"vectors_corpus=[train,{corpus}]", "corpus_vocab_min_count=2"]
    out = cli(*options, "trainer.max_steps=1", f"hydra.run.dir={run}", data_dir=data_dir).stdout
    assert "from the vectors' corpus" in out and "PPMI-SVD vectors for" in out
    ckpt = torch.load(run / "best.pt", weights_only=True)
    itos = ckpt["vocab"]["features"]["words"]["itos"]
    assert "zanzibar" in itos and itos.index("zanzibar") > itos.index("<unk>")
    trained, fixed = ckpt["model"]["embedding.table.weight"], ckpt["model"]["embedding.fixed"]
    assert len(trained) + len(fixed) == len(itos) and itos.index("zanzibar") >= len(trained)  # kept fixed
    tagger = Tagger.from_checkpoint(run / "best.pt")
    ids, _ = tagger.features.encode(["Zanzibar"])
    assert ids.tolist() == [itos.index("zanzibar")]  # a known word at tagging time, not <unk>


def test_spanish_data_and_errors(data_dir, tmp_path):
    es_run = f"hydra.run.dir={tmp_path / 'es'}"
    options = ["data=conll2002_es", "trainer.max_steps=2", "trainer.eval_every=2", "model.output=softmax"]
    out = cli(*options, "model.char_features=cnn", es_run, data_dir=data_dir).stdout
    assert "conll2002_es" in out and "test: F1" in out
    bad = cli(
        "mode=tag",
        f"ckpt={tmp_path / 'nothing'}",
        f"hydra.run.dir={tmp_path}",
        data_dir=data_dir,
        check=False,
    )
    assert bad.returncode == 2 and "checkpoint not found" in bad.stderr


def test_word_dropout_probabilities():
    from omegaconf import OmegaConf

    from nlprnn.data.word_features import WordFeatures
    from nlprnn.recipes.ner import word_dropout_probabilities

    features = WordFeatures.build([["the", "cat"], ["the", "dog"], ["the"]])
    ids = {w: features.words.stoi[w] for w in ("the", "cat")}
    cfg = OmegaConf.create({"word_dropout": 0.5, "word_dropout_alpha": None})
    probs = word_dropout_probabilities(cfg, features)
    assert probs[ids["cat"]] == 0.5 and probs[ids["the"]] == 0 and probs[features.pad_id] == 0
    cfg.word_dropout_alpha = 1.0
    probs = word_dropout_probabilities(cfg, features)
    assert probs[ids["cat"]] == 0.5 and probs[ids["the"]] == 0.25
    assert probs[features.pad_id] == 0 and probs[features.unk_id] == 0
    cfg.word_dropout, cfg.word_dropout_alpha = 0.0, None
    assert word_dropout_probabilities(cfg, features) is None
