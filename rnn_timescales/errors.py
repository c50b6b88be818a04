"""The one exception type for bad user input, so the CLI can print it as one line."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting or input that is not allowed; the message names the value and what is allowed."""

    # jsonargparse validates nested classes (the backbone, callbacks) by building them and
    # folds any exception into a long multi-line report; remembering the last message
    # lets the CLI show just that line.
    last_message: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        ConfigError.last_message = message
