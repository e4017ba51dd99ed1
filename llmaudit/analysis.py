"""`analyze`: read logs, reprice every call, summarize. The library call behind `llmaudit analyze`.

Logs stream chunk by chunk into a DuckDB workspace on disk; collapsing copies, the period cut, pricing
and every summary run there as SQL, so memory is bounded by a chunk and DuckDB's memory limit, not by
the size of the logs. The priced calls are only materialized as a frame when someone asks for them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
import pyarrow as pa

from llmaudit import rollup, summarize
from llmaudit.arrowrows import ArrowRows
from llmaudit.catalog import Catalog, load_catalog
from llmaudit.db import quote_identifier
from llmaudit.duplicates import exact_duplicates
from llmaudit.errors import UsageError
from llmaudit.prefetch import read_ahead
from llmaudit.pricing import priced_sql, rates_sql, register_catalog, rolled_up_usage_sql, usage_sql
from llmaudit.schema import CALL_SCHEMA, PRICE_SCHEMA, REJECT_SCHEMA, conform
from llmaudit.summarize import Intake, period_condition
from llmaudit.workspace import Workspace

if TYPE_CHECKING:  # the readers load only when logs are read (a store re-analysis needs none)
    from llmaudit.ingest import Mapping

_PRICED_SCHEMA = {**CALL_SCHEMA, **PRICE_SCHEMA}
# calls per batch when a report's calls are streamed out (`Report.iter_calls`): peak RSS of the 1M-call
# `--out calls.csv` 1.22 GiB with 100k, 1.10 GiB with 50k, 938 MiB with 25k, in the same time (~9 s),
# when it was one sorted stream
BATCH_ROWS = 25_000


# calls per slice of the leading order key when a report's calls are streamed in order: each slice is
# sorted alone, in memory, where one sort of every call's wide row spilled (`analyze --out calls.csv` of
# 10M calls: 118.5 s and 576 MiB in slices of 50k, one queried while the last is written, against 126.9 s
# and 992 MiB)
SLICE_ROWS = 50_000
_PLAIN_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _leading_column(order: str) -> str | None:
    """The first key of an ORDER BY list when it is a bare column sorted ascending (nulls last, DuckDB's
    default), which slices can cut; None for an expression or a qualified key."""
    first = order.split(",", 1)[0].strip()
    return first if _PLAIN_COLUMN.fullmatch(first) else None


def _slice_ranges(
    con: duckdb.DuckDBPyConnection, where: str, lead: str, by_day: bool = False
) -> list[tuple[str, list]]:
    """(condition, parameters) of consecutive ranges of column `lead` over the calls `where` selects, cut
    at approximate quantiles so each holds about SLICE_ROWS calls (any cut is exact), then of the calls
    whose `lead` is null. `by_day`: `lead` is a time, cut at the UTC midnight at or before each quantile
    (a day's calls are never split)."""
    rows, keyed = con.execute(f"SELECT count(*), count({lead}) {where}").fetchall()[0]
    parts = -(-keyed // SLICE_ROWS)
    cuts: list = []
    if parts > 1:
        fractions = ", ".join(str(i / parts) for i in range(1, parts))
        quantiles = f"approx_quantile({lead}, [{fractions}])"
        if by_day:
            quantiles = (
                f"list_transform({quantiles}, lambda q: to_timestamp(epoch_us(q) // 86400000000 * 86400))"
            )
        cuts = sorted(set(con.execute(f"SELECT {quantiles} {where}").fetchall()[0][0]))
    ranges = []
    for low, high in itertools.pairwise([None, *cuts, None]):
        bounds = (
            [f"{lead} IS NOT NULL"]
            + [f"{lead} >= ?"] * (low is not None)
            + [f"{lead} < ?"] * (high is not None)
        )
        ranges.append((" AND ".join(bounds), [v for v in (low, high) if v is not None]))
    if rows > keyed:
        ranges.append((f"{lead} IS NULL", []))
    return ranges


def _sorted_slices(
    con: duckdb.DuckDBPyConnection,
    selected: str,
    condition: str,
    order: str,
    lead: str,
    batch_rows: int | None,
    by_day: bool = False,
) -> Iterator[pa.RecordBatch]:
    """The priced calls WHERE `condition` ORDER BY `order`, a range of its leading column `lead` (or,
    `by_day`, of `ts` in whole UTC days, for an order that leads with the day) at a time
    (`_slice_ranges`), each sorted by the whole `order`: the same rows in the same order as one sort,
    which DuckDB does in the memory of a range."""
    where = f"FROM priced WHERE ({condition})"
    for bounds, params in _slice_ranges(con, where, lead, by_day):
        query = con.sql(f"SELECT {selected} {where} AND {bounds} ORDER BY {order}", params=params or None)
        yield from query.to_arrow_reader(batch_rows or BATCH_ROWS)


# every rejected row as `file:line: reason`, by file and line (the sample on stderr, the list in JSON)
_REJECT_LINES = "SELECT concat(file, ':', line, ': ', reason) AS text FROM rejects ORDER BY file, line"


class Report:
    """What a command found: `data` is JSON-ready (Decimal money); `calls` (the priced rows behind it) and
    `rejects` are frames, read from the report's workspace the first time they are used."""

    def __init__(
        self,
        schema: str,
        data: dict[str, Any],
        calls: pl.DataFrame | None = None,
        rejects: pl.DataFrame | None = None,
        *,
        workspace: Workspace | None = None,
        order: str = "_seq",
    ):
        self.schema = schema
        self.order = order
        self.data = data
        self.workspace = workspace
        self._calls = calls
        self._rejects = rejects

    @property
    def calls(self) -> pl.DataFrame:
        if self._calls is None:
            assert self.workspace is not None
            self._calls = self.calls_where("TRUE")
        return self._calls

    def calls_where(self, condition: str) -> pl.DataFrame:
        """The priced calls that satisfy a SQL condition, in one frame (exports and reconcile stream them
        with `iter_calls` instead)."""
        return pl.concat(list(self.iter_calls(condition)))

    def iter_calls(
        self,
        condition: str = "TRUE",
        *,
        order: str | None = None,
        batch_rows: int | None = None,
        ordered: bool = True,
        columns: Sequence[str] | None = None,
        by_day: bool = False,
    ) -> Iterator[pl.DataFrame]:
        """The priced calls that satisfy a SQL condition, in `order` (default: the report's), streamed
        from the workspace `batch_rows` at a time, so an export of any size holds one batch in memory.
        Yields at least one frame (empty when no call matches); `ordered=False` skips the sort for a
        consumer whose result does not depend on the order; `columns`: only those (a consumer that reads
        a few of them spares the sort and the conversion the others). An order that leads with a column
        is sorted a range of it at a time (`_sorted_slices`) where a range is read without scanning every
        call (`Workspace.ranges_prune`); `by_day`: `order` leads with the calls' UTC day, and ranges of
        `ts` are cut at UTC midnights. Nothing else may run on the workspace
        connection until the iteration ends."""
        if self.workspace is None:
            yield self._without_workspace(condition)
            return
        order = order or self.order
        schema = {c: _PRICED_SCHEMA[c] for c in columns} if columns else _PRICED_SCHEMA
        selected = ", ".join(quote_identifier(c) for c in columns) if columns else "* EXCLUDE (_seq)"
        con = self.workspace.con
        sliced = ordered and self.workspace.ranges_prune
        lead = ("ts" if by_day else _leading_column(order)) if sliced else None
        if lead is not None:
            batches = read_ahead(_sorted_slices(con, selected, condition, order, lead, batch_rows, by_day))
        else:
            sort = f" ORDER BY {order}" if ordered else ""
            query = con.sql(f"SELECT {selected} FROM priced WHERE {condition}{sort}")
            batches = query.to_arrow_reader(batch_rows or BATCH_ROWS)
        empty = True
        for batch in batches:
            if batch.num_rows:
                empty = False
                yield conform(pl.from_arrow(batch), schema)  # type: ignore[arg-type]
        if empty:
            yield conform(pl.DataFrame(), schema)

    def _without_workspace(self, condition: str) -> pl.DataFrame:
        """A report built from frames has no SQL to filter with: all its calls, or a clear refusal."""
        if condition != "TRUE":
            raise ValueError(
                f"a report without a workspace cannot select calls WHERE {condition}: filter .calls"
            )
        return self.calls

    @property
    def rejects(self) -> pl.DataFrame:
        if self._rejects is None:
            if self.workspace is None:
                return pl.DataFrame(schema=REJECT_SCHEMA)
            frame = self.workspace.frame("SELECT * FROM rejects ORDER BY file, line")
            self._rejects = frame.cast(REJECT_SCHEMA)  # type: ignore[arg-type]
        return self._rejects

    def reject_lines(self) -> Sequence[str]:
        """Every rejected row as `file:line: reason`, by file and line: kept as a column and made into text
        as it is read (950k rejected lines listed in a JSON report made a 1.1 GiB process)."""
        if self._rejects is not None or self.workspace is None:
            return [f"{r['file']}:{r['line']}: {r['reason']}" for r in self.rejects.to_dicts()]
        table = self.workspace.con.sql(_REJECT_LINES).to_arrow_table()
        return ArrowRows(table, lambda row: row["text"], "rejected lines")

    @property
    def call_count(self) -> int:
        return self.data["coverage"]["calls"]


def _utc(value: dt.date | dt.datetime | str | None, end: bool = False) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                dt.datetime.fromisoformat(value)
                if "T" in value or " " in value
                else dt.date.fromisoformat(value)
            )
        except ValueError:
            raise UsageError(
                f"{value!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM[:SS][+00:00])"
            ) from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return moment + dt.timedelta(days=1) if end else moment


def _finish(
    workspace: Workspace,
    intake: Intake,
    catalog: Catalog,
    since: dt.datetime | None,
    until: dt.datetime | None,
    keys: list[str],
    order: str = "_seq",
    store: str | None = None,
    store_period: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
) -> Report:
    """Cut the period, price in SQL and summarize: the part `analyze` and `analyze_history` share.
    `store`: the attached history store whose calls of `store_period` `calls` is, for its rollup."""
    con = workspace.con
    con.execute(f"CREATE VIEW period_calls AS SELECT * FROM calls WHERE {period_condition(since, until)}")
    intake.outside_period = workspace.rows - workspace.count("period_calls")
    # the catalog registered for the calls' models (from the store's rollup when it covers them all), and
    # why the rollup cannot answer this report, if it cannot
    why_not = None
    if store:
        why_not = rollup.prepare(con, store, "period_calls", [catalog], keys, *store_period)
    else:
        register_catalog(con, "period_calls", catalog)
    con.execute(f"CREATE VIEW priced AS {priced_sql(con, 'period_calls', catalog, catalog_registered=True)}")
    con.execute(f"CREATE VIEW usage AS {usage_sql(con, 'period_calls', catalog, catalog_registered=True)}")
    con.execute(f"CREATE VIEW rates AS {rates_sql()}")
    intake.rejected = workspace.count("rejects")
    intake.skipped = workspace.count("skipped")
    intake.rejects_sample = [line for (line,) in con.execute(f"{_REJECT_LINES} LIMIT 10").fetchall()]
    intake.skipped_reasons = dict(
        con.execute("SELECT reason, count(*) FROM skipped GROUP BY reason ORDER BY 2 DESC, 1").fetchall()
    )
    rolled_up = store is not None and why_not is None
    if rolled_up:
        groups = f"(SELECT * FROM {store}.{rollup.ROLLUP} WHERE {rollup.day_condition(*store_period)})"
        rolled = rolled_up_usage_sql(con, groups, catalog, catalog_registered=True)
        con.execute(f"CREATE VIEW rolled_up_usage AS {rolled}")
        data = summarize.summarize(con, "rolled_up_usage", "rates", intake, catalog, keys, rolled_up=True)
    else:
        try:
            data = summarize.summarize(con, "usage", "rates", intake, catalog, keys)
        except duckdb.OutOfMemoryException:
            # hundreds of thousands of users or keys: their wide sums can outgrow the 256MB share (1M
            # calls of 1M users did in some runs) and spill within the full one
            with workspace.full_share() as grown:
                if not grown:
                    raise
                data = summarize.summarize(con, "usage", "rates", intake, catalog, keys)
    # the repeats' marks rank the whole history: a part of it is ranked again, call by call (calls of one
    # second are told apart by `_seq`: read order, or the position in the history store)
    from_marks = rolled_up and store_period == (None, None)
    data["duplicates"] = exact_duplicates(
        con,
        "period_calls",
        catalog,
        "rates",
        repeats=f"{store}.{rollup.MARKS}" if from_marks else None,
        judged=rollup.judged_sql(store) if from_marks else None,
    )
    if store:
        data["store_rollup"] = {"used": rolled_up, "why_not": why_not, "repeats_from_marks": from_marks}
    return Report(schema="llmaudit.analyze/v1", data=data, workspace=workspace, order=order)


def analyze(
    paths: list[str | Path] | str | Path,
    *,
    catalog: Catalog | None = None,
    since: dt.date | dt.datetime | str | None = None,
    until: dt.date | dt.datetime | str | None = None,
    by: str | list[str] | None = None,
    format: str = "auto",
    mapping: Mapping | str | Path | None = None,
) -> Report:
    """Read `paths`, reprice with `catalog` (bundled by default) and summarize into an analyze Report.

    Paths may be logs of any supported format or Parquet calls tables written by `llmaudit export`."""
    from llmaudit.ingest import stream_logs
    from llmaudit.parquet_io import is_parquet_source, is_remote, parquet_calls_sql

    keys = summarize.parse_group_keys(by)
    start, end = _utc(since), _utc(until, end=True)
    catalog = catalog or load_catalog()
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    tables = [p for p in paths if is_parquet_source(p)]
    logs = [p for p in paths if p not in tables]
    workspace = Workspace()
    intake = Intake(rows_read=0)
    if logs:
        counts = stream_logs(logs, workspace.add_chunk, format=format, mapping=mapping)
        intake.rows_read, intake.files, intake.unknown_files = (
            counts.rows_read,
            counts.files,
            counts.unknown_files,
        )
    if tables and not logs and not any(is_remote(t) for t in tables):
        # local Parquet calls tables alone are read in place, each stage scanning the columns it needs
        # (10M exported calls: 10.7 s against 24.8 s copied into the workspace first)
        parts = [parquet_calls_sql(workspace.con, t, table_no=i) for i, t in enumerate(tables)]
        # their `_seq` is computed as they are read: a range of it means a scan of every call
        relation = " UNION ALL ".join(f"({part})" for part in parts)
        workspace.use_relation(relation, normalize_models=True, ranges_prune=False)
        intake.rows_read = workspace.rows
    else:  # with logs, or downloaded once from object storage
        for table in tables:
            intake.rows_read += workspace.add_relation(parquet_calls_sql(workspace.con, table))
    intake.files.update({str(table): "calls_parquet" for table in tables})
    with workspace.summary_share():
        intake.collapsed = workspace.collapse()
        return _finish(workspace, intake, catalog, start, end, keys)


def analyze_history(
    store,
    *,
    catalog: Catalog | None = None,
    since: dt.date | dt.datetime | str | None = None,
    until: dt.date | dt.datetime | str | None = None,
    by: str | list[str] | None = None,
    use_rollup: bool = True,
) -> Report:
    """Re-analyze the calls in the history store (no log parsing), repriced with `catalog`.

    The store is attached to the workspace and read in place: nothing is copied, only scanned. The
    summary comes from the store's rollup when it can answer (`rollup.serves`: whole days, a catalog it was
    cut for), and the duplicates of the whole history from its repeat marks; `use_rollup=False` prices
    every call instead: the same report, slower."""
    keys = summarize.parse_group_keys(by)
    start, end = _utc(since), _utc(until, end=True)
    catalog = catalog or load_catalog()
    workspace = Workspace()
    workspace.use_relation(store.select_sql(workspace.con, period_condition(start, end)))
    intake = Intake(rows_read=workspace.rows, files={str(store.path): "history"})
    return _finish(
        workspace,
        intake,
        catalog,
        None,
        None,
        keys,
        order="ts, source_file, source_line",
        store="history_store" if use_rollup else None,
        store_period=(start, end),
    )
