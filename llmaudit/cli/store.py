"""`llmaudit store`: what the history store holds, and bringing its rollup up to date."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from llmaudit.cli.errors import exits_cleanly

app = typer.Typer(help="The history store: what it holds, and its rollup.", no_args_is_help=True)

_DB_HELP = "History store (default ./.llmaudit/history.duckdb; env LLMAUDIT_DB)."
_CATALOG_HELP = "Extra pricing YAML layered on the bundled one."


class InfoFormat(StrEnum):
    table = "table"
    json = "json"


@app.command("info")
@exits_cleanly
def info_command(
    db: str = typer.Option(None, "--db", help=_DB_HELP),
    catalog: list[Path] = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    output_format: InfoFormat = typer.Option(InfoFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """Calls, period and size of the store, and whether its rollup serves a re-analysis with the catalog."""
    from llmaudit.catalog import load_catalog
    from llmaudit.store import HistoryStore

    data = HistoryStore(db).info(load_catalog(*(catalog or [])))
    if output_format == InfoFormat.json:
        from llmaudit.report.jsonout import render_json

        sys.stdout.write(render_json("llmaudit.store-info/v1", data) + "\n")
        return
    period = f"{data['first']:%Y-%m-%d %H:%M} to {data['last']:%Y-%m-%d %H:%M} UTC" if data["first"] else "-"
    lines = [
        f"{data['path']}: {data['calls']:,} calls, {data['bytes'] / 1e6:,.1f} MB, {period}",
    ]
    roll = data["rollup"]
    if roll is None:
        lines.append("rollup: none yet (`llmaudit store refresh` builds it)")
    else:
        lines.append(
            f"rollup: {roll['groups']:,} groups over {roll['calls_covered']:,} calls, {roll['repeats']:,} "
            f"repeats marked; cut at tiers {roll['tier_bounds']} and minutes {roll['minute_bounds']}"
        )
    serves = data["serves"]
    verdict = "serves" if serves["used"] else f"does not serve ({serves['why_not']})"
    lines.append(f"catalog {serves['catalog']}: the rollup {verdict} a re-analysis")
    typer.echo("\n".join(lines))


@app.command("refresh")
@exits_cleanly
def refresh_command(
    db: str = typer.Option(None, "--db", help=_DB_HELP),
    catalog: list[Path] = typer.Option(None, "--catalog", help=_CATALOG_HELP),
) -> None:
    """Bring the rollup up to date without adding calls: build it for a store written by an older llmaudit,
    or cut it again at a catalog's tier thresholds and time windows so re-analyses with it are fast."""
    from llmaudit.catalog import load_catalog
    from llmaudit.store import HistoryStore

    store = HistoryStore(db)
    done = store.refresh(load_catalog(*(catalog or [])))
    typer.echo(f"llmaudit: {store.path}: rollup {done}", err=True)
