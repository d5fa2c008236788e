"""How much do the SST-2 PPMI-SVD word vectors depend on the randomized SVD's draw?

    NLPRNN_DATA=../shared/data python scripts/svd_agreement.py          # about 3 minutes

For each (oversample, iters) setting, draws the SVD with two seeds and prints the 200th singular
value and the mean / min cosine of the principal angles between the two 200-dim subspaces
(1.0: the same vectors whatever the seed).
"""

from __future__ import annotations

import os

import torch
from hydra import compose, initialize_config_dir

from nlprnn.embeddings.word_vectors import cooccurrence, ppmi, unlabelled_texts
from nlprnn.factory import build

CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conf")


def main() -> None:
    with initialize_config_dir(config_dir=os.path.abspath(CONF), version_base=None):
        cfg = compose("config", overrides=["recipe=sentiment"])
    splits = build(cfg.data, _convert_="all").splits(cfg.seed)
    texts = [t for t, _ in splits["train"]]
    tokenizer = build(cfg.tokenizer, texts=texts)
    corpus = unlabelled_texts(cfg.embeddings.corpus, cfg.data.dir, texts)
    matrix = ppmi(cooccurrence(tokenizer.encode(corpus), tokenizer.vocab_size, cfg.embeddings.window, 2))
    dim = cfg.model.emb_dim
    for oversample, iters in [(0, 4), (200, 4), (100, 10)]:
        bases = []
        for seed in (7, 1234):
            torch.manual_seed(seed)
            u, s, _ = torch.svd_lowrank(matrix, q=dim + oversample, niter=iters)
            bases.append((u[:, :dim], s[dim - 1]))
        cos = torch.linalg.svdvals(bases[0][0].T @ bases[1][0])
        values = f"{bases[0][1]:.2f} / {bases[1][1]:.2f}"
        print(
            f"oversample {oversample:3d}, iters {iters:2d}: s[{dim}] = {values}, "
            f"subspace agreement mean {cos.mean():.3f} (min {cos.min():.3f})"
        )


if __name__ == "__main__":
    main()
