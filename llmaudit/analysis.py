"""`analyze`: read logs, reprice every call, summarize. The library call behind `llmaudit analyze`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from llmaudit import summarize
from llmaudit.catalog import Catalog, load_catalog
from llmaudit.errors import UsageError
from llmaudit.ingest import IngestResult, Mapping, read_logs
from llmaudit.parquet_io import is_parquet_source, read_calls_parquet
from llmaudit.pricing import price


@dataclass
class Report:
    """What a command found: `data` is JSON-ready (Decimal money), `calls` the priced rows behind it."""

    schema: str
    data: dict[str, Any]
    calls: pl.DataFrame = field(repr=False)
    rejects: pl.DataFrame = field(repr=False)


def _utc(value: dt.date | dt.datetime | str | None, end: bool = False) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                dt.datetime.fromisoformat(value)
                if "T" in value or " " in value
                else dt.date.fromisoformat(value)
            )
        except ValueError:
            raise UsageError(
                f"{value!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM[:SS][+00:00])"
            ) from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return moment + dt.timedelta(days=1) if end else moment


def in_period(calls: pl.DataFrame, since: dt.datetime | None, until: dt.datetime | None) -> pl.DataFrame:
    """Calls with since <= ts < until (an --until date includes that whole day)."""
    condition = pl.lit(True)
    if since is not None:
        condition &= pl.col("ts") >= since
    if until is not None:
        condition &= pl.col("ts") < until
    return calls.filter(condition.fill_null(False)) if since or until else calls


def summarize_priced(
    ingest: IngestResult, priced: pl.DataFrame, catalog: Catalog, outside: int, by: list[str]
) -> dict[str, Any]:
    attribution = summarize.attribution_columns(priced)
    data: dict[str, Any] = {
        "coverage": summarize.coverage(ingest, priced, outside),
        "totals": summarize.totals(priced),
        "period": {
            "first": priced["ts"].min() if priced.height else None,
            "last": priced["ts"].max() if priced.height else None,
        },
        "by_model": summarize.group(priced, ["model"]),
        "by_day": sorted(
            summarize.group(priced.filter(pl.col("ts").is_not_null()), ["day"]), key=lambda r: r["day"]
        ),
        **{f"by_{name}": summarize.group(priced, [name]) for name in attribution},
        "cache": summarize.cache_economics(priced),
        "tiers": summarize.exposure(priced, "price_tier"),
        "modes": summarize.exposure(priced, "price_mode"),
        "catalog": {
            "id": catalog.catalog_id,
            "models": len(catalog.models),
            "files": [str(f) for f in catalog.files],
        },
    }
    if by:
        data["breakdown"] = {"by": by, "rows": summarize.group(priced, by)}
    return data


def analyze(
    paths: list[str | Path] | str | Path,
    *,
    catalog: Catalog | None = None,
    since: dt.date | dt.datetime | str | None = None,
    until: dt.date | dt.datetime | str | None = None,
    by: str | list[str] | None = None,
    format: str = "auto",
    mapping: Mapping | str | Path | None = None,
) -> Report:
    """Read `paths`, reprice with `catalog` (bundled by default) and summarize into an analyze Report."""
    keys = summarize.parse_group_keys(by)
    catalog = catalog or load_catalog()
    ingest = _read_sources([paths] if isinstance(paths, str | Path) else list(paths), format, mapping)
    calls = in_period(ingest.calls, _utc(since), _utc(until, end=True))
    priced = price(calls, catalog)
    data = summarize_priced(ingest, priced, catalog, ingest.calls.height - calls.height, keys)
    return Report(schema="llmaudit.analyze/v1", data=data, calls=priced, rejects=ingest.rejects)


def _read_sources(paths: list[str | Path], format: str, mapping) -> IngestResult:
    """Raw logs through the readers; Parquet calls tables (from `llmaudit export`) as they are."""
    tables = [p for p in paths if is_parquet_source(p)]
    logs = [p for p in paths if p not in tables]
    ingest = read_logs(logs, format=format, mapping=mapping) if logs else None
    if not tables:
        return ingest  # type: ignore[return-value]
    frames = [read_calls_parquet(p) for p in tables]
    if ingest is not None:
        frames.insert(0, ingest.calls)
    calls = pl.concat(frames, how="vertical_relaxed").unique("record_id", keep="first", maintain_order=True)
    read_from_tables = sum(f.height for f in frames) - (ingest.calls.height if ingest else 0)
    empty = pl.DataFrame(
        schema={"file": pl.String, "line": pl.Int64, "reason": pl.String, "format": pl.String}
    )
    return IngestResult(
        calls=calls,
        rejects=ingest.rejects if ingest else empty,
        skipped=ingest.skipped if ingest else empty,
        rows_read=(ingest.rows_read if ingest else 0) + read_from_tables,
        collapsed=(ingest.collapsed if ingest else 0) + sum(f.height for f in frames) - calls.height,
        files={**(ingest.files if ingest else {}), **{str(p): "calls_parquet" for p in tables}},
        unknown_files=ingest.unknown_files if ingest else {},
    )


def analyze_history(
    store,
    *,
    catalog: Catalog | None = None,
    since: dt.date | dt.datetime | str | None = None,
    until: dt.date | dt.datetime | str | None = None,
    by: str | list[str] | None = None,
) -> Report:
    """Re-analyze the calls in the history store (no log parsing), repriced with `catalog`."""
    keys = summarize.parse_group_keys(by)
    catalog = catalog or load_catalog()
    calls = store.calls(_utc(since), _utc(until, end=True))
    empty = pl.DataFrame(
        schema={"file": pl.String, "line": pl.Int64, "reason": pl.String, "format": pl.String}
    )
    ingest = IngestResult(
        calls=calls,
        rejects=empty,
        skipped=empty,
        rows_read=calls.height,
        collapsed=0,
        files={str(store.path): "history"},
    )
    priced = price(calls, catalog)
    data = summarize_priced(ingest, priced, catalog, 0, keys)
    return Report(schema="llmaudit.analyze/v1", data=data, calls=priced, rejects=empty)
