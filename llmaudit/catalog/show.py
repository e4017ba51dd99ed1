"""`pricing show`: one model's resolved prices at a date, from the same table pricing joins against."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from llmaudit.catalog import Catalog
from llmaudit.catalog.match import normalize_model_id
from llmaudit.catalog.model import UNITS
from llmaudit.errors import InputError


def show(catalog: Catalog, query: str, at: str | dt.datetime | None = None) -> dict[str, Any]:
    model = catalog.resolve(query)
    _, id_region = normalize_model_id(query)
    if model is None:
        raise InputError(f"{query}: not in the catalog (unknown model)")
    when = (
        at
        if isinstance(at, dt.datetime)
        else dt.datetime.fromisoformat(at)
        if at
        else dt.datetime.now(dt.UTC)
    )
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    version = model.version_at(when)
    if version is None:
        raise InputError(
            f"{query}: {model.key} has no price before {model.versions[0].effective_from.date()}"
        )
    table = catalog.table_for([model.key]).filter(
        (pl.col("price_key") == model.key) & (pl.col("price_version") == version.effective_from.date())
    )
    named = set(version.rates) | {u for t in version.tiers for u in t.rates}
    named |= {u for m in version.modes.values() for u in m.rates}
    units = [u for u in UNITS if u in named]  # fallback-derived units are not shown as if they were published
    defined = {"standard", *version.modes}
    rates = [
        {
            "mode": r["mode"],
            "tier": r["price_tier"],
            "note": r["price_note"],
            **{
                u: None if r[f"rate_{u}"] is None else (r[f"rate_{u}"] * UNITS[u][1]).normalize()
                for u in units
            },
        }
        for r in table.iter_rows(named=True)
        if r["mode"] in defined
    ]
    return {
        "query": query,
        "model": model.key,
        "name": model.name,
        "aliases": list(model.aliases),
        "at": when,
        "version": {
            "effective_from": version.effective_from.date(),
            "source": version.source,
            "checked": version.checked,
            "note": version.note,
        },
        "units": units,
        "rates": rates,
        "regions": dict(version.regions),
        "id_region": id_region,
        "windows": [
            {"hours_utc": w.label, "multiplier": w.multiplier, "rates": dict(w.rates)}
            for w in version.windows
        ],
        "modes_priced_at_standard": [m for m in ("batch", "flex", "priority") if m not in defined],
        "versions": [
            {"effective_from": v.effective_from.date(), "source": v.source, "rates": dict(v.rates)}
            for v in model.versions
        ],
    }
