"""Errors a user can cause (bad data, bad checkpoint, bad option): shown as one line, no traceback."""


class UserError(Exception):
    """A problem with the user's input that a message can explain; ``python -m nlprnn`` prints it."""
