"""What the command line does with a recipe, one mode a file; every recipe gets them all.

    train      seed, device, run directory, data, model, Trainer, best checkpoint, scores, next steps
    evaluate   scores of a trained checkpoint on any split of the data it was trained on
    infer      text= / input=FILE / stdin -> output=FILE / stdout, line for line, through the
               recipe's Predictor (its inference mode: generate, translate, tag, classify)
    export     the checkpoint's model as ONNX graphs (nlprnn.inference.export), into a new directory
    serve      an HTTP server (FastAPI) answering with the recipe's Predictor (nlprnn.inference.server)

A mode takes the recipe's class (``nlprnn.recipes.recipe.Recipe``) and the composed config; this layer
sits below the recipes, which list their modes with ``modes_of``.
"""

from __future__ import annotations

from nlprnn.modes.evaluate import evaluate
from nlprnn.modes.export import export
from nlprnn.modes.infer import infer
from nlprnn.modes.serve import serve
from nlprnn.modes.train import train


def modes_of(recipe_cls: type) -> dict:
    """{mode name: function(cfg)} of a recipe: train, evaluate, its inference mode and its own."""
    shared = {
        "train": lambda cfg: train(recipe_cls, cfg),
        "evaluate": lambda cfg: evaluate(recipe_cls, cfg),
        recipe_cls.inference_mode: lambda cfg: infer(recipe_cls, cfg),
        "export": lambda cfg: export(recipe_cls, cfg),
        "serve": lambda cfg: serve(recipe_cls, cfg),
    }
    shared["export"].__doc__ = export.__doc__  # the mode's line in --help
    shared["serve"].__doc__ = serve.__doc__
    return {**shared, **recipe_cls.modes}
