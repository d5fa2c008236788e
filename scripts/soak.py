"""A longer soak than the suite's: per recipe, N runs each SIGKILLed at random moments (resumed
each time) until it completes, every one compared with the uninterrupted run.

    NLPRNN_DATA=../shared/data python scripts/soak.py 5        # about 4 minutes
"""

import os
import pathlib
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the tests' helpers

from tests.test_soak import _same_run, _train  # noqa: E402

data = pathlib.Path(os.environ.get("NLPRNN_DATA", "../shared/data"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 6
for recipe in ("char_lm", "ner", "sentiment", "translation"):
    tmp = pathlib.Path(tempfile.mkdtemp())
    start = time.monotonic()
    assert _train(recipe, tmp / "reference", data)[0] == 0
    seconds = time.monotonic() - start
    rng, kills = random.Random(f"campaign:{recipe}"), 0
    for r in range(N):  # N runs, each killed at random moments until it completes
        run = tmp / f"run{r}"
        while not (run / "results.json").exists():
            resume = ["trainer.resume=true"] if (run / "config.yaml").exists() else []
            code, _, err = _train(recipe, run, data, *resume, after=rng.uniform(0.1, 0.95) * seconds)
            kills += code == -signal.SIGKILL
            assert code in (0, -signal.SIGKILL), err
        _same_run(tmp / "reference", run)
    print(recipe, "runs:", N, "random kills:", kills, "mismatches: 0", flush=True)
