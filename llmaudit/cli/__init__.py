"""The `llmaudit` command: a thin typer layer over the library (parse -> call -> render).

Heavy modules (polars, duckdb) are imported inside commands so `llmaudit --help` starts fast.
"""

from __future__ import annotations

import os

import typer

from llmaudit import __version__
from llmaudit.cli.analyze import analyze_command
from llmaudit.cli.export import export_command
from llmaudit.cli.pricing import app as pricing_app
from llmaudit.cli.reconcile import reconcile_command
from llmaudit.cli.store import app as store_app

app = typer.Typer(
    name="llmaudit",
    help="Where your LLM API money went, what was wasted, and what a different policy would have cost.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Audit LLM API spend from logs, offline."""


app.command("analyze")(analyze_command)
app.command("export")(export_command)
app.command("reconcile")(reconcile_command)
app.add_typer(pricing_app, name="pricing")
app.add_typer(store_app, name="store")


def main() -> None:
    """Console entry point.

    polars' jemalloc keeps freed pages for seconds by default; a CLI run is one pass over big frames, so
    returning them at once lowers peak memory (set before polars loads; a user's own setting wins)."""
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
    app()
