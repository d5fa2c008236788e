"""Models that remember how they were built: ``@keeps_init_kwargs`` on a model's ``__init__`` stores
its keyword arguments (defaults filled in) as ``model.init_kwargs``, so that ``model_config`` can
write the Hydra node (``_target_`` and keywords, sizes included) that rebuilds it. This is what
lets a model built by hand be saved like a trained one (``Predictor.save_pretrained``)."""

from __future__ import annotations

import functools
import inspect

from torch import nn

from nlprnn.errors import UserError


def keeps_init_kwargs(init):
    """Decorate ``__init__`` so the instance keeps its arguments as ``init_kwargs``. Only the class
    whose own ``__init__`` this is records them: a subclass with its own ``__init__`` takes other
    arguments, and must be decorated itself to be saved."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if type(self).__init__ is wrapper:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            self.init_kwargs = {k: v for k, v in bound.arguments.items() if k != "self"}

    return wrapper


def model_config(model: nn.Module, sizes: dict | None = None) -> dict:
    """The config node rebuilding ``model``: its ``_target_`` and every keyword, the sizes that came
    from the vocabularies included, so that a checkpoint alone rebuilds its model. ``sizes``, what
    the predictor's vocabularies give (its ``model_sizes``), must agree with the model's."""
    kind = type(model)
    kwargs = getattr(model, "init_kwargs", None)
    if kwargs is None:
        raise UserError(
            f"{kind.__name__} does not record how it was built, so it cannot be saved: decorate its "
            "__init__ with nlprnn.models.config.keeps_init_kwargs"
        )
    for name, size in (sizes or {}).items():
        if name in kwargs and kwargs[name] != size:
            raise UserError(
                f"the {kind.__name__} was built with {name}={kwargs[name]!r} but its vocabularies give "
                f"{size!r}: build the model and the predictor from the same vocabularies"
            )
    return {"_target_": f"{kind.__module__}.{kind.__qualname__}", **kwargs}
