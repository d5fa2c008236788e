"""Errors a user can cause (bad data, bad checkpoint, bad option): shown as one line, no traceback."""


class UserError(ValueError):
    """A problem with the user's input that a message can explain; ``python -m nlprnn`` prints it
    as one ``error:`` line. A ValueError, so library callers can catch either."""


class Interrupted(Exception):
    """Training stopped by SIGINT (Ctrl-C) or SIGTERM after saving a resumable checkpoint; the message
    is the one line to show (with the resume command), ``exit_code`` 130 or 143 as shells expect."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
