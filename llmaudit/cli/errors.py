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

    return wrapper
