"""Priced calls as hive-partitioned Parquet (month=YYYY-MM): the hand-off to DuckDB, Spark or a warehouse,
and a source `analyze` can read back instead of raw logs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from llmaudit.db import connect
from llmaudit.errors import InputError
from llmaudit.schema import CALL_SCHEMA, conform


def is_parquet_source(path: str | Path) -> bool:
    """A .parquet file, a directory holding .parquet files, or a remote URL/glob ending in .parquet."""
    text = str(path)
    if "://" in text:
        return text.rstrip("/").endswith(".parquet") or "*" in text
    path = Path(path)
    return (path.is_file() and path.suffix == ".parquet") or (path.is_dir() and any(path.rglob("*.parquet")))


def _glob(path: str | Path) -> str:
    text = str(path)
    if "://" in text or Path(text).is_file():
        return text
    return str(Path(text) / "**" / "*.parquet")


def export_parquet(priced: pl.DataFrame, directory: str | Path) -> int:
    """Write calls partitioned by UTC month (calls without a timestamp go to month=unknown)."""
    directory = Path(directory)
    con = connect()
    con.register("priced", priced)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        literal = "'" + str(directory).replace("'", "''") + "'"
        con.execute(
            f"COPY (SELECT *, coalesce(strftime(ts, '%Y-%m'), 'unknown') AS month FROM priced) TO {literal} "
            "(FORMAT parquet, PARTITION_BY (month), OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'calls_{uuid}')"
        )
    except (duckdb.Error, OSError) as exc:
        raise InputError(f"{directory}: cannot write Parquet: {exc}") from None
    finally:
        con.close()
    return priced.height


def read_calls_parquet(path: str | Path) -> pl.DataFrame:
    """Calls (CALL_SCHEMA columns) from Parquet written by `export` or any tool using the same column names."""
    con = connect()
    literal = "'" + _glob(path).replace("'", "''") + "'"
    try:
        frame = con.sql(
            f"SELECT * FROM read_parquet({literal}, hive_partitioning = true, union_by_name = true)"
        ).pl()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read Parquet calls: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    missing = [c for c in ("record_id", "model_raw") if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: not a calls table (missing {', '.join(missing)})")
    return conform(frame.select([c for c in frame.columns if c in CALL_SCHEMA]), CALL_SCHEMA)
