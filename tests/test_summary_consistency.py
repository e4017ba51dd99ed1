"""The analyze summary (integer quantities summed per price, then x rates, in one GROUPING SETS query) must
agree to the last decimal with the priced calls (Decimal cost on every row) that `report.calls` returns,
and with the in-memory reader; the workspace must clean up after itself."""

from __future__ import annotations

import gc
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from llmaudit.analysis import analyze
from llmaudit.catalog import load_catalog
from llmaudit.ingest import read_logs
from llmaudit.money import sum_decimal

SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"


def _dec(value) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _assert_summary_matches_calls(report) -> None:
    data, calls = report.data, report.calls
    priced = calls.filter(pl.col("priced"))
    totals = data["totals"]
    assert _dec(totals["cost_usd"]) == sum_decimal(calls["cost_usd"])
    for part in ("input", "cache_read", "cache_write", "output", "other"):
        assert _dec(totals[f"cost_{part}_usd"]) == sum_decimal(calls[f"cost_{part}"]), part
    compared = calls.filter(pl.col("cost_reported").is_not_null() & pl.col("priced"))
    assert totals["calls_compared"] == compared.height
    if compared.height:
        assert _dec(totals["cost_repriced_where_reported_usd"]) == sum_decimal(compared["cost_usd"])
    cache = data["cache"]
    assert _dec(cache["read_saving_usd"]) == sum_decimal(priced["cache_read_saving_usd"])
    assert _dec(cache["write_premium_usd"]) == sum_decimal(priced["cache_write_premium_usd"])
    assert cache["cache_read_tokens"] == (priced["cache_read_tokens"].sum() or 0)

    expected = {
        r["model"]: (r["calls"], sum_decimal(pl.Series([r["cost"]], dtype=calls["cost_usd"].dtype)))
        for r in calls.group_by("model")
        .agg(pl.col("request_count").sum().alias("calls"), pl.col("cost_usd").sum().alias("cost"))
        .to_dicts()
    }
    got = {r["model"]: (r["calls"], _dec(r["cost_usd"])) for r in data["by_model"]}
    assert got == expected
    costs = [r["cost_usd"] for r in data["by_model"] if r["cost_usd"] is not None]
    assert costs == sorted(costs, reverse=True)
    # the day breakdown is summed apart from the others (its own hash table): same calls, same money
    daily = {
        r["day"]: (r["calls"], sum_decimal(pl.Series([r["cost"]], dtype=calls["cost_usd"].dtype)))
        for r in calls.filter(pl.col("ts").is_not_null())
        .group_by(pl.col("ts").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d").alias("day"))
        .agg(pl.col("request_count").sum().alias("calls"), pl.col("cost_usd").sum().alias("cost"))
        .to_dicts()
    }
    assert {r["day"]: (r["calls"], _dec(r["cost_usd"])) for r in data["by_day"]} == daily

    tiers = {
        r["price_tier"]: r["calls"]
        for r in priced.filter(pl.col("price_tier").is_not_null())
        .group_by("price_tier")
        .agg(pl.col("request_count").sum().alias("calls"))
        .to_dicts()
    }
    assert {t["name"]: t["calls"] for t in data["tiers"]} == tiers
    assert cache["calls_with_cache_reads"] == (priced["cache_read_tokens"].fill_null(0) > 0).sum()
    coverage = data["coverage"]
    assert (coverage["calls"], coverage["priced"]) == (calls.height, priced.height)
    assert coverage["calls_without_timestamp"] == calls["ts"].is_null().sum()
    assert coverage["naive_timestamps_assumed_utc"] == calls["tz_assumed"].sum()
    reasons = calls.filter(~pl.col("priced"))["unpriced_reason"].value_counts()
    assert coverage["unpriced_reasons"] == dict(reasons.iter_rows())
    assert data["period"]["first"] == calls["ts"].min() and data["period"]["last"] == calls["ts"].max()
    assert coverage["reconciles"]


def test_sample_logs_summary_matches_priced_calls():
    report = analyze(SAMPLE_LOGS)
    assert report.data["coverage"]["collapsed"] > 0  # copies collapsed in SQL
    _assert_summary_matches_calls(report)


def test_anchor_logs_summary_matches_priced_calls(anchors):
    # Bedrock regional uplifts, cache writes with TTLs, aggregates, gateway cache hits, errors without usage
    _assert_summary_matches_calls(analyze(anchors / "logs"))


def test_workspace_path_equals_in_memory_reader():
    report = analyze(SAMPLE_LOGS)
    ingest = read_logs(SAMPLE_LOGS)
    # pricing canonicalizes model and provider; the workspace does not keep request/response texts
    texts = ("request_text", "response_text")
    facts = [c for c in ingest.calls.columns if c not in ("model", "provider", *texts)]
    assert report.calls.select(pl.col(texts).is_null().all()).row(0) == (True, True)
    assert ingest.calls["request_text"].is_not_null().any()
    streamed = report.calls.select(facts).sort("record_id")
    assert streamed.equals(ingest.calls.select(facts).sort("record_id"))
    assert report.rejects.equals(ingest.rejects)
    coverage = report.data["coverage"]
    assert (coverage["rows_read"], coverage["collapsed"], coverage["skipped"]) == (
        ingest.rows_read,
        ingest.collapsed,
        ingest.skipped.height,
    )


def test_period_and_breakdown_agree_with_calls():
    report = analyze(SAMPLE_LOGS, since="2026-03-05", until="2026-03-09", by="feature,day")
    calls = report.calls
    days = calls["ts"].dt.strftime("%Y-%m-%d")
    assert (days.min(), days.max()) == ("2026-03-05", "2026-03-09")
    assert report.data["coverage"]["outside_period"] > 0
    rows = report.data["breakdown"]["rows"]
    assert sum(r["calls"] for r in rows) == calls["request_count"].sum()
    assert sum(_dec(r["cost_usd"]) for r in rows) == sum_decimal(calls["cost_usd"])


@pytest.mark.parametrize(
    ("key", "truncate", "shown"),
    [("hour", "1h", "%Y-%m-%dT%H:00Z"), ("week", "1w", "%Y-%m-%d"), ("month", "1mo", "%Y-%m")],
)
def test_time_breakdowns_group_calls_by_their_utc_period(key, truncate, shown):
    report = analyze(SAMPLE_LOGS, by=key)
    calls = report.calls.filter(pl.col("ts").is_not_null())
    expected = dict(
        calls.group_by(pl.col("ts").dt.convert_time_zone("UTC").dt.truncate(truncate).dt.strftime(shown))
        .agg(pl.col("request_count").sum())
        .iter_rows()
    )
    got = {r[key]: r["calls"] for r in report.data["breakdown"]["rows"] if r[key] is not None}
    assert got == expected and (len(got) > 1 or key == "month")  # the sample logs span one month


def test_workspace_directory_is_removed_with_the_report():
    report = analyze(SAMPLE_LOGS, catalog=load_catalog())
    directory = Path(report.workspace.directory)
    assert any(directory.iterdir())
    del report
    gc.collect()
    assert not directory.exists()


def test_memory_limit_is_applied(monkeypatch):
    monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", "256MB")
    report = analyze(SAMPLE_LOGS)
    setting = report.workspace.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    reference = duckdb.connect()
    reference.execute("SET memory_limit = '256MB'")
    assert setting == reference.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_no_call_in_the_period_is_an_empty_report_not_a_crash():
    report = analyze(SAMPLE_LOGS, since="2030-01-01")
    coverage = report.data["coverage"]
    assert (coverage["calls"], coverage["priced"], coverage["reconciles"]) == (0, 0, True)
    assert (
        coverage["outside_period"]
        == coverage["rows_read"] - coverage["rejected"] - coverage["skipped"] - coverage["collapsed"]
    )
    assert report.data["totals"]["cost_usd"] == 0 and report.data["by_model"] == []
    assert report.data["period"] == {"first": None, "last": None}
    assert report.calls.is_empty()
