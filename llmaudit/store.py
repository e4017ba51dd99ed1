"""DuckDB history store: every call ever analyzed, once (idempotent by record_id).

Only the facts (CALL_SCHEMA) are stored; prices are recomputed from the catalog on read, so a catalog
change reprices the whole history without re-parsing logs. Beside the calls, a rollup and the repeats'
marks (`rollup.py`), brought up to date by every append, let a re-analysis of the history (or of whole
days of it) skip the per-call pass.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from llmaudit import rollup
from llmaudit.catalog import Catalog, load_catalog
from llmaudit.db import conform_sql, connect, quote_identifier, quote_literal, set_memory_limit
from llmaudit.errors import InputError, UsageError
from llmaudit.local_paths import local_output
from llmaudit.schema import CALL_SCHEMA, conform

DEFAULT_DB = Path(".llmaudit") / "history.duckdb"
_LOCAL_STORE = "the history store is a DuckDB file on local disk (--db, LLMAUDIT_DB)"
# how long opening a store that another process holds waits for it (env LLMAUDIT_STORE_WAIT, seconds):
# DuckDB locks the whole file (one writer, or readers), so a nightly append that meets an analyst's
# re-analysis waits for it instead of failing after its logs were read and reported
STORE_WAIT_SECONDS = 60.0

T = TypeVar("T")


def default_db_path() -> Path:
    return local_output(os.environ.get("LLMAUDIT_DB") or DEFAULT_DB, _LOCAL_STORE)


def store_wait_seconds() -> float:
    """How long to wait for a store another process holds: LLMAUDIT_STORE_WAIT, else STORE_WAIT_SECONDS."""
    raw = os.environ.get("LLMAUDIT_STORE_WAIT")
    if raw is None or not raw.strip():
        return STORE_WAIT_SECONDS
    try:
        return max(float(raw), 0.0)
    except ValueError:
        raise UsageError(f"LLMAUDIT_STORE_WAIT={raw!r}: give a number of seconds") from None


def _held_elsewhere(exc: duckdb.Error) -> bool:
    """Did opening a store fail because another process holds its lock?"""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _opened(open_store: Callable[[], T]) -> T:
    """`open_store()`, tried again while another process holds the store's lock, for up to
    `store_wait_seconds()`; then its error, which `_open_failed` words."""
    deadline = time.monotonic() + store_wait_seconds()
    pause = 0.05
    while True:
        try:
            return open_store()
        except duckdb.Error as exc:
            if not _held_elsewhere(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 1.0)


def _open_failed(path: Path, exc: duckdb.Error) -> InputError:
    """What to tell the user when a store did not open (after `_opened`'s wait, when it was held)."""
    if _held_elsewhere(exc):
        return InputError(
            f"{path}: cannot open the history store: another process holds it, and it was still held after "
            f"{store_wait_seconds():g} s (LLMAUDIT_STORE_WAIT): {exc}"
        )
    return InputError(f"{path}: cannot open the history store: {exc}")


class HistoryStore:
    def __init__(self, path: str | Path | None = None):
        self.path = local_output(path, _LOCAL_STORE) if path is not None else default_db_path()

    def _connect(self, create: bool, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise InputError(
                f"{self.path}: no history store yet (run `llmaudit analyze LOGS` first, or pass --db)"
            )
        try:
            return _opened(lambda: connect(str(self.path), read_only=read_only))
        except duckdb.Error as exc:
            raise _open_failed(self.path, exc) from None

    def add(self, calls: pl.DataFrame, catalog: Catalog | None = None) -> int:
        """Insert calls whose record_id is not stored yet; returns how many were new."""
        frame = conform(calls.select([c for c in calls.columns if c in CALL_SCHEMA]), CALL_SCHEMA)
        if frame.is_empty():
            return 0
        con = connect()
        try:
            con.register("incoming", frame.with_row_index("_seq"))  # a row key for `add_from`
            return self.add_from(con, "incoming", catalog)
        finally:
            con.close()

    def add_from(self, con: duckdb.DuckDBPyConnection, relation: str, catalog: Catalog | None = None) -> int:
        """Insert the calls of `relation` (in `con`: a workspace, a registered frame) whose record_id is not
        stored yet, DuckDB to DuckDB, and bring the rollup up to date (cut at `catalog`'s boundaries too,
        default the bundled catalog); returns how many were new."""
        # one scan: are there calls at all, and which period can collide with stored ones
        rows, lo, hi = con.execute(
            f"SELECT count(*), min(ts)::VARCHAR, max(ts)::VARCHAR FROM {relation}"
        ).fetchone()
        if rows == 0:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC).isoformat()
        columns = ", ".join(quote_identifier(c) for c in CALL_SCHEMA)
        row = f"{columns}, TIMESTAMPTZ '{now}' AS ingested_at"
        incoming = f"(SELECT {row} FROM {relation})"
        try:
            _opened(lambda: con.execute(f"ATTACH {quote_literal(str(self.path))} AS history_store"))
        except duckdb.Error as exc:
            raise _open_failed(self.path, exc) from None
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE TABLE IF NOT EXISTS history_store.calls AS SELECT * FROM {incoming} LIMIT 0")
            self._add_missing_columns(con, incoming, "history_store.calls")
            before = con.execute("SELECT count(*) FROM history_store.calls").fetchone()[0]
            # only stored calls of the incoming period can collide: appending a day scans about that day
            period = (
                "ts IS NULL"
                if lo is None
                else f"ts IS NULL OR ts BETWEEN TIMESTAMPTZ '{lo}' AND TIMESTAMPTZ '{hi}'"
            )
            stored = f"SELECT record_id FROM history_store.calls WHERE {period}"
            added = self._insert_new(con, relation, row, stored, rows)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            con.execute("DETACH history_store")
            raise InputError(f"{self.path}: cannot add to the history store: {exc}") from None
        try:
            # then the rollup, over the appended rows (from `before` on: the store only ever appends), in
            # a transaction of its own: rows inserted in an open transaction do not have their final rowids
            # yet, which the marks keep. Should it fail, its tables stay behind the calls: re-analyses
            # price every call until `refresh` or the next append rebuilds them.
            con.execute("BEGIN TRANSACTION")
            rollup.refresh(con, "history_store", before, catalog or load_catalog())
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise InputError(
                f"{self.path}: {added:,} calls added, but the rollup could not be brought up to date ({exc}); "
                "re-analyses price every call until `llmaudit store refresh` or the next append rebuilds it"
            ) from None
        finally:
            con.execute("DETACH history_store")
        return added

    @staticmethod
    def _insert_new(con: duckdb.DuckDBPyConnection, relation: str, row: str, stored: str, rows: int) -> int:
        """Insert `row` (a select list) of the `rows` calls of `relation` whose record_id is not among
        `stored` (a SELECT); returns how many. The new calls are found by their ids alone, then inserted by
        row key (`_seq`, unique per call; the id where `relation` has none): one anti join carrying every
        column spilled the calls it probed with once the stored ids outgrew DuckDB's memory (10M stored
        calls analyzed again: 21 s for that join, against 2.4 s for the ids)."""
        insert = f"INSERT INTO history_store.calls BY NAME SELECT {row} FROM {relation}"
        if not con.execute(f"SELECT count(*) FROM ({stored})").fetchone()[0]:
            return con.execute(insert).fetchone()[0]  # a new store, a new day: nothing to compare with
        names = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
        key = "_seq" if "_seq" in names else "record_id"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _new_calls AS SELECT i.{key} FROM {relation} i "
            f"ANTI JOIN ({stored}) c USING (record_id)"
        )
        try:
            new = con.execute("SELECT count(*) FROM _new_calls").fetchone()[0]
            if new == 0 or new == rows:  # the same logs again; other logs of the same days
                return con.execute(insert).fetchone()[0] if new else 0
            # INSERT answers with the number of rows it inserted
            return con.execute(f"{insert} SEMI JOIN _new_calls USING ({key})").fetchone()[0]
        finally:
            con.execute("DROP TABLE _new_calls")

    def refresh(self, catalog: Catalog | None = None) -> str:
        """Bring the rollup up to date without appending: build it for a store written by an older llmaudit,
        or cut it again at `catalog`'s boundaries (tier thresholds, time windows) so re-analyses with that
        catalog use it. Says what it did."""
        with self._connect(create=False) as con:
            # as analyze's share (rebuilding the rollup of 10M calls: 674 MiB; unbounded, 1.45 GiB)
            set_memory_limit(con)
            try:
                con.execute("BEGIN TRANSACTION")
                # a store of an older llmaudit: the rollup reads columns it may not have yet
                self._add_missing_columns(con, f"(SELECT {conform_sql(con, CALL_SCHEMA, set())})", "calls")
                rows = con.execute("SELECT count(*) FROM calls").fetchall()[0][0]
                done = rollup.refresh(con, self._name(con), rows, catalog or load_catalog())
                con.execute("COMMIT")
            except duckdb.Error as exc:
                raise InputError(f"{self.path}: cannot bring the rollup up to date: {exc}") from None
        return done

    def info(self, catalog: Catalog | None = None) -> dict:
        """What the store holds (calls, period, size) and its rollup: the calls it covers, its groups and
        repeats, the boundaries it is cut at, and whether it serves `catalog` (default the bundled one)."""
        with self._connect(create=False, read_only=True) as con:  # a store that may not be ours to write
            db = self._name(con)
            try:
                calls, first, last = con.execute(
                    "SELECT count(*), min(ts)::TIMESTAMP, max(ts)::TIMESTAMP FROM calls"
                ).fetchall()[0]
            except duckdb.Error as exc:
                raise InputError(f"{self.path}: not a history store: {exc}") from None
            meta = rollup.read_meta(con, db)
            data: dict = {
                "path": str(self.path),
                "bytes": self.path.stat().st_size,
                "calls": calls,
                "first": None if first is None else first.replace(tzinfo=dt.UTC),
                "last": None if last is None else last.replace(tzinfo=dt.UTC),
                "rollup": None,
            }
            if meta is not None:
                groups = con.execute(f"SELECT count(*) FROM {rollup.ROLLUP}").fetchall()[0][0]
                repeats = con.execute(f"SELECT count(*) FROM {rollup.MARKS}").fetchall()[0][0]
                data["rollup"] = {
                    "scheme": meta.scheme,
                    "calls_covered": meta.rows,
                    "groups": groups,
                    "repeats": repeats,
                    "tier_bounds": list(meta.bounds.tier),
                    "minute_bounds": list(meta.bounds.minute),
                }
            catalog = catalog or load_catalog()
            why_not = rollup.prepare(con, db, f"{db}.calls", [catalog])
            data["serves"] = {"catalog": catalog.catalog_id, "used": why_not is None, "why_not": why_not}
        return data

    @staticmethod
    def _name(con: duckdb.DuckDBPyConnection) -> str:
        """The name of the store's database in a connection opened on it (the file's stem)."""
        return con.execute("SELECT current_database()").fetchall()[0][0]

    def select_sql(self, con: duckdb.DuckDBPyConnection, condition: str = "TRUE") -> str:
        """Attach the store read-only to `con`; a SELECT of its calls (CALL_SCHEMA, columns an older store
        lacks as nulls, and `_seq`) that satisfy `condition`."""
        if not self.path.exists():
            raise InputError(
                f"{self.path}: no history store yet (run `llmaudit analyze LOGS` first, or pass --db)"
            )
        try:
            _opened(
                lambda: con.execute(f"ATTACH {quote_literal(str(self.path))} AS history_store (READ_ONLY)")
            )
            present = {r[0] for r in con.execute("DESCRIBE history_store.calls").fetchall()}
        except duckdb.Error as exc:
            raise _open_failed(self.path, exc) from None
        # `_seq`: the row's position in the store, a unique integer key (joins on it beat record ids)
        return (
            f"SELECT {conform_sql(con, CALL_SCHEMA, present)}, rowid AS _seq "
            f"FROM history_store.calls WHERE {condition}"
        )

    @staticmethod
    def _add_missing_columns(con: duckdb.DuckDBPyConnection, incoming: str, table: str) -> None:
        """A store's `table` of calls written by an older llmaudit gains the columns of relation `incoming`
        it lacks (new CALL_SCHEMA columns), as nulls."""
        present = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        wanted = con.execute(f"DESCRIBE SELECT * FROM {incoming}").fetchall()
        for name, dtype, *_ in wanted:
            if name not in present:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_identifier(name)} {dtype}")

    def count(self) -> int:
        with self._connect(create=False, read_only=True) as con:
            return con.execute("SELECT count(*) FROM calls").fetchone()[0]
