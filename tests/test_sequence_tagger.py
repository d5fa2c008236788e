import pytest
import torch

from nlprnn.data.conll import spans, tokenize
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import CASINGS, WordFeatures, casing, collate, normalize, text_tokens
from nlprnn.inference.tagger import Tagger
from nlprnn.models.sequence_tagger import SequenceTagger
from nlprnn.training.metrics import ner_scores

torch.set_num_threads(1)

SENTS = [
    ["Peter", "Blackburn", "lives", "in", "Paris", "."],
    ["EU", "rejects", "German", "call"],
    ["In", "1996", "Peter", "went", "to", "the", "U.S.", "."],
]
TAGS = [
    ["B-PER", "I-PER", "O", "O", "B-LOC", "O"],
    ["B-ORG", "O", "B-MISC", "O"],
    ["O", "O", "B-PER", "O", "O", "O", "B-LOC", "O"],
]


def test_normalize_and_casing():
    assert normalize("Paris") == normalize("PARIS") == "paris" and normalize("12-3") == "00-0"
    shapes = {w: CASINGS[casing(w)] for w in ["paris", "Paris", "EU", "iPhone", "1996", "A4", ","]}
    assert shapes == {
        "paris": "lower", "Paris": "title", "EU": "upper", "iPhone": "mixed",
        "1996": "numeric", "A4": "has_digit", ",": "other",
    }  # fmt: skip


def test_word_features_and_collate():
    feats = WordFeatures.build(SENTS)
    words, casings, lengths, chars, char_lengths, index = collate(feats, [SENTS[0], ["Peter", "Zürich!"]])
    assert lengths.tolist() == [6, 2] and words.shape == (2, 6) and words[1, 2:].eq(feats.pad_id).all()
    assert words[1, 1] == feats.unk_id  # unseen word
    assert index[0, 0] == index[1, 0]  # "Peter" twice in the batch, its characters encoded once
    assert chars.size(0) == 7 and char_lengths[index[1, 1]] == len("Zürich!")
    assert feats.chars.unk_id in chars[index[1, 1]].tolist()  # "ü" never seen in training
    singles = feats.singletons
    assert not singles[feats.words.stoi["peter"]] and singles[feats.words.stoi["paris"]]
    assert WordFeatures.from_dict(feats.to_dict()).to_dict() == feats.to_dict()


def test_unlabelled_text_extends_the_vocabulary_after_the_training_words():
    """embeddings=ppmi_svd's corpus: known tokens stay whole ("U.S."), the rest splits into words and
    marks; words seen min_count times join after the training words, never dropped in training."""
    feats = WordFeatures.build(SENTS)
    known = feats.words.stoi
    tokens = text_tokens("Berlin, the U.S. and 1997!", known)
    assert tokens == ["Berlin", ",", "the", "U.S.", "and", "1997", "!"]
    texts = ["Berlin is big.", "BERLIN, Berlin and Rome, 1997.", "Rome 1997"]
    bigger = feats.extended(texts, min_count=2)
    added = bigger.words.itos[len(feats.words) :]
    assert added == ["berlin", ",", "rome"]  # by count, then alphabetically; "." and "0000" were known
    assert bigger.words.itos[: len(feats.words)] == feats.words.itos  # training ids unchanged
    assert bigger.frequencies()[len(feats.words) :].eq(0).all()  # never seen in training: never dropped
    assert bigger.singletons.tolist()[: len(feats.words)] == feats.singletons.tolist()
    ids = bigger.text_lookup().encode(["Peter saw BERLIN, Oslo"])[0]
    assert bigger.words.decode(ids) == ["peter", "<unk>", "berlin", ",", "<unk>"]
    assert bigger.text_lookup().vocab is bigger.words  # what embeddings=file matches against


def test_unlabelled_text_counted_in_chunks_adds_the_same_words(monkeypatch):
    """extended() counts a chunk of texts at a time (memory): a word's counts add up over chunks
    ("rome" reaches min_count only over two texts), from a list or a one-pass iterator."""
    feats = WordFeatures.build(SENTS)
    texts = ["Berlin is big.", "BERLIN, Berlin and Rome, 1997.", "Rome 1997"]
    whole = feats.extended(texts, min_count=2).words.itos
    monkeypatch.setattr("nlprnn.data.word_features.EXTEND_CHUNK", 1)
    assert feats.extended(iter(texts), min_count=2).words.itos == whole
    assert "rome" in whole


def emissions_of(model, batch) -> torch.Tensor:
    """The emissions of collate's (words, casings, lengths, chars, char_lengths, char_index)."""
    words, casings, lengths, chars, char_lengths, index = batch
    return model.emissions(
        words, lengths, casings=casings, chars=chars, char_lengths=char_lengths, char_index=index
    )


def model_and_tags(**kw):
    torch.manual_seed(0)
    feats = WordFeatures.build(SENTS)
    tags = Vocab.build((t for s in TAGS for t in s), specials=["O"])
    args = dict(emb_dim=16, case_dim=4, char_dim=8, char_size=6, hidden_size=12, dropout=0.0)
    model = SequenceTagger(len(feats.words), len(tags), len(feats.chars), **{**args, **kw})
    return model, feats, tags


@pytest.mark.parametrize("char_features, output", [("lstm", "crf"), ("cnn", "softmax"), ("none", "crf")])
def test_predictions_do_not_depend_on_batch_padding(char_features, output):
    model, feats, tags = model_and_tags(char_features=char_features, output=output)
    model.eval()
    together = collate(feats, SENTS)
    emissions = emissions_of(model, together)
    for b, sent in enumerate(SENTS):
        alone = emissions_of(model, collate(feats, [sent]))
        torch.testing.assert_close(alone[0], emissions[b, : len(sent)], rtol=1e-5, atol=1e-6)
    tagger = Tagger(model, feats, tags, batch_size=2)
    assert tagger.tag_tokens(SENTS) == [tagger.tag_tokens([s])[0] for s in SENTS]


@pytest.mark.parametrize("output", ["crf", "softmax"])
def test_learns_the_training_sentences(output):
    model, feats, tags = model_and_tags(output=output)
    batch = collate(feats, SENTS, [tags.encode(t) for t in TAGS])
    mask = torch.arange(batch[0].size(1))[None, :] < batch[2][:, None]
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        model.loss(emissions_of(model, batch[:-1]), batch[-1], mask).backward()
        opt.step()
    assert Tagger(model, feats, tags).tag_tokens(SENTS) == TAGS


def test_spans_scores_and_tokenize():
    assert spans(SENTS[0], TAGS[0]) == [("PER", 0, 1, "Peter Blackburn"), ("LOC", 4, 4, "Paris")]
    perfect = ner_scores(TAGS, TAGS)
    assert perfect["f1"] == 100 and perfect["per_type"]["PER"]["support"] == 2
    half = ner_scores([TAGS[0]], [["B-PER", "I-PER", "O", "O", "O", "O"]])
    assert half["precision"] == 100 and half["recall"] == 50
    assert tokenize("Peter visited the U.S. on 3.5 days.") == [
        "Peter",
        "visited",
        "the",
        "U.S.",
        "on",
        "3.5",
        "days",
        ".",
    ]


def test_empty_text_and_empty_sentences():
    model, feats, tags = model_and_tags()
    tagger = Tagger(model, feats, tags)
    empty = tagger.tag("")  # the documented empty result: no tokens, no entities, no score
    assert empty.tokens == [] and empty.entities == [] and empty.score is None
    assert tagger.entities("  ") == []
    assert tagger.tag_tokens([[], SENTS[1]])[0] == []
