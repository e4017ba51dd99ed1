"""Exact duplicate requests: what a response cache keyed on the request would have saved.

Two calls are exact duplicates when they send the same request to the same model (`prompt_hash`, set at
ingest from the model id and the logged request). Every call after the first of its group is a *repeat*;
its repriced cost is a certain saving for a cache that keeps entries forever, and the repeats that came
within `window_hours` of the previous identical call are what a cache with that TTL (refreshed on every
hit) would have served. Calls whose source did not log the request cannot be judged and are counted apart.

One SQL pass in DuckDB: a hash aggregate finds the keys seen more than once, a window over only those
calls orders each group, and costs are quantity sums x rates per price, exactly as the summary does.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import duckdb

from llmaudit.money import ZERO
from llmaudit.pricing import BILLED_QUANTITIES, quantity_cost_sql

WINDOW_HOURS = 24
TOP_GROUPS = 10


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None else None


# the calls a response cache could have answered: successful calls (a cache serves answers, not errors)
CACHEABLE = "row_kind = 'call' AND status = 'ok'"


def repeated_calls_sql(calls: str) -> str:
    """The calls of relation `calls` whose request was sent more than once: the only ones the duplicate
    report needs priced (a cheap hash aggregate of one column first, so pricing skips all other calls)."""
    return f"""
        SELECT * FROM {calls} WHERE prompt_hash IN (
          SELECT prompt_hash FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NOT NULL
          GROUP BY 1 HAVING count(*) > 1)"""


def exact_duplicates(
    con: duckdb.DuckDBPyConnection,
    calls: str,
    usage: str,
    rates: str,
    *,
    window_hours: int = WINDOW_HOURS,
    top: int = TOP_GROUPS,
    order: str = "_seq",
) -> dict[str, Any]:
    """The `duplicates` section of a report from relation `calls` (all calls), `usage` (`pricing.usage_sql`
    columns over at least the calls of `repeated_calls_sql`) and `rates` (`pricing.rates_sql`); `order`
    breaks ties between calls of the same second."""
    quantities = ", ".join(f"sum(_q_{u}) AS _q_{u}" for u in BILLED_QUANTITIES)
    q_columns = ", ".join(f"_q_{u}" for u in BILLED_QUANTITIES)
    within = f"(prev_ts IS NOT NULL AND ts - prev_ts <= INTERVAL {int(window_hours)} HOUR)"
    query = f"""
        WITH keyed AS (
          SELECT prompt_hash, model, feature, ts, {order} AS _order, _pid, price_region, priced, {q_columns}
          FROM {usage} WHERE {CACHEABLE}
        ), repeated AS (
          SELECT prompt_hash FROM keyed WHERE prompt_hash IS NOT NULL GROUP BY 1 HAVING count(*) > 1
        ), ordered AS (
          SELECT k.*, row_number() OVER w AS _n, lag(ts) OVER w AS prev_ts
          FROM keyed k SEMI JOIN repeated r ON r.prompt_hash = k.prompt_hash
          WINDOW w AS (PARTITION BY k.prompt_hash ORDER BY ts NULLS LAST, _order)
        ), repeats AS (
          SELECT prompt_hash, _pid, price_region, {within} AS _within,
                 count(*) AS repeats, count(*) FILTER (NOT priced) AS unpriced, {quantities}
          FROM ordered WHERE _n > 1 GROUP BY ALL
        ), costed AS (
          SELECT s.prompt_hash, s._within, s.repeats, s.unpriced,
                 coalesce({quantity_cost_sql()}, 0) AS cost
          FROM repeats s LEFT JOIN {rates} r
            ON r._pid = s._pid AND r.price_region IS NOT DISTINCT FROM s.price_region
        ), groups AS (
          SELECT prompt_hash, count(*) AS calls, any_value(model) AS model, any_value(feature) AS feature,
                 min(ts)::TIMESTAMP AS first_ts, max(ts)::TIMESTAMP AS last_ts
          FROM ordered GROUP BY 1
        ), group_cost AS (
          SELECT prompt_hash, sum(cost) AS cost, sum(cost) FILTER (_within) AS cost_within FROM costed GROUP BY 1
        )
        SELECT 'total' AS part, NULL AS prompt_hash, NULL AS model, NULL AS feature,
               (SELECT count(*) FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NOT NULL) AS calls,
               (SELECT count(*) FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NULL) AS repeats,
               (SELECT count(*) FROM groups) AS unpriced,
               NULL::DECIMAL(38,15) AS cost, NULL::DECIMAL(38,15) AS cost_within,
               NULL::TIMESTAMP AS first_ts, NULL::TIMESTAMP AS last_ts
        UNION ALL
        SELECT CASE WHEN _within THEN 'within' ELSE 'outside' END, NULL, NULL, NULL, NULL, sum(repeats),
               sum(unpriced), sum(cost), NULL, NULL, NULL
        FROM costed GROUP BY _within
        UNION ALL
        SELECT * FROM (
          SELECT 'group', g.prompt_hash, g.model, g.feature, g.calls, g.calls - 1, NULL,
                 coalesce(c.cost, 0), coalesce(c.cost_within, 0), g.first_ts, g.last_ts
          FROM groups g LEFT JOIN group_cost c USING (prompt_hash)
          ORDER BY coalesce(c.cost, 0) DESC, g.calls DESC, g.prompt_hash LIMIT {int(top)}
        )"""
    rows = con.execute(query).fetchall()
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
