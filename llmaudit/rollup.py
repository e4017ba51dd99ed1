"""Store rollups: what a re-analysis of the history needs, kept up to date as calls are appended.

Repricing the history under a new catalog need not price every call one by one: a call's price depends on a
handful of its facts (provider, model id, batch and service tier, region, day, minute of the day, long-context
tier, whether it has usage) and each cost is linear in its token counts. `ROLLUP` keeps one row per group of
calls sharing those facts and the report's keys, with the sums the summary reads; the same pricing join then
prices each group once (`pricing.rolled_up_usage_sql`) and the totals are the per-call ones to the last
decimal. Exact duplicates need order, not sums: `MARKS` keeps each repeat's rank in its group and the time
of the copy before it, recomputed on append only for the groups the new calls join, and the call columns
the repeat is priced from (`duplicates.REPEAT_COLUMNS`), so a re-analysis prices the repeats without
joining them back to every stored call (10M calls, 2.5M repeats: 0.55 s instead of 1.2-1.5).

The day and the facts are catalog independent; tier thresholds and time-of-day windows are not, so the
rollup cuts calls at the boundaries of the catalogs it has seen (`Bounds`) and serves a catalog only when its
boundaries are among them and its prices change at midnight UTC. Otherwise, for a period that does not
start and end at midnight UTC and for `--by hour` or `--by session`, a re-analysis takes the per-call path:
same report, slower. The marks rank the whole history; a part of it is ranked again call by call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from llmaudit.catalog import Catalog
from llmaudit.db import quote_identifier
from llmaudit.duplicates import CACHEABLE, REPEAT_COLUMNS, repeats_sql
from llmaudit.pricing import (
    BILLED_QUANTITIES,
    HAS_USAGE_SQL,
    MINUTE_SQL,
    TEXT_IN_SQL,
    TEXT_OUT_SQL,
    TIER_BASIS_SQL,
    register_catalog,
)
from llmaudit.summarize import PER_CALL_COUNTS

# bump when the rollup's columns or meaning change: stores then rebuild on their next append (2: the marks
# carry the repeats' columns)
SCHEME = 2
ROLLUP, MARKS, META = "rollup", "repeat_marks", "rollup_meta"

# calls of one group agree on these (the facts pricing reads, the report keys); named as the calls' columns
KEY_COLUMNS = (
    "provider", "model_raw", "model", "is_batch", "service_tier", "region", "status", "row_kind",
    "source_format", "gateway", "feature", "user_id", "project_id", "api_key_id",
)  # fmt: skip
# --by keys a rollup answers (the rest need a finer time or a per-call key: hour, session)
BY_KEYS = frozenset(
    {"model", "provider", "day", "week", "month", "feature", "user", "project", "key", "mode", "tier",
     "status", "format", "service_tier", "region", "gateway"}
)  # fmt: skip


@dataclass(frozen=True)
class Bounds:
    """Where prices can change within a day's calls of one model and mode: long-context thresholds (a tier
    covers tier_lo < basis <= tier_hi) and time-of-day window edges (win_lo <= minute < win_hi)."""

    tier: tuple[int, ...]
    minute: tuple[int, ...]

    @classmethod
    def of(cls, prices: pl.DataFrame) -> Bounds:
        """The boundaries of a price table (`Catalog.table`, or the registered `prices`)."""

        def values(*columns: str) -> tuple[int, ...]:
            found = pl.concat([prices.get_column(c) for c in columns]).drop_nulls().unique()
            return tuple(sorted(int(v) for v in found))

        return cls(values("tier_lo", "tier_hi"), values("win_lo", "win_hi"))

    def covers(self, other: Bounds) -> bool:
        return set(other.tier) <= set(self.tier) and set(other.minute) <= set(self.minute)

    def union(self, other: Bounds) -> Bounds:
        return Bounds(
            tuple(sorted(set(self.tier) | set(other.tier))),
            tuple(sorted(set(self.minute) | set(other.minute))),
        )

    def tier_bucket_sql(self, basis: str) -> str:
        """Which side of every threshold a tier basis is on, as one number (same number, same tier)."""
        return " + ".join(f"({basis} > {b})::INT" for b in self.tier) or "0::INTEGER"

    def minute_bucket_sql(self, minute: str) -> str:
        return " + ".join(f"({minute} >= {b})::INT" for b in self.minute) or "0::INTEGER"


def _midnight(moment: dt.datetime) -> bool:
    utc = moment.astimezone(dt.UTC)
    return utc == utc.replace(hour=0, minute=0, second=0, microsecond=0)


def day_condition(since: dt.datetime | None, until: dt.datetime | None) -> str:
    """SQL over rollup rows for the calls from `since` to `until` (midnights; see `serves`): whole days,
    and no calls without a time in a bounded period, as `summarize.period_condition` per call."""
    parts = [
        f"_day {op} {int(moment.timestamp()) // 86400}"
        for op, moment in ((">=", since), ("<", until))
        if moment is not None
    ]
    return " AND ".join(parts) or "TRUE"


def midnight_prices(prices: pl.DataFrame) -> bool:
    """Every price change of the table is at 00:00 UTC, so one day's calls of a model share a version."""
    moments = pl.concat([prices.get_column("eff_from"), prices.get_column("eff_to")]).drop_nulls()
    return bool((moments.dt.truncate("1d") == moments).all())


def _rollup_select(calls: str, bounds: Bounds) -> str:
    """The rollup rows of relation `calls`: per group, counts and sums named as the columns they sum, the
    earliest and latest time, and the smallest tier basis and minute of the day (any call's would do: they
    fall between the same boundaries). The per-call facts are the pricing join's own (`pricing.*_SQL`)."""
    facts = (
        f"{TIER_BASIS_SQL} AS _basis, {MINUTE_SQL} AS _minute_of_day, ({HAS_USAGE_SQL}) AS _usage, "
        f"{TEXT_IN_SQL} AS _text_in, {TEXT_OUT_SQL} AS _text_out"
    )
    quantities = ", ".join(f"sum({sql})::BIGINT AS _q_{unit}" for unit, sql in BILLED_QUANTITIES.items())
    sums = ", ".join(
        f"sum({col})::BIGINT AS {col}"
        for col in (
            "request_count", "input_total_tokens", "output_tokens",
            "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
        )
    )  # fmt: skip
    counts = ", ".join(f"{sql} AS {name}" for name, sql in PER_CALL_COUNTS.items())
    keys = {
        **{k: k for k in KEY_COLUMNS},
        "_day": "epoch_us(ts) // 86400000000",
        "_tier_bucket": bounds.tier_bucket_sql("_basis"),
        "_minute_bucket": bounds.minute_bucket_sql("_minute_of_day"),
        "_has_usage": "_usage",
        "_has_prompt": "prompt_hash IS NOT NULL",
    }
    # a group's recorded cost is null only when none of its calls recorded one (a key, not a column: the
    # summary tells the two apart by `cost_reported IS NOT NULL`, as per call)
    group_by = [*keys.values(), "cost_reported IS NOT NULL"]
    return f"""
        SELECT {", ".join(f"{sql} AS {name}" for name, sql in keys.items())},
          {counts},
          min(ts) AS ts,  -- the group's time for pricing: its day, as the summary's day key
          {sums},
          sum(cost_reported) AS cost_reported,
          min(_basis) AS _tier_basis,
          min(_minute_of_day) AS _minute,
          {quantities}
        FROM (SELECT *, {facts} FROM {calls} c)
        GROUP BY {", ".join(group_by)}"""


@dataclass(frozen=True)
class Meta:
    scheme: int
    rows: int  # calls the rollup and the marks cover: the store's first `rows` rows
    bounds: Bounds

    def covers(self, calls: int) -> bool:
        """Written by this scheme for a store of `calls` calls (an append since leaves it behind)."""
        return self.scheme == SCHEME and self.rows == calls


def read_meta(con: duckdb.DuckDBPyConnection, db: str) -> Meta | None:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?", [db, META]
    ).fetchone()[0]
    if not exists:
        return None
    row = con.execute(f"SELECT scheme, rows, tier_bounds, minute_bounds FROM {db}.{META}").fetchone()
    return None if row is None else Meta(row[0], row[1], Bounds(tuple(row[2]), tuple(row[3])))


def refresh(con: duckdb.DuckDBPyConnection, db: str, first_new: int, catalog: Catalog) -> str:
    """Bring the rollup and the marks of database `db` (its `calls` table) up to date after the calls from
    row `first_new` on were appended; says what it did. Costs about the new calls, plus the store's prompt
    hashes for the marks; rebuilds from every call when the tables are missing or stale (a store written by
    an earlier llmaudit) or when `catalog` has a boundary the rollup was not cut at."""
    meta = read_meta(con, db)
    wanted = Bounds.of(catalog.table)
    rows = con.execute(f"SELECT count(*) FROM {db}.calls").fetchone()[0]
    current = meta is not None and meta.covers(first_new)
    rebuild_marks = not current
    rebuild_rollup = not current or not meta.bounds.covers(wanted)
    if not (rebuild_rollup or rebuild_marks) and rows == first_new:
        return "up to date"  # nothing appended, nothing to cut again
    bounds = meta.bounds.union(wanted) if current else wanted
    if rebuild_rollup:
        con.execute(f"CREATE OR REPLACE TABLE {db}.{ROLLUP} AS {_rollup_select(f'{db}.calls', bounds)}")
    else:
        new_calls = f"(SELECT * FROM {db}.calls WHERE rowid >= {int(first_new)})"
        con.execute(f"INSERT INTO {db}.{ROLLUP} {_rollup_select(new_calls, bounds)}")
    if rebuild_marks:
        _rebuild_marks(con, db)
    else:
        _update_marks(con, db, first_new)
    con.execute(
        f"CREATE OR REPLACE TABLE {db}.{META} AS SELECT ? AS scheme, ? AS rows, "
        "?::BIGINT[] AS tier_bounds, ?::BIGINT[] AS minute_bounds",
        [SCHEME, rows, list(bounds.tier), list(bounds.minute)],
    )
    if rebuild_marks:
        return f"built from all {rows:,} calls"
    if rebuild_rollup:
        return f"cut again at the catalog's boundaries ({rows:,} calls)"
    return f"{rows - first_new:,} calls added"


def _with_columns(db: str, ranked: str, lowest: int = 0) -> str:
    """The repeats of relation `ranked` (`repeats_sql`'s columns) with their calls' `REPEAT_COLUMNS`, read
    from the store's calls from row `lowest` on (appended calls come last: a day's marks read the day)."""
    columns = ", ".join(f"c.{quote_identifier(name)}" for name in REPEAT_COLUMNS)
    return f"""
        SELECT r._key, r.prompt_hash, r._n, r._prev, {columns}
        FROM {ranked} r JOIN (SELECT *, rowid AS _row FROM {db}.calls WHERE rowid >= {lowest}) c
          ON c._row = r._key"""


def _rebuild_marks(con: duckdb.DuckDBPyConnection, db: str) -> None:
    """Rank every stored call: the repeats, with the columns they are priced from (see `MARKS`)."""
    calls = f"(SELECT *, rowid AS _seq FROM {db}.calls)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ranked AS {repeats_sql(calls)}")
    con.execute(f"CREATE OR REPLACE TABLE {db}.{MARKS} AS {_with_columns(db, '_ranked')}")
    con.execute("DROP TABLE _ranked")


def _update_marks(con: duckdb.DuckDBPyConnection, db: str, first_new: int) -> None:
    """Rank again the groups the calls from row `first_new` on join (no other group can change), from all
    their calls. Marks ranked the same stay as they are; the others go, and the new marks read their
    columns from the calls, from the first of them on: the new calls, unless older calls were ranked
    again (a backfill)."""
    calls = f"(SELECT *, rowid AS _seq FROM {db}.calls)"
    marks = f"{db}.{MARKS}"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT DISTINCT prompt_hash FROM {db}.calls
        WHERE rowid >= {int(first_new)} AND {CACHEABLE} AND prompt_hash IS NOT NULL""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ranked AS {repeats_sql(calls, among='_touched')}")
    con.execute(f"""
        DELETE FROM {marks} m WHERE prompt_hash IN (SELECT prompt_hash FROM _touched) AND NOT EXISTS (
          SELECT 1 FROM _ranked r WHERE r._key = m._key AND r._n = m._n AND r._prev IS NOT DISTINCT FROM m._prev)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _fresh AS SELECT * FROM _ranked ANTI JOIN (
          SELECT _key FROM {marks} WHERE prompt_hash IN (SELECT prompt_hash FROM _touched)) USING (_key)""")
    lowest = con.execute("SELECT min(_key) FROM _fresh").fetchone()[0]
    if lowest is not None:
        con.execute(f"INSERT INTO {marks} BY NAME {_with_columns(db, '_fresh', int(lowest))}")
    con.execute("DROP TABLE _touched; DROP TABLE _ranked; DROP TABLE _fresh")


def serves(
    meta: Meta | None,
    calls: int,
    prices: pl.DataFrame,
    by: list[str],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> str | None:
    """Why a rollup cannot answer a re-analysis of the calls from `since` to `until` (None when it can):
    `prices` is the registered price table of the store's models, `calls` the store's row count."""
    if any(moment is not None and not _midnight(moment) for moment in (since, until)):
        return "the period does not start and end at midnight UTC"
    if meta is None or meta.scheme != SCHEME:
        return "the store has no rollup yet (`llmaudit store refresh` or the next append builds it)"
    if meta.rows != calls:
        return "the rollup is behind the store (`llmaudit store refresh` or the next append rebuilds it)"
    if not meta.bounds.covers(Bounds.of(prices)):
        return (
            "the catalog has a tier threshold or time window the rollup was not cut at "
            "(`llmaudit store refresh --catalog ...` cuts it again)"
        )
    if not midnight_prices(prices):
        return "a price of the catalog changes at a time other than midnight UTC"
    if not set(by) <= BY_KEYS:
        return f"--by {', '.join(sorted(set(by) - BY_KEYS))} needs every call"
    return None


def prepare(
    con: duckdb.DuckDBPyConnection,
    db: str,
    calls: str,
    catalogs: list[Catalog],
    by: list[str] | tuple[str, ...] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> str | None:
    """Register each of `catalogs` in turn for pricing relation `calls` of attached store `db` (from the
    rollup's few rows when it covers every stored call: the same models) and say why the rollup cannot
    answer for one of them (`serves`), or None when it can answer for all. The last catalog stays
    registered."""
    meta = read_meta(con, db)
    stored = con.execute(f"SELECT count(*) FROM {db}.calls").fetchall()[0][0]
    source = f"{db}.{ROLLUP}" if meta is not None and meta.covers(stored) else calls
    refusals = [
        serves(meta, stored, register_catalog(con, source, c), list(by), since, until) for c in catalogs
    ]
    return next((why for why in refusals if why is not None), None)


def judged_sql(db: str) -> str:
    """Cacheable calls with and without a logged request, from the rollup (for `exact_duplicates`)."""
    return f"""
          SELECT coalesce(sum(_rows) FILTER (_has_prompt), 0) AS with_request,
                 coalesce(sum(_rows) FILTER (NOT _has_prompt), 0) AS without_request
          FROM {db}.{ROLLUP} WHERE {CACHEABLE}"""
