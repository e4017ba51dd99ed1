"""Summaries of priced calls: coverage, totals, breakdowns, cache economics, tier and mode exposure.

One DuckDB query with GROUPING SETS over a priced relation (a view over a workspace or the history store)
computes every breakdown in one pass, spilling to disk when it must; the result is plain dicts with
Decimal money. Rendering lives in llmaudit.report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from llmaudit.arrowrows import ArrowRows
from llmaudit.db import UTC_WALL_CLOCK
from llmaudit.errors import UsageError
from llmaudit.money import ZERO
from llmaudit.pricing import BILLED_QUANTITIES, UNKNOWN_MODEL, quantity_cost_sql

# --by names -> SQL over the priced calls (ts is TIMESTAMPTZ read in the UTC session time zone). Time keys
# group by a truncated timestamp and are formatted once per group, not once per call.
GROUP_KEYS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "day": "epoch_us(ts) // 86400000000",  # days since 1970 (integer math, not ICU calendar calls)
    "hour": f"date_trunc('hour', {UTC_WALL_CLOCK})",
    "week": f"date_trunc('week', {UTC_WALL_CLOCK})",
    "month": f"date_trunc('month', {UTC_WALL_CLOCK})",
    "feature": "feature",
    "user": "user_id",
    "project": "project_id",
    "key": "api_key_id",
    "session": "session_id",
    "mode": "price_mode",
    "tier": "price_tier",
    "status": "status",
    "format": "source_format",
    "service_tier": "service_tier",
    "region": "region",
    "gateway": "gateway",
}
# how a time key is shown, once per group ({} is the key column)
TIME_DISPLAY = {
    "day": "strftime(make_timestamp({} * 86400000000), '%Y-%m-%d')",
    "hour": "strftime({}, '%Y-%m-%dT%H:00Z')",
    "week": "strftime({}, '%Y-%m-%d')",
    "month": "strftime({}, '%Y-%m')",
}
ATTRIBUTION = {"feature": "feature", "user": "user_id", "project": "project_id", "key": "api_key_id"}


def parse_group_keys(by: str | list[str] | None) -> list[str]:
    if not by:
        return []
    names = [n.strip() for n in (by.split(",") if isinstance(by, str) else by) if n.strip()]
    unknown = [n for n in names if n not in GROUP_KEYS]
    if unknown:
        raise UsageError(f"unknown --by column(s): {', '.join(unknown)}; known: {', '.join(GROUP_KEYS)}")
    return list(dict.fromkeys(names))  # a key named twice groups once


@dataclass
class Intake:
    """How the rows that were read became calls: what the summary's coverage reconciles against."""

    rows_read: int
    collapsed: int = 0
    outside_period: int = 0
    rejected: int = 0
    skipped: int = 0
    files: dict[str, str] = field(default_factory=dict)  # file -> format
    unknown_files: dict[str, int] = field(default_factory=dict)
    rejects_sample: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else value if isinstance(value, Decimal) else Decimal(str(value))


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def _int(value: Any) -> int:
    return int(value or 0)


# what a summary counts per call, and how it reads the same from store rollup rows (`rollup.py` keeps each
# count per group of calls under the same name): the sum (the latest time: the max) over the groups
PER_CALL_COUNTS = {
    "_rows": "count(*)",
    "_with_cache_reads": "count(*) FILTER (coalesce(cache_read_tokens, 0) > 0)",
    "_with_cache_writes": "count(*) FILTER (coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0) > 0)",
    "_last_ts": "max(ts)",
    "_without_ts": "count(*) FILTER (ts IS NULL)",
    "_tz_assumed": "count(*) FILTER (tz_assumed)",
}
_ROLLED_UP_COUNTS = {name: f"{'max' if name == '_last_ts' else 'sum'}({name})" for name in PER_CALL_COUNTS}
# per call -> fine rows: integer sums by every report key x price x priced x has-reported (the two flags are
# keys, not FILTERs: each FILTER is one more aggregate state updated per call). Token sums read the same
# whether the rows are calls or rollup groups (which keep them summed under the calls' column names).
_FINE_SUMS = """
  {_rows} AS rows,
  coalesce(sum(request_count), 0) AS calls,
  coalesce(sum(input_total_tokens), 0) AS input_tokens,
  coalesce(sum(output_tokens), 0) AS output_tokens,
  {quantities},
  sum(cost_reported) AS cost_reported,
  coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
  coalesce(sum(cache_write_5m_tokens), 0) AS cache_write_5m_tokens,
  coalesce(sum(cache_write_1h_tokens), 0) AS cache_write_1h_tokens,
  {_with_cache_reads} AS calls_with_cache_reads,
  {_with_cache_writes} AS calls_with_cache_writes,
  min(ts) AS first_ts,  -- a rollup row's ts is its group's first
  {_last_ts} AS last_ts,
  {_without_ts} AS without_ts,
  {_tz_assumed} AS tz_assumed
"""
# fine rows -> level 1: the report's measures per grouping set x price (a few thousand rows at most)
_LEVEL1_SUMS = """
  sum(rows) AS rows,
  coalesce(sum(rows) FILTER (priced), 0) AS priced_rows,
  sum(calls) AS calls,
  coalesce(sum(calls) FILTER (priced), 0) AS priced_calls,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  {quantities},
  coalesce(sum(rows) FILTER (_has_reported), 0) AS reported_rows,
  sum(cost_reported) AS cost_reported,
  coalesce(sum(rows) FILTER (_has_reported AND priced), 0) AS compared_rows,
  sum(cost_reported) FILTER (priced) AS cost_reported_compared,
  coalesce(sum(cache_read_tokens) FILTER (priced), 0) AS cache_read_tokens,
  coalesce(sum(cache_write_5m_tokens) FILTER (priced), 0) AS cache_write_5m_tokens,
  coalesce(sum(cache_write_1h_tokens) FILTER (priced), 0) AS cache_write_1h_tokens,
  coalesce(sum(calls_with_cache_reads) FILTER (priced), 0) AS calls_with_cache_reads,
  coalesce(sum(calls_with_cache_writes) FILTER (priced), 0) AS calls_with_cache_writes,
  min(first_ts) AS first_ts,
  max(last_ts) AS last_ts,
  sum(without_ts) AS without_ts,
  sum(tz_assumed) AS tz_assumed
"""
# level 2: each price's quantity sums x its rates (exact Decimal), then the sets' totals
_COSTS = {
    "cost_input": quantity_cost_sql(["input"]),
    "cost_cache_read": quantity_cost_sql(["cache_read"]),
    "cost_cache_write": quantity_cost_sql(["cache_write_5m", "cache_write_1h"]),
    "cost_output": quantity_cost_sql(["output"]),
    "cost_other": quantity_cost_sql(
        ["input_audio", "input_image", "output_audio", "web_search", "request", "cache_storage"]
    ),
    "read_saving": "coalesce(_q_cache_read * (rate_input - rate_cache_read), 0)",
    "write_premium": "coalesce(_q_cache_write_5m * (rate_cache_write_5m - rate_input), 0)"
    " + coalesce(_q_cache_write_1h * (rate_cache_write_1h - rate_input), 0)",
}
_COST_PARTS = ("cost_input", "cost_cache_read", "cost_cache_write", "cost_output", "cost_other")
_SUMMED = (
    "rows", "priced_rows", "calls", "priced_calls", "input_tokens", "output_tokens", "reported_rows",
    "cost_reported", "compared_rows", "cost_reported_compared", "cache_read_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "calls_with_cache_reads", "calls_with_cache_writes", "without_ts", "tz_assumed",
)  # fmt: skip


def _fine_sums(quantities: str, rolled_up: bool) -> str:
    sql = _FINE_SUMS.replace("{quantities}", quantities)
    for name, expr in (_ROLLED_UP_COUNTS if rolled_up else PER_CALL_COUNTS).items():
        sql = sql.replace("{" + name + "}", expr)
    return sql


def _grouping_sets(by: list[str]) -> tuple[dict[str, str], dict[str, tuple[str, ...]], dict[str, str]]:
    """(key column -> SQL, set name -> key columns, time key column -> display SQL) for every breakdown
    of an analyze report."""
    columns = {
        "model": "model",
        "day": GROUP_KEYS["day"],
        **{f"by_{name}": col for name, col in ATTRIBUTION.items()},
        "price_tier": "price_tier",
        "price_mode": "price_mode",
        "unpriced_reason": "unpriced_reason",
        "model_raw": "model_raw",
        **{f"breakdown_{name}": GROUP_KEYS[name] for name in by},
    }
    formats = {"day": TIME_DISPLAY["day"]} | {
        f"breakdown_{name}": TIME_DISPLAY[name] for name in by if name in TIME_DISPLAY
    }
    sets: dict[str, tuple[str, ...]] = {
        "totals": (),
        "by_model": ("model",),
        "by_day": ("day",),
        **{f"by_{name}": (f"by_{name}",) for name in ATTRIBUTION},
        "tiers": ("price_tier",),
        "modes": ("price_mode",),
        "reasons": ("unpriced_reason",),
    }
    if by:
        sets["breakdown"] = tuple(f"breakdown_{name}" for name in by)
    return columns, sets, formats


# rows kept per list (by model, feature, user, project, key; the unknown model ids of the coverage): the
# costliest (the most called), the rest summed apart in `omitted` (300k users' rows made a 1.2 GiB process
# and a 70 MB report, 554k model ids 3.4 GiB and 45 s of Python; `--by user` or `--by model` lists them all)
MAX_LIST_ROWS = 1000
_LISTED = ("calls", "priced_calls", "input_tokens", "output_tokens", "cost_usd")


def _listed(
    con: duckdb.DuckDBPyConnection, mask: int, keys: tuple[str, ...], limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A list set's rows (`_summary_list_<mask>`), costliest first then by keys, nulls last (the order
    `_group_rows` gives them), at most `limit`; and the whole set's group count, named groups and sums."""
    cursor = con.execute(_list_rows_sql(mask, keys, limit))
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows, _list_whole(con, mask, keys)


def _list_rows_sql(mask: int, keys: tuple[str, ...], limit: int | None) -> str:
    """The SELECT of a list set's rows in report order (see `_listed`)."""
    order = ", ".join(["coalesce(cost_usd, 0) DESC", *(f"{k} NULLS LAST" for k in keys)])
    columns = ", ".join([*keys, *_LISTED])
    top = f" LIMIT {int(limit)}" if limit is not None else ""
    return f"SELECT {columns} FROM _summary_list_{mask} ORDER BY {order}{top}"


def _list_whole(con: duckdb.DuckDBPyConnection, mask: int, keys: tuple[str, ...]) -> dict[str, Any]:
    """A list set's group count, named groups and sums."""
    sums = ", ".join(f"coalesce(sum({m}), 0) AS {m}" for m in _LISTED)
    cursor = con.execute(
        f"SELECT count(*) AS groups, count({keys[0]}) AS named, {sums} FROM _summary_list_{mask}"
    )
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchall()[0], strict=True))


def _omitted(kept: list[dict[str, Any]], whole: dict[str, Any]) -> dict[str, Any]:
    """What a capped list leaves out: its rows, calls and repriced cost."""
    return {
        "rows": whole["groups"] - len(kept),
        "calls": _int(whole["calls"]) - sum(r["calls"] for r in kept),
        "cost_usd": _dec(whole["cost_usd"]) - sum((_dec(r["cost_usd"]) for r in kept), ZERO),
    }


def _kept_keys(names: list[str], kept: Collection[str]) -> str:
    """The key columns `names` for rows grouped by `kept` alone: the others are null, as a grouping set
    leaves them."""
    return ", ".join(n if n in kept else f"NULL AS {n}" for n in names)


def _group_row(row: dict[str, Any], keys: list[str], names: list[str], total: Decimal) -> dict[str, Any]:
    """One breakdown row as reported: `keys` renamed `names`, unpriced calls counted, a cost only where
    some call was priced (never $0 for unpriced ones), its share of `total`."""
    calls, priced, cost = _int(row["calls"]), _int(row["priced_calls"]), _dec(row["cost_usd"])
    return {
        **{name: row[key] for name, key in zip(names, keys, strict=True)},
        "calls": calls,
        "priced_calls": priced,
        "input_tokens": _int(row["input_tokens"]),
        "output_tokens": _int(row["output_tokens"]),
        "cost_usd": cost if priced else None,
        "unpriced_calls": calls - priced,
        "share": float(cost / total) if total and priced else 0.0,
    }


def _group_rows(
    rows: list[dict[str, Any]], keys: list[str], names: list[str], total: Decimal | None = None
) -> list[dict[str, Any]]:
    """Breakdown rows, most expensive first (unpriced calls counted, never $0); ties by keys, nulls last.
    `total`: the cost the shares are of, when `rows` are not all of it."""
    ordered = sorted(rows, key=lambda r: tuple((r[k] is None, r[k] or "") for k in keys))
    ordered.sort(key=lambda r: _dec(r["cost_usd"]), reverse=True)
    total = sum((_dec(r["cost_usd"]) for r in rows), ZERO) if total is None else _dec(total)
    return [_group_row(row, keys, names, total) for row in ordered]


def group_rows_lazily(table: pa.Table, keys: list[str], names: list[str], total: Decimal) -> ArrowRows:
    """A breakdown's rows kept as Arrow columns in report order (`--by user` over a million users: a list
    of dicts made a 1.4 GiB process), each made into the dict `_group_rows` would give when read."""
    return ArrowRows(table, lambda row: _group_row(row, keys, names, total), f"rows by {', '.join(names)}")


def _exposure(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Priced calls and cost per price tier or mode."""
    kept = [r for r in rows if r[key] is not None and r["priced_rows"]]
    return [
        {"name": r[key], "calls": _int(r["priced_calls"]), "cost_usd": _dec(r["cost_usd"])}
        for r in sorted(kept, key=lambda r: r[key])
    ]


def summarize(
    con: duckdb.DuckDBPyConnection,
    usage: str,
    rates: str,
    intake: Intake,
    catalog,
    by: list[str],
    *,
    rolled_up: bool = False,
) -> dict[str, Any]:
    """The `data` of an analyze report from relation `usage` (see `pricing.usage_sql`: calls with their
    price and billed quantities; `rolled_up`: groups of calls, `pricing.rolled_up_usage_sql`) and `rates`
    (`pricing.rates_sql`).

    Costs are summed as quantity sums x rates per price: the same exact Decimal totals as summing every
    call's cost (multiplication distributes over the sum), at the price of integer sums."""
    columns, sets, formats = _grouping_sets(by)
    names = list(columns)
    price = ("_pid", "price_region")
    undated = [n for n in names if n != "day"]
    quantities = ",\n  ".join(f"sum({q})::BIGINT AS {q}" for q in (f"_q_{u}" for u in BILLED_QUANTITIES))
    summed = ",\n  ".join(f"sum({q}) AS {q}" for q in (f"_q_{u}" for u in BILLED_QUANTITIES))
    keyed = ", ".join(f"{sql} AS {name}" for name, sql in columns.items() if name != sql)
    shown = ", ".join(f"{formats[n].format(n)} AS {n}" if n in formats else n for n in names)
    # a set's id, as GROUPING() would number it: one bit per key column, most significant first, 0 when
    # the set groups by it
    width = len(names)
    masks = {
        name: sum(1 << (width - 1 - i) for i, n in enumerate(names) if n not in keys)
        for name, keys in sets.items()
    }

    # fine: one pass over the calls into two small hash tables, the keys of every breakdown but the day
    # ('keys') and the day with the price alone ('day'): one table keyed by day x user x model x ... had
    # ~16x the groups (430k vs 27k + 600 on the 10M benchmark) and took a fifth longer. A temp table, not
    # a CTE: every set reads it, and DuckDB would hold a CTE read that often in memory
    source = f"(SELECT *, {keyed}, cost_reported IS NOT NULL AS _has_reported FROM {usage})"
    sums = _fine_sums(quantities, rolled_up)
    grouped = [*price, "_has_reported", "priced"]
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _summary_fine AS
            SELECT CASE GROUPING(day) WHEN 0 THEN 'day' ELSE 'keys' END AS _part,
              {", ".join(names)}, {", ".join(grouped)}, {sums}
            FROM {source}
            GROUP BY GROUPING SETS (({", ".join([*undated, *grouped])}), (day, {", ".join(grouped)}))""")
    except duckdb.OutOfMemoryException:
        # GROUPING SETS hold their input in memory (DuckDB materializes it for the two sets): with ~1M
        # groups of keys (554k fine-tuned model ids over 1M calls) it does not fit, where two plain
        # aggregates, each scanning the calls, spill (the 10M benchmark's summary: 4.3 s against 3.4)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _summary_fine AS
            SELECT 'keys' AS _part, {", ".join(names)}, {", ".join(grouped)}, {sums}
            FROM {source} GROUP BY ALL LIMIT 0""")
        for part, kept in (("keys", undated), ("day", ["day"])):
            con.execute(f"""
                INSERT INTO _summary_fine
                SELECT '{part}' AS _part, {_kept_keys(names, kept)}, {", ".join(grouped)}, {sums}
                FROM {source} GROUP BY {", ".join([*kept, *grouped])}""")
    # the model and attribution lists keep their costliest rows (the rest summed apart); a --by breakdown,
    # asked for, keeps every row. Their sets are summed apart with the few measures their rows show: a million users'
    # rows with every measure did not fit DuckDB's memory
    listed: dict[str, int | None] = {"by_model": MAX_LIST_ROWS} | {
        f"by_{n}": MAX_LIST_ROWS for n in ATTRIBUTION
    }
    if by:
        listed["breakdown"] = None

    def sets_query(chosen: list[str]) -> str:
        """level1: each set grouped from the part that has its keys, one plain GROUP BY per set (GROUPING
        SETS over fine ran out of memory at 256MB with 300k users: their tables did not spill); costed:
        quantity sums x rates per price; then the set's rows."""
        level1 = "\n          UNION ALL\n".join(
            f"""SELECT {masks[name]} AS _set, {_kept_keys(names, keys)},
            {", ".join(price)}, {"_has_reported" if name == "totals" else "NULL::BOOLEAN AS _has_reported"},
            {_LEVEL1_SUMS.replace("{quantities}", summed)}
          FROM _summary_fine WHERE _part = '{"day" if name == "by_day" else "keys"}'
          GROUP BY {", ".join([*keys, *price, *(["_has_reported"] if name == "totals" else [])])}"""
            for name, keys in sets.items()
            if name in chosen
        )
        return f"""
        WITH level1 AS (
          {level1}
        ), costed AS (
          SELECT l.*, {", ".join(f"{sql} AS {name}" for name, sql in _COSTS.items())}
          FROM level1 l LEFT JOIN {rates} r
            ON r._pid = l._pid AND r.price_region IS NOT DISTINCT FROM l.price_region
        )
        SELECT _set, {shown},
          {", ".join(f"sum({m}) AS {m}" for m in (*_SUMMED, *_COSTS))},
          sum({" + ".join(_COST_PARTS)}) AS cost_usd,
          coalesce(sum({" + ".join(_COST_PARTS)}) FILTER (_has_reported), 0) AS repriced_where_reported,
          min(first_ts)::TIMESTAMP AS first_ts,  -- naive UTC (the session zone): no pytz needed to fetch it
          max(last_ts)::TIMESTAMP AS last_ts
        FROM costed GROUP BY _set, {", ".join(names)}"""

    def list_query(name: str) -> str:
        """A list set's rows in one aggregate: each fine row costed at its price's rates (exact: the cost
        of summed quantities is the sum of their costs), summed by the set's keys alone."""
        keys = sets[name]
        cost = " + ".join(f"({_COSTS[part]})" for part in _COST_PARTS)
        shown_keys = ", ".join(f"{formats[k].format(k)} AS {k}" if k in formats else k for k in keys)
        return f"""
        SELECT {masks[name]} AS _set, {shown_keys}, sum(calls) AS calls,
          coalesce(sum(calls) FILTER (priced), 0) AS priced_calls, sum(input_tokens) AS input_tokens,
          sum(output_tokens) AS output_tokens, sum({cost}) AS cost_usd
        FROM _summary_fine f LEFT JOIN {rates} r
          ON r._pid = f._pid AND r.price_region IS NOT DISTINCT FROM f.price_region
        WHERE f._part = 'keys'
        GROUP BY {", ".join(keys)}"""

    try:  # temp tables, not fetches (DuckDB spills them), and one big aggregate per statement
        small = [n for n in sets if n not in listed]
        con.execute(f"CREATE OR REPLACE TEMP TABLE _summary_rows AS {sets_query(small)}")
        for name in listed:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _summary_list_{masks[name]} AS {list_query(name)}")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _summary_unknown AS
            SELECT model_raw, sum(rows) AS calls, sum(input_tokens) AS input_tokens FROM _summary_fine
            WHERE _part = 'keys' AND unpriced_reason = '{UNKNOWN_MODEL}' GROUP BY model_raw""")
    finally:
        con.execute("DROP TABLE IF EXISTS _summary_fine")
    try:
        cursor = con.execute("SELECT * FROM _summary_rows")
        fields = [d[0] for d in cursor.description]
        result = [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]
        lists = {
            name: _listed(con, masks[name], sets[name], limit)
            for name, limit in listed.items()
            if limit is not None
        }
        if by:  # every row, as columns (`group_rows_lazily`)
            mask, keys = masks["breakdown"], sets["breakdown"]
            breakdown = (
                con.sql(_list_rows_sql(mask, keys, None)).to_arrow_table(),
                _list_whole(con, mask, keys),
            )
        unknown = _unknown_models(con, MAX_LIST_ROWS)
    finally:
        for table in ("_summary_rows", "_summary_unknown", *(f"_summary_list_{masks[n]}" for n in listed)):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    by_set: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    mask_to_set = {mask: name for name, mask in masks.items()}
    for row in result:
        by_set[mask_to_set[row["_set"]]].append(row)
    # no calls at all (everything rejected, or none in the period): the grand total is all zeros
    total = by_set["totals"][0] if by_set["totals"] else dict.fromkeys(fields) | dict.fromkeys(_SUMMED, 0)
    models, models_whole = lists["by_model"]
    data: dict[str, Any] = {
        "coverage": _coverage(intake, total, by_set, *unknown),
        "totals": _totals(total),
        "period": {"first": _utc(total["first_ts"]), "last": _utc(total["last_ts"])},
        "by_model": _group_rows(models, ["model"], ["model"], models_whole["cost_usd"]),
        "by_day": sorted(
            _group_rows([r for r in by_set["by_day"] if r["day"] is not None], ["day"], ["day"]),
            key=lambda r: r["day"],
        ),
    }
    omitted: dict[str, dict[str, Any]] = {}
    if models_whole["groups"] > len(models):
        omitted["by_model"] = _omitted(models, models_whole)
    for name in ATTRIBUTION:
        rows, whole_set = lists[f"by_{name}"]
        if whole_set["named"]:  # some call names one
            data[f"by_{name}"] = _group_rows(rows, [f"by_{name}"], [name], whole_set["cost_usd"])
            if whole_set["groups"] > len(rows):
                omitted[f"by_{name}"] = _omitted(rows, whole_set)
    if omitted:
        data["omitted"] = omitted
    data["cache"] = _cache(total)
    data["tiers"] = _exposure(by_set["tiers"], "price_tier")
    data["modes"] = _exposure(by_set["modes"], "price_mode")
    data["catalog"] = {
        "id": catalog.catalog_id,
        "models": len(catalog.models),
        "files": [str(f) for f in catalog.files],
    }
    if by:
        table, whole_set = breakdown
        data["breakdown"] = {
            "by": by,
            "rows": group_rows_lazily(table, list(sets["breakdown"]), by, _dec(whole_set["cost_usd"])),
        }
    return data


def _unknown_models(
    con: duckdb.DuckDBPyConnection, limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The most called unknown model ids (`_summary_unknown`), at most `limit`, ties by id (nulls last);
    and how many ids there are, with their calls and input tokens."""
    cursor = con.execute(
        f"SELECT model_raw, calls, input_tokens FROM _summary_unknown "
        f"ORDER BY calls DESC, model_raw NULLS LAST LIMIT {int(limit)}"
    )
    rows = [
        {"model_raw": model, "calls": calls, "input_tokens": _int(tokens)}
        for model, calls, tokens in cursor.fetchall()
    ]
    ids, calls, tokens = con.execute(
        "SELECT count(*), coalesce(sum(calls), 0), coalesce(sum(input_tokens), 0) FROM _summary_unknown"
    ).fetchall()[0]
    return rows, {"models": ids, "calls": _int(calls), "input_tokens": _int(tokens)}


def _coverage(
    intake: Intake,
    total: dict[str, Any],
    by_set: dict[str, list[dict[str, Any]]],
    unknown: list[dict[str, Any]],
    unknown_whole: dict[str, Any],
) -> dict:
    calls, priced = total["rows"], total["priced_rows"]
    reasons = sorted(
        (r for r in by_set["reasons"] if r["unpriced_reason"] is not None),
        key=lambda r: (-r["rows"], r["unpriced_reason"]),
    )
    formats: dict[str, int] = {}
    for fmt in intake.files.values():
        formats[fmt] = formats.get(fmt, 0) + 1
    unpriced = calls - priced
    return {
        "rows_read": intake.rows_read,
        "calls": calls,
        "priced": priced,
        "unpriced": unpriced,
        "rejected": intake.rejected,
        "skipped": intake.skipped,
        "collapsed": intake.collapsed,
        "outside_period": intake.outside_period,
        "reconciles": intake.rows_read
        == calls + intake.rejected + intake.skipped + intake.collapsed + intake.outside_period,
        "files": len(intake.files),
        "formats": formats,
        "unknown_format_files": [{"file": f, "rows": n} for f, n in intake.unknown_files.items()],
        "unpriced_models": unknown,
        # the unknown ids the list leaves out (more than MAX_LIST_ROWS of them)
        **(
            {
                "unpriced_models_omitted": {
                    "models": unknown_whole["models"] - len(unknown),
                    "calls": unknown_whole["calls"] - sum(r["calls"] for r in unknown),
                    "input_tokens": unknown_whole["input_tokens"] - sum(r["input_tokens"] for r in unknown),
                }
            }
            if unknown_whole["models"] > len(unknown)
            else {}
        ),
        "unpriced_reasons": {r["unpriced_reason"]: r["rows"] for r in reasons},
        "cost_lines": next((r["rows"] for r in reasons if r["unpriced_reason"] == "cost line (no usage)"), 0),
        "rejects_sample": intake.rejects_sample,
        "skipped_reasons": intake.skipped_reasons,
        "calls_without_timestamp": total["without_ts"],
        "naive_timestamps_assumed_utc": total["tz_assumed"],
    }


def _totals(total: dict[str, Any]) -> dict[str, Any]:
    """Repriced totals, and what the sources recorded: all of it, and the part we could compare call by call."""
    compared = total["compared_rows"]
    reported_compared = _dec(total["cost_reported_compared"])
    # the repriced side of the comparison: priced calls with a recorded cost (unpriced ones add null)
    repriced = _dec(total["repriced_where_reported"])
    return {
        "cost_usd": _dec(total["cost_usd"]),
        "calls_with_reported_cost": total["reported_rows"],
        "cost_reported_usd": _dec(total["cost_reported"]) if total["reported_rows"] else None,
        "calls_compared": compared,
        "cost_reported_compared_usd": reported_compared if compared else None,
        "cost_repriced_where_reported_usd": repriced if compared else None,
        "reported_minus_repriced_usd": reported_compared - repriced if compared else None,
        "cost_input_usd": _dec(total["cost_input"]),
        "cost_cache_read_usd": _dec(total["cost_cache_read"]),
        "cost_cache_write_usd": _dec(total["cost_cache_write"]),
        "cost_output_usd": _dec(total["cost_output"]),
        "cost_other_usd": _dec(total["cost_other"]),
        "input_tokens": _int(total["input_tokens"]),
        "output_tokens": _int(total["output_tokens"]),
    }


def _cache(total: dict[str, Any]) -> dict[str, Any]:
    saving, premium = _dec(total["read_saving"]), _dec(total["write_premium"])
    return {
        "cache_read_tokens": _int(total["cache_read_tokens"]),
        "cache_write_5m_tokens": _int(total["cache_write_5m_tokens"]),
        "cache_write_1h_tokens": _int(total["cache_write_1h_tokens"]),
        "read_saving_usd": saving,
        "write_premium_usd": premium,
        "net_saving_usd": saving - premium,
        "calls_with_cache_reads": total["calls_with_cache_reads"],
        "calls_with_cache_writes": total["calls_with_cache_writes"],
    }


def period_condition(since: dt.datetime | None, until: dt.datetime | None) -> str:
    """SQL for since <= ts < until (calls without a timestamp are outside any bounded period)."""
    parts = []
    if since is not None:
        parts.append(f"ts >= TIMESTAMPTZ '{since.isoformat()}'")
    if until is not None:
        parts.append(f"ts < TIMESTAMPTZ '{until.isoformat()}'")
    return " AND ".join(parts) or "TRUE"
