"""Screenshots of the demo page (``mode=serve``, GET /): one PNG per recipe, for the README.

    python scripts/demo_screenshots.py --ckpt translation=runs/translation/RUN --ckpt ner=runs/ner/RUN \\
        --ckpt sentiment=runs/sentiment/RUN --ckpt char_lm=runs/char_lm/RUN --out docs/img

Each run is served as a user would serve it (``python -m nlprnn recipe=X mode=serve ckpt=RUN port=0``,
on the CPU); the page's example text (or ``--text RECIPE=TEXT``) is run and the page saved as
``OUT/demo_RECIPE.png``. Needs ``pip install playwright`` and a Chromium (``--chromium``, default
/usr/bin/chromium); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
RECIPES = ("translation", "ner", "sentiment", "char_lm")
REPO = Path(__file__).resolve().parents[1]


@contextmanager
def chromium(executable: str = CHROMIUM):
    """A headless Chromium (Playwright's sync API on the system's browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def served(recipe: str, run: str, timeout: float = 120):
    """The URL of ``python -m nlprnn recipe=RECIPE mode=serve ckpt=RUN port=0``, stopped on exit."""
    args = [f"recipe={recipe}", "mode=serve", f"ckpt={run}", "port=0", "trainer.device=cpu"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nlprnn", *args, "hydra/job_logging=none", "hydra/hydra_logging=none"],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # the pipe never fills
    try:
        deadline = time.monotonic() + timeout
        while not any("serving on " in line for line in lines):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{recipe}: the server did not start:\n{''.join(lines)}")
            time.sleep(0.1)
        line = next(line for line in lines if "serving on " in line)
        yield line.split("serving on ")[1].split()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fill_and_run(page, url: str, text: str | None = None, fields: dict | None = None, timeout=60) -> str:
    """Open the demo page at ``url``, run ``text`` (default: the page's example) with ``fields``
    ({selector: value}) filled, and wait for the result; the page's final state: "done" or "error"."""
    page.goto(url + "/")
    page.wait_for_selector("body[data-state=ready]", timeout=timeout * 1000)
    if text is not None:
        page.fill("#text", text)
    for selector, value in (fields or {}).items():
        page.fill(selector, value)
    page.click("#run")
    page.wait_for_selector("body[data-state=done], body[data-state=error]", timeout=timeout * 1000)
    return page.evaluate("document.body.dataset.state")


def main(argv: list[str] | None = None) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--ckpt", action="append", default=[], metavar="RECIPE=RUN", required=True)
    parser.add_argument("--text", action="append", default=[], metavar="RECIPE=TEXT")
    parser.add_argument("--out", type=Path, required=True, help="the folder of the PNGs")
    parser.add_argument("--chromium", default=CHROMIUM, help="the browser's executable")
    parser.add_argument("--width", type=int, default=1000, help="the page's width in pixels")
    args = parser.parse_args(argv)
    runs, texts = pairs(args.ckpt, "--ckpt"), pairs(args.text, "--text")
    args.out.mkdir(parents=True, exist_ok=True)
    with chromium(args.chromium) as browser:
        for recipe, run in runs.items():
            with served(recipe, run) as url:
                page = browser.new_page(viewport={"width": args.width, "height": 700}, device_scale_factor=2)
                fields = {"#seed": "1"} if recipe == "char_lm" else None  # the same sample each time
                state = fill_and_run(page, url, texts.get(recipe), fields)
                path = args.out / f"demo_{recipe}.png"
                page.screenshot(path=str(path), full_page=True)
                page.close()
                print(f"{recipe}: {path}" + ("" if state == "done" else " (the page shows an error)"))


def pairs(items: list[str], flag: str) -> dict[str, str]:
    """{recipe: value} of ``RECIPE=VALUE`` arguments; a clear exit for anything else."""
    out = {}
    for item in items:
        recipe, sep, value = item.partition("=")
        if not sep or recipe not in RECIPES:
            raise SystemExit(f"{flag} {item!r}: give RECIPE=VALUE, RECIPE one of {', '.join(RECIPES)}")
        out[recipe] = value
    return out


if __name__ == "__main__":
    main()
