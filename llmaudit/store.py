"""DuckDB history store: every call ever analyzed, once (idempotent by record_id).

Only the facts (CALL_SCHEMA) are stored; prices are recomputed from the catalog on read, so a catalog
change reprices the whole history without re-parsing logs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import polars as pl

from llmaudit.db import connect
from llmaudit.errors import InputError
from llmaudit.schema import CALL_SCHEMA, conform

DEFAULT_DB = Path(".llmaudit") / "history.duckdb"


def default_db_path() -> Path:
    return Path(os.environ.get("LLMAUDIT_DB") or DEFAULT_DB)


class HistoryStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_db_path()

    def _connect(self, create: bool) -> duckdb.DuckDBPyConnection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise InputError(
                f"{self.path}: no history store yet (run `llmaudit analyze LOGS` first, or pass --db)"
            )
        try:
            return connect(str(self.path))
        except duckdb.Error as exc:
            raise InputError(f"{self.path}: cannot open the history store: {exc}") from None

    def add(self, calls: pl.DataFrame) -> int:
        """Insert calls whose record_id is not stored yet; returns how many were new."""
        frame = conform(calls.select([c for c in calls.columns if c in CALL_SCHEMA]), CALL_SCHEMA)
        frame = frame.with_columns(pl.lit(dt.datetime.now(dt.UTC)).alias("ingested_at"))
        if frame.is_empty():
            return 0
        with self._connect(create=True) as con:
            try:
                con.register("incoming", frame)
                con.execute("CREATE TABLE IF NOT EXISTS calls AS SELECT * FROM incoming LIMIT 0")
                self._add_missing_columns(con)
                before = con.execute("SELECT count(*) FROM calls").fetchone()[0]
                # only stored calls of the incoming period can collide: appending a day scans about that day
                lo, hi = frame["ts"].min(), frame["ts"].max()
                period = (
                    "ts IS NULL"
                    if lo is None
                    else (
                        f"ts IS NULL OR ts BETWEEN TIMESTAMPTZ '{lo.isoformat()}' AND TIMESTAMPTZ '{hi.isoformat()}'"
                    )
                )
                con.execute(
                    "INSERT INTO calls BY NAME SELECT i.* FROM incoming i "
                    f"ANTI JOIN (SELECT record_id FROM calls WHERE {period}) c USING (record_id)"
                )
                after = con.execute("SELECT count(*) FROM calls").fetchone()[0]
            except duckdb.Error as exc:
                raise InputError(f"{self.path}: cannot add to the history store: {exc}") from None
        return after - before

    @staticmethod
    def _add_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
        """A store written by an older llmaudit gains the new CALL_SCHEMA columns (as nulls)."""
        present = {row[0] for row in con.execute("SELECT column_name FROM (DESCRIBE calls)").fetchall()}
        wanted = con.execute("SELECT column_name, column_type FROM (DESCRIBE incoming)").fetchall()
        for name, dtype in wanted:
            if name not in present:
                con.execute(f'ALTER TABLE calls ADD COLUMN "{name}" {dtype}')

    def calls(self, since: dt.datetime | None = None, until: dt.datetime | None = None) -> pl.DataFrame:
        with self._connect(create=False) as con:
            condition = "TRUE"
            if since is not None:
                condition += f" AND ts >= TIMESTAMPTZ '{since.isoformat()}'"
            if until is not None:
                condition += f" AND ts < TIMESTAMPTZ '{until.isoformat()}'"
            frame = con.sql(
                f"SELECT * EXCLUDE (ingested_at) FROM calls WHERE {condition} "
                "ORDER BY ts, source_file, source_line"
            ).to_arrow_table()
        return conform(pl.from_arrow(frame), CALL_SCHEMA)

    def count(self) -> int:
        with self._connect(create=False) as con:
            return con.execute("SELECT count(*) FROM calls").fetchone()[0]
