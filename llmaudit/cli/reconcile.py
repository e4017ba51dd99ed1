"""`llmaudit reconcile`: the cost each source recorded against our repricing, differences by cause."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from llmaudit.cli.errors import exits_cleanly


class ReconcileFormat(StrEnum):
    table = "table"
    json = "json"
    md = "md"


@exits_cleanly
def reconcile_command(
    paths: list[str] = typer.Argument(  # text: a Path folds the // of a URL
        None, help="Logs that record a cost (gateways, agents...). Omit to read the history store."
    ),
    catalog: list[Path] = typer.Option(
        None, "--catalog", help="Extra pricing YAML file or directory layered on the bundled catalog."
    ),
    since: str = typer.Option(None, help="Only calls at or after this UTC date/time (YYYY-MM-DD[THH:MM])."),
    until: str = typer.Option(None, help="Only calls before the end of this UTC date (or before this time)."),
    output_format: ReconcileFormat = typer.Option(
        ReconcileFormat.table, "--format", "-f", help="Report format."
    ),
    top: int = typer.Option(20, "--top", min=0, help="How many of the largest differences to list."),
    tolerance: list[str] = typer.Option(
        None,
        "--tolerance",
        help="When a call matches: a relative part (default 1%) and/or an absolute one in USD "
        "(default 0.000001); give the option twice to set both.",
    ),
    fail_above: str = typer.Option(
        None,
        "--fail-above",
        help="Exit 1 when the summed per-call |recorded - repriced| exceeds e.g. 5% (of repriced) or 100USD.",
    ),
    db: str = typer.Option(
        None, "--db", help="History store read when no PATHS are given (env LLMAUDIT_DB)."
    ),
    input_format: str = typer.Option("auto", "--input-format", help="Force a reader instead of sniffing."),
    mapping: Path = typer.Option(None, "--mapping", help="YAML column mapping for generic JSONL/CSV logs."),
) -> None:
    """Compare the cost recorded in the logs with the repriced cost, and explain the differences."""
    from llmaudit.analysis import analyze, analyze_history
    from llmaudit.catalog import load_catalog
    from llmaudit.cli.render import progress, warn_rejects
    from llmaudit.money import usd
    from llmaudit.pricediff import parse_threshold
    from llmaudit.reconciliation import SCHEMA, Tolerance, exceeds, reconcile_report
    from llmaudit.store import HistoryStore

    tol = Tolerance.parse(tolerance)
    threshold = parse_threshold(fail_above) if fail_above else None
    loaded = load_catalog(*(catalog or []))
    with progress("reading, repricing and reconciling"):
        if paths:
            report = analyze(
                paths, catalog=loaded, since=since, until=until, format=input_format, mapping=mapping
            )
        else:
            report = analyze_history(HistoryStore(db), catalog=loaded, since=since, until=until)
        result = reconcile_report(report, loaded, tolerance=tol, top=top)
        result["totals"]["calls"] = report.call_count
        data = {"coverage": report.data["coverage"], "period": report.data["period"], **result}
    warn_rejects(report)
    if output_format == ReconcileFormat.json:
        from llmaudit.report.jsonout import iter_json

        envelope = dict(data)
        envelope["coverage"] = {
            **data["coverage"],
            "rejects": report.reject_lines(),
        }
        sys.stdout.writelines(iter_json(SCHEMA, envelope))
        sys.stdout.write("\n")
    elif output_format == ReconcileFormat.md:
        from llmaudit.report.reconcile import render_markdown

        sys.stdout.write(render_markdown(data))
    else:
        from rich.console import Console

        from llmaudit.report.reconcile import render_table

        render_table(data, Console(soft_wrap=False))
    if threshold is not None and exceeds(data, threshold):
        typer.echo(
            f"llmaudit: recorded and repriced costs differ by {usd(data['totals']['mismatch_usd'])} "
            f"(summed per call), above --fail-above {fail_above}",
            err=True,
        )
        raise typer.Exit(1)
