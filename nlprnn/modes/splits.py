"""The data a mode reads: the ``data`` node's reader, its splits, and the splits ``mode=evaluate``
scores (the trained run's reader and settings, or a new file)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.modes.run_setup import command_line_overrides

# keys of the data node that the recipes read, not the readers
READ_BY_RECIPES = ("max_len", "prompt")


# the dataset readers before they became presets of the format readers (runs trained until 2026-12)
RETIRED_READERS = (
    "char_corpus.",
    "sentiment.",
    "conll.ConllDataset",
    "parallel.Multi30k",
    "parallel.AnkiPairs",
)


def reader_of(data_cfg: DictConfig):
    """The ``data`` node's reader (its ``_target_``) with every key but ``READ_BY_RECIPES``."""
    node = OmegaConf.to_container(data_cfg, resolve=True)  # resolved inside the whole config
    if any(str(node.get("_target_")).startswith(f"nlprnn.data.{r}") for r in RETIRED_READERS):
        raise UserError(
            f"data._target_={node['_target_']}: this run was trained with a dataset reader that is now a "
            f"preset of a format reader; add data={node.get('name')} to the command line"
        )
    return build({k: v for k, v in node.items() if k not in READ_BY_RECIPES}, _convert_="all")


def load_splits(data_cfg: DictConfig, seed: int) -> dict:
    """{split: examples} from the ``data`` node's reader."""
    return reader_of(data_cfg).splits(seed)


def evaluation_splits(cfg: DictConfig, trained: dict) -> dict:
    """The splits ``mode=evaluate`` scores. The trained run's data reader and settings, with any
    ``data.KEY=...`` of the command line on top (``data=FORMAT`` naming another reader: that one, as
    composed); with ``data.files.test=FILE`` only that file is read, through the reader's ``read_file``."""
    overrides = command_line_overrides()
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides]
    other_reader = "data" in keys and cfg.data.get("_target_") != trained["data"].get("_target_")
    if "data.files.test" in keys and "files" not in (cfg.data if other_reader else trained["data"]):
        raise UserError(  # e.g. the IMDB archive: one file holds every split
            f"data.files.test: the reader of data={trained['data'].get('name')} does not read single "
            "files; choose the file's format on the command line too (e.g. data=table, data=conll)"
        )
    if other_reader:
        data_cfg = cfg.data  # the command line chose another reader: use it as composed
    else:
        given = OmegaConf.from_dotlist(
            [o.lstrip("+~") for o, k in zip(overrides, keys) if k.startswith("data.")]
        )
        from_command_line = {k: cfg.data[k] for k in ("dir", "eval_limit") if k in cfg.data}
        data_cfg = OmegaConf.merge(trained["data"], from_command_line, given.get("data", {}))
    if "data.files.test" not in keys:
        return load_splits(data_cfg, trained["seed"])
    reader = reader_of(data_cfg)  # locate: a file, a prefix of two (translation) or a list (text)
    return {"test": reader.read_file(reader.locate(data_cfg.files.test, "data.files.test"))}
