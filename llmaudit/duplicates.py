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
from decimal import Decimal
from typing import Any

import duckdb

from llmaudit.catalog import Catalog
from llmaudit.money import ZERO
from llmaudit.pricing import BILLED_QUANTITIES, quantity_cost_sql, usage_sql

WINDOW_HOURS = 24
TOP_GROUPS = 10


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None else None


# the calls a response cache could have answered: successful calls (a cache serves answers, not errors)
CACHEABLE = "row_kind = 'call' AND status = 'ok'"


def exact_duplicates(
    con: duckdb.DuckDBPyConnection,
    calls: str,
    catalog: Catalog,
    rates: str,
    *,
    window_hours: int = WINDOW_HOURS,
    top: int = TOP_GROUPS,
    order: str = "_seq",
) -> dict[str, Any]:
    """The `duplicates` section of a report from relation `calls` (calls, with the catalog registered for
    them by `pricing`) and `rates` (`pricing.rates_sql`). `order` is a column unique per call that breaks
    ties between calls of the same second (`_seq` in a workspace, `record_id` in the history store).

    Spill-friendly at any size: a hash aggregate finds the repeated requests, a window over narrow rows
    (key, time) marks every repeat, and only the repeats are priced (quantity sums x rates per price)."""
    hours = int(window_hours)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _dup_repeats AS
        WITH repeated AS (
          SELECT prompt_hash FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NOT NULL
          GROUP BY 1 HAVING count(*) > 1
        ), ordered AS (
          -- one narrow window (a second partition spec for group totals doubled its memory)
          SELECT {order} AS _key, row_number() OVER w AS _n, lag(ts) OVER w AS _prev
          FROM {calls} c SEMI JOIN repeated r ON r.prompt_hash = c.prompt_hash
          WHERE {CACHEABLE}
          WINDOW w AS (PARTITION BY c.prompt_hash ORDER BY ts NULLS LAST, {order})
        )
        SELECT _key, _prev FROM ordered WHERE _n > 1""")
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW _dup_repeat_calls AS
        SELECT c.*, r._prev, coalesce(c.ts - r._prev <= INTERVAL {hours} HOUR, false) AS _within
        FROM {calls} c JOIN _dup_repeats r ON r._key = c.{order}""")
    usage = usage_sql(con, "_dup_repeat_calls", catalog, catalog_registered=True)
    quantities = ", ".join(f"sum(_q_{u}) AS _q_{u}" for u in BILLED_QUANTITIES)
    # repeats' costs per request and price, in a temp table (it spills; a CTE read twice would not)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _dup_costed AS
        WITH repeats AS (
          SELECT prompt_hash, _pid, price_region, _within, count(*) AS repeats,
                 count(*) FILTER (NOT priced) AS unpriced, any_value(model) AS model,
                 any_value(feature) AS feature,
                 -- the group's first call is every repeat's predecessor at least once
                 min(_prev) AS first_ts, max(coalesce(ts, _prev)) AS last_ts, {quantities}
          FROM ({usage}) GROUP BY prompt_hash, _pid, price_region, _within
        )
        SELECT s.prompt_hash, s._within, s.repeats, s.unpriced, s.model, s.feature, s.first_ts, s.last_ts,
               coalesce({quantity_cost_sql()}, 0) AS cost
        FROM repeats s LEFT JOIN {rates} r
          ON r._pid = s._pid AND r.price_region IS NOT DISTINCT FROM s.price_region""")
    query = f"""
        SELECT 'total', NULL, NULL, NULL,
               (SELECT count(*) FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NOT NULL),
               (SELECT count(*) FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NULL),
               (SELECT count(DISTINCT prompt_hash) FROM _dup_costed), NULL::DECIMAL(38,15),
               NULL::DECIMAL(38,15), NULL::TIMESTAMP, NULL::TIMESTAMP
        UNION ALL
        SELECT CASE WHEN _within THEN 'within' ELSE 'outside' END, NULL, NULL, NULL, NULL, sum(repeats),
               sum(unpriced), sum(cost), NULL, NULL, NULL
        FROM _dup_costed GROUP BY _within
        UNION ALL
        SELECT * FROM (
          SELECT 'group', prompt_hash, any_value(model), any_value(feature), sum(repeats) + 1, sum(repeats),
                 NULL, sum(cost), coalesce(sum(cost) FILTER (_within), 0),
                 min(first_ts)::TIMESTAMP, max(last_ts)::TIMESTAMP
          FROM _dup_costed GROUP BY prompt_hash
          ORDER BY sum(cost) DESC, sum(repeats) DESC, prompt_hash LIMIT {int(top)}
        )"""
    try:
        rows = con.execute(query).fetchall()
    finally:
        con.execute("DROP VIEW IF EXISTS _dup_repeat_calls")
        con.execute("DROP TABLE IF EXISTS _dup_repeats")
        con.execute("DROP TABLE IF EXISTS _dup_costed")
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
            for r in rows
            if r[0] == "group"
        ],
    }
