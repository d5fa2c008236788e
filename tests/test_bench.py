"""scripts/bench.py and scripts/bench_translation.py on tiny shapes: JSON numbers and the printed table."""

from __future__ import annotations

import json

import pytest
import torch

from scripts.bench import main

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

# one thread: fast even while other jobs keep every core busy
TINY = [
    "--batch-size",
    "2",
    "--bptt",
    "5",
    "--emb-dim",
    "4",
    "--hidden-size",
    "8",
    "--warmup",
    "1",
    "--iters",
    "1",
    "--device",
    "cpu",
    "--threads",
    "1",
]


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_bench_tiny_writes_json_and_table(tmp_path, capsys):
    path = tmp_path / "bench.json"
    main([*TINY, "--inference", "--json", str(path)])
    report = json.loads(path.read_text())
    results = report["results"]
    assert set(results) == {"raw", "recipe", "inference"}
    for r in results.values():
        assert r["tokens_per_s"] > 0 and r["ms_per_step"] > 0 and r["peak_mem_mb"] > 0
    assert report["ratio_recipe_vs_raw"] > 0
    assert results["raw"]["vs_raw"] == 1.0
    assert report["shapes"] == {
        "B": 2,
        "T": 5,
        "E": 4,
        "H": 8,
        "L": 2,
        "V": 66,
        "cell": "lstm",
        "dropout": 0.1,
    }
    out = capsys.readouterr().out
    assert "tokens/s" in out and "peak RSS MB" in out
    assert all(f"\n{name} " in out for name in ("raw", "recipe", "inference"))


def test_bench_gru_without_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    report = main([*TINY, "--cell", "gru", "--num-layers", "1"])
    assert set(report["results"]) == {"raw", "recipe"}
    assert not list(tmp_path.iterdir())  # no --json: nothing written
    assert "recipe" in capsys.readouterr().out


def test_bench_translation_tiny(tmp_path, capsys):
    from scripts.bench_translation import main as bench_translation

    path = tmp_path / "tr.json"
    report = bench_translation(
        [
            "--batch-size",
            "4",
            "--src-len",
            "5",
            "--tgt-len",
            "6",
            "--vocab",
            "50",
            "--warmup",
            "1",
            "--iters",
            "1",
            "--repeats",
            "2",
            "--threads",
            "1",
            "--override",
            "model.emb_dim=8",
            "model.encoder_hidden_size=8",
            "model.hidden_size=16",
            "--json",
            str(path),
        ]
    )
    assert set(report["results"]) == {"raw", "recipe"}
    assert all(r["tokens_per_s"] > 0 for r in report["results"].values())
    assert json.loads(path.read_text())["model"]["hidden_size"] == 16
    assert "tgt tokens/s" in capsys.readouterr().out
