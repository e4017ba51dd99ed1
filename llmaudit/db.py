"""DuckDB connections configured for a CLI: no progress bar on stdout, UTC session time zone."""

from __future__ import annotations

import duckdb


def connect(path: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path) if path else duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con
