"""Entry point: ``python -m nlprnn recipe=char_lm [mode=...] [key=value ...]``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from nlprnn.errors import UserError
from nlprnn.run import register_resolvers

register_resolvers()  # before Hydra composes the config: hydra.run.dir uses them

# conf/ beside the package in a checkout (or an editable install), inside it in an installed wheel
CONF = "conf" if (Path(__file__).parent / "conf").is_dir() else "../conf"


@hydra.main(version_base=None, config_path=CONF, config_name="config")
def main(cfg: DictConfig):
    from nlprnn.run import run

    try:
        return run(cfg)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # `| head` closed our stdout: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        sys.exit(141)


if __name__ == "__main__":
    main()
