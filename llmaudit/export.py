"""Exports (`--out`): one row per call (every CALL_SCHEMA column, the cost components and the pricing
provenance), or FinOps FOCUS v1.2 charge rows when the file name ends in `focus.csv` / `focus.parquet`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pyarrow.parquet as pq

from llmaudit.db import quote_literal
from llmaudit.errors import InputError, UsageError
from llmaudit.local_paths import local_output
from llmaudit.money import ZERO

if TYPE_CHECKING:
    from llmaudit.catalog import Catalog
    from llmaudit.focus import FocusResult

FORMATS = (".parquet", ".csv", ".jsonl")
FOCUS_SUFFIXES = ("focus.csv", "focus.parquet")
_FORMULA = r"^[=+\-@\t\r]"


def _text_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Flat, exact text for CSV/JSONL: Decimal as text, lists joined, formula-leading strings quoted."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Decimal):
            exprs.append(col.cast(pl.String))
        elif isinstance(dtype, pl.List):
            exprs.append(col.list.join(";"))
        elif dtype == pl.String:
            exprs.append(
                pl.when(col.str.contains(_FORMULA) & col.cast(pl.Float64, strict=False).is_null())
                .then(pl.lit("'") + col)
                .otherwise(col)
                .alias(name)
            )
        else:
            exprs.append(col)
    return frame.select(exprs)


def checked_out_path(path: str | Path) -> Path:
    """`--out` as the local file it names, checked before any work: a known calls format or a FOCUS name."""
    path = local_output(path)
    if not is_focus_path(path):
        _checked_suffix(path)
    return path


def _checked_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"--out {path}: use a .parquet, .csv or .jsonl file name (or one ending in focus.csv for FOCUS)"
        )
    return suffix


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A file beside `path` that replaces it once it is written: an export that fails half-way through its
    stream leaves no half file (and an older file of that name as it was)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _write_text(frames: Iterable[pl.DataFrame], path: Path, suffix: str) -> None:
    """CSV (one header) or JSONL, frame after frame into one file: the same bytes as writing them at once."""
    with _replacing(path) as target, target.open("wb") as handle:
        for n, frame in enumerate(frames):
            safe = _text_safe(frame.drop("request_text", "response_text"))
            if suffix == ".csv":
                safe.write_csv(handle, include_header=n == 0)
            else:
                safe.write_ndjson(handle)


def write_calls(priced: pl.DataFrame, path: str | Path) -> Path:
    path = local_output(path)
    suffix = _checked_suffix(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            priced.drop("request_text", "response_text").write_parquet(path)
        else:
            _write_text([priced], path, suffix)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def write_report_calls(report, path: str | Path) -> tuple[Path, int]:
    """`write_calls` for an analyze report: (path, calls written), without materializing the calls.
    Parquet is copied by DuckDB straight from the report's workspace, in parallel and in no particular
    order, as `export --parquet` is (a query engine reads it; `source_file`, `source_line` give read
    order back): sorting 10M calls' wide rows made it 75 s instead of 15 s. CSV and JSONL, read by
    people and diffed, are written in read order a batch at a time (`Report.iter_calls`)."""
    path = local_output(path)
    suffix = _checked_suffix(path)
    if report.workspace is None:
        return write_calls(report.calls, path), report.call_count
    con = report.workspace.con
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            con.execute(
                "COPY (SELECT * EXCLUDE (_seq, request_text, response_text) FROM priced) "
                f"TO {quote_literal(str(path))} (FORMAT parquet)"
            )
        else:
            _write_text(report.iter_calls(), path, suffix)
    except (duckdb.IOException, OSError) as exc:  # out of memory goes on, to the CLI's resource message
        raise InputError(f"{path}: cannot write: {getattr(exc, 'strerror', None) or exc}") from None
    return path, report.call_count


def is_focus_path(path: str | Path) -> bool:
    """`--out` names ending in focus.csv or focus.parquet (focus.csv, 2025-11.focus.csv...) ask for FOCUS."""
    return Path(path).name.lower().endswith(FOCUS_SUFFIXES)


def _decimal_text(col: pl.Expr) -> pl.Expr:
    text = col.cast(pl.String)
    return pl.when(text.str.contains(".", literal=True)).then(text.str.replace(r"\.?0+$", "")).otherwise(text)


def _focus_text(frame: pl.DataFrame) -> pl.DataFrame:
    """FOCUS text cells: ISO 8601 UTC `YYYY-MM-DDTHH:mm:ssZ`, plain decimals, formula-leading text quoted."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias(name))
        elif isinstance(dtype, pl.Decimal):
            exprs.append(_decimal_text(col).alias(name))
        elif dtype == pl.Date:
            exprs.append(col.cast(pl.String).alias(name))
        else:
            exprs.append(col)
    return _text_safe(frame.select(exprs))


def write_focus(priced: pl.DataFrame, path: str | Path, catalog: Catalog) -> FocusResult:
    """FinOps FOCUS v1.2 rows of the priced calls to `path` (CSV, or Parquet with typed columns)."""
    from llmaudit.focus import focus_frame

    path = _focus_path(path)
    result = focus_frame(priced, catalog)
    _write_focus_rows([result.rows], path)
    return result


@dataclass
class FocusWritten:
    """What `write_report_focus` wrote (its rows went to the file run by run, not into memory): the sums
    of the runs' `FocusResult`s."""

    rows: int = 0
    calls: int = 0
    cost_usd: Decimal = ZERO
    unpriced_calls: int = 0
    untimed_calls: int = 0
    untimed_cost_usd: Decimal = ZERO

    def add(self, result: FocusResult) -> pl.DataFrame:
        """Count a run's result in; returns its rows."""
        self.rows += result.rows.height
        self.calls += result.calls
        self.cost_usd += result.cost_usd
        self.unpriced_calls += result.unpriced_calls
        self.untimed_calls += result.untimed_calls
        self.untimed_cost_usd += result.untimed_cost_usd
        return result.rows


def write_report_focus(report, path: str | Path, catalog: Catalog) -> FocusWritten:
    """`write_focus` for an analyze report in bounded memory: its calls are streamed from the workspace
    by day, provider and model, summed into FOCUS rows a batch at a time (`focus.focus_runs`: a group split
    between batches is summed across them; each batch also counts the calls it leaves out) and appended to
    the file as groups are complete."""
    from llmaudit import focus

    path = _focus_path(path)
    written = FocusWritten()
    if report.workspace is None:
        written.add(write_focus(report.calls, path, catalog))
        return written
    calls = report.iter_calls(
        order=f"{focus.LEADING_KEYS_SQL}, ts, _seq",
        batch_rows=focus.FOCUS_BATCH_ROWS,
        columns=focus.FOCUS_INPUTS,
        by_day=True,
    )
    _write_focus_rows((written.add(run) for run in focus.focus_runs(calls, catalog)), path)
    return written


def _focus_path(path: str | Path) -> Path:
    path = local_output(path)
    if not is_focus_path(path):
        raise UsageError(f"--out {path}: a FOCUS file name ends in focus.csv or focus.parquet")
    return path


def _write_focus_rows(parts: Iterable[pl.DataFrame], path: Path) -> None:
    """FOCUS rows, part after part, into one CSV (one header) or Parquet file (a row group or more per
    part)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _replacing(path) as target:
            if path.name.lower().endswith(".parquet"):
                writer, empty = None, None
                try:
                    for part in parts:
                        if part.is_empty():  # a run of calls left out: no rows (its columns may be untyped)
                            empty = part
                            continue
                        table = part.to_arrow()
                        writer = writer or pq.ParquetWriter(target, table.schema)
                        writer.write_table(table.cast(writer.schema))
                finally:
                    if writer is not None:
                        writer.close()
                if writer is None and empty is not None:
                    empty.write_parquet(target)
            else:
                with target.open("wb") as handle:
                    for n, part in enumerate(parts):
                        _focus_text(part).write_csv(handle, include_header=n == 0)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
