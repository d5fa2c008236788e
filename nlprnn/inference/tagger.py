"""Tag raw text with a trained NER checkpoint: (token, IOB2 tag) pairs and entity spans.

from nlprnn import Tagger
tagger = Tagger.from_checkpoint("runs/ner/RUN")
tagger("Angela Merkel visited Paris.")
# -> [("Angela", "B-PER"), ("Merkel", "I-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")]
tagger.entities("Angela Merkel visited Paris.")   # -> [("PER", "Angela Merkel"), ("LOC", "Paris")]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from nlprnn.data.batching import make_batches
from nlprnn.data.conll import spans, tagging, tokenize
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import WordFeatures, collate
from nlprnn.errors import UserError
from nlprnn.inference.predictor import Predictor, checked_items, checked_texts
from nlprnn.training.checkpoint import model_from_checkpoint


class Tagger(Predictor):
    """Batched tagging of token lists or raw text with a SequenceTagger.

    Args:
        model: a SequenceTagger; features: its WordFeatures; tags: its tag Vocab.
        batch_size: sentences tagged together (sorted by length).
        scheme: the tagging the model predicts (iob2 | iobes); output is always IOB2.
    """

    def __init__(
        self, model, features: WordFeatures, tags: Vocab, batch_size: int = 256, device="cpu", scheme="iob2"
    ):
        self.model, self.features, self.tags = model.eval(), features, tags
        self.batch_size, self.device = batch_size, torch.device(device)
        self.to_iob2 = tagging(scheme)[1]
        self.config: dict = {}

    task = "ner"

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, batch_size: int = 256) -> Tagger:
        features = WordFeatures.from_dict(ckpt["vocab"]["features"])
        tags = Vocab.from_dict(ckpt["vocab"]["tags"])
        model = model_from_checkpoint(
            ckpt,
            device,
            vocab_size=len(features.words),
            num_tags=len(tags),
            num_chars=len(features.chars),
            pad_id=features.pad_id,
        )
        return cls(model, features, tags, batch_size, device, ckpt["config"].get("tagging", "iob2"))

    def tag_tokens(self, sentences: Sequence[str] | Iterable[Sequence[str]]) -> list[str] | list[list[str]]:
        """One token list -> its IOB2 tags; a list of token lists -> one tag list each, in order.
        An empty sentence gets no tags."""
        who = "Tagger.tag_tokens"
        if isinstance(sentences, str):
            raise UserError(f"{who} takes token lists; use tagger(text) for raw text")
        items = checked_items(sentences, who, "a token list or a list of token lists")
        if items and isinstance(items[0], str):  # one sentence
            return self._tag_token_lists([checked_texts(items, who, what="token")])[0]
        return self._tag_token_lists([token_list(tokens, i, who) for i, tokens in enumerate(items)])

    @torch.no_grad()
    def _tag_token_lists(self, sentences: list[list[str]]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in sentences]
        live = [i for i, s in enumerate(sentences) if len(s)]
        for batch in make_batches(
            [len(sentences[i]) for i in live], batch_size=self.batch_size, shuffle=False
        ):
            rows = [live[j] for j in batch]
            batch = collate(self.features, [sentences[i] for i in rows])
            words, casings, lengths, chars, char_lengths, char_index = (t.to(self.device) for t in batch)
            emissions = self.model(
                words,
                lengths,
                casings=casings,
                chars=chars,
                char_lengths=char_lengths,
                char_index=char_index,
            ).logits
            mask = torch.arange(emissions.size(1), device=self.device)[None, :] < lengths[:, None]
            for i, ids, n in zip(rows, self.model.decode(emissions, mask).tolist(), lengths.tolist()):
                out[i] = self.to_iob2(self.tags.decode(ids[:n]))
        return out

    def tag(self, text: str | Iterable[str]) -> list[tuple[str, str]] | list[list[tuple[str, str]]]:
        """Raw text -> [(token, tag)]; a list of texts -> one such list each."""
        return self._answer(text, "Tagger.tag")

    def predict_batch(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        tokens = [tokenize(t) for t in checked_texts(texts, "Tagger.predict_batch", "a list of strings")]
        return [list(zip(toks, tags)) for toks, tags in zip(tokens, self._tag_token_lists(tokens))]

    def entities(self, text: str | Iterable[str]) -> list[tuple[str, str]] | list[list[tuple[str, str]]]:
        """Raw text -> [(type, entity text)]; a list of texts -> one such list each."""
        if isinstance(text, str):
            return self.entities([text])[0]
        return [entities_of(tagged) for tagged in self._answer(text, "Tagger.entities")]


def token_list(tokens, position: int, who: str) -> list[str]:
    """Sentence ``position`` of ``who``'s list of token lists: a list (any non-string iterable) of
    strings; else a clear error."""
    if isinstance(tokens, (str, bytes, bytearray)) or not isinstance(tokens, Iterable):
        raise UserError(f"{who}: sentence #{position} is {type(tokens).__name__}, not a token list")
    return checked_texts(tokens, f"{who}: sentence #{position}", what="token")


def entities_of(tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """[(token, IOB2 tag)] -> [(type, entity text)]."""
    tokens, tags = [t for t, _ in tagged], [t for _, t in tagged]
    return [(kind, words) for kind, _, _, words in spans(tokens, tags)]
