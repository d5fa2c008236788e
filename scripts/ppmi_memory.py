"""Peak memory and time of the sentiment recipe's PPMI-SVD word vectors, as a run builds them.

    python scripts/ppmi_memory.py [--data sst2|imdb]    (needs $NLPRNN_DATA)

Prints the peak resident memory (RSS) of this process: reading the data, the word tokenizer,
and PpmiSvdInit with conf/embeddings/ppmi_svd.yaml's corpus.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch
from hydra import compose, initialize_config_dir

from nlprnn.factory import build
from nlprnn.modes.splits import load_splits

CONF = os.path.join(os.path.dirname(__file__), "..", "conf")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="sst2")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=os.path.abspath(CONF), version_base=None):
        cfg = compose("config", overrides=["recipe=sentiment", f"data={args.data}"])
    splits = load_splits(cfg.data, cfg.seed)
    texts = [text for text, _ in splits["train"]]
    tokenizer = build(cfg.tokenizer, texts=texts)
    before = peak_mb()
    start = time.perf_counter()
    table = torch.zeros(tokenizer.vocab_size, cfg.model.emb_dim)
    own = args.data == "imdb"
    log = build(cfg.embeddings)(table, tokenizer, texts, cfg.data.dir, cfg.seed, own)
    print(log)
    print(
        f"data {args.data}: {len(texts):,} training texts, vocabulary {tokenizer.vocab_size:,}; "
        f"peak RSS {before:,.0f} MB before the vectors, {peak_mb():,.0f} MB after; "
        f"{time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
