"""The catalog flattened to one row per (model, version, mode, tier): pricing becomes a join."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import polars as pl

from llmaudit.catalog.model import (
    DAY_MINUTES,
    MODES,
    PER_CALL_UNITS,
    RATE_FALLBACK,
    UNITS,
    Mode,
    Model,
    Tier,
    Version,
    Window,
)
from llmaudit.money import MONEY_DTYPE

RATE_COLUMNS = tuple(f"rate_{unit}" for unit in UNITS)


def _resolved_rates(base: dict[str, Decimal]) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    """Per-unit rates with fallbacks applied (cache_read -> input, ...) and, per unit, the rate it borrowed."""
    rates: dict[str, Decimal | None] = {}
    borrowed: dict[str, str] = {}
    for unit in UNITS:
        rate = base.get(unit)
        parent = unit
        while rate is None and parent in RATE_FALLBACK:
            parent = RATE_FALLBACK[parent]
            rate = base.get(parent)
        if rate is not None and parent != unit:
            borrowed[unit] = parent
        rates[unit] = rate
    return rates, borrowed


def _scaled(rates: dict[str, Decimal], multiplier: Decimal) -> dict[str, Decimal]:
    """A mode multiplier discounts token units; per-search and per-request fees are not tokens and stay."""
    return {u: r if u in PER_CALL_UNITS else r * multiplier for u, r in rates.items()}


def _mode_rates(version: Version, mode: Mode | None) -> list[tuple[Tier | None, dict[str, Decimal]]]:
    """Base and tier rate sets for a mode: multiplier over base and tiers, explicit rates/tiers win."""
    multiplier = mode.multiplier if mode else Decimal(1)
    base = _scaled(version.rates, multiplier)
    if mode:
        base.update(mode.rates)
    if mode and mode.tiers is not None:
        tiers = [(t, {**base, **t.rates}) for t in mode.tiers]
    else:
        tiers = [(t, {**base, **_scaled(t.rates, multiplier)}) for t in version.tiers]
    return [(None, base), *tiers]


def _day_segments(version: Version) -> list[tuple[int, int, Window | None]]:
    """The day split into [lo, hi) minute spans, each priced by one window or by the base rates."""
    spans = sorted((lo, hi, w) for w in version.windows for lo, hi in w.segments())
    segments: list[tuple[int, int, Window | None]] = []
    cursor = 0
    for lo, hi, window in spans:
        if lo > cursor:
            segments.append((cursor, lo, None))
        segments.append((lo, hi, window))
        cursor = hi
    if cursor < DAY_MINUTES:
        segments.append((cursor, DAY_MINUTES, None))
    return segments


def _in_window(version: Version, window: Window | None) -> Version:
    """The version as priced inside a time window: window multiplier over token rates, window rates win."""
    if window is None:
        return version
    return replace(version, rates={**_scaled(version.rates, window.multiplier), **window.rates})


def price_rows(model: Model, catalog_id: str) -> list[dict]:
    rows: list[dict] = []
    for index, version in enumerate(model.versions):
        eff_to = model.versions[index + 1].effective_from if index + 1 < len(model.versions) else None
        for win_lo, win_hi, window in _day_segments(version):
            windowed = _in_window(version, window)
            for mode_name in MODES:
                mode = version.modes.get(mode_name)
                fallback = mode_name != "standard" and mode is None
                rate_sets = _mode_rates(windowed, mode)
                for position, (tier, raw_rates) in enumerate(rate_sets):
                    rates, borrowed = _resolved_rates(raw_rates)
                    notes = [f"{mode_name} not in catalog: priced at standard"] if fallback else []
                    upper = rate_sets[position + 1][0] if position + 1 < len(rate_sets) else None
                    row = {
                        "price_key": model.key,
                        "price_provider": model.provider,
                        "price_model": model.id,
                        "mode": mode_name,
                        "eff_from": version.effective_from,
                        "eff_to": eff_to,
                        "price_version": version.effective_from.date(),
                        "tier_lo": -1 if tier is None else tier.above,
                        "tier_hi": None if upper is None else upper.above,  # type: ignore[union-attr]
                        "price_tier": "base" if tier is None else f">{tier.above}",
                        "win_lo": win_lo,
                        "win_hi": win_hi,
                        "price_window": None if window is None else window.label,
                        "price_note": "; ".join(notes) or None,
                        "price_source": version.source,
                        "catalog_id": catalog_id,
                        "borrowed_cache_read": borrowed.get("cache_read"),
                        "borrowed_cache_write_1h": borrowed.get("cache_write_1h"),
                    }
                    for unit, (_, per) in UNITS.items():
                        rate = rates[unit]
                        row[f"rate_{unit}"] = None if rate is None else rate / per
                    rows.append(row)
    return rows


def region_table(models: list[Model]) -> pl.DataFrame:
    """(price_key, eff_from, region, multiplier): regional uplifts of token rates (Bedrock geo, US-only)."""
    rows = [
        {"price_key": m.key, "eff_from": v.effective_from, "region": region, "region_multiplier": multiplier}
        for m in models
        for v in m.versions
        for region, multiplier in v.regions.items()
    ]
    schema = {
        "price_key": pl.String,
        "eff_from": pl.Datetime("us", "UTC"),
        "region": pl.String,
        "region_multiplier": pl.Decimal(18, 6),
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def price_table(models: list[Model], catalog_id: str) -> pl.DataFrame:
    rows = [row for model in models for row in price_rows(model, catalog_id)]
    schema = {
        "price_key": pl.String,
        "price_provider": pl.String,
        "price_model": pl.String,
        "mode": pl.String,
        "eff_from": pl.Datetime("us", "UTC"),
        "eff_to": pl.Datetime("us", "UTC"),
        "price_version": pl.Date,
        "tier_lo": pl.Int64,
        "tier_hi": pl.Int64,
        "price_tier": pl.String,
        "win_lo": pl.Int64,
        "win_hi": pl.Int64,
        "price_window": pl.String,
        "price_note": pl.String,
        "price_source": pl.String,
        "catalog_id": pl.String,
        "borrowed_cache_read": pl.String,
        "borrowed_cache_write_1h": pl.String,
        **dict.fromkeys(RATE_COLUMNS, MONEY_DTYPE),
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
