"""A scratch folder and DuckDB database that hold one analysis' calls, so logs larger than memory can be
priced and summarized by SQL that spills to disk instead of by frames that must fit in RAM.

Chunks stream in from the readers (`stream_logs`) and are spooled as Parquet files (LZ4; writing them
is about 6x faster than inserting into a DuckDB table, and DuckDB scans them in parallel); `calls` is a
view over the spool. Copies of a call are collapsed and the period is cut in SQL, and every later stage
reads `calls` (or a view over it) without copying it out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

import duckdb
import polars as pl

from llmaudit.arrow import arrow_batches
from llmaudit.db import connect, quote_literal
from llmaudit.errors import InputError, UsageError
from llmaudit.ingest import REJECT_SCHEMA
from llmaudit.schema import CALL_SCHEMA, conform

# DuckDB's share of the process: the rest is the reader chunk in flight and Python itself
DEFAULT_MEMORY_LIMIT = "512MB"


def _close(con: duckdb.DuckDBPyConnection, directory: str) -> None:
    try:
        con.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Workspace:
    """`calls` (CALL_SCHEMA + `_seq`, the read order: a view over the Parquet spool), and tables `rejects`
    and `skipped`, in a temporary folder removed when the workspace is closed or garbage-collected."""

    def __init__(self, memory_limit: str | None = None):
        try:
            self.directory = tempfile.mkdtemp(prefix="llmaudit-")
            self.con = connect(str(Path(self.directory) / "work.duckdb"))
        except (OSError, duckdb.Error) as exc:
            raise InputError(
                f"cannot create a temporary workspace in {tempfile.gettempdir()} ({exc}); "
                "point TMPDIR at a writable folder"
            ) from None
        self._finalizer = weakref.finalize(self, _close, self.con, self.directory)
        limit = memory_limit or os.environ.get("LLMAUDIT_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        spill = quote_literal(str(Path(self.directory) / "spill"))
        try:
            self.con.execute(f"SET memory_limit = {quote_literal(limit)}")
        except duckdb.Error:
            self.close()
            raise UsageError(f"LLMAUDIT_MEMORY_LIMIT={limit!r}: use a size such as 512MB or 2GB") from None
        self.con.execute(f"SET temp_directory = {spill}")
        self.con.execute("SET preserve_insertion_order = false")
        self.spool = Path(self.directory) / "calls"
        self.spool.mkdir()
        self.con.register("_empty_calls", conform(pl.DataFrame(), CALL_SCHEMA))
        # until the first chunk is spooled, `calls` is an empty table of the right shape
        self.con.execute("CREATE TABLE no_calls AS SELECT *, 0::BIGINT AS _seq FROM _empty_calls LIMIT 0")
        self.con.unregister("_empty_calls")
        self.con.execute("CREATE VIEW calls AS SELECT * FROM no_calls")
        self._files = 0
        for table in ("rejects", "skipped"):
            self.con.execute(
                f"CREATE TABLE {table} (file VARCHAR, line BIGINT, reason VARCHAR, format VARCHAR)"
            )
        self.rows = 0

    def close(self) -> None:
        self._finalizer()

    def add(self, calls: pl.DataFrame, skipped: pl.DataFrame, rejects: pl.DataFrame) -> None:
        """Append one chunk (a `stream_logs` sink)."""
        if calls.height:
            frame = conform(calls, CALL_SCHEMA).select(*CALL_SCHEMA).with_row_index("_seq", offset=self.rows)
            frame.with_columns(pl.col("_seq").cast(pl.Int64)).write_parquet(
                self.spool / f"{self._files:06d}.parquet", compression="lz4", statistics=False
            )
            self._files += 1
            self.rows += calls.height
            self._point_calls_at_spool()
        for table, frame in (("skipped", skipped), ("rejects", rejects)):
            if frame.height:
                self._insert(table, frame.select(*REJECT_SCHEMA).cast(REJECT_SCHEMA))

    def _point_calls_at_spool(self) -> None:
        spool = quote_literal(str(self.spool / "*.parquet"))
        self.con.execute(
            f"CREATE OR REPLACE VIEW calls AS SELECT * FROM read_parquet({spool}, union_by_name = true)"
        )

    def add_relation(self, select_sql: str) -> int:
        """Append calls from a SELECT giving CALL_SCHEMA columns by name (Parquet calls tables), spooled
        by DuckDB itself."""
        target = quote_literal(str(self.spool / f"{self._files:06d}.parquet"))
        added = self.con.execute(  # COPY answers with the number of rows it wrote
            f"COPY (SELECT *, {self.rows} + row_number() OVER () - 1 AS _seq FROM ({select_sql})) "
            f"TO {target} (FORMAT parquet, COMPRESSION lz4)"
        ).fetchone()[0]
        self._files += 1
        self.rows += added
        self._point_calls_at_spool()
        return added

    def use_relation(self, select_sql: str) -> None:
        """Make `calls` a view over a SELECT giving CALL_SCHEMA columns (an attached history store), so it
        is scanned in place instead of copied; `_seq` is 0 there (order by the call's own columns)."""
        self.con.execute(f"CREATE OR REPLACE VIEW calls AS SELECT *, 0::BIGINT AS _seq FROM ({select_sql})")
        self.rows = self.count("calls")

    def _insert(self, table: str, frame: pl.DataFrame) -> None:
        self.con.register("_chunk", arrow_batches(frame))
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _chunk")
        finally:
            self.con.unregister("_chunk")

    def count(self, relation: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]

    def collapse(self) -> int:
        """One row per record_id, as `ingest.normalize.collapse` does in memory: streaming snapshots and
        re-exported copies keep their largest-usage copy (then the latest line). Returns rows removed."""
        distinct = self.con.execute("SELECT count(DISTINCT record_id) FROM calls").fetchone()[0]
        if distinct == self.rows:
            return 0
        target = quote_literal(str(Path(self.directory) / "collapsed.parquet"))
        self.con.execute(f"""
            COPY (SELECT * FROM calls
                  QUALIFY row_number() OVER (
                      PARTITION BY record_id
                      ORDER BY coalesce(input_total_tokens, 0) + coalesce(output_tokens, 0) DESC,
                               source_line DESC, _seq) = 1)
            TO {target} (FORMAT parquet, COMPRESSION lz4)""")
        self.con.execute(f"CREATE OR REPLACE VIEW calls AS SELECT * FROM read_parquet({target})")
        removed = self.rows - distinct
        self.rows = distinct
        return removed

    def frame(self, sql: str) -> pl.DataFrame:
        return pl.from_arrow(self.con.sql(sql).to_arrow_table())  # type: ignore[return-value]
