"""A token <-> id mapping that is saved beside every run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch


class Vocab:
    """Ids for a fixed list of tokens; ``unk`` (if given) receives every unseen token."""

    def __init__(self, itos: list[str], unk: str | None = None) -> None:
        self.itos = list(itos)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate tokens")
        self.unk = unk
        self.unk_id = self.stoi[unk] if unk is not None else None

    @classmethod
    def build(cls, tokens: Iterable[str], specials: list[str] = (), unk: str | None = None):
        """Specials first, then every distinct token in sorted order (deterministic ids)."""
        seen = sorted(set(tokens) - set(specials))
        return cls(list(specials) + seen, unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> torch.Tensor:
        """tokens -> (N,) long; unseen tokens map to unk (KeyError when there is none)."""
        if self.unk_id is None:
            return torch.tensor([self.stoi[t] for t in tokens], dtype=torch.long)
        return torch.tensor([self.stoi.get(t, self.unk_id) for t in tokens], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def to_dict(self) -> dict:
        return {"itos": self.itos, "unk": self.unk}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(d["itos"], unk=d.get("unk"))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=0))
