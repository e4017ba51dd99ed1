"""Library errors -> one clear line on stderr and the DESIGN §6 exit code, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from llmaudit.errors import LlmauditError


def exits_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LlmauditError as exc:
            typer.echo(f"llmaudit: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            reason = _resource_problem(exc)
            if reason is None:
                raise
            typer.echo(f"llmaudit: {reason}", err=True)
            raise typer.Exit(3) from None

    return wrapper


def _resource_problem(exc: Exception) -> str | None:
    """Running out of memory or disk is the machine's limit, not a bug: say which knob to turn."""
    name = type(exc).__name__
    if name == "OutOfMemoryException":  # duckdb's, matched by name: importing duckdb here slows --help
        from llmaudit.db import DEFAULT_MEMORY_LIMIT  # duckdb is loaded by now

        first = str(exc).splitlines()[0]
        return (
            f"{first}; DuckDB's share is LLMAUDIT_MEMORY_LIMIT (default {DEFAULT_MEMORY_LIMIT}): raise it, "
            "or analyze fewer calls at a time (--since/--until)"
        )
    if (isinstance(exc, OSError) and exc.errno == 28) or (
        name == "IOException" and "No space left" in str(exc)
    ):
        return (
            "no space left on the device while spooling calls to a temporary folder: "
            "point TMPDIR at a larger disk"
        )
    return None
