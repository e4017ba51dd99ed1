"""`llmaudit analyze`: read logs (or the history store), reprice, print the report."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from llmaudit.cli.errors import exits_cleanly


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


@exits_cleanly
def analyze_command(
    # text, not Path: a Path folds the // of an object-storage URL (s3://bucket/calls/ into s3:/bucket/calls)
    paths: list[str] = typer.Argument(
        None,
        help="Log files or directories (recursive; .gz accepted), or Parquet calls tables (a directory, a "
        "file or an s3://, gs://, https:// URL or glob). Omit to re-analyze the history store.",
    ),
    catalog: list[Path] = typer.Option(
        None,
        "--catalog",
        help="Extra pricing YAML file or directory layered on the bundled catalog "
        "(repeatable; env LLMAUDIT_CATALOG).",
    ),
    since: str = typer.Option(None, help="Only calls at or after this UTC date/time (YYYY-MM-DD[THH:MM])."),
    until: str = typer.Option(None, help="Only calls before the end of this UTC date (or before this time)."),
    by: str = typer.Option(
        None, help="Group by columns, e.g. model,day or feature,user (see docs for the list)."
    ),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Report format."),
    out: str = typer.Option(  # text: a Path folds the // of a URL, which is refused, not written locally
        None,
        "--out",
        help="Also write one row per call to FILE.parquet|.csv|.jsonl, or FinOps FOCUS v1.2 charges to a "
        "file named *focus.csv (or *focus.parquet).",
    ),
    db: str = typer.Option(
        None, "--db", help="History store (default ./.llmaudit/history.duckdb; env LLMAUDIT_DB)."
    ),
    no_store: bool = typer.Option(False, "--no-store", help="Do not add what was read to the history store."),
    input_format: str = typer.Option("auto", "--input-format", help="Force a reader instead of sniffing."),
    mapping: Path = typer.Option(None, "--mapping", help="YAML column mapping for generic JSONL/CSV logs."),
) -> None:
    """Reprice every call in PATHS and report where the money went."""
    from llmaudit.analysis import analyze, analyze_history
    from llmaudit.catalog import load_catalog
    from llmaudit.cli.render import print_report, progress, warn_rejects
    from llmaudit.export import checked_out_path, is_focus_path, write_report_calls
    from llmaudit.store import HistoryStore

    out_path = checked_out_path(out) if out is not None else None  # before minutes of analysis
    loaded = load_catalog(*(catalog or []))
    store = HistoryStore(db) if not (paths and no_store) else None  # a bad --db is refused before any work
    with progress("reading and repricing logs" if paths else "repricing the history store"):
        if paths:
            report = analyze(
                paths, catalog=loaded, since=since, until=until, by=by, format=input_format, mapping=mapping
            )
        else:
            report = analyze_history(store, catalog=loaded, since=since, until=until, by=by)
    warn_rejects(report)
    print_report(report, output_format.value)
    if out_path is not None and is_focus_path(out_path):
        _write_focus(report, out_path, loaded)
    elif out_path is not None:
        written, count = write_report_calls(report, out_path)
        typer.echo(f"llmaudit: wrote {count:,} calls to {written}", err=True)
    if paths and not no_store:
        # after the report, which does not wait for it (10M calls: ~30 s to store, rollup and marks)
        with progress(f"adding {report.call_count:,} calls to the history store {store.path}"):
            added = store.add_from(report.workspace.con, "period_calls", loaded)
        typer.echo(f"llmaudit: history store {store.path}: {added:,} new calls", err=True)


def _write_focus(report, out: Path, catalog) -> None:
    """FOCUS charges to `out`, and on stderr what they hold and which calls they cannot (no price, no time)."""
    from llmaudit.export import write_report_focus
    from llmaudit.money import usd

    result = write_report_focus(report, out, catalog)
    typer.echo(
        f"llmaudit: wrote {result.rows:,} FOCUS rows ({result.calls:,} calls, {usd(result.cost_usd)}) "
        f"to {out}",
        err=True,
    )
    left_out = []
    if result.unpriced_calls:
        left_out.append(f"{result.unpriced_calls:,} unpriced calls")
    if result.untimed_calls:
        left_out.append(
            f"{result.untimed_calls:,} calls without a timestamp ({usd(result.untimed_cost_usd)})"
        )
    if left_out:
        typer.echo(f"llmaudit: not in the FOCUS file: {' and '.join(left_out)}", err=True)
