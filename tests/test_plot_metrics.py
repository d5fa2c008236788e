import json
import runpy

import pytest

from tests.conftest import REPO


def test_plot_writes_png(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"step": s, "val_loss": 3.0 / s, "train_loss": 3.5 / s} for s in (1, 2, 3)]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    out = tmp_path / "c.png"
    mod = runpy.run_path(str(REPO / "scripts/plot_metrics.py"))
    mod["main"]([str(run), "--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit, match="no 'bleu'"):
        mod["main"]([str(run), "--metric", "bleu", "--out", str(out)])
