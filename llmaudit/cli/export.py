"""`llmaudit export`: priced calls as hive-partitioned Parquet for DuckDB, Spark or a warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

from llmaudit.cli.errors import exits_cleanly


@exits_cleanly
def export_command(
    paths: list[str] = typer.Argument(  # text: a Path folds the // of a URL
        None, help="Logs or Parquet calls tables to read (default: the history store)."
    ),
    parquet: str = typer.Option(  # text: a Path folds the // of a URL, which is refused, not written locally
        ..., "--parquet", help="Output directory (month=YYYY-MM partitions), on local disk."
    ),
    catalog: list[Path] = typer.Option(
        None, "--catalog", help="Extra pricing YAML layered on the bundled one."
    ),
    db: str = typer.Option(None, "--db", help="History store read when no PATHS are given."),
    since: str = typer.Option(None, help="Only calls at or after this UTC date/time."),
    until: str = typer.Option(None, help="Only calls before the end of this UTC date."),
) -> None:
    """Write every call, repriced, with its cost components and price provenance."""
    from llmaudit.analysis import analyze, analyze_history
    from llmaudit.catalog import load_catalog
    from llmaudit.local_paths import local_output
    from llmaudit.parquet_io import export_relation
    from llmaudit.store import HistoryStore

    local_output(parquet)  # before the analysis: a URL is refused at once
    loaded = load_catalog(*(catalog or []))
    if paths:
        report = analyze(paths, catalog=loaded, since=since, until=until)
    else:
        report = analyze_history(HistoryStore(db), catalog=loaded, since=since, until=until)
    written = export_relation(report.workspace.con, "priced", parquet, times="period_calls")
    typer.echo(f"llmaudit: wrote {written:,} calls to {parquet} (partitioned by month)", err=True)
