"""The RNN course's experiments, one recipe each: ``python -m nlprnn recipe=course/<name>``.

Each module has ``MODES = {"train": run}``; ``run(cfg)`` trains and measures with the shared
modules and Trainer, then writes results.md, results.json and PNG plots into its run directory.
"""
