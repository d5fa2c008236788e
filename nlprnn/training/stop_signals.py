"""Ctrl-C (SIGINT) and a scheduler's SIGTERM during training: remembered, not raised mid-step, so the
trainer can stop at the next step boundary with a resumable checkpoint. A second signal stops at once."""

from __future__ import annotations

import signal
import threading

from tqdm import tqdm

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """``with StopSignals() as s:`` ... ``s.received`` is the first signal's number (None: none yet)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread only
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:  # asked twice: stop now; the last checkpoint stays resumable
            raise KeyboardInterrupt
        self.received = signum
        name = signal.Signals(signum).name
        tqdm.write(f"{name}: saving a checkpoint at the end of this step (send it again to stop at once)")
