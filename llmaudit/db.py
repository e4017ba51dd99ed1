"""DuckDB connections configured for a CLI: no progress bar on stdout, UTC session time zone."""

from __future__ import annotations

import os
import threading

import duckdb
import polars as pl

from llmaudit.errors import UsageError

# DuckDB's share of the process: the rest is the blocks in flight and Python itself
DEFAULT_MEMORY_LIMIT = "512MB"

# `ts` (TIMESTAMPTZ) as a naive TIMESTAMP of its UTC wall-clock time, by integer math: truncating or
# formatting a TIMESTAMPTZ goes through an ICU calendar call per row (about 8x slower)
UTC_WALL_CLOCK = "make_timestamp(epoch_us(ts))"


def connect(path: str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path, read_only=read_only) if path else duckdb.connect()
    _configure(con)
    return con


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")


_scratch: duckdb.DuckDBPyConnection | None = None
_scratch_lock = threading.Lock()


def scratch_cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own (registrations and settings are per connection) to one in-memory database
    shared by the process: small queries over registered frames (`pricing.price`, run many times by
    reconcile and the FOCUS export) skip the 15 ms of opening a database. Close it when done."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = connect()
        cursor = _scratch.cursor()
    _configure(cursor)
    return cursor


_TYPES: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}


def duckdb_types(con: duckdb.DuckDBPyConnection, schema: dict[str, pl.DataType]) -> dict[str, str]:
    """The DuckDB type of each column of a polars schema, as DuckDB stores a frame of that schema (asked
    once per schema: every block of a big file normalizes to the same one)."""
    key = tuple((name, str(dtype)) for name, dtype in schema.items())
    if key not in _TYPES:
        con.register("_empty_schema", pl.DataFrame(schema=schema))
        try:
            described = con.execute(
                "SELECT column_name, column_type FROM (DESCRIBE _empty_schema)"
            ).fetchall()
        finally:
            con.unregister("_empty_schema")
        _TYPES[key] = dict(described)
    return dict(_TYPES[key])


def set_memory_limit(con: duckdb.DuckDBPyConnection, chosen: str | None = None) -> bool:
    """Cap DuckDB's memory on `con` at `chosen`, else LLMAUDIT_MEMORY_LIMIT, else DEFAULT_MEMORY_LIMIT (it
    spills past it); says whether a limit was chosen rather than defaulted."""
    chosen = chosen or os.environ.get("LLMAUDIT_MEMORY_LIMIT")
    limit = chosen or DEFAULT_MEMORY_LIMIT
    try:
        con.execute(f"SET memory_limit = {quote_literal(limit)}")
    except duckdb.Error:
        raise UsageError(f"LLMAUDIT_MEMORY_LIMIT={limit!r}: use a size such as 512MB or 2GB") from None
    return bool(chosen)


def conform_sql(con: duckdb.DuckDBPyConnection, schema: dict[str, pl.DataType], present: set[str]) -> str:
    """A select list giving exactly `schema`'s columns, in order: those `present` cast to their type, the
    missing ones as typed nulls (the SQL counterpart of `schema.conform`, for older stores and foreign
    Parquet)."""
    types = duckdb_types(con, schema)
    return ", ".join(
        f"{quote_identifier(c)}::{types[c]} AS {quote_identifier(c)}"
        if c in present
        else f"NULL::{types[c]} AS {quote_identifier(c)}"
        for c in schema
    )


def quote_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A SQL identifier (column names from logs can hold any character)."""
    return '"' + name.replace('"', '""') + '"'
