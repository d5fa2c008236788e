"""A model built by hand from nlprnn.models, wrapped in its predictor, saves like a trained one:
save_pretrained writes the model's constructor keywords and the vocabularies, and from_pretrained
gives back a predictor with the same results (issue 22, item 3)."""

import gzip
import itertools
import json
import subprocess
import sys

import pytest
import torch

from nlprnn import Classifier, Generator, Tagger, Translator
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import WordFeatures
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.errors import UserError
from nlprnn.inference.decoders import BeamSearch
from nlprnn.models.language_model import LanguageModel
from nlprnn.models.seq2seq import Seq2Seq
from nlprnn.models.sequence_classifier import SequenceClassifier
from nlprnn.models.sequence_tagger import SequenceTagger
from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

SENTENCES = [["Peter", "lives", "in", "Paris", "."], ["Angela", "Merkel", "visited", "Berlin", "."]]
REVIEWS = ["a gripping , funny film .", "a tedious mess .", "beautifully acted"]


def _tagger() -> Tagger:
    torch.manual_seed(0)
    features = WordFeatures.build(SENTENCES)
    tags = Vocab.build(["B-PER", "I-PER", "B-LOC"], specials=["O"])
    sizes = {"num_chars": len(features.chars), "pad_id": features.pad_id}
    model = SequenceTagger(len(features.words), len(tags), emb_dim=8, char_size=4, hidden_size=6, **sizes)
    return Tagger(model, features, tags, batch_size=2, scheme="iob2")


def _classifier() -> Classifier:
    torch.manual_seed(0)
    tokenizer = WordTokenizer.build(REVIEWS)
    sizes = (tokenizer.vocab_size, 2, tokenizer.pad_id)
    model = SequenceClassifier(*sizes, emb_dim=8, hidden_size=6, pooling="mean")
    return Classifier(model, tokenizer, ["negative", "positive"], max_len=4, truncate="head")


def _generator() -> Generator:
    torch.manual_seed(0)
    vocab = Vocab.build("ROMEO: JULIET: to be or not", specials=["<unk>"], unk="<unk>")
    model = LanguageModel(len(vocab), emb_dim=8, hidden_size=12, num_layers=1, cell="gru")
    return Generator(model, vocab, length=20, seed=3)


@pytest.fixture(scope="module")
def translator(data_dir) -> Translator:
    """A tiny joint sentencepiece model (300 Multi30k sentence pairs) and an untrained Seq2Seq."""
    lines = []
    for side in ("de", "en"):
        path = data_dir / "translation" / "multi30k" / f"train.{side}.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines += [line.strip() for line in itertools.islice(f, 300)]
    tok = SubwordTokenizer.train(lines, vocab_size=300)
    torch.manual_seed(0)
    model = Seq2Seq(tok.vocab_size, tok.vocab_size, emb_dim=8, encoder_hidden_size=6, hidden_size=8,
                    share_embeddings=True)  # fmt: skip
    return Translator(model, tok, tok, BeamSearch(beam_size=3, n_best=2), max_len_extra=3, batch_size=4)


def _round_trip(predictor, folder, **options):
    predictor.save_pretrained(folder)
    return type(predictor).from_pretrained(folder, device="cpu", **options)


def test_a_hand_built_tagger_saves_and_loads_to_the_same_tagger(tmp_path):
    original = _tagger()
    loaded = _round_trip(original, tmp_path / "tagger")
    texts = ["Peter visited Berlin .", "Merkel lives in Paris", "unseen words here"]
    assert repr(loaded(texts)) == repr(original(texts))
    assert loaded.tag_tokens(SENTENCES) == original.tag_tokens(SENTENCES)
    node = json.loads((tmp_path / "tagger" / "config.json").read_text())["config"]["model"]
    assert node["_target_"] == "nlprnn.models.sequence_tagger.SequenceTagger"
    assert node["hidden_size"] == 6 and node["vocab_size"] == len(original.features.words)  # sizes kept


def test_a_hand_built_classifier_saves_and_loads_to_the_same_classifier(tmp_path):
    original = _classifier()
    loaded = _round_trip(original, tmp_path / "classifier", top_k=1)
    texts = [*REVIEWS, "a funny , gripping and tedious film"]
    assert repr(loaded(texts, top_k=None)) == repr(original(texts))
    assert (loaded.max_len, loaded.truncate, loaded.labels) == (4, "head", ["negative", "positive"])
    assert "built in Python" in (tmp_path / "classifier" / "README.md").read_text()


def test_a_hand_built_generator_saves_and_loads_to_the_same_samples(tmp_path):
    original = _generator()
    loaded = _round_trip(original, tmp_path / "generator", length=20, seed=3)
    assert repr(loaded(["ROMEO:", "to be"])) == repr(original(["ROMEO:", "to be"]))
    assert loaded("JULIET:", seed=7, temperature=0.5) == original("JULIET:", seed=7, temperature=0.5)


def test_a_hand_built_translator_saves_and_loads_to_the_same_translations(translator, tmp_path):
    loaded = _round_trip(translator, tmp_path / "translator")
    texts = ["Ein Hund läuft.", "Zwei Männer stehen auf der Straße.", ""]
    assert repr(loaded(texts)) == repr(translator(texts))
    assert (loaded.beam_size, loaded.n_best, loaded.max_len_extra, loaded.batch_size) == (3, 2, 3, 4)


def test_a_hand_built_folder_loads_in_a_new_process(data_dir, tmp_path):
    original = _classifier()
    folder = original.save_pretrained(tmp_path / "classifier")
    load = f"Classifier.from_pretrained({str(folder)!r})"
    code = f"from nlprnn import Classifier; print(repr({load}({REVIEWS!r})))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=cli_env(data_dir), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(original(REVIEWS))


def test_a_model_built_for_other_vocabularies_is_refused_at_save(tmp_path):
    tokenizer = WordTokenizer.build(REVIEWS)
    model = SequenceClassifier(tokenizer.vocab_size + 1, 2, tokenizer.pad_id, emb_dim=4, hidden_size=4)
    with pytest.raises(UserError, match="vocab_size"):
        Classifier(model, tokenizer, ["negative", "positive"]).save_pretrained(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
