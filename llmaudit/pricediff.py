"""`pricing diff`: what changed between two catalogs, and what it does to the recorded history in dollars."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from llmaudit.catalog import Catalog
from llmaudit.catalog.model import Model
from llmaudit.errors import UsageError
from llmaudit.money import ZERO, sum_decimal
from llmaudit.pricing import price


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


def _impact_rows(old_priced: pl.DataFrame, new_priced: pl.DataFrame, key: str) -> list[dict[str, Any]]:
    both = pl.DataFrame(
        {
            key: new_priced[key].fill_null("—"),
            "old": old_priced["cost_usd"],
            "new": new_priced["cost_usd"],
        }
    )
    rows = (
        both.group_by(key).agg(pl.len().alias("calls"), pl.col("old").sum(), pl.col("new").sum()).to_dicts()
    )
    for row in rows:
        row["old"] = Decimal(str(row["old"] or 0))
        row["new"] = Decimal(str(row["new"] or 0))
        row["delta"] = row["new"] - row["old"]
    rows = [r for r in rows if r["delta"] != 0]
    return sorted(rows, key=lambda r: abs(r["delta"]), reverse=True)


def diff(old: Catalog, new: Catalog, calls: pl.DataFrame | None = None) -> dict[str, Any]:
    """Model changes and, when calls are given, the repriced total under each catalog and the delta."""
    data: dict[str, Any] = {
        "old_catalog": old.catalog_id,
        "new_catalog": new.catalog_id,
        "models": model_changes(old, new),
    }
    if calls is None:
        return data
    old_priced, new_priced = price(calls, old), price(calls, new)
    old_total, new_total = sum_decimal(old_priced["cost_usd"]), sum_decimal(new_priced["cost_usd"])
    delta = new_total - old_total
    data["impact"] = {
        "calls": calls.height,
        "old_cost_usd": old_total,
        "new_cost_usd": new_total,
        "delta_usd": delta,
        "delta_pct": float(delta / old_total * 100) if old_total else None,
        "priced_old": int(old_priced["priced"].sum()),
        "priced_new": int(new_priced["priced"].sum()),
        "by_model": _impact_rows(old_priced, new_priced, "model"),
        "by_feature": _impact_rows(old_priced, new_priced, "feature"),
    }
    return data


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
