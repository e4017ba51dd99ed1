"""Exact duplicate requests: what a response cache keyed on the request would have saved.

Two calls are exact duplicates when they send the same request to the same model (`prompt_hash`, set at
ingest from the model id and the logged request). Every call after the first of its group is a *repeat*;
its repriced cost is a certain saving for a cache that keeps entries forever, and the repeats that came
within `window_hours` of the previous identical call are what a cache with that TTL (refreshed on every
hit) would have served. Calls whose source did not log the request cannot be judged and are counted apart.

In DuckDB: a hash aggregate finds the keys seen more than once, only those calls are priced (quantities
x their price's rates, exactly as the summary does), and a window over narrow rows of them (key, time,
row, cost) orders each group and marks the repeats.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import duckdb

from llmaudit.catalog import Catalog
from llmaudit.money import ZERO
from llmaudit.pricing import PRICING_INPUTS, quantity_cost_sql, usage_sql

WINDOW_HOURS = 24
TOP_GROUPS = 10


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None else None


# the call columns a repeat is priced and reported from: a store keeps them beside its marks (`rollup.MARKS`)
REPEAT_COLUMNS = (*PRICING_INPUTS, "feature")

# the calls a response cache could have answered: successful calls (a cache serves answers, not errors)
CACHEABLE = "row_kind = 'call' AND status = 'ok'"
# a group's key in the window: a prompt hash (md5 text) as the 128-bit number it spells, in the same order
# as the text; a hash from elsewhere (not 32 lowercase hex digits: DuckDB's hex cast also reads capitals and
# underscores, which would merge keys) as its own md5, a number a different text shares with odds of 2^-128,
# as for the prompt hash itself. Windows sort fixed-width numbers faster than 32-character text (pricing
# and ranking the 20M calls of a log whose every request was sent twice: 32.9 s against 36.9 s; the 10M
# benchmark's, with its candidates: 5.1-5.2 s against 5.2-5.4 s, in separate runs)
PROMPT_NUMBER = (
    "CASE WHEN length(prompt_hash) = 32 AND prompt_hash = lower(prompt_hash) AND NOT contains(prompt_hash, '_') "
    "THEN try_cast('0x' || prompt_hash AS UHUGEINT) ELSE md5_number(prompt_hash) END"
)


def candidates_sql(calls: str) -> str:
    """A SELECT of `_h`, the 64-bit hash of every `prompt_hash` that two cacheable calls of relation `calls`
    share: half the cost of grouping the 32-character keys themselves; a collision only adds calls that
    the window, partitioned by the key itself, tells apart."""
    return f"""
        SELECT hash(prompt_hash) AS _h FROM {calls} WHERE {CACHEABLE} AND prompt_hash IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1"""


def _labels(
    con: duckdb.DuckDBPyConnection, source: str, key: str, keys: list[int], catalog: Catalog
) -> dict[int, tuple[str, str | None, str | None]]:
    """(prompt hash, model as priced, feature) of the rows of relation `source` whose column `key` is in
    `keys`."""
    if not keys:
        return {}
    wanted = ", ".join(str(int(k)) for k in keys)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _dup_labelled AS SELECT * FROM {source} WHERE {key} IN ({wanted})"
    )
    try:
        usage = usage_sql(con, "_dup_labelled", catalog, catalog_registered=True)
        rows = con.execute(f"SELECT {key}, prompt_hash, model, feature FROM ({usage})").fetchall()
    finally:
        con.execute("DROP VIEW IF EXISTS _dup_labelled")
    return {k: (prompt_hash, model, feature) for k, prompt_hash, model, feature in rows}


def repeats_sql(calls: str, order: str = "_seq", among: str | None = None) -> str:
    """A SELECT of every repeat in relation `calls`: `_key` (its `order` value), `prompt_hash`, `_n` (its
    rank in the group, from 2) and `_prev` (the previous copy's time). `among`: a relation of the
    `prompt_hash`es to judge (default: every key seen twice, `candidates_sql`)."""
    if among is None:
        among = f"({candidates_sql(calls)})"
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

    Narrow and spill-friendly at any size: the calls of keys seen twice (`candidates_sql`) are priced and
    ranked by one window over (key, time, row, cost) into a temp table of the repeats (temp tables spill
    to disk; a CTE read twice is held in memory). A top group is labelled with the model and feature of
    its first repeat."""
    # microseconds, not TIMESTAMPTZ subtraction (an ICU calendar call per row: 4x the whole join)
    within = f"coalesce(epoch_us(ts) - epoch_us(_prev) <= {int(window_hours) * 3_600_000_000}, false)"
    judged = (
        judged
        or f"""
          SELECT count(prompt_hash) AS with_request, count(*) - count(prompt_hash) AS without_request
          FROM {calls} WHERE {CACHEABLE}"""
    )
    cost = f"coalesce({quantity_cost_sql()}, 0) AS cost"
    rated = f"LEFT JOIN {rates} r ON r._pid = u._pid AND r.price_region IS NOT DISTINCT FROM u.price_region"
    if repeats is not None:  # ranked already, with their columns: priced as they are (no window: the
        # text is the key)
        labels, key = repeats, "_key"
        usage = usage_sql(con, repeats, catalog, catalog_registered=True)
        costed = f"""
            SELECT _k, _n, {within} AS _within, priced, ts, _prev, cost, _key FROM (
              SELECT u.prompt_hash AS _k, u._n, u.priced, u.ts, u._prev, u._key, {cost}
              FROM ({usage}) u {rated})"""
    else:
        # every call of a key seen twice is priced, then ranked with its cost: one pass, where ranking
        # first and joining the repeats back to their calls to price them scanned the calls again (10M
        # calls, 2.5M repeats: ~5.5 s against ~7.5 s); the window's rows stay narrow and fixed-width
        # (labels of the top groups are looked up afterwards: carrying model and feature through it cost
        # ~1 s at 10M). The keys seen twice are a table: as a subquery, joining the 20M calls of a log
        # whose every request was sent twice with their 7.5M hashes spilled far more (this query 49.6 s
        # against 36.9 s, both ranking the text; 32.9 s ranking the number)
        labels, key = calls, order
        con.execute(f"CREATE OR REPLACE TEMP TABLE _dup_keys AS {candidates_sql(calls)}")
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW _dup_candidates AS
            SELECT c.* FROM {calls} c SEMI JOIN _dup_keys d ON d._h = hash(c.prompt_hash)
            WHERE {CACHEABLE} AND prompt_hash IS NOT NULL""")
        usage = usage_sql(con, "_dup_candidates", catalog, catalog_registered=True)
        costed = f"""
            SELECT _k, _n, {within} AS _within, priced, ts, _prev, cost, _key FROM (
              SELECT _k, priced, ts, cost, _key, row_number() OVER w AS _n, lag(ts) OVER w AS _prev
              FROM (SELECT {PROMPT_NUMBER} AS _k, u.priced, u.ts, u.{order} AS _key, {cost}
                    FROM ({usage}) u {rated})
              WINDOW w AS (PARTITION BY _k ORDER BY ts NULLS LAST, _key))
            WHERE _n > 1"""
    # ties by key: the prompt hash's own order, for md5 text
    query = f"""
        WITH top_groups AS (
          SELECT _k, sum(cost) AS cost, count(*) AS repeats FROM _dup_costed GROUP BY _k
          ORDER BY cost DESC, repeats DESC, _k LIMIT {int(top)}
        ), judged AS (  -- one scan: cacheable calls with and without a logged request
          {judged}
        )
        SELECT 'total', NULL, NULL, with_request, without_request,
               (SELECT count(*) FROM _dup_costed WHERE _n = 2), NULL::DECIMAL(38,15),
               NULL::DECIMAL(38,15), NULL::TIMESTAMP, NULL::TIMESTAMP
        FROM judged
        UNION ALL
        SELECT CASE WHEN _within THEN 'within' ELSE 'outside' END, NULL, NULL, NULL, count(*),
               count(*) FILTER (NOT priced), sum(cost), NULL, NULL, NULL
        FROM _dup_costed GROUP BY _within
        UNION ALL
        -- the group's first call is the predecessor of its second; the last is its latest repeat
        SELECT 'group', NULL, arg_min(c._key, c._n), count(*) + 1, count(*),
               NULL, sum(c.cost), coalesce(sum(c.cost) FILTER (c._within), 0),
               min(c._prev)::TIMESTAMP, max(coalesce(c.ts, c._prev))::TIMESTAMP
        FROM _dup_costed c SEMI JOIN top_groups t ON t._k = c._k
        GROUP BY c._k"""
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _dup_costed AS {costed}")
        rows = con.execute(query).fetchall()
        # prompt hash, model and feature of each top group, from its first repeat (every call of a group
        # asks one model)
        labelled = _labels(con, labels, key, [r[2] for r in rows if r[0] == "group"], catalog)
        rows = [(r[0], labelled[r[2]][0], *r[2:]) if r[0] == "group" else r for r in rows]
    finally:
        con.execute("DROP VIEW IF EXISTS _dup_candidates")
        for table in ("_dup_keys", "_dup_costed"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    # the top groups in report order (the UNION does not keep the subquery's order)
    groups = sorted((r for r in rows if r[0] == "group"), key=lambda r: (-r[6], -r[4], r[1]))
    total = next(r for r in rows if r[0] == "total")
    parts = {r[0]: r for r in rows if r[0] in ("within", "outside")}

    def part(name: str, index: int) -> Any:
        row = parts.get(name)
        return row[index] if row is not None and row[index] is not None else 0

    cost_within = Decimal(part("within", 6)) if "within" in parts else ZERO
    cost_all = cost_within + (Decimal(part("outside", 6)) if "outside" in parts else ZERO)
    return {
        "key": "model + request as logged",
        "window_hours": window_hours,
        "calls_with_request": total[3],
        "calls_without_request": total[4],
        "groups": total[5],
        "repeat_calls": int(part("within", 4) + part("outside", 4)),
        "repeat_cost_usd": cost_all,
        "repeat_calls_within_window": int(part("within", 4)),
        "repeat_cost_within_window_usd": cost_within,
        "unpriced_repeats": int(part("within", 5) + part("outside", 5)),
        "top": [
            {
                "prompt_hash": r[1],
                "model": labelled[r[2]][1],
                "feature": labelled[r[2]][2],
                "calls": r[3],
                "repeats": r[4],
                "repeat_cost_usd": Decimal(r[6]),
                "repeat_cost_within_window_usd": Decimal(r[7]),
                "first": _naive_utc(r[8]),
                "last": _naive_utc(r[9]),
            }
            for r in groups
        ],
    }
