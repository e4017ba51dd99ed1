"""`pricing diff`: what changed between two catalogs, and what it does to the recorded history in dollars."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from llmaudit import rollup
from llmaudit.catalog import Catalog
from llmaudit.catalog.model import Model
from llmaudit.db import connect
from llmaudit.errors import UsageError
from llmaudit.money import ZERO
from llmaudit.pricing import BILLED_QUANTITIES, quantity_cost_sql, rates_sql, rolled_up_usage_sql, usage_sql
from llmaudit.schema import CALL_SCHEMA, conform


def _signature(model: Model) -> list[tuple]:
    return [
        (
            v.effective_from,
            sorted(v.rates.items()),
            [(t.above, sorted(t.rates.items())) for t in v.tiers],
            sorted((k, m.multiplier, sorted(m.rates.items())) for k, m in v.modes.items()),
        )
        for v in model.versions
    ]


def _rate_changes(old: Model, new: Model) -> list[dict[str, Any]]:
    before, after = old.versions[-1].rates, new.versions[-1].rates
    return [
        {"unit": u, "old": before.get(u), "new": after.get(u)}
        for u in sorted(set(before) | set(after))
        if before.get(u) != after.get(u)
    ]


def model_changes(old: Catalog, new: Catalog) -> dict[str, Any]:
    old_models = {m.key: m for m in old.models}
    new_models = {m.key: m for m in new.models}
    repriced = [
        {
            "model": key,
            "latest_rate_changes": _rate_changes(old_models[key], new_models[key]),
            "versions_old": len(old_models[key].versions),
            "versions_new": len(new_models[key].versions),
        }
        for key in sorted(set(old_models) & set(new_models))
        if _signature(old_models[key]) != _signature(new_models[key])
    ]
    return {
        "added": sorted(set(new_models) - set(old_models)),
        "removed": sorted(set(old_models) - set(new_models)),
        "repriced": repriced,
    }


def diff(old: Catalog, new: Catalog, calls: pl.DataFrame | None = None) -> dict[str, Any]:
    """Model changes and, when calls are given, the repriced total under each catalog and the delta
    (`diff_relation` over the frame)."""
    if calls is None:
        return {
            "old_catalog": old.catalog_id,
            "new_catalog": new.catalog_id,
            "models": model_changes(old, new),
        }
    con = connect()
    try:
        con.register("diff_frame", conform(calls.select([c for c in calls.columns if c in CALL_SCHEMA])))
        return diff_relation(old, new, con, "diff_frame")
    finally:
        con.close()


_DIFF_KEYS = ("_provider_logged", "model_raw", "_model_logged", "feature")


def _costs_by_call_key(
    con: duckdb.DuckDBPyConnection, source: str, catalog: Catalog, rolled_up: bool = False
) -> dict[tuple, dict]:
    """Per (logged provider, model id, normalized model, feature): calls, priced calls, the cost under
    `catalog` (quantity sums x rates: exact) and the catalog's model name for them. `rolled_up`: `source`
    is a store rollup (groups of calls, `rollup.py`)."""
    usage = (rolled_up_usage_sql if rolled_up else usage_sql)(con, source, catalog)
    keys = ", ".join(_DIFF_KEYS)
    sums = ", ".join(f"sum(_q_{unit})::BIGINT AS _q_{unit}" for unit in BILLED_QUANTITIES)
    weight = "_rows" if rolled_up else "1"  # calls per row
    rows = con.execute(f"""
        WITH fine AS (
          SELECT {keys}, _pid, price_region, any_value(model) AS model, sum({weight}) AS calls,
                 coalesce(sum({weight}) FILTER (priced), 0) AS priced, {sums}
          FROM ({usage}) GROUP BY ALL
        )
        SELECT {keys}, any_value(f.model) AS model, sum(calls) AS calls, sum(priced) AS priced,
               sum({quantity_cost_sql()}) AS cost
        FROM fine f LEFT JOIN ({rates_sql()}) r
          ON r._pid = f._pid AND r.price_region IS NOT DISTINCT FROM f.price_region
        GROUP BY ALL""").fetchall()
    return {
        tuple(row[: len(_DIFF_KEYS)]): dict(
            zip(("model", "calls", "priced", "cost"), row[len(_DIFF_KEYS) :], strict=True)
        )
        for row in rows
    }


def _grouped(pairs: list[tuple[dict, dict]], name: str, key) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for old, new in pairs:
        group = groups.setdefault(key(old, new), {name: key(old, new), "calls": 0, "old": ZERO, "new": ZERO})
        group["calls"] += new["calls"]
        group["old"] += Decimal(old["cost"] or 0)
        group["new"] += Decimal(new["cost"] or 0)
    rows = []
    for group in groups.values():
        group["delta"] = group["new"] - group["old"]
        if group["delta"] != 0:
            rows.append(group)
    return sorted(rows, key=lambda r: abs(r["delta"]), reverse=True)


def diff_relation(
    old: Catalog, new: Catalog, con: duckdb.DuckDBPyConnection, calls: str, store: str | None = None
) -> dict[str, Any]:
    """`diff` over relation `calls` in `con` (a workspace over logs or the history store): both catalogs
    price it in SQL, so the history never has to fit in memory. `store`: the attached history store that
    `calls` is the whole of, whose rollup prices groups of calls instead when it serves both catalogs."""
    why_not = rollup.prepare(con, store, calls, [old, new]) if store else None
    rolled_up = store is not None and why_not is None
    source = f"{store}.{rollup.ROLLUP}" if rolled_up else calls
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW diff_calls AS SELECT *, provider AS _provider_logged, "
        f"model AS _model_logged FROM {source}"
    )
    before = _costs_by_call_key(con, "diff_calls", old, rolled_up)
    after = _costs_by_call_key(con, "diff_calls", new, rolled_up)
    pairs = [(before[k], after[k]) for k in after]  # the same calls, so the same keys
    old_total = sum((Decimal(o["cost"] or 0) for o, _ in pairs), ZERO)
    new_total = sum((Decimal(n["cost"] or 0) for _, n in pairs), ZERO)
    delta = new_total - old_total
    feature = _DIFF_KEYS.index("feature")
    keyed = [
        (dict(o, feature=k[feature]), dict(n, feature=k[feature]))
        for k, (o, n) in zip(after, pairs, strict=True)
    ]
    return {
        "old_catalog": old.catalog_id,
        "new_catalog": new.catalog_id,
        "models": model_changes(old, new),
        "impact": {
            "calls": sum(n["calls"] for _, n in pairs),
            "old_cost_usd": old_total,
            "new_cost_usd": new_total,
            "delta_usd": delta,
            "delta_pct": float(delta / old_total * 100) if old_total else None,
            "priced_old": sum(o["priced"] for o, _ in pairs),
            "priced_new": sum(n["priced"] for _, n in pairs),
            "by_model": _grouped(keyed, "model", lambda o, n: n["model"] if n["model"] is not None else "—"),
            "by_feature": _grouped(
                keyed, "feature", lambda o, n: n["feature"] if n["feature"] is not None else "—"
            ),
        },
        **({"store_rollup": {"used": rolled_up, "why_not": why_not}} if store else {}),
    }


def parse_threshold(text: str) -> tuple[str, Decimal]:
    """'5%' -> ('pct', 5); '100USD' / '$100' / '100' -> ('usd', 100); anything else is a usage error."""
    cleaned = text.strip().upper().replace("$", "").replace(",", "")
    try:
        if cleaned.endswith("%"):
            return "pct", Decimal(cleaned[:-1])
        return "usd", Decimal(cleaned.removesuffix("USD").strip())
    except ArithmeticError:
        raise UsageError(f"--fail-above {text!r}: use a percentage (5%) or an amount (100USD)") from None


def exceeds(data: dict[str, Any], threshold: tuple[str, Decimal]) -> bool:
    impact = data.get("impact")
    if impact is None:
        return False
    kind, limit = threshold
    if kind == "pct":
        if impact["delta_pct"] is None:
            return impact["delta_usd"] != ZERO
        return abs(Decimal(str(impact["delta_pct"]))) > limit
    return abs(impact["delta_usd"]) > limit
