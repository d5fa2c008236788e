"""Peer baseline: Joey NMT 2.3 on Multi30k de->en, set up like our translation recipe for a side-by-side.

Joey runs from its own venv (``--joey-python``); this script needs only the stdlib, sentencepiece and
sacrebleu (run it with our venv's python or Joey's). Everything goes to ``--work-dir``, outside the repo.

    python scripts/peer_joeynmt.py prepare --data-dir ../shared/data   # text files, spm 8k, vocab, config
    python scripts/peer_joeynmt.py train --minutes 25                  # SIGINT at the limit: Joey saves
    python scripts/peer_joeynmt.py test                                # beam 5 + greedy on test_2016
    python scripts/peer_joeynmt.py compare --ours runs/translation/RUN --beam-alpha 0.6
        # Joey's beam-5 test, then ours (fp32, int8, onnxruntime fp32 / int8), back to back, 2 rounds
    python scripts/peer_joeynmt.py summary                             # print the summary again

Model: 1-layer biGRU 256 encoder, 1-layer GRU 256 decoder with Bahdanau attention and input feeding,
bridge init, untied 256-d embeddings over one joint 8k sentencepiece vocabulary (~8.05M parameters),
batches of 64 sentences, Adam 1e-3. Joey has no wall-clock limit and validates only every
``validation_freq`` steps (never at epoch ends), so by default it does not validate at all; ``test``
decodes the last checkpoint (``latest.ckpt``). BLEU: ``sacrebleu.BLEU().corpus_score`` of Joey's
detokenized output against the raw references, as in our recipe. Thread count is whatever the
environment gives (e.g. ``taskset -c 0 env OMP_NUM_THREADS=1 python scripts/peer_joeynmt.py train``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPLITS = {"train": "train", "val": "val", "test_2016": "test_2016_flickr"}  # ours: gz stem
SRC, TGT = "de", "en"


def write_texts(data_dir: Path, out: Path) -> None:
    """Un-gzip the three splits to plain text, one stripped sentence per line (what our loader reads)."""
    folder = data_dir / "translation" / "multi30k"
    out.mkdir(parents=True, exist_ok=True)
    for split, stem in SPLITS.items():
        for lang in (SRC, TGT):
            with gzip.open(folder / f"{stem}.{lang}.gz", "rt", encoding="utf-8") as f:
                lines = [line.strip() for line in f.read().split("\n")]
            lines = lines[:-1] if lines and not lines[-1] else lines
            text = "".join(f"{line}\n" for line in lines)
            # Joey reads with str.splitlines(): an odd line separator inside a sentence would shift lines
            assert len(text.splitlines()) == len(lines) and all(lines), f"{stem}.{lang}: odd lines"
            (out / f"{split}.{lang}").write_text(text, encoding="utf-8")
            print(f"{out / f'{split}.{lang}'}: {len(lines)} lines")


def train_spm(work: Path, vocab_size: int, seed: int) -> Path:
    """One joint model on train.de + train.en, with our recipe's settings; then Joey's vocab file."""
    sys.path.insert(0, str(REPO))
    from nlprnn.data.subword import train_sentencepiece  # needs only sentencepiece

    texts = []  # all German sentences, then all English ones, as our recipe's joint model
    for lang in (SRC, TGT):
        texts += (work / "data" / f"train.{lang}").read_text("utf-8").splitlines()
    model = train_sentencepiece(texts, work / "spm_joint", vocab_size, model_type="unigram", seed=seed)
    # spm ids: 0 <pad> 1 <unk> 2 <s> 3 </s>. Joey always puts its specials first as <unk> <pad> <s> </s>
    # (ids 0-3 fixed by special_symbols) and maps pieces to its own ids by string, so the file is
    # Joey's order: line i = Joey id i. Same 8k pieces, only pad/unk ids swapped relative to spm.
    pieces = [line.split("\t")[0] for line in (work / "spm_joint.vocab").read_text("utf-8").splitlines()]
    assert pieces[:4] == ["<pad>", "<unk>", "<s>", "</s>"] and len(set(pieces)) == len(pieces), pieces[:4]
    (work / "vocab.txt").write_text("\n".join(["<unk>", "<pad>", "<s>", "</s>"] + pieces[4:]) + "\n", "utf-8")
    print(f"{model}: {len(pieces)} pieces; {work / 'vocab.txt'}")
    return model


def joey_config(
    work: Path,
    a,
    test_split: str = "test_2016",
    beam: int = 5,
    dev: bool = True,
    load_model: str | None = None,
) -> str:
    """Joey 2.3 YAML (written by hand: the script needs no yaml package)."""

    def side(lang: str) -> str:
        return f"""
    lang: {lang}
    level: bpe
    tokenizer_type: sentencepiece
    tokenizer_cfg: {{model_file: "{work / "spm_joint.model"}"}}
    voc_file: "{work / "vocab.txt"}"
    max_length: 100          # training pairs longer than this (subwords) are dropped, like ours"""

    text = f"""name: multi30k_deen_rnn_peer
joeynmt_version: "2.3.0"
model_dir: "{work / "model"}"
use_cuda: false
random_seed: {a.seed}
data:
  train: "{work / "data" / "train"}"
  {"" if dev else "# no dev: `joeynmt test` would decode it too (and time it in the same process)"}
  {'dev: "' + str(work / "data" / "val") + '"' if dev else ""}
  test: "{work / "data" / test_split}"
  dataset_type: plain
  src:{side(SRC)}
  trg:{side(TGT)}
  special_symbols: {{unk_token: "<unk>", unk_id: 0, pad_token: "<pad>", pad_id: 1,
                    bos_token: "<s>", bos_id: 2, eos_token: "</s>", eos_id: 3}}
testing:
  {'load_model: "' + load_model + '"' if load_model else ""}
  beam_size: {beam}
  beam_alpha: {a.beam_alpha}          # -1: Joey's default, no length penalty
  batch_size: 100          # sentences, as our translator.batch_size
  batch_type: sentence
  max_output_length: -1    # Joey: 1.5 x longest source in the batch
  eval_metrics: [bleu]
  sacrebleu_cfg: {{tokenize: 13a}}
training:
  optimizer: adam
  adam_betas: [0.9, 0.999]
  learning_rate: 0.001
  scheduling: exponential  # with factor 1.0: constant lr. Joey 2.3 rejects no scheduler, and its
  decrease_factor: 1.0     # plateau passes `verbose`, which this torch no longer accepts
  clip_grad_norm: 1.0
  normalization: tokens
  label_smoothing: 0.0
  batch_size: 64
  batch_type: sentence
  shuffle: true
  epochs: {a.epochs}
  logging_freq: {a.logging_freq}
  validation_freq: {a.validation_freq}   # steps; Joey never validates at epoch ends
  early_stopping_metric: bleu
  keep_best_ckpts: 2
  overwrite: true
  num_workers: 0
model:
  tied_embeddings: false
  tied_softmax: false
  encoder:
    type: recurrent
    rnn_type: gru
    hidden_size: 256
    num_layers: 1
    bidirectional: true
    dropout: 0.2
    embeddings: {{embedding_dim: 256, scale: false}}
  decoder:
    type: recurrent
    rnn_type: gru
    hidden_size: 256
    num_layers: 1
    attention: bahdanau
    input_feeding: true
    init_hidden: bridge
    dropout: 0.2
    hidden_dropout: 0.2
    embeddings: {{embedding_dim: 256, scale: false}}
"""
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"  # drop unused options


# Joey 2.3 against this venv's packages: it imports the ``importlib_metadata`` backport without
# declaring it (the stdlib module stands in), and calls sentencepiece's ``SetVocabulary``, gone in
# sentencepiece 0.2.3. That call only restricts encoding to Joey's vocabulary, which here holds every
# piece of the spm model (checked in ``train_spm``), so a no-op is exact. Nothing is changed on disk.
JOEY_LAUNCHER = """import importlib.metadata, runpy, sys
try:
    import importlib_metadata
except ImportError:
    sys.modules["importlib_metadata"] = importlib.metadata
import sentencepiece
if not hasattr(sentencepiece.SentencePieceProcessor, "SetVocabulary"):
    sentencepiece.SentencePieceProcessor.SetVocabulary = lambda self, pieces: None
runpy.run_module("joeynmt", run_name="__main__", alter_sys=True)
"""


def joey_cmd(a, *args: str) -> list[str]:
    """``python -m joeynmt ARGS`` in Joey's venv, through the launcher above."""
    return [a.joey_python, "-c", JOEY_LAUNCHER, *args]


def run_logged(cmd: list[str], log: Path) -> tuple[int, float, str]:
    """Run cmd (in the log's folder) with stdout+stderr to log; return (exit code, wall s, log text)."""
    print("$", " ".join("<launcher>" if c == JOEY_LAUNCHER else c for c in cmd), f"> {log}", flush=True)
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=log.parent)
    return rc, time.perf_counter() - start, log.read_text("utf-8", errors="replace")


def peak_rss_mb(text: str) -> float | None:
    m = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return round(int(m[-1]) / 1024) if m else None


def cmd_prepare(a) -> None:
    a.work_dir.mkdir(parents=True, exist_ok=True)
    write_texts(a.data_dir, a.work_dir / "data")
    train_spm(a.work_dir, a.vocab_size, a.seed)
    (a.work_dir / "joey.yaml").write_text(joey_config(a.work_dir, a), "utf-8")
    print(f"wrote {a.work_dir / 'joey.yaml'}")


def cmd_train(a) -> None:
    # timeout sends SIGINT, which Joey handles as KeyboardInterrupt: it logs the interrupt and saves
    # {step}.ckpt + latest.ckpt. /usr/bin/time wraps timeout (time itself ignores SIGINT).
    (a.work_dir / "joey.yaml").write_text(joey_config(a.work_dir, a), "utf-8")  # this call's flags
    limit = ["timeout", "-s", "INT", "-k", "120", str(int(a.minutes * 60))]
    cmd = ["/usr/bin/time", "-v", *limit, *joey_cmd(a, "train", str(a.work_dir / "joey.yaml"), "--skip-test")]
    rc, wall, text = run_logged(cmd, a.work_dir / "train.out")
    if rc not in (0, 124):
        sys.exit(f"joeynmt train failed (exit {rc}); see {a.work_dir / 'train.out'}")
    rates = [float(x) for x in re.findall(r"Tokens per Sec:\s+([\d.]+)", text)]  # per logging window
    epochs = [(int(n), float(t)) for n, t in re.findall(r"num\. of tokens: (\d+), ([\d.]+)\[sec\]", text)]
    params = re.findall(r"Total params: (\d+)", text)
    steps = re.findall(r"Checkpoint saved in .*?(\d+)\.ckpt", text)
    epoch = re.findall(r"(?:EPOCH|Interrupt at epoch) (\d+)", text)
    epoch_tokens, epoch_secs = sum(n for n, _ in epochs), sum(t for _, t in epochs)
    res = {
        "params": int(params[0]) if params else None,
        "train_wall_s": round(wall, 1),  # whole process: data loading, spm encoding, checkpointing
        "stopped_by_time_limit": rc == 124,
        "epochs_completed": len(epochs),
        "last_epoch": int(epoch[-1]) if epoch else None,
        "last_step": int(steps[-1]) if steps else None,
        "tokens_per_s_mean": round(sum(rates) / len(rates)) if rates else None,
        # completed epochs only: their target tokens over Joey's training time (validation excluded)
        "tokens_per_s_epochs": round(epoch_tokens / epoch_secs) if epochs else None,
        "train_peak_rss_mb": peak_rss_mb(text),
    }
    save_results(a.work_dir, res)
    print(json.dumps(res, indent=1))


def test_split(a) -> str:
    """test_2016, or its first ``--limit`` sentences (for smoke tests) written as a split of its own."""
    if not a.limit:
        return "test_2016"
    split = f"test_2016_head{a.limit}"
    for lang in (SRC, TGT):
        lines = (a.work_dir / "data" / f"test_2016.{lang}").read_text("utf-8").splitlines()[: a.limit]
        (a.work_dir / "data" / f"{split}.{lang}").write_text("\n".join(lines) + "\n", "utf-8")
    return split


def joey_decode(a, split: str, name: str, beam: int) -> dict:
    """Joey's ``test`` of its checkpoint on ``split`` with ``beam`` (1: greedy): BLEU and timings."""
    import sacrebleu

    work = a.work_dir
    ckpt = work / "model" / "latest.ckpt" if a.ckpt is None else Path(a.ckpt)
    refs = (work / "data" / f"{split}.{TGT}").read_text("utf-8").splitlines()
    cfg = work / f"joey_test_{name}.yaml"
    cfg.write_text(joey_config(work, a, split, beam, dev=False, load_model=str(ckpt)), "utf-8")
    out = work / f"hyps_{name}"
    cmd = ["/usr/bin/time", "-v", *joey_cmd(a, "test", str(cfg), "-o", str(out))]
    rc, wall, text = run_logged(cmd, work / f"test_{name}.out")
    if rc != 0:
        sys.exit(f"joeynmt test failed (exit {rc}); see {work / f'test_{name}.out'}")
    hyps = Path(f"{out}.test").read_text("utf-8").splitlines()  # Joey appends .{dev,test}
    assert len(hyps) == len(refs), (len(hyps), len(refs))
    bleu = sacrebleu.BLEU()
    gen = re.findall(r"Generation took ([\d.]+)\[sec\]", text)
    joey_bleu = re.findall(r"Evaluation result \([^)]*\): bleu:\s+([\d.]+)", text)
    return {
        "ckpt": str(ckpt.resolve()),
        "test_sentences": len(refs),
        "bleu": round(bleu.corpus_score(hyps, [refs]).score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "joey_bleu": float(joey_bleu[-1]) if joey_bleu else None,
        "generation_s": float(gen[-1]) if gen else None,  # Joey's timer: batching + search only
        "process_wall_s": round(wall, 1),  # + python/torch start, spm, data, model load
        "peak_rss_mb": peak_rss_mb(text),
    }


def cmd_test(a) -> None:
    split = test_split(a)
    res = {}
    for name, beam in (("beam5", 5), ("greedy", 1)):
        res[name] = joey_decode(a, split, name, beam)
        res.update(ckpt=res[name].pop("ckpt"), test_sentences=res[name].pop("test_sentences"))
        res["bleu_signature"] = res[name].pop("bleu_signature")
    save_results(a.work_dir, res)
    cmd_summary(a)


OURS = {  # our variants in the side by side: name -> command-line keys
    "nlprnn fp32": ["backend=torch", "quantize=null"],
    "nlprnn int8": ["backend=torch", "quantize=int8"],
    "nlprnn onnxruntime fp32": ["backend=onnxruntime", "quantize=null"],
    "nlprnn onnxruntime int8": ["backend=onnxruntime", "quantize=int8"],
}


def ours_decode(a, variant: str) -> dict:
    """Our ``mode=evaluate`` of ``--ours`` on test_2016 at beam 5 with Joey's length penalty."""
    out = a.work_dir / "ours.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "nlprnn", "recipe=translation", "mode=evaluate", f"ckpt={a.ours}"]
    cmd += ["split=test", "decoding=beam", "decoding.beam_size=5", f"decoding.alpha={a.beam_alpha}"]
    cmd += [*OURS[variant], f"output={out}"]
    if a.limit:
        cmd.append(f"data.eval_limit={a.limit}")
    rc, wall, text = run_logged(["/usr/bin/time", "-v", *cmd], a.work_dir / "ours.out")
    if rc != 0:
        sys.exit(f"nlprnn evaluate failed (exit {rc}); see {a.work_dir / 'ours.out'}")
    test = json.loads(out.read_text())["test"]
    # our timer: batching + search + the BLEU (as Joey's "Generation took" plus a few ms)
    return {"bleu": round(test["bleu"], 2), "generation_s": round(test["seconds"], 2),
            "process_wall_s": round(wall, 1), "peak_rss_mb": peak_rss_mb(text)}  # fmt: skip


def cmd_compare(a) -> None:
    """Joey's beam-5 test, then ours in each variant, back to back, ``--repeats`` rounds; a table."""
    if a.ours is None:
        sys.exit("error: compare needs --ours RUN (our translation run of the same architecture)")
    a.ours = Path(a.ours).resolve()  # our evaluate runs in the work directory
    split = test_split(a)
    runs: dict[str, list[dict]] = {"Joey NMT 2.3": [], **{v: [] for v in OURS}}
    for round_ in range(a.repeats):
        for name in runs:
            run = joey_decode(a, split, "beam5", 5) if name.startswith("Joey") else ours_decode(a, name)
            runs[name].append(run)
            print(f"round {round_ + 1}: {name}: {run['generation_s']} s, BLEU {run['bleu']}", flush=True)
    joey = min(r["generation_s"] for r in runs["Joey NMT 2.3"])
    print(f"\nbeam 5, alpha {a.beam_alpha}, {split}, one thread each (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}), {a.repeats} rounds back to back")  # fmt: skip
    print("| toolkit | BLEU | decoding s (each round) | vs Joey (fastest runs) | peak RSS MB |")
    print("|---|---|---|---|---|")
    for name, done in runs.items():
        seconds = [r["generation_s"] for r in done]
        ratio = joey / min(seconds)
        print(f"| {name} | {done[0]['bleu']:.2f} | {', '.join(f'{x:.2f}' for x in seconds)} | "
              f"{ratio:.2f}x | {max(r['peak_rss_mb'] or 0 for r in done):,} |")  # fmt: skip
    save_results(a.work_dir, {"compare": {"split": split, "beam_alpha": a.beam_alpha, "runs": runs}})


def save_results(work: Path, new: dict) -> None:
    path = work / "results.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**old, **new}, indent=1) + "\n")


def cmd_summary(a) -> None:
    r = json.loads((a.work_dir / "results.json").read_text())

    def g(key: str, sub: str | None = None):
        return (r.get(sub, {}) if sub else r).get(key)

    print(f"Joey NMT 2.3 peer ({a.work_dir})")
    print(f"  params            {g('params')}")
    print(
        f"  train             {g('train_wall_s')} s wall, {g('epochs_completed')} epochs completed, "
        f"stopped in epoch {g('last_epoch')} at step {g('last_step')}, "
        f"by the time limit: {g('stopped_by_time_limit')}"
    )
    print(
        f"  target tokens/s   {g('tokens_per_s_mean')} (mean of Joey's logged windows), "
        f"{g('tokens_per_s_epochs')} (completed epochs)"
    )
    print(f"  train peak RSS    {g('train_peak_rss_mb')} MB")
    for name in ("beam5", "greedy"):
        if name in r:
            print(
                f"  {name:<7} test      BLEU {g('bleu', name)} (Joey's {g('joey_bleu', name)}) on "
                f"{g('test_sentences')} sents, generation {g('generation_s', name)} s, process "
                f"{g('process_wall_s', name)} s, peak RSS {g('peak_rss_mb', name)} MB"
            )
    if "bleu_signature" in r:
        print(f"  sacrebleu         {r['bleu_signature']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["prepare", "train", "test", "compare", "summary"])
    p.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("NLPRNN_DATA"),
        help="folder holding translation/multi30k/*.gz (default $NLPRNN_DATA)",
    )
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/joeynmt_peer"))
    p.add_argument("--joey-python", default="/work/joey_venv/bin/python")
    p.add_argument("--minutes", type=float, default=25.0, help="train: wall-clock limit")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--logging-freq", type=int, default=20)
    p.add_argument(
        "--validation-freq",
        type=int,
        default=100000,
        help="steps between validations (multiple of --logging-freq); default: never",
    )
    p.add_argument("--beam-alpha", type=float, default=-1, help="Joey length penalty (ours: 0.6)")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--ckpt", default=None, help="test: checkpoint (default WORK/model/latest.ckpt)")
    p.add_argument("--limit", type=int, default=0, help="test: first N test sentences only")
    p.add_argument("--ours", help="compare: our translation run (the same architecture as Joey's)")
    p.add_argument("--repeats", type=int, default=2, help="compare: rounds, each toolkit back to back")
    a = p.parse_args()
    a.work_dir = a.work_dir.resolve()
    if a.command == "prepare":
        if a.data_dir is None:
            sys.exit("error: pass --data-dir or set NLPRNN_DATA")
        a.data_dir = Path(a.data_dir)
    if a.command in ("train", "test", "compare") and not (a.work_dir / "joey.yaml").is_file():
        sys.exit(f"error: {a.work_dir / 'joey.yaml'} not found; run prepare first")
    commands = {"prepare": cmd_prepare, "train": cmd_train, "test": cmd_test, "summary": cmd_summary}
    commands["compare"] = cmd_compare
    commands[a.command](a)


if __name__ == "__main__":
    main()
