"""Exact duplicate requests: what a response cache keyed on the request would have saved.

Two calls are exact duplicates when they send the same request to the same model (`prompt_hash`, set at
ingest from the model id and the logged request). Every call after the first of its group is a *repeat*;
its repriced cost is a certain saving for a cache that keeps entries forever, and the repeats that came
within `window_hours` of the previous identical call are what a cache with that TTL (refreshed on every
hit) would have served. Calls whose source did not log the request cannot be judged and are counted apart.

In DuckDB: a hash aggregate finds the keys seen more than once, a window over only those calls (narrow
rows) orders each group and marks the repeats, and only the repeats are priced; costs are quantity sums
x rates per price, exactly as the summary does.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import duckdb

from llmaudit.catalog import Catalog
from llmaudit.db import memory_limit_bytes
from llmaudit.money import ZERO
from llmaudit.pricing import PRICING_INPUTS, quantity_cost_sql, usage_sql

WINDOW_HOURS = 24
TOP_GROUPS = 10
# DuckDB's memory per repeat priced at a time (see `exact_duplicates`): 2.5M repeats at a 512MB limit (one
# join for the 10M benchmark, no spill), 1.25M at 256MB
BYTES_PER_REPEAT = 200


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None else None


# the call columns a repeat is priced and reported from: a store keeps them beside its marks (`rollup.MARKS`)
REPEAT_COLUMNS = (*PRICING_INPUTS, "feature")

# the calls a response cache could have answered: successful calls (a cache serves answers, not errors)
CACHEABLE = "row_kind = 'call' AND status = 'ok'"


def _inner_edges(con: duckdb.DuckDBPyConnection, repeats: str, slices: int) -> list[int]:
    """Keys cutting the repeats into `slices` parts of about equal size (approximate quantiles: any cut is
    exact, only the parts' sizes vary)."""
    if slices < 2:
        return []
    fractions = ", ".join(str(i / slices) for i in range(1, slices))
    cuts = con.execute(f"SELECT approx_quantile(_key, [{fractions}]) FROM {repeats}").fetchone()[0]
    return sorted(set(cuts))


def _join_slices(con: duckdb.DuckDBPyConnection, repeats: str) -> list[tuple[int, int]]:
    """The ranges of `_key` in which the repeats are joined back to their calls, one at a time: a slice's
    repeats fit in DuckDB's memory as the join's build side, where all of them would spill the calls they
    probe with (20M calls, 5M repeats, 256MB: 14.9 s in one join, 3.7 s in four slices; the same 3.3 s at
    512MB), and no more slices than that: each scans the calls again (a store's 10M: 1.4 s in 3 slices,
    1.1 in 1)."""
    low, high, count = con.execute(f"SELECT min(_key), max(_key), count(*) FROM {repeats}").fetchone()
    if not count:
        return []
    per_slice = max(1, memory_limit_bytes(con) // BYTES_PER_REPEAT)
    edges = [low, *_inner_edges(con, repeats, max(1, -(-count // per_slice))), high + 1]
    return list(itertools.pairwise(edges))


def repeats_sql(calls: str, order: str = "_seq", among: str | None = None) -> str:
    """A SELECT of every repeat in relation `calls`: `_key` (its `order` value), `prompt_hash`, `_n` (its
    rank in the group, from 2) and `_prev` (the previous copy's time). `among`: a relation of the
    `prompt_hash`es to judge (default: every key seen twice, found by an aggregate over 64-bit hashes of
    the key: a collision only adds calls the window then tells apart)."""
    if among is None:
        among = f"""(SELECT hash(prompt_hash) AS _h FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NOT NULL
          GROUP BY 1 HAVING count(*) > 1)"""
        match = "r._h = hash(c.prompt_hash)"
    else:
        match = "r.prompt_hash = c.prompt_hash"
    return f"""
        SELECT _key, prompt_hash, _n, _prev FROM (
          SELECT {order} AS _key, prompt_hash, row_number() OVER w AS _n, lag(ts) OVER w AS _prev
          FROM {calls} c SEMI JOIN {among} r ON {match}
          WHERE {CACHEABLE} AND prompt_hash IS NOT NULL
          WINDOW w AS (PARTITION BY c.prompt_hash ORDER BY ts NULLS LAST, {order})
        ) WHERE _n > 1"""


def exact_duplicates(
    con: duckdb.DuckDBPyConnection,
    calls: str,
    catalog: Catalog,
    rates: str,
    *,
    window_hours: int = WINDOW_HOURS,
    top: int = TOP_GROUPS,
    order: str = "_seq",
    repeats: str | None = None,
    judged: str | None = None,
) -> dict[str, Any]:
    """The `duplicates` section of a report from relation `calls` (calls, with the catalog registered for
    them by `pricing`) and `rates` (`pricing.rates_sql`). `order` is a column unique per call that breaks
    ties between calls of the same second (`_seq`: read order in a workspace, row position in the store).
    `repeats`: the repeats of `calls` as `repeats_sql` gives them plus their `REPEAT_COLUMNS`, when they are
    kept already (a store's `rollup.MARKS`): priced as they are; `judged`: a SELECT of (cacheable calls
    with a request, without one), when known.

    Narrow and spill-friendly at any size: one window over (key, time) marks every repeat (see
    `repeats_sql`), and only the repeats are priced, into a temp table (temp tables spill to disk; a CTE
    read twice is held in memory)."""
    # microseconds, not TIMESTAMPTZ subtraction (an ICU calendar call per row: 4x the whole join)
    within = f"coalesce(epoch_us(c.ts) - epoch_us(c._prev) <= {int(window_hours) * 3_600_000_000}, false)"
    judged = (
        judged
        or f"""
          SELECT count(prompt_hash) AS with_request, count(*) - count(prompt_hash) AS without_request
          FROM {calls} WHERE {CACHEABLE}"""
    )
    # None: one pass over a relation of repeats kept with their columns (no join back to the calls)
    slices: list[tuple[int, int] | None] = [None]
    if repeats is not None:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _dup_repeat_calls AS SELECT *, {within} AS _within FROM {repeats} c"
        )
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _dup_repeats AS {repeats_sql(calls, order)}")
        slices = [*_join_slices(con, "_dup_repeats")]
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW _dup_repeat_calls AS
            SELECT *, {within} AS _within FROM (
              SELECT c.*, r._n, r._prev FROM {calls} c JOIN _dup_repeats r ON r._key = c.{order}
              WHERE c.{order} >= getvariable('_dup_from') AND c.{order} < getvariable('_dup_to')
                AND r._key >= getvariable('_dup_from') AND r._key < getvariable('_dup_to')) c""")
    usage = usage_sql(con, "_dup_repeat_calls", catalog, catalog_registered=True)
    # each repeat's exact cost (its quantities x its price's rates), one narrow row per repeat
    costed = f"""
        SELECT u.prompt_hash, u._n, u._within, u.priced, u.model, u.feature, u.ts, u._prev,
               coalesce({quantity_cost_sql()}, 0) AS cost
        FROM ({usage}) u LEFT JOIN {rates} r
          ON r._pid = u._pid AND r.price_region IS NOT DISTINCT FROM u.price_region"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _dup_costed AS {costed} LIMIT 0")
    for bounds in slices:
        if bounds is not None:
            con.execute(f"SET VARIABLE _dup_from = {int(bounds[0])}")
            con.execute(f"SET VARIABLE _dup_to = {int(bounds[1])}")
        con.execute(f"INSERT INTO _dup_costed {costed}")
    query = f"""
        WITH top_groups AS (
          SELECT prompt_hash, sum(cost) AS cost, count(*) AS repeats FROM _dup_costed GROUP BY 1
          ORDER BY cost DESC, repeats DESC, prompt_hash LIMIT {int(top)}
        ), judged AS (  -- one scan: cacheable calls with and without a logged request
          {judged}
        )
        SELECT 'total', NULL, NULL, NULL, with_request, without_request,
               (SELECT count(*) FROM _dup_costed WHERE _n = 2), NULL::DECIMAL(38,15),
               NULL::DECIMAL(38,15), NULL::TIMESTAMP, NULL::TIMESTAMP
        FROM judged
        UNION ALL
        SELECT CASE WHEN _within THEN 'within' ELSE 'outside' END, NULL, NULL, NULL, NULL, count(*),
               count(*) FILTER (NOT priced), sum(cost), NULL, NULL, NULL
        FROM _dup_costed GROUP BY _within
        UNION ALL
        -- the group's first call is the predecessor of its second; the last is its latest repeat
        SELECT 'group', c.prompt_hash, any_value(c.model), any_value(c.feature), count(*) + 1, count(*),
               NULL, sum(c.cost), coalesce(sum(c.cost) FILTER (c._within), 0),
               min(c._prev)::TIMESTAMP, max(coalesce(c.ts, c._prev))::TIMESTAMP
        FROM _dup_costed c SEMI JOIN top_groups t ON t.prompt_hash = c.prompt_hash
        GROUP BY c.prompt_hash"""
    try:
        rows = con.execute(query).fetchall()
    finally:
        con.execute("DROP VIEW IF EXISTS _dup_repeat_calls")
        con.execute("DROP TABLE IF EXISTS _dup_repeats")
        con.execute("DROP TABLE IF EXISTS _dup_costed")
    # the top groups in report order (the UNION does not keep the subquery's order)
    groups = sorted((r for r in rows if r[0] == "group"), key=lambda r: (-r[7], -r[5], r[1]))
    total = next(r for r in rows if r[0] == "total")
    parts = {r[0]: r for r in rows if r[0] in ("within", "outside")}

    def part(name: str, index: int) -> Any:
        row = parts.get(name)
        return row[index] if row is not None and row[index] is not None else 0

    cost_within = Decimal(part("within", 7)) if "within" in parts else ZERO
    cost_all = cost_within + (Decimal(part("outside", 7)) if "outside" in parts else ZERO)
    return {
        "key": "model + request as logged",
        "window_hours": window_hours,
        "calls_with_request": total[4],
        "calls_without_request": total[5],
        "groups": total[6],
        "repeat_calls": int(part("within", 5) + part("outside", 5)),
        "repeat_cost_usd": cost_all,
        "repeat_calls_within_window": int(part("within", 5)),
        "repeat_cost_within_window_usd": cost_within,
        "unpriced_repeats": int(part("within", 6) + part("outside", 6)),
        "top": [
            {
                "prompt_hash": r[1],
                "model": r[2],
                "feature": r[3],
                "calls": r[4],
                "repeats": r[5],
                "repeat_cost_usd": Decimal(r[7]),
                "repeat_cost_within_window_usd": Decimal(r[8]),
                "first": _naive_utc(r[9]),
                "last": _naive_utc(r[10]),
            }
            for r in groups
        ],
    }
