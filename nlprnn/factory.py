"""Objects from config nodes: ``build(node)`` is ``hydra.utils.instantiate`` with the project's one-line
errors (a node's ``_target_`` names the class or function, every other key is one of its arguments);
``CONF``: where the config tree is."""

from pathlib import Path

from nlprnn.errors import UserError

# conf/ beside the package in a checkout (or an editable install), inside it in an installed wheel
PACKAGE = Path(__file__).resolve().parent
CONF = PACKAGE / "conf" if (PACKAGE / "conf").is_dir() else PACKAGE.parent / "conf"


def build(node, *args, **kwargs):
    """``hydra.utils.instantiate`` for config nodes with a ``_target_``: a UserError raised by the
    target comes out as itself (Hydra wraps it), any other failure as a one-line UserError naming
    the target."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, *args, **kwargs)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, UserError):
            raise exc.__cause__ from None
        raise UserError(" ".join(str(exc).split())) from None
