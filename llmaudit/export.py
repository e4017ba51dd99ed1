"""Exports (`--out`): one row per call (every CALL_SCHEMA column, the cost components and the pricing
provenance), or FinOps FOCUS v1.2 charge rows when the file name ends in `focus.csv` / `focus.parquet`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from llmaudit.db import quote_literal
from llmaudit.errors import InputError, UsageError

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


def write_calls(priced: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"--out {path}: use a .parquet, .csv or .jsonl file name (or one ending in focus.csv for FOCUS)"
        )
    frame = priced.drop("request_text", "response_text")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            frame.write_parquet(path)
        elif suffix == ".csv":
            _text_safe(frame).write_csv(path)
        else:
            _text_safe(frame).write_ndjson(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def write_report_calls(report, path: str | Path) -> tuple[Path, int]:
    """`write_calls` for an analyze report: (path, calls written). Parquet is copied by DuckDB straight
    from the report's workspace, in read order, so it never materializes the calls in memory."""
    path = Path(path)
    if path.suffix.lower() != ".parquet" or report.workspace is None:
        return write_calls(report.calls, path), report.call_count
    con = report.workspace.con
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            "COPY (SELECT * EXCLUDE (_seq, request_text, response_text) FROM priced "
            f"ORDER BY {report.order}) TO {quote_literal(str(path))} (FORMAT parquet)"
        )
    except (duckdb.Error, OSError) as exc:
        raise InputError(f"{path}: cannot write: {exc}") from None
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

    path = Path(path)
    if not is_focus_path(path):
        raise UsageError(f"--out {path}: a FOCUS file name ends in focus.csv or focus.parquet")
    result = focus_frame(priced, catalog)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.name.lower().endswith(".parquet"):
            result.rows.write_parquet(path)
        else:
            _focus_text(result.rows).write_csv(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return result
