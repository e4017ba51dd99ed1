"""Golden prices of the bundled catalog: the held-out facts of shared/reference/pricing.md §7, computed by hand
from the providers' published per-1M-token prices. 100K tokens of a unit cost a tenth of its rate (100K stays
below every long-context threshold)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import UTC, calls_frame

from llmaudit.catalog import load_catalog
from llmaudit.pricing import price

D = Decimal
AT = dt.datetime(2025, 11, 1, tzinfo=UTC)
M = 1_000_000
K100 = 100_000


@pytest.fixture(scope="module")
def bundled():
    return load_catalog()


def _cost(catalog, model, *, inp=0, cached=0, w5=0, w1h=0, out=0, ts=AT, tier=None, batch=False):
    frame = calls_frame(
        model_raw=[model],
        ts=[ts],
        input_uncached_tokens=[inp],
        cache_read_tokens=[cached],
        cache_write_5m_tokens=[w5],
        cache_write_1h_tokens=[w1h],
        input_total_tokens=[inp + cached + w5 + w1h],
        output_tokens=[out],
        service_tier=[tier],
        is_batch=[batch],
    )
    row = price(frame, catalog).row(0, named=True)
    assert row["priced"], (model, row["unpriced_reason"])
    return row["cost_usd"]


# (model id as logged, input, output, cached input) per 1M tokens
RATES = [
    ("gpt-4", "30", "60", None),
    ("gpt-4-32k", "60", "120", None),
    ("gpt-4-turbo", "10", "30", None),
    ("gpt-3.5-turbo", "0.50", "1.50", None),
    ("gpt-4o", "2.50", "10", "1.25"),
    ("gpt-4o-2024-05-13", "5", "15", None),
    ("gpt-4o-mini", "0.15", "0.60", "0.075"),
    ("gpt-4.1", "2", "8", "0.50"),
    ("gpt-4.1-mini", "0.40", "1.60", "0.10"),
    ("gpt-4.1-nano", "0.10", "0.40", "0.025"),
    ("gpt-5", "1.25", "10", "0.125"),
    ("gpt-5-mini", "0.25", "2", "0.025"),
    ("gpt-5-nano", "0.05", "0.40", "0.005"),
    ("o1", "15", "60", "7.50"),
    ("o3-mini", "1.10", "4.40", "0.55"),
    ("o4-mini", "1.10", "4.40", "0.275"),
    ("claude-3-haiku-20240307", "0.25", "1.25", "0.03"),
    ("claude-3-5-haiku-20241022", "0.80", "4", "0.08"),
    ("claude-3-opus-20240229", "15", "75", "1.50"),
    ("claude-3-7-sonnet-20250219", "3", "15", "0.30"),
    ("claude-sonnet-4-20250514", "3", "15", "0.30"),
    ("claude-opus-4-1-20250805", "15", "75", "1.50"),
    ("claude-opus-4-5-20251101", "5", "25", "0.50"),
    ("claude-haiku-4-5-20251001", "1", "5", "0.10"),
    ("gemini-2.5-pro", "1.25", "10", "0.125"),
    ("gemini-2.5-flash", "0.30", "2.50", "0.03"),
    ("gemini-2.5-flash-lite", "0.10", "0.40", "0.01"),
    ("gemini-2.0-flash", "0.10", "0.40", "0.025"),
]


@pytest.mark.parametrize(("model", "inp", "out", "cached"), RATES)
def test_published_rates(bundled, model, inp, out, cached):
    assert _cost(bundled, model, inp=K100) == D(inp) / 10
    assert _cost(bundled, model, out=K100) == D(out) / 10
    if cached is not None:
        assert _cost(bundled, model, cached=K100) == D(cached) / 10


@pytest.mark.parametrize(
    ("model", "w5", "w1h"),
    [
        ("claude-3-5-haiku-20241022", "1.00", "1.60"),
        ("claude-sonnet-4-20250514", "3.75", "6"),
        ("claude-opus-4-1-20250805", "18.75", "30"),
        ("claude-opus-4-5-20251101", "6.25", "10"),
        ("claude-haiku-4-5-20251001", "1.25", "2"),
        ("claude-3-haiku-20240307", "0.30", None),
    ],
)
def test_anthropic_cache_write_ttls(bundled, model, w5, w1h):
    assert _cost(bundled, model, w5=K100) == D(w5) / 10
    if w1h is not None:
        assert _cost(bundled, model, w1h=K100) == D(w1h) / 10


def test_o3_price_cut_on_2025_06_10(bundled):
    may = dt.datetime(2025, 5, 1, tzinfo=UTC)
    july = dt.datetime(2025, 7, 1, tzinfo=UTC)
    assert _cost(bundled, "o3", inp=M, out=M, ts=may) == D("50")
    assert _cost(bundled, "o3-2025-04-16", inp=M, out=M, ts=july) == D("10")
    assert _cost(bundled, "o3", cached=M, ts=july) == D("0.50")


def test_gpt5_service_tiers_and_batch(bundled):
    assert _cost(bundled, "gpt-5", inp=M, out=M) == D("11.25")
    assert _cost(bundled, "gpt-5", inp=M, out=M, tier="flex") == D("5.625")
    assert _cost(bundled, "gpt-5", inp=M, out=M, batch=True) == D("5.625")
    assert _cost(bundled, "gpt-5", inp=M, out=M, tier="priority") == D("22.50")
    assert _cost(bundled, "gpt-5", cached=M, tier="priority") == D("0.25")
    assert _cost(bundled, "gpt-4o", inp=M, out=M, batch=True) == D("6.25")  # 1.25 + 5
    assert _cost(bundled, "gpt-4o", inp=M, out=M, tier="priority") == D("21.25")  # 4.25 + 17


def test_long_context_cliffs(bundled):
    # gemini-2.5-pro at 250K input + 10K output: all tokens at 2.50 / 15
    assert _cost(bundled, "gemini-2.5-pro", inp=250_000, out=10_000) == D("0.775")
    assert _cost(bundled, "gemini-2.5-pro", inp=150_000, out=10_000) == D("0.2875")
    # claude-sonnet-4-5 at 300K input: 6 / 22.50; batch halves the tier too
    assert _cost(bundled, "claude-sonnet-4-5", inp=300_000, out=100_000) == D("1.8") + D("2.25")
    assert _cost(bundled, "claude-sonnet-4-5", inp=M, out=M, batch=True) == D("14.25")
    assert _cost(bundled, "claude-sonnet-4-20250514", inp=250_000) == D("1.5")
    # gpt-5.4 above 272K: 5 / 22.50
    later = dt.datetime(2026, 4, 1, tzinfo=UTC)
    assert _cost(bundled, "gpt-5.4", inp=300_000, out=100_000, ts=later) == D("1.5") + D("2.25")


def test_sonnet_45_cache_golden_request(bundled):
    # 100K input: 10K uncached + 80K cache read + 10K 5m write, 1K output
    assert _cost(bundled, "claude-sonnet-4-5", inp=10_000, cached=80_000, w5=10_000, out=1_000) == D("0.1065")


def test_bedrock_and_vertex_ids_price_like_the_first_party_model(bundled):
    assert _cost(bundled, "global.anthropic.claude-sonnet-4-5-20250929-v1:0", inp=K100, out=K100) == D("1.8")
    assert _cost(bundled, "claude-haiku-4-5@20251001", inp=M) == D("1")
    assert _cost(bundled, "models/gemini-2.5-flash", inp=M) == D("0.30")


def test_every_bundled_version_names_its_source(bundled):
    assert len(bundled.models) >= 30
    missing = [
        m.key for m in bundled.models for v in m.versions if not (v.source or "").startswith("https://")
    ]
    assert missing == []


def test_bedrock_regional_endpoints_cost_ten_percent_more(bundled):
    # fact 36: eu.anthropic.claude-sonnet-4-5 = 3.30 / 16.50, cache write 4.125; fact 37: global. = 3 / 15
    eu = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert _cost(bundled, eu, inp=K100) == D("0.33") and _cost(bundled, eu, out=K100) == D("1.65")
    assert _cost(bundled, eu, w5=K100) == D("0.4125")
    assert _cost(bundled, "global.anthropic.claude-sonnet-4-5-20250929-v1:0", inp=K100) == D("0.3")
    assert _cost(bundled, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", inp=M, out=M) == D(
        "31.35"
    )  # tier x1.1


def test_deepseek_off_peak_window(bundled):
    # fact 44: deepseek-chat 0.27 / 1.10 at 03:00 UTC, 0.135 / 0.55 at 18:00 UTC (16:30-00:30 off-peak)
    night = dt.datetime(2025, 8, 1, 18, 0, tzinfo=UTC)
    day = dt.datetime(2025, 8, 1, 3, 0, tzinfo=UTC)
    assert _cost(bundled, "deepseek-chat", inp=M, out=M, ts=day) == D("1.37")
    assert _cost(bundled, "deepseek-chat", inp=M, out=M, ts=night) == D("0.685")


def test_qwen_input_length_tiers(bundled):
    # fact 45: qwen3-max (DashScope) at 100K input pays the 32K-128K range on all tokens: 2.40 / 12
    assert _cost(bundled, "qwen3-max", inp=K100) == D("0.24")
    assert _cost(bundled, "qwen3-max", out=K100, inp=K100) == D("0.24") + D("1.2")
