"""Entry point: ``python -m nlprnn recipe=char_lm [mode=...] [key=value ...]``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from nlprnn.cli_help import preflight
from nlprnn.errors import Interrupted, UserError
from nlprnn.factory import CONF
from nlprnn.run import register_resolvers

register_resolvers()  # before Hydra composes the config: hydra.run.dir uses them


@hydra.main(version_base=None, config_path=os.path.relpath(CONF, Path(__file__).parent), config_name="config")
def main(cfg: DictConfig):
    from nlprnn.run import run
    from nlprnn.sweep import run_job, sweeping

    if sweeping():  # a --multirun job: its objective; an error stays with its job
        return run_job(cfg)
    try:
        return run(cfg)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as exc:  # training saved a checkpoint; the message says how to resume
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # Ctrl-C outside a training loop: nothing to save, no traceback
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `| head` closed our stdout: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        sys.exit(141)


def flags_first(argv: list[str]) -> list[str]:
    """``recipe=X --multirun seed=1,2,3`` as well as ``--multirun recipe=X ...``: Hydra's parser
    takes no overrides after a flag, so --multirun / -m move to the front."""
    flags = [a for a in argv[1:] if a in ("--multirun", "-m")]
    return [argv[0], *flags, *(a for a in argv[1:] if a not in flags)]


if __name__ == "__main__":
    sys.argv = flags_first(sys.argv)
    try:  # --help, and the command line's mistakes as one `error:` line (exit 2), before Hydra
        preflight(sys.argv)
    except BrokenPipeError:  # `--help | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    main()
    from nlprnn.sweep import FAILED_JOBS

    if FAILED_JOBS:  # the other jobs ran; sweep.md says which failed and why
        sys.exit(1)
