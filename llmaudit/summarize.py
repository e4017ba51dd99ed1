"""Summaries of priced calls: coverage, totals, breakdowns, cache economics, tier and mode exposure.

Pure functions from frames to plain dicts (Decimal money); rendering lives in llmaudit.report.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from llmaudit.errors import UsageError
from llmaudit.money import ZERO, sum_decimal

# --by names -> expressions over the priced calls
GROUP_KEYS: dict[str, pl.Expr] = {
    "model": pl.col("model"),
    "provider": pl.col("provider"),
    "day": pl.col("ts").dt.date().cast(pl.String),
    "hour": pl.col("ts").dt.truncate("1h").dt.strftime("%Y-%m-%dT%H:00Z"),
    "week": pl.col("ts").dt.truncate("1w").dt.date().cast(pl.String),
    "month": pl.col("ts").dt.strftime("%Y-%m"),
    "feature": pl.col("feature"),
    "user": pl.col("user_id"),
    "project": pl.col("project_id"),
    "key": pl.col("api_key_id"),
    "session": pl.col("session_id"),
    "mode": pl.col("price_mode"),
    "tier": pl.col("price_tier"),
    "status": pl.col("status"),
    "format": pl.col("source_format"),
    "service_tier": pl.col("service_tier"),
    "region": pl.col("region"),
    "gateway": pl.col("gateway"),
}
ATTRIBUTION = {"feature": "feature", "user": "user_id", "project": "project_id", "key": "api_key_id"}


def parse_group_keys(by: str | list[str] | None) -> list[str]:
    if not by:
        return []
    names = [n.strip() for n in (by.split(",") if isinstance(by, str) else by) if n.strip()]
    unknown = [n for n in names if n not in GROUP_KEYS]
    if unknown:
        raise UsageError(f"unknown --by column(s): {', '.join(unknown)}; known: {', '.join(GROUP_KEYS)}")
    return names


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value)) if not isinstance(value, Decimal) else value


def group(priced: pl.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    """Calls, tokens and exact cost per group, most expensive first (unpriced calls counted, never $0)."""
    if priced.is_empty():
        return []
    frame = priced.with_columns([GROUP_KEYS[k].alias(k) for k in keys])
    rows = (
        frame.group_by(keys)
        .agg(
            pl.col("request_count").sum().alias("calls"),
            pl.col("request_count").filter(pl.col("priced")).sum().alias("priced_calls"),
            pl.col("input_total_tokens").sum().alias("input_tokens"),
            pl.col("output_tokens").sum().alias("output_tokens"),
            pl.col("cost_usd").sum().alias("cost_usd"),
        )
        .sort(["cost_usd", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
        .to_dicts()
    )
    total = sum((_dec(r["cost_usd"]) for r in rows), ZERO)
    for row in rows:
        row["unpriced_calls"] = row["calls"] - row["priced_calls"]
        row["cost_usd"] = _dec(row["cost_usd"]) if row["priced_calls"] else None
        row["share"] = float(row["cost_usd"] / total) if total and row["cost_usd"] is not None else 0.0
    return rows


def coverage(ingest, priced: pl.DataFrame, outside_period: int, sample: int = 10) -> dict[str, Any]:
    rejects = ingest.rejects
    unpriced = priced.filter(~pl.col("priced"))
    unknown_models = (
        unpriced.filter(pl.col("unpriced_reason") == "unknown model")
        .group_by("model_raw")
        .agg(pl.len().alias("calls"), pl.col("input_total_tokens").sum().alias("input_tokens"))
        .sort("calls", descending=True)
        .to_dicts()
    )
    reasons = unpriced.group_by("unpriced_reason").len().sort("len", descending=True)
    formats: dict[str, int] = {}
    for fmt in ingest.files.values():
        formats[fmt] = formats.get(fmt, 0) + 1
    calls = priced.height
    return {
        "rows_read": ingest.rows_read,
        "calls": calls,
        "priced": int(priced["priced"].sum()) if calls else 0,
        "unpriced": unpriced.height,
        "rejected": rejects.height,
        "skipped": ingest.skipped.height,
        "collapsed": ingest.collapsed,
        "outside_period": outside_period,
        "reconciles": ingest.rows_read
        == calls + rejects.height + ingest.skipped.height + ingest.collapsed + outside_period
        and calls == int(priced["priced"].sum() if calls else 0) + unpriced.height,
        "files": len(ingest.files),
        "formats": formats,
        "unknown_format_files": [{"file": f, "rows": n} for f, n in ingest.unknown_files.items()],
        "unpriced_models": unknown_models,
        "unpriced_reasons": {r["unpriced_reason"]: r["len"] for r in reasons.to_dicts()},
        "cost_lines": int((unpriced["unpriced_reason"] == "cost line (no usage)").sum()),
        "rejects_sample": [
            f"{r['file']}:{r['line']}: {r['reason']}" for r in rejects.head(sample).to_dicts()
        ],
        "skipped_reasons": {
            r["reason"]: r["len"] for r in ingest.skipped.group_by("reason").len().to_dicts()
        },
        "calls_without_timestamp": int(priced["ts"].is_null().sum()),
        "naive_timestamps_assumed_utc": int(priced["tz_assumed"].sum()) if calls else 0,
    }


def totals(priced: pl.DataFrame) -> dict[str, Any]:
    """Repriced totals, and what the sources recorded: all of it, and the part we could compare call by call."""
    recorded = priced.filter(pl.col("cost_reported").is_not_null())
    compared = recorded.filter(pl.col("priced"))
    repriced_where_reported = sum_decimal(compared["cost_usd"])
    cost_compared = sum_decimal(compared["cost_reported"])
    return {
        "cost_usd": sum_decimal(priced["cost_usd"]),
        "calls_with_reported_cost": recorded.height,
        "cost_reported_usd": sum_decimal(recorded["cost_reported"]) if recorded.height else None,
        "calls_compared": compared.height,
        "cost_reported_compared_usd": cost_compared if compared.height else None,
        "cost_repriced_where_reported_usd": repriced_where_reported if compared.height else None,
        "reported_minus_repriced_usd": cost_compared - repriced_where_reported if compared.height else None,
        "cost_input_usd": sum_decimal(priced["cost_input"]),
        "cost_cache_read_usd": sum_decimal(priced["cost_cache_read"]),
        "cost_cache_write_usd": sum_decimal(priced["cost_cache_write"]),
        "cost_output_usd": sum_decimal(priced["cost_output"]),
        "cost_other_usd": sum_decimal(priced["cost_other"]),
        "input_tokens": int(priced["input_total_tokens"].sum() or 0),
        "output_tokens": int(priced["output_tokens"].sum() or 0),
    }


def cache_economics(priced: pl.DataFrame) -> dict[str, Any]:
    ok = priced.filter(pl.col("priced"))
    saving = sum_decimal(ok["cache_read_saving_usd"])
    premium = sum_decimal(ok["cache_write_premium_usd"])
    return {
        "cache_read_tokens": int(ok["cache_read_tokens"].sum() or 0),
        "cache_write_5m_tokens": int(ok["cache_write_5m_tokens"].sum() or 0),
        "cache_write_1h_tokens": int(ok["cache_write_1h_tokens"].sum() or 0),
        "read_saving_usd": saving,
        "write_premium_usd": premium,
        "net_saving_usd": saving - premium,
        "calls_with_cache_reads": int((ok["cache_read_tokens"].fill_null(0) > 0).sum()),
        "calls_with_cache_writes": int(
            ((ok["cache_write_5m_tokens"].fill_null(0) + ok["cache_write_1h_tokens"].fill_null(0)) > 0).sum()
        ),
    }


def exposure(priced: pl.DataFrame, column: str) -> list[dict[str, Any]]:
    ok = priced.filter(pl.col("priced") & pl.col(column).is_not_null())
    rows = (
        ok.group_by(column)
        .agg(pl.col("request_count").sum().alias("calls"), pl.col("cost_usd").sum())
        .sort(column)
        .to_dicts()
    )
    return [{"name": r[column], "calls": r["calls"], "cost_usd": _dec(r["cost_usd"])} for r in rows]


def attribution_columns(priced: pl.DataFrame) -> list[str]:
    """Attribution dimensions that the logs actually carry."""
    return [
        name
        for name, col in ATTRIBUTION.items()
        if priced.height and priced[col].null_count() < priced.height
    ]
