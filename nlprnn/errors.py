"""Errors a user can cause (bad data, bad checkpoint, bad option): shown as one line, no traceback."""


class UserError(ValueError):
    """A problem with the user's input that a message can explain; ``python -m nlprnn`` prints it
    as one ``error:`` line. A ValueError, so library callers can catch either."""
