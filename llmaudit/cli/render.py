"""Printing reports: the report on stdout, messages (`file:line: reason`) on stderr."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext

import typer
from rich.console import Console

from llmaudit.analysis import Report

STDERR_SAMPLE = 10


def progress(message: str) -> AbstractContextManager:
    """A spinner on stderr while long work runs; nothing when stderr is not a terminal (CI, pipes)."""
    console = Console(stderr=True)
    return console.status(message) if console.is_terminal else nullcontext()


def warn_rejects(report: Report) -> None:
    """The first rejected rows (the coverage's sample: the rejects are never all read for this) and how
    many more there are."""
    coverage = report.data["coverage"]
    sample, rejected = coverage["rejects_sample"][:STDERR_SAMPLE], coverage["rejected"]
    for line in sample:
        typer.echo(f"llmaudit: {line}", err=True)
    if rejected > len(sample):
        typer.echo(
            f"llmaudit: ... and {rejected - len(sample):,} more rejected rows (all of them: --format json)",
            err=True,
        )
    for item in report.data["coverage"]["unknown_format_files"]:
        typer.echo(
            f"llmaudit: {item['file']}: unknown log format, not read ({item['rows']:,} rows)", err=True
        )


def print_report(report: Report, fmt: str) -> None:
    if fmt == "json":
        from llmaudit.report.jsonout import iter_json

        data = dict(report.data)
        data["coverage"] = {
            **data["coverage"],
            "rejects": report.reject_lines(),
        }
        sys.stdout.writelines(iter_json(report.schema, data))
        sys.stdout.write("\n")
    elif fmt == "csv":
        from llmaudit.report.csvout import iter_csv

        sys.stdout.writelines(iter_csv(report.data))
    elif fmt == "md":
        from llmaudit.report.markdown import render_markdown

        sys.stdout.write(render_markdown(report.data))
    else:
        from llmaudit.report.tables import render_table

        render_table(report.data, Console(soft_wrap=False))
