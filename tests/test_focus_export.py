"""FinOps FOCUS v1.2 export: `analyze --out *focus.csv`; exact costs that sum back to the analyze total.

Test catalog (tests/fixtures/catalog), USD per 1M tokens: gpt-4o 2.50/10 (cache read 1.25, audio in 40,
out 80); gpt-4o-mini 0.15/0.60 (cache read 0.075); claude-sonnet-4-5 3/15, cache read 0.30, writes
3.75 (5m) / 6 (1h), web search $10 per 1K, >200000 tier 6/22.50.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import polars as pl
import pytest
from conftest import TEST_CATALOG, UTC, calls_frame, write
from typer.testing import CliRunner

from llmaudit.cli import app
from llmaudit.export import is_focus_path, write_focus
from llmaudit.focus import FOCUS_COLUMNS, X_COLUMNS, focus_frame
from llmaudit.pricing import price

D = Decimal
runner = CliRunner()
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CHAT = (
    '{{"object": "chat.completion", "id": "c{i}", "created": {created}, "model": "{model}", '
    '"usage": {{"prompt_tokens": {p}, "completion_tokens": {c}, "prompt_tokens_details": {{"cached_tokens": {k}}}}},'
    ' "metadata": {{"user": "{user}", "feature": "{feature}"}}}}'
)
NOV1, NOV2 = 1761998400, 1762084800  # 2025-11-01 and 2025-11-02 00:00 UTC


def _row(i, created, model, p, c, k, user, feature) -> dict:
    return {
        "i": i,
        "created": created,
        "model": model,
        "p": p,
        "c": c,
        "k": k,
        "user": user,
        "feature": feature,
    }


def _logs(tmp_path):
    rows = [
        # gpt-4o-mini c1: 600*0.15 + 400*0.075 + 100*0.6 = 0.00018
        _row(1, NOV1, "gpt-4o-mini", 1000, 100, 400, "alice", "chat"),
        # gpt-4o-mini c2: same day, same tags: 1000*0.15 + 10*0.6 = 0.000156
        _row(2, NOV1 + 60, "gpt-4o-mini", 1000, 10, 0, "alice", "chat"),
        # gpt-4o c3: 2000*2.5 + 200*10 = 0.007
        _row(3, NOV1, "gpt-4o", 2000, 200, 0, "bob", "search"),
        # gpt-4o-mini c4, next day: 3000*0.15 + 300*0.6 = 0.00063
        _row(4, NOV2, "gpt-4o-mini", 3000, 300, 0, "alice", "search"),
        _row(5, NOV2, "mystery-model", 10, 1, 0, "carol", "chat"),
    ]
    return write(tmp_path / "logs" / "app.jsonl", "\n".join(CHAT.format(**r) for r in rows) + "\n")


TOTAL = D("0.00018") + D("0.000156") + D("0.007") + D("0.00063")


def _analyze(tmp_path, out_name="focus.csv"):
    out = tmp_path / out_name
    result = runner.invoke(
        app,
        [
            "analyze",
            str(_logs(tmp_path)),
            "--catalog",
            str(TEST_CATALOG),
            "--no-store",
            "-f",
            "json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout), result.stderr


def test_focus_csv_columns_and_sum_equal_the_analyze_total(tmp_path):
    out, data, stderr = _analyze(tmp_path)
    frame = pl.read_csv(out, infer_schema=False)
    assert len(FOCUS_COLUMNS) == 57
    assert frame.columns == [*FOCUS_COLUMNS, *X_COLUMNS]
    assert all(c.startswith("x_") for c in X_COLUMNS)
    assert sum(D(c) for c in frame["BilledCost"]) == D(data["totals"]["cost_usd"]) == TOTAL
    for column in ("EffectiveCost", "ListCost", "ContractedCost"):
        assert frame[column].to_list() == frame["BilledCost"].to_list()
    assert "wrote" in stderr and "FOCUS rows (4 calls" in stderr and "1 unpriced calls" in stderr


def test_focus_rows_are_day_provider_model_meter_and_tags(tmp_path):
    out, _, _ = _analyze(tmp_path)
    frame = pl.read_csv(out, infer_schema=False)
    keys = frame.select("ChargePeriodStart", "x_Model", "SkuMeter", "Tags", "x_Calls").rows()
    assert sorted(keys) == sorted(
        [
            ("2025-11-01T00:00:00Z", "gpt-4o-mini", "Input Tokens", '{"feature":"chat","user":"alice"}', "2"),
            (
                "2025-11-01T00:00:00Z",
                "gpt-4o-mini",
                "Cached Input Tokens",
                '{"feature":"chat","user":"alice"}',
                "1",
            ),
            (
                "2025-11-01T00:00:00Z",
                "gpt-4o-mini",
                "Output Tokens",
                '{"feature":"chat","user":"alice"}',
                "2",
            ),
            ("2025-11-01T00:00:00Z", "gpt-4o", "Input Tokens", '{"feature":"search","user":"bob"}', "1"),
            ("2025-11-01T00:00:00Z", "gpt-4o", "Output Tokens", '{"feature":"search","user":"bob"}', "1"),
            (
                "2025-11-02T00:00:00Z",
                "gpt-4o-mini",
                "Input Tokens",
                '{"feature":"search","user":"alice"}',
                "1",
            ),
            (
                "2025-11-02T00:00:00Z",
                "gpt-4o-mini",
                "Output Tokens",
                '{"feature":"search","user":"alice"}',
                "1",
            ),
        ]
    )
    mini_in = frame.filter(
        (pl.col("x_Model") == "gpt-4o-mini")
        & (pl.col("SkuMeter") == "Input Tokens")
        & (pl.col("ChargePeriodStart") == "2025-11-01T00:00:00Z")
    ).row(0, named=True)
    # 600 + 1000 uncached tokens at 0.15 per 1M
    assert (mini_in["ConsumedQuantity"], mini_in["ConsumedUnit"]) == ("1600", "Tokens")
    assert (mini_in["PricingQuantity"], mini_in["PricingUnit"]) == ("0.0016", "1000000 Tokens")
    assert (mini_in["ListUnitPrice"], mini_in["BilledCost"]) == ("0.15", "0.00024")
    assert mini_in["ChargeDescription"] == "gpt-4o-mini Input Tokens"
    assert (mini_in["ProviderName"], mini_in["PublisherName"], mini_in["ServiceName"]) == (
        "OpenAI",
        "OpenAI",
        "OpenAI API",
    )
    assert (mini_in["ServiceCategory"], mini_in["ServiceSubcategory"]) == (
        "AI and Machine Learning",
        "Generative AI",
    )
    assert (mini_in["ChargeCategory"], mini_in["ChargeFrequency"], mini_in["BillingCurrency"]) == (
        "Usage",
        "Usage-Based",
        "USD",
    )
    assert mini_in["ChargeClass"] is None and mini_in["PricingCategory"] == "Standard"
    assert mini_in["SkuId"] == "openai/gpt-4o-mini/input"
    assert mini_in["x_PriceVersion"] == "2024-07-18" and mini_in["x_CatalogId"].startswith("custom@")


def test_focus_dates_are_iso_utc_and_periods_are_day_and_month(tmp_path):
    out, _, _ = _analyze(tmp_path)
    frame = pl.read_csv(out, infer_schema=False)
    for column in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
        assert all(ISO_UTC.match(v) for v in frame[column]), column
    starts = frame["ChargePeriodStart"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ")
    ends = frame["ChargePeriodEnd"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ")
    assert ((ends - starts) == dt.timedelta(days=1)).all()
    assert set(frame["BillingPeriodStart"]) == {"2025-11-01T00:00:00Z"}
    assert set(frame["BillingPeriodEnd"]) == {"2025-12-01T00:00:00Z"}


def test_focus_csv_rereads_with_polars_inference_and_list_cost_identity(tmp_path):
    out, _, _ = _analyze(tmp_path)
    inferred = pl.read_csv(out, try_parse_dates=True)
    assert inferred.schema["BilledCost"] == pl.Float64 and inferred.schema["ConsumedQuantity"] == pl.Int64
    assert inferred.schema["ChargePeriodStart"] == pl.Datetime("us", "UTC")
    text = pl.read_csv(out, infer_schema=False)
    for row in text.iter_rows(named=True):
        assert D(row["ListUnitPrice"]) * D(row["PricingQuantity"]) == D(row["ListCost"])
        assert D(row["PricingQuantity"]) * 1_000_000 == D(row["ConsumedQuantity"])


def test_focus_parquet_is_typed(tmp_path):
    out, data, _ = _analyze(tmp_path, "nov.focus.parquet")
    frame = pl.read_parquet(out)
    assert frame.columns == [*FOCUS_COLUMNS, *X_COLUMNS]
    assert isinstance(frame.schema["BilledCost"], pl.Decimal)
    assert frame.schema["ChargePeriodStart"] == pl.Datetime("us", "UTC")
    assert D(str(frame["BilledCost"].sum())) == D(data["totals"]["cost_usd"])


def test_out_names(tmp_path):
    assert (
        is_focus_path("focus.csv")
        and is_focus_path("x/2025-11.FOCUS.csv")
        and is_focus_path("a.focus.parquet")
    )
    assert not is_focus_path("priced.csv") and not is_focus_path("focus.jsonl")
    _, _, stderr = _analyze(tmp_path, "priced.csv")  # still the per-call CSV
    assert "wrote 5 calls" in stderr


def test_meters_split_cache_ttl_audio_and_web_search(catalog):
    frame = calls_frame(
        model_raw=["gpt-4o", "claude-sonnet-4-5"],
        input_uncached_tokens=[1000, 100],
        input_audio_tokens=[200, None],
        output_tokens=[500, 10],
        output_audio_tokens=[100, None],
        cache_write_5m_tokens=[None, 1000],
        cache_write_1h_tokens=[None, 1000],
        input_total_tokens=[1000, 2100],
        web_search_requests=[None, 2],
        project_id=["p1", "=HYPERLINK(1)"],
    )
    priced = price(frame, catalog)
    result = focus_frame(priced, catalog)
    rows = {(r["x_Model"], r["SkuMeter"]): r for r in result.rows.to_dicts()}
    expected = {
        # gpt-4o: 800 text in * 2.5, 200 audio in * 40, 400 text out * 10, 100 audio out * 80
        ("gpt-4o", "Input Tokens"): (800, "2.5", "0.002"),
        ("gpt-4o", "Input Audio Tokens"): (200, "40", "0.008"),
        ("gpt-4o", "Output Tokens"): (400, "10", "0.004"),
        ("gpt-4o", "Output Audio Tokens"): (100, "80", "0.008"),
        # sonnet 4.5: 100 in * 3, 1000 5m writes * 3.75, 1000 1h writes * 6, 10 out * 15, 2 searches * $10/1K
        ("claude-sonnet-4-5", "Input Tokens"): (100, "3", "0.0003"),
        ("claude-sonnet-4-5", "Cache Write Tokens (5m)"): (1000, "3.75", "0.00375"),
        ("claude-sonnet-4-5", "Cache Write Tokens (1h)"): (1000, "6", "0.006"),
        ("claude-sonnet-4-5", "Output Tokens"): (10, "15", "0.00015"),
        ("claude-sonnet-4-5", "Web Search Requests"): (2, "10", "0.02"),
    }
    assert set(rows) == set(expected)
    for key, (quantity, unit_price, cost) in expected.items():
        row = rows[key]
        assert (row["ConsumedQuantity"], row["ListUnitPrice"], row["BilledCost"]) == (
            D(quantity),
            D(unit_price),
            D(cost),
        ), key
    assert rows[("claude-sonnet-4-5", "Web Search Requests")]["PricingUnit"] == "1000 Requests"
    assert result.cost_usd == sum(D(c) for *_, c in expected.values()) == D(str(priced["cost_usd"].sum()))
    assert D(str(result.rows["BilledCost"].sum())) == result.cost_usd


def test_tiers_and_modes_are_separate_rows_and_formulas_are_neutralized(tmp_path, catalog):
    frame = calls_frame(
        model_raw=["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-sonnet-4-5"],
        input_uncached_tokens=[250_000, 1000, 1000],
        input_total_tokens=[250_000, 1000, 1000],
        output_tokens=[0, 0, 0],
        is_batch=[False, False, True],
        project_id=["=cmd|' /C calc'!A0", None, None],
    )
    out = tmp_path / "focus.csv"
    result = write_focus(price(frame, catalog), out, catalog)
    assert result.rows.height == 3
    text = pl.read_csv(out, infer_schema=False).sort("BilledCost")
    # batch 1000 * 1.5; base 1000 * 3; tier 250000 * 6
    assert text["BilledCost"].to_list() == ["0.0015", "0.003", "1.5"]
    assert text["ListUnitPrice"].to_list() == ["1.5", "3", "6"]
    assert text["ChargeDescription"].to_list() == [
        "claude-sonnet-4-5 Input Tokens, batch mode",
        "claude-sonnet-4-5 Input Tokens",
        "claude-sonnet-4-5 Input Tokens, long-context tier >200000",
    ]
    assert json.loads(text["SkuPriceDetails"][2]) == {"PriceTier": ">200000", "PriceMode": "standard"}
    assert text["SubAccountId"][2] == "'=cmd|' /C calc'!A0"


def test_calls_without_timestamp_or_price_are_left_out_and_counted(catalog):
    frame = calls_frame(
        model_raw=["gpt-4o", "gpt-4o", "mystery"],
        input_uncached_tokens=[1000, 1000, 5],
        input_total_tokens=[1000, 1000, 5],
        output_tokens=[0, 0, 0],
        ts=[dt.datetime(2025, 11, 1, 23, 59, tzinfo=UTC), None, dt.datetime(2025, 11, 1, tzinfo=UTC)],
    )
    result = focus_frame(price(frame, catalog), catalog)
    assert (result.calls, result.unpriced_calls, result.untimed_calls) == (1, 1, 1)
    assert result.cost_usd == D("0.0025") and result.untimed_cost_usd == D("0.0025")
    assert result.rows["ChargePeriodStart"].to_list() == [dt.datetime(2025, 11, 1, tzinfo=UTC)]


def test_empty_input_writes_a_header_only_file(tmp_path, catalog):
    frame = calls_frame(
        model_raw=["mystery"], input_uncached_tokens=[5], input_total_tokens=[5], output_tokens=[0]
    )
    out = tmp_path / "focus.csv"
    result = write_focus(price(frame, catalog), out, catalog)
    assert result.rows.height == 0
    assert out.read_text().splitlines() == [",".join([*FOCUS_COLUMNS, *X_COLUMNS])]


@pytest.mark.parametrize("bad", ["priced.csv", "focus.txt"])
def test_write_focus_refuses_other_names(tmp_path, catalog, bad):
    from llmaudit.errors import UsageError

    with pytest.raises(UsageError, match="focus.csv"):
        write_focus(price(calls_frame(model_raw=["gpt-4o"]), catalog), tmp_path / bad, catalog)
