"""A scratch folder and DuckDB database that hold one analysis' calls, so logs larger than memory can be
priced and summarized by SQL that spills to disk instead of by frames that must fit in RAM.

Chunks stream in from the readers (`stream_logs`) and are spooled as Parquet files (`SPOOL_FORMAT`;
writing them is about 6x faster than inserting into a DuckDB table, and DuckDB scans them in parallel);
`calls` is a view over the spool. Copies of a call are collapsed and the period is cut in SQL, and every
later stage reads `calls` (or a view over it) without copying it out.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import weakref
from collections.abc import Hashable, Iterator
from pathlib import Path

import duckdb
import polars as pl

from llmaudit.db import DEFAULT_MEMORY_LIMIT, connect, quote_identifier, quote_literal, set_memory_limit
from llmaudit.errors import InputError, UsageError
from llmaudit.schema import CALL_SCHEMA, conform

# not spooled (see `add_chunk`): null in `calls`
TEXT_COLUMNS = ("request_text", "response_text")
_TEXTS = ", ".join(TEXT_COLUMNS)
# how the spool is written: zstd at level 1 with Parquet v2 encodings writes 20% faster than LZ4 with v1
# and half the bytes (200k calls: 0.24 vs 0.30 CPU-s, 9 vs 20 MB), and scans as fast; the spool is read
# only by DuckDB, so v2's newer encodings cost no compatibility (exports stay v1). A dictionary holds at most
# 4096 distinct values per row group (a block's calls): the writer gives up sooner on the hashes and the
# token counts, whose values hardly repeat (a block written in 48 CPU-ms instead of 58-64, 0.6% larger;
# the 10M ingest 1.5-2.8 CPU-s cheaper), and keeps it for models, features and up to 4096 users a block
SPOOL_FORMAT = (
    "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PARQUET_VERSION v2, DICTIONARY_SIZE_LIMIT 4096"
)
# DuckDB's default share for analyze's collapse, summary and duplicates (`summary_share`; the rest runs
# at `db.DEFAULT_MEMORY_LIMIT`): they spill past it at no measured cost (10M calls: the same 7.4-7.6 s,
# 20M: 15.2 vs 14.5 s), where with 512MB they grew the process past the ingest's peak (~480 MiB at any
# size) to 739 MiB at 10M calls; sorts for exports are not so lucky (a 1M-call Parquet export: 23.6 s at
# 256MB, 10.3 s at 512MB) and keep the full share
SUMMARY_MEMORY_LIMIT = "256MB"
# what a chunk's guard raises when a column left out as null is not (see `add_chunk`)
_NOT_NULL = "llmaudit: a column left out of the spool as null is not null in this chunk"
# never left out: every row has them
_ALWAYS_SPOOLED = frozenset({"_kind", "_seq"})


def _all_null_columns(con: duckdb.DuckDBPyConnection, path: Path) -> frozenset[str]:
    """The top-level, non-nested columns of a spooled file whose every value is null, by its Parquet
    statistics (a column without them is not)."""
    rows = con.execute(
        "SELECT path_in_schema FROM parquet_metadata(?) GROUP BY path_in_schema "
        "HAVING sum(stats_null_count) = sum(num_values)",
        [str(path)],
    ).fetchall()
    return frozenset(name for (name,) in rows if "," not in name) - _ALWAYS_SPOOLED


def _close(con: duckdb.DuckDBPyConnection, directory: str) -> None:
    try:
        con.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _chunk_io_error(exc: duckdb.IOException, directory: str) -> InputError:
    """A chunk query's I/O error, told apart by the file it names: the workspace's (writing the spool) or
    another (reading a log's block), without the SQL DuckDB quotes after it (which names both)."""
    reason = str(exc).split("\n\nLINE ", 1)[0].strip()
    if directory in reason:
        return InputError(f"cannot write the workspace in {directory}: {reason}")
    return InputError(f"cannot read the logs: {reason}")


class Workspace:
    """`calls` (CALL_SCHEMA + `_seq`, the read order: a view over the Parquet spool), and views `rejects`
    and `skipped` (file, line, reason, format), in a temporary folder removed when the workspace is closed
    or garbage-collected. Chunks are spooled with `add_chunk` (a `stream_logs` sink) or `add_relation`;
    `seal` then builds the views (`collapse` seals first)."""

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
        self._in_summary_share = False
        try:  # `_chosen`: else the default, which `summary_share` cuts and gives back
            self._chosen = set_memory_limit(self.con, memory_limit)
        except UsageError:
            self.close()
            raise
        self.con.execute(f"SET temp_directory = {quote_literal(str(Path(self.directory) / 'spill'))}")
        self.con.execute("SET preserve_insertion_order = false")
        self.spool = Path(self.directory) / "calls"
        self.spool.mkdir()
        self.con.register("_empty_calls", conform(pl.DataFrame(), CALL_SCHEMA))
        # until the first chunk is spooled, `calls` is an empty table of the right shape
        self.con.execute("CREATE TABLE no_calls AS SELECT *, 0::BIGINT AS _seq FROM _empty_calls LIMIT 0")
        self.con.unregister("_empty_calls")
        self.con.execute("CREATE VIEW calls AS SELECT * FROM no_calls")
        self.con.execute("CREATE TABLE no_rows (file VARCHAR, line BIGINT, reason VARCHAR, format VARCHAR)")
        for view in ("rejects", "skipped"):
            self.con.execute(f"CREATE VIEW {view} AS SELECT * FROM no_rows")
        self._files = 0
        # per chunk shape (see `add_chunk`): the columns a whole chunk of that shape had null, left out of
        # the next ones (a log's blocks leave the same fields out: 24 of 48 for OpenAI chat objects)
        self._null_columns: dict[Hashable, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._sealed = True
        self.rows = 0  # calls in `calls` (known once sealed)
        # can a range of `_seq` or `ts` be read without scanning every call (`Report.iter_calls` sorts
        # exports a range at a time)? Yes for the spool and a store: stored columns, with min/max per row
        # group. Not for Parquet tables read in place, whose `_seq` is computed (10M calls to CSV: 299 s)
        self.ranges_prune = True

    def close(self) -> None:
        self._finalizer()

    @contextlib.contextmanager
    def summary_share(self) -> Iterator[None]:
        """DuckDB's share cut to SUMMARY_MEMORY_LIMIT inside, unless a limit was chosen (the argument or
        LLMAUDIT_MEMORY_LIMIT: one share for everything then)."""
        if self._chosen:
            yield
            return
        self.con.execute(f"SET memory_limit = {quote_literal(SUMMARY_MEMORY_LIMIT)}")
        self._in_summary_share = True
        try:
            yield
        finally:
            self._in_summary_share = False
            self.con.execute(f"SET memory_limit = {quote_literal(DEFAULT_MEMORY_LIMIT)}")

    @contextlib.contextmanager
    def full_share(self) -> Iterator[bool]:
        """The full default share inside a `summary_share` (for a query that does not fit the smaller one);
        says whether it grew (False: already the full or the chosen share)."""
        if not self._in_summary_share:
            yield False
            return
        self.con.execute(f"SET memory_limit = {quote_literal(DEFAULT_MEMORY_LIMIT)}")
        try:
            yield True
        finally:
            self.con.execute(f"SET memory_limit = {quote_literal(SUMMARY_MEMORY_LIMIT)}")

    def _next_file(self) -> Path:
        with self._lock:  # chunks arrive from the reader's worker threads
            self._files += 1
            self._sealed = False
            return self.spool / f"{self._files - 1:06d}.parquet"

    def add_chunk(
        self, con: duckdb.DuckDBPyConnection, select_sql: str, shape: Hashable | None = None
    ) -> int:
        """Spool one normalized chunk (a `stream_logs` sink: calls, skipped and rejected rows with `_kind`,
        `_reason` and `_seq`), written by DuckDB straight from the reader's query; returns its rows. The
        request and response texts stay out (every analysis reads `prompt_hash`; prompts are long and
        personal). A chunk whose query fails leaves no file behind.

        `shape` (see `ChunkSink`): the columns a whole chunk of the same shape had null are left out (the
        spool is read by name, so a file without a column reads as null there): DuckDB then neither
        computes nor writes them, 20 of a block's 215 CPU-ms for OpenAI chat objects. A guard in the same
        query fails if one of them is not null after all, and the chunk is written whole instead."""
        omit = self._null_columns.get(shape, frozenset()) if shape is not None else frozenset()
        target = self._next_file()
        try:
            try:
                rows = self._write_chunk(con, select_sql, target, omit)
            except duckdb.InvalidInputException as exc:
                if not omit or _NOT_NULL not in str(exc):
                    raise
                target.unlink(missing_ok=True)
                omit = frozenset()
                rows = self._write_chunk(con, select_sql, target, omit)
            if shape is not None and not omit and rows:
                self._null_columns[shape] = _all_null_columns(con, target)
            return rows
        except duckdb.IOException as exc:
            target.unlink(missing_ok=True)
            raise _chunk_io_error(exc, self.directory) from None
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    @staticmethod
    def _write_chunk(
        con: duckdb.DuckDBPyConnection, select_sql: str, target: Path, omit: frozenset[str]
    ) -> int:
        excluded = ", ".join([_TEXTS, *(quote_identifier(c) for c in sorted(omit))])
        guard = ""
        if omit:
            not_null = " OR ".join(f"{quote_identifier(c)} IS NOT NULL" for c in sorted(omit))
            guard = f" WHERE CASE WHEN {not_null} THEN error({quote_literal(_NOT_NULL)}) ELSE true END"
        return con.execute(  # COPY answers with the number of rows it wrote
            f"COPY (SELECT * EXCLUDE ({excluded}) FROM ({select_sql}){guard}) "
            f"TO {quote_literal(str(target))} ({SPOOL_FORMAT})"
        ).fetchone()[0]

    def add_relation(self, select_sql: str) -> int:
        """Append calls from a SELECT giving CALL_SCHEMA columns by name and `_seq`, a unique key below
        2**44 (Parquet calls tables: `parquet_io.parquet_calls_sql`), spooled by DuckDB itself, in
        parallel."""
        target = quote_literal(str(self._next_file()))
        return self.con.execute(  # COPY answers with the number of rows it wrote
            f"COPY (SELECT * EXCLUDE ({_TEXTS}, _seq), 'call' AS _kind, NULL::VARCHAR AS _reason, "
            f"({self._files - 1}::BIGINT << 44) + _seq AS _seq FROM ({select_sql})) "
            f"TO {target} ({SPOOL_FORMAT})"
        ).fetchone()[0]

    def seal(self) -> None:
        """Point `calls`, `rejects` and `skipped` at the spool."""
        if self._sealed:
            return
        self._sealed = True
        spool = quote_literal(str(self.spool / "*.parquet"))
        con = self.con
        con.execute(
            f"CREATE OR REPLACE VIEW spool AS SELECT * FROM read_parquet({spool}, union_by_name = true)"
        )
        self._calls_view("spool", "s._kind = 'call'")
        for view, kind in (("rejects", "reject"), ("skipped", "skip")):
            con.execute(f"""
                CREATE OR REPLACE VIEW {view} AS
                SELECT source_file AS file, source_line AS line, _reason AS reason, source_format AS format
                FROM spool WHERE _kind = '{kind}'""")
        self.rows = self.count("calls")

    def _calls_view(self, source: str, condition: str = "TRUE") -> None:
        """`calls` over the rows of relation `source` (CALL_SCHEMA columns and `_seq`, as `s`) that meet
        `condition`, the texts left out and logged model ids normalized once per distinct id
        (`model_ids`) where a row has no model."""
        from llmaudit.ingest.normalize import model_lookup  # the readers load only when logs are read

        con = self.con
        models = [
            r[0]
            for r in con.execute(f"SELECT DISTINCT model_raw FROM {source} s WHERE {condition}").fetchall()
        ]
        con.register("_model_ids", model_lookup(models))
        con.execute("CREATE OR REPLACE TABLE model_ids AS SELECT * FROM _model_ids")
        con.unregister("_model_ids")
        columns = ", ".join(
            "coalesce(s.model, m.model) AS model"
            if c == "model"
            else f"NULL::VARCHAR AS {c}"
            if c in TEXT_COLUMNS
            else f"s.{quote_identifier(c)}"
            for c in CALL_SCHEMA
        )
        con.execute(f"""
            CREATE OR REPLACE VIEW calls AS
            SELECT {columns}, s._seq FROM {source} s LEFT JOIN model_ids m ON m.model_raw = s.model_raw
            WHERE {condition}""")

    def use_relation(
        self, select_sql: str, *, normalize_models: bool = False, ranges_prune: bool = True
    ) -> None:
        """Make `calls` a view over a SELECT giving CALL_SCHEMA columns and a unique `_seq`, so it is
        scanned in place instead of copied: an attached history store (`HistoryStore.select_sql`), or
        Parquet calls tables on local disk (`normalize_models`: their model ids as spooled logs' are).
        `ranges_prune`: a range of `_seq` or `ts` is read without scanning every call (see `__init__`)."""
        self.ranges_prune = ranges_prune
        if normalize_models:
            self._calls_view(f"({select_sql})")
        else:
            self.con.execute(f"CREATE OR REPLACE VIEW calls AS SELECT * FROM ({select_sql})")
        self.rows = self.count("calls")

    def count(self, relation: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]

    def collapse(self) -> int:
        """One row per record_id, as `ingest.normalize.collapse` does in memory: streaming snapshots and
        re-exported copies keep their largest-usage copy (then the latest line). Returns rows removed.

        Narrow, so copies cost about what they are: the ids seen twice are found by their 64-bit hashes, only
        their calls are ranked, on (id, size, line, row key) alone, and `calls` leaves out the ranked-out
        rows by their row key (`_seq`). Ranking every call's whole row took 10.8 s for 1M calls with 94k
        copies (0.43 s now), and ran out of memory at 10M calls with 1M copies (3.5 s now)."""
        self.seal()
        # distinct 64-bit hashes prove distinct ids, at about half the cost of counting the 32-character
        # ids themselves (10M calls: 0.8 s instead of 1.5 s); a collision only sends us to the exact path
        distinct_hashes = self.con.execute("SELECT count(DISTINCT hash(record_id)) FROM calls").fetchone()[0]
        if distinct_hashes == self.rows:
            return 0
        con = self.con
        # a hash collision only adds calls that the window, partitioned by the id itself, keeps
        removed = con.execute("""
            CREATE OR REPLACE TEMP TABLE _copies AS
            SELECT _seq FROM (
              SELECT c._seq, row_number() OVER (
                       PARTITION BY c.record_id
                       ORDER BY coalesce(c.input_total_tokens, 0) + coalesce(c.output_tokens, 0) DESC,
                                c.source_line DESC, c._seq) AS _n
              FROM calls c SEMI JOIN (
                SELECT hash(record_id) AS _h FROM calls GROUP BY 1 HAVING count(*) > 1) d
                ON d._h = hash(c.record_id))
            WHERE _n > 1""").fetchone()[0]  # CREATE TABLE AS answers with its rows
        con.execute("ALTER VIEW calls RENAME TO calls_with_copies")
        con.execute("CREATE VIEW calls AS SELECT * FROM calls_with_copies ANTI JOIN _copies USING (_seq)")
        self.rows -= removed
        return removed

    def frame(self, sql: str) -> pl.DataFrame:
        return pl.from_arrow(self.con.sql(sql).to_arrow_table())  # type: ignore[return-value]
