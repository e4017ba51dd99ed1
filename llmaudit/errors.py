"""Errors that carry their CLI exit code, so the CLI layer never has to guess (DESIGN §6)."""

from __future__ import annotations


class LlmauditError(Exception):
    """Base class: a message for the user and the exit code it maps to."""

    exit_code = 3


class InputError(LlmauditError):
    """Logs could not be read: no files, unknown format, unreadable path."""

    exit_code = 3


class CatalogError(LlmauditError):
    """The pricing catalog is invalid; the message lists `file:line: reason` problems."""

    exit_code = 3

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class UsageError(LlmauditError):
    """Bad command-line arguments that typer could not catch (e.g. an unknown --by column)."""

    exit_code = 2


class PolicyError(LlmauditError):
    """A routes.yaml policy could not be read."""

    exit_code = 3
