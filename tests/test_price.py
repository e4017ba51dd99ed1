"""Repricing rules with hand-computed expectations (test catalog: tests/fixtures/catalog)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from conftest import UTC, calls_frame

from llmaudit.pricing import STANDARD_TIER_SPELLINGS, TIER_TO_MODE, price, price_columns
from llmaudit.schema import CALL_SCHEMA

D = Decimal


def _one(catalog, **columns):
    columns = {k: [v] for k, v in columns.items()}
    return price(calls_frame(**columns), catalog).row(0, named=True)


def test_long_context_boundary_is_strictly_greater_and_a_cliff(catalog):
    # claude-sonnet-4-5: base 3/15 per 1M; above 200,000 input tokens ALL tokens pay 6/22.50
    at = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        input_uncached_tokens=200_000,
        input_total_tokens=200_000,
        output_tokens=1_000,
    )
    above = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        input_uncached_tokens=200_001,
        input_total_tokens=200_001,
        output_tokens=1_000,
    )
    assert at["price_tier"] == "base"
    assert at["cost_usd"] == D("0.6") + D("0.015")  # 200000*3/1M + 1000*15/1M
    assert above["price_tier"] == ">200000"
    assert above["cost_usd"] == D("1.200006") + D("0.0225")  # 200001*6/1M + 1000*22.5/1M


def test_tier_basis_counts_cache_reads_and_writes(catalog):
    # 100k uncached + 90k cache read + 20k 5m write = 210k total > 200k: everything at tier rates
    row = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        input_uncached_tokens=100_000,
        cache_read_tokens=90_000,
        cache_write_5m_tokens=20_000,
        cache_write_1h_tokens=0,
        input_total_tokens=210_000,
        output_tokens=0,
    )
    assert row["price_tier"] == ">200000"
    assert row["cost_input"] == D("0.6")  # 100000 * 6/1M
    assert row["cost_cache_read"] == D("0.054")  # 90000 * 0.60/1M
    assert row["cost_cache_write"] == D("0.15")  # 20000 * 7.50/1M


def test_price_change_across_effective_date(catalog):
    usage = {
        "model_raw": "o3-2025-04-16",
        "input_uncached_tokens": 1_000_000,
        "input_total_tokens": 1_000_000,
        "output_tokens": 1_000_000,
    }
    before = _one(catalog, ts=dt.datetime(2025, 6, 9, 23, 59, tzinfo=UTC), **usage)
    after = _one(catalog, ts=dt.datetime(2025, 6, 10, 0, 0, tzinfo=UTC), **usage)
    assert before["cost_usd"] == D("50") and before["price_version"] == dt.date(2025, 4, 16)
    assert after["cost_usd"] == D("10") and after["price_version"] == dt.date(2025, 6, 10)
    assert after["price_source"] == "https://example.test/o3-cut"


def test_call_before_the_first_price_is_unpriced_not_zero(catalog):
    row = _one(
        catalog,
        model_raw="o3",
        ts=dt.datetime(2024, 1, 1, tzinfo=UTC),
        input_uncached_tokens=10,
        input_total_tokens=10,
        output_tokens=10,
    )
    assert row["priced"] is False and row["cost_usd"] is None
    assert row["unpriced_reason"] == "before first price"


def test_cache_writes_5m_and_1h_have_their_own_rates(catalog):
    five = _one(
        catalog,
        model_raw="claude-haiku-4-5",
        input_uncached_tokens=0,
        cache_write_5m_tokens=1_000_000,
        cache_write_1h_tokens=0,
        input_total_tokens=1_000_000,
        output_tokens=0,
    )
    hour = _one(
        catalog,
        model_raw="claude-haiku-4-5",
        input_uncached_tokens=0,
        cache_write_5m_tokens=0,
        cache_write_1h_tokens=1_000_000,
        input_total_tokens=1_000_000,
        output_tokens=0,
    )
    assert five["cost_usd"] == D("1.25") and hour["cost_usd"] == D("2")
    # premium over plain input (1.00): 0.25 and 1.00
    assert five["cache_write_premium_usd"] == D("0.25") and hour["cache_write_premium_usd"] == D("1")


def test_cache_reads_are_discounted_and_savings_explained(catalog):
    row = _one(
        catalog,
        model_raw="gpt-4o-mini",
        input_uncached_tokens=200_000,
        cache_read_tokens=800_000,
        input_total_tokens=1_000_000,
        output_tokens=0,
    )
    assert row["cost_input"] == D("0.03") and row["cost_cache_read"] == D("0.06")
    assert row["cache_read_saving_usd"] == D("0.06")  # 800000 * (0.15 - 0.075)/1M


def test_batch_mode_halves_every_rate_including_tiers(catalog):
    row = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        is_batch=True,
        input_uncached_tokens=300_000,
        input_total_tokens=300_000,
        output_tokens=10_000,
    )
    assert (row["price_mode"], row["price_tier"]) == ("batch", ">200000")
    assert row["cost_usd"] == D("0.9") + D("0.1125")  # 300000*3/1M + 10000*11.25/1M


def test_flex_multiplier_and_priority_explicit_rates_with_own_tiers(catalog):
    base = {
        "model_raw": "gpt-5",
        "input_uncached_tokens": 1_000_000,
        "input_total_tokens": 1_000_000,
        "output_tokens": 1_000_000,
    }
    small = {**base, "input_uncached_tokens": 100_000, "input_total_tokens": 100_000}
    assert _one(catalog, service_tier="flex", **small)["cost_usd"] == D("0.0625") + D("5")
    assert _one(catalog, service_tier="priority", **small)["cost_usd"] == D("0.25") + D("20")
    assert _one(catalog, service_tier="fast", **small)["price_mode"] == "priority"
    assert _one(catalog, service_tier="default", **small)["cost_usd"] == D("0.125") + D("10")
    big = _one(catalog, service_tier="priority", **base)
    assert (big["price_tier"], big["cost_usd"]) == (">272000", D("35"))  # 5 + 30


def test_mode_missing_from_catalog_prices_standard_and_says_so(catalog):
    row = _one(
        catalog,
        model_raw="gpt-4o-mini",
        service_tier="flex",
        input_uncached_tokens=1_000_000,
        input_total_tokens=1_000_000,
        output_tokens=0,
    )
    assert row["cost_usd"] == D("0.15")
    assert "flex not in catalog: priced at standard" in row["price_note"]


def test_unknown_model_is_unpriced_and_named(catalog):
    row = _one(
        catalog, model_raw="mystery-9000", input_uncached_tokens=5, input_total_tokens=5, output_tokens=5
    )
    assert (row["priced"], row["cost_usd"], row["unpriced_reason"]) == (False, None, "unknown model")
    assert row["model"] == "mystery-9000"


def test_missing_usage_is_unpriced_but_errors_without_usage_cost_nothing(catalog):
    ok = _one(catalog, model_raw="gpt-4o-mini", status="ok")
    err = _one(catalog, model_raw=None, status="error")
    assert (ok["priced"], ok["unpriced_reason"]) == (False, "missing usage")
    assert (err["priced"], err["cost_usd"]) == (True, D(0))
    assert err["price_note"] == "error without usage: not billed"


def test_audio_tokens_priced_at_audio_rates_not_twice(catalog):
    # gpt-4o: 1000 uncached input of which 400 audio; 100 output of which 50 audio
    row = _one(
        catalog,
        model_raw="gpt-4o",
        input_uncached_tokens=1000,
        input_audio_tokens=400,
        input_total_tokens=1000,
        output_tokens=100,
        output_audio_tokens=50,
    )
    text = D(600) * D("2.5") / 10**6 + D(50) * D(10) / 10**6
    audio = D(400) * D(40) / 10**6 + D(50) * D(80) / 10**6
    assert row["cost_usd"] == text + audio


def test_web_search_without_rate_is_flagged(catalog):
    row = _one(
        catalog,
        model_raw="gpt-4o-mini",
        input_uncached_tokens=10,
        input_total_tokens=10,
        output_tokens=0,
        web_search_requests=2,
    )
    assert "web searches have no rate" in row["price_note"]
    priced = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        input_uncached_tokens=0,
        input_total_tokens=0,
        output_tokens=0,
        web_search_requests=3,
    )
    assert priced["cost_other"] == D("0.03")  # 3 * $10 per 1K


def test_totals_are_exact_and_equal_the_sum_of_calls(catalog):
    n = 1000
    frame = calls_frame(
        model_raw=["gpt-4o-mini"] * n,
        input_uncached_tokens=[1] * n,
        input_total_tokens=[1] * n,
        output_tokens=[1] * n,
    )
    priced = price(frame, catalog)
    assert priced["cost_usd"].sum() == D("0.00075")  # 1000 * (0.15 + 0.60)/1M, no float drift
    assert all(c == D("0.00000075") for c in priced["cost_usd"].to_list())


def test_provenance_columns_explain_every_priced_call(catalog):
    row = _one(
        catalog, model_raw="gpt-4o-2024-08-06", input_uncached_tokens=1, input_total_tokens=1, output_tokens=1
    )
    assert row["model"] == "gpt-4o" and row["price_model"] == "gpt-4o" and row["price_provider"] == "openai"
    assert row["catalog_id"].startswith("custom@") and row["price_version"] == dt.date(2024, 5, 13)
    assert (row["price_tier"], row["price_mode"]) == ("base", "standard")


def test_batch_multiplier_does_not_discount_per_search_fees(catalog):
    row = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        is_batch=True,
        input_uncached_tokens=1000,
        input_total_tokens=1000,
        output_tokens=0,
        web_search_requests=1,
    )
    assert row["cost_other"] == D("0.01") and row["cost_input"] == D("0.0015")


def test_gateway_cache_hits_are_not_billed(catalog):
    row = _one(
        catalog,
        model_raw="gpt-4o-mini",
        service_tier="gateway_cache",
        input_uncached_tokens=1000,
        input_total_tokens=1000,
        output_tokens=10,
    )
    assert (row["priced"], row["cost_usd"]) == (True, D(0))
    assert row["price_note"] == "served from the gateway cache: not billed by the provider"


def test_off_peak_window_wraps_past_midnight(catalog):
    usage = {
        "model_raw": "deepseek-chat",
        "input_uncached_tokens": 1_000_000,
        "input_total_tokens": 1_000_000,
        "output_tokens": 1_000_000,
    }
    day = _one(catalog, ts=dt.datetime(2025, 11, 1, 3, 0, tzinfo=UTC), **usage)
    evening = _one(catalog, ts=dt.datetime(2025, 11, 1, 18, 0, tzinfo=UTC), **usage)
    after_midnight = _one(catalog, ts=dt.datetime(2025, 11, 2, 0, 29, tzinfo=UTC), **usage)
    edge = _one(catalog, ts=dt.datetime(2025, 11, 2, 0, 30, tzinfo=UTC), **usage)
    assert day["cost_usd"] == D("1.37") and day["price_window"] is None
    assert evening["cost_usd"] == D("0.685") and evening["price_window"] == "16:30-00:30"
    assert after_midnight["cost_usd"] == D("0.685")
    assert edge["cost_usd"] == D("1.37")  # the window ends before 00:30


def test_bedrock_geo_and_in_region_uplift_but_not_global(catalog):
    usage = {
        "input_uncached_tokens": 100_000,
        "input_total_tokens": 100_000,
        "output_tokens": 100_000,
        "web_search_requests": 1,
    }
    fee = D("0.01")  # per-search fees are not uplifted
    first_party = _one(catalog, model_raw="claude-sonnet-4-5", **usage)
    geo = _one(catalog, model_raw="eu.anthropic.claude-sonnet-4-5-20250929-v1:0", **usage)
    in_region = _one(catalog, model_raw="anthropic.claude-sonnet-4-5-20250929-v1:0", **usage)
    global_ = _one(catalog, model_raw="global.anthropic.claude-sonnet-4-5-20250929-v1:0", **usage)
    assert first_party["cost_usd"] == D("1.8") + fee and first_party["price_region"] is None
    assert geo["cost_usd"] == D("1.98") + fee and geo["price_region"] == "eu"  # 0.33 + 1.65
    assert in_region["cost_usd"] == D("1.98") + fee and in_region["price_region"] == "in-region"
    assert global_["cost_usd"] == D("1.8") + fee and global_["price_region"] == "global"


def test_region_column_applies_when_the_id_has_none(catalog):
    row = _one(
        catalog,
        model_raw="claude-sonnet-4-5",
        region="us",
        input_uncached_tokens=1_000_000,
        input_total_tokens=1_000_000,
        output_tokens=0,
    )
    assert row["cost_usd"] == D("6.6")  # > 200K tier: 6 x 1.1


def test_cache_storage_is_billed_per_token_hour_when_logged(tmp_path):
    from conftest import write

    from llmaudit.catalog import load_catalog

    write(
        tmp_path / "c" / "g.yaml",
        "schema_version: 1\nprovider: g\nmodels:\n  gem:\n    versions:\n"
        "      - {effective_from: 2025-01-01, rates: {input: 1, output: 2, cache_storage: 4.5, cache_read: 0.1}}\n",
    )
    cat = load_catalog(tmp_path / "c", include_bundled=False)
    row = _one(
        cat,
        model_raw="gem",
        input_uncached_tokens=0,
        input_total_tokens=0,
        output_tokens=0,
        cache_storage_token_hours=2_000_000,
        is_batch=True,
    )
    assert row["cost_other"] == D("9")  # 2M token-hours x $4.50 per 1M; batch does not discount storage


def test_price_columns_gives_the_same_values_in_input_order(catalog):
    """The counterfactual path (reconcile, FOCUS) asks for a few columns: the very values `price` gives,
    row for row, priced and unpriced calls mixed."""
    n = 30_000
    i = pl.int_range(n, eager=True)
    frame = calls_frame(
        model_raw=pl.select(pl.format("gpt-4o-mini-{}", i % 3)).to_series().str.replace("-0$", "").to_list(),
        input_uncached_tokens=(i % 97).to_list(),
        input_total_tokens=(i % 97).to_list(),
        output_tokens=(i * 7 % 113).to_list(),
    )
    full = price(frame, catalog)
    some = price_columns(frame, catalog, ["cost_usd", "unpriced_reason", "input_uncached_tokens"])
    assert some.columns == ["cost_usd", "unpriced_reason", "input_uncached_tokens"]
    assert some.equals(full.select(some.columns))
    assert some["cost_usd"].null_count() == 2 * n // 3 and some["cost_usd"].n_unique() > 50
    with pytest.raises(ValueError, match="not_a_column"):
        price_columns(frame, catalog, ["cost_usd", "not_a_column"])


def test_price_returns_every_call_column_as_given_row_for_row(catalog):
    """The call's own columns come back unchanged and in input order (they are not sent through the
    pricing query); only model and provider are filled in from the catalog when the log had none."""
    n = 20_000
    i = pl.int_range(n, eager=True)
    frame = calls_frame(
        model_raw=pl.select(pl.format("claude-sonnet-4-5-{}", i % 2))
        .to_series()
        .str.replace("-0$", "")
        .to_list(),
        record_id=pl.select(pl.format("r{}", (i * 7919) % n)).to_series().to_list(),
        feature=pl.select(pl.format("f{}", i % 13)).to_series().to_list(),
        input_uncached_tokens=(i % 997).to_list(),
        input_total_tokens=(i % 997).to_list(),
        output_tokens=(i * 7 % 113).to_list(),
    ).with_columns(model=None, provider=None)
    priced = price(frame, catalog)
    kept = [c for c in CALL_SCHEMA if c not in ("model", "provider")]
    assert priced.select(kept).equals(frame.select(kept))
    known = priced.filter(pl.col("model_raw") == "claude-sonnet-4-5")
    assert known.height == n // 2
    assert set(known["model"]) == {"claude-sonnet-4-5"} and set(known["provider"]) == {"anthropic"}
    assert priced.filter(pl.col("model_raw") != "claude-sonnet-4-5")["model"].null_count() == n // 2


def test_the_price_mode_follows_the_tier_however_it_is_spelled(catalog):
    """A call's mode is `TIER_TO_MODE`'s for its service tier trimmed and lower-cased (standard for any
    other tier, batch for a batch call whatever its tier): the spellings matched as they are, without
    folding, must give what folding gives."""
    assert not set(STANDARD_TIER_SPELLINGS) & set(TIER_TO_MODE)
    spellings = [*STANDARD_TIER_SPELLINGS, *TIER_TO_MODE, None, "", "Default", " standard ", "FLEX", " flex"]
    spellings += ["Priority ", "ON_DEMAND_FLEX", "Batch", "fast ", "scale-tier", "gateway_cache"]
    tiers = spellings * 2
    batch = [False] * len(spellings) + [True] * len(spellings)
    priced = price(
        calls_frame(
            model_raw=["gpt-5"] * len(tiers),
            service_tier=tiers,
            is_batch=batch,
            input_uncached_tokens=[1000] * len(tiers),
            input_total_tokens=[1000] * len(tiers),
            output_tokens=[10] * len(tiers),
        ),
        catalog,
    )
    expected = [
        "batch" if b else TIER_TO_MODE.get((t or "").strip().lower(), "standard")
        for t, b in zip(tiers, batch, strict=True)
    ]
    assert priced["price_mode"].to_list() == expected
    assert {"flex", "priority", "batch", "standard"} <= set(expected)
