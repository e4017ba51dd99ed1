"""Anthropic Admin API Usage Report and Cost Report pages: aggregate rows (no real sample exists; the fixtures
follow the field lists of the API reference: shared/reference/log_formats.md §2.3 and §2.4).

Test catalog, USD per 1M tokens: claude-sonnet-4-5 3 in / 0.30 cache read / 3.75 5m write / 6 1h write / 15
out, web search $10 per 1K, US-only geo x1.1, >200K tier 6 / 22.50; claude-haiku-4-5 1 / 0.10 / 1.25 / 2 / 5;
batch = half price.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

UTC = dt.UTC


def _usage(model, uncached, read, output, **fields) -> dict:
    row = {
        "uncached_input_tokens": uncached,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": None,
        "workspace_id": None,
        "model": model,
        "service_tier": None,
        "context_window": None,
    }
    row.update(fields)
    return row


def _bucket(day: int, results: list) -> dict:
    start = dt.datetime(2025, 11, day, tzinfo=UTC)
    return {
        "starting_at": start.isoformat().replace("+00:00", "Z"),
        "ending_at": (start + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "results": results,
    }


USAGE = {
    "data": [
        _bucket(
            1,
            [
                # 10000*3 + 50000*0.30 + 4000*3.75 + 1000*6 + 3000*15 + 5 searches * $10/1K = 0.161
                _usage(
                    "claude-sonnet-4-5-20250929",
                    10000,
                    50000,
                    3000,
                    cache_creation={"ephemeral_5m_input_tokens": 4000, "ephemeral_1h_input_tokens": 1000},
                    server_tool_use={"web_search_requests": 5},
                    workspace_id="wrkspc_a",
                    api_key_id="apikey_01",
                    service_tier="standard",
                    context_window="0-200k",
                    inference_geo="global",
                ),
                # batch, flattened cache-creation keys: (20000*1 + 2000*2 + 4000*5) * 0.5 = 0.022
                {
                    **_usage("claude-haiku-4-5-20251001", 20000, 0, 4000, service_tier="batch"),
                    "cache_creation": None,
                    "cache_creation_5m_input_tokens": 0,
                    "cache_creation_1h_input_tokens": 2000,
                },
            ],
        ),
        # US-only inference: (1000*3 + 1000*15) * 1.1 = 0.0198
        _bucket(
            2, [_usage("claude-sonnet-4-5-20250929", 1000, 0, 1000, inference_geo="us", account_id="user_x")]
        ),
        _bucket(3, []),
    ],
    "has_more": False,
    "next_page": None,
}


def test_usage_report_rows(tmp_path, catalog):
    path = write(tmp_path / "usage_report.json", json.dumps(USAGE, indent=2))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "anthropic_usage_report"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        4,
        3,
        1,
        0,
    )
    assert result.skipped["reason"].to_list() == ["no usage in this bucket"]
    calls = result.calls.sort("ts", "model_raw")
    assert set(calls["row_kind"]) == {"aggregate"} and set(calls["provider"]) == {"anthropic"}
    # the report has no request count: unknown, not 1
    assert calls["request_count"].null_count() == 3
    assert calls["ts"].to_list() == [dt.datetime(2025, 11, d, tzinfo=UTC) for d in (1, 1, 2)]
    assert calls["ts_end"].to_list() == [dt.datetime(2025, 11, d, tzinfo=UTC) for d in (2, 2, 3)]
    # input EXCLUDES cache in the report: total = uncached + reads + writes
    assert calls["input_total_tokens"].to_list() == [22000, 65000, 1000]
    assert calls["cache_write_5m_tokens"].to_list() == [0, 4000, 0]
    assert calls["cache_write_1h_tokens"].to_list() == [2000, 1000, 0]
    assert calls["web_search_requests"].to_list() == [0, 5, 0]
    assert calls["is_batch"].to_list() == [True, False, False]
    assert calls["region"].to_list() == [None, "global", "us"]
    assert calls["project_id"].to_list() == [None, "wrkspc_a", None]
    assert (calls["api_key_id"][1], calls["user_id"][2]) == ("apikey_01", "user_x")
    priced = price(result.calls, catalog).sort("ts", "model_raw")
    assert priced["cost_usd"].to_list() == [Decimal("0.022"), Decimal("0.161"), Decimal("0.0198")]
    assert priced["price_mode"].to_list() == ["batch", "standard", "standard"]


def test_usage_report_pages_as_jsonl_and_re_downloads(tmp_path):
    first = {"data": USAGE["data"][:1], "has_more": True, "next_page": "page_x"}
    second = {"data": USAGE["data"][1:], "has_more": False, "next_page": None}
    write(tmp_path / "pages.jsonl", f"{json.dumps(first)}\n{json.dumps(second)}\n")
    write(tmp_path / "again.json", json.dumps(USAGE))
    result = read_logs(tmp_path)
    assert set(result.files.values()) == {"anthropic_usage_report"}
    assert (result.rows_read, result.calls.height, result.collapsed, result.skipped.height) == (8, 3, 3, 2)
    assert result.reconciles


def test_usage_report_bucket_of_many_small_calls_is_priced_at_the_base_tier(tmp_path, catalog):
    bucket = _bucket(1, [_usage("claude-sonnet-4-5-20250929", 300_000, 0, 0, context_window="0-200k")])
    result = read_logs(write(tmp_path / "usage.json", json.dumps({"data": [bucket], "has_more": False})))
    row = price(result.calls, catalog).row(0, named=True)
    assert row["cost_usd"] == Decimal("0.9")  # 300000 * 3 / 1M: no request count, so the base tier
    assert "aggregate without a request count: base tier" in row["price_note"]


COSTS = {
    "data": [
        _bucket(
            1,
            [
                {
                    "currency": "USD",
                    "amount": "12345.6789",  # cents: $123.456789
                    "workspace_id": "wrkspc_a",
                    "description": "Claude Sonnet 4.5 Usage - Input Tokens",
                    "cost_type": "tokens",
                    "context_window": "0-200k",
                    "model": "claude-sonnet-4-5-20250929",
                    "service_tier": "standard",
                    "token_type": "uncached_input_tokens",
                },
                {
                    "currency": "USD",
                    "amount": "50",
                    "workspace_id": "wrkspc_a",
                    "description": "Web Search",
                    "cost_type": "web_search",
                    "context_window": None,
                    "model": None,
                    "service_tier": None,
                    "token_type": None,
                },
            ],
        ),
        _bucket(
            2,
            [
                {
                    "currency": "USD",
                    "amount": "0.5",
                    "workspace_id": None,
                    "description": None,
                    "model": None,
                },
                {
                    "currency": "EUR",
                    "amount": "100",
                    "workspace_id": None,
                    "description": None,
                    "model": None,
                },
            ],
        ),
        _bucket(3, []),
    ],
    "has_more": False,
    "next_page": None,
}


def test_cost_report_amounts_are_cents(tmp_path, catalog):
    path = write(tmp_path / "cost_report.json", json.dumps(COSTS))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "anthropic_cost_report"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        5,
        3,
        2,
        0,
    )
    assert sorted(result.skipped["reason"]) == [
        "cost in EUR: only USD costs are read",
        "no cost in this bucket",
    ]
    calls = result.calls.sort("ts", "cost_reported", descending=[False, True])
    assert calls["cost_reported"].to_list() == [Decimal("123.456789"), Decimal("0.5"), Decimal("0.005")]
    assert calls["cost_reported"].sum() == Decimal("123.961789")
    assert calls["model_raw"].to_list() == ["claude-sonnet-4-5-20250929", None, None]
    assert calls["project_id"].to_list() == ["wrkspc_a", "wrkspc_a", None]
    assert calls["request_count"].null_count() == 3 and calls["input_total_tokens"].null_count() == 3
    priced = price(result.calls, catalog)
    assert not priced["priced"].any() and priced["cost_usd"].null_count() == 3


def test_a_cost_amount_that_is_not_a_number_is_rejected(tmp_path):
    page = {"data": [_bucket(1, [{"currency": "USD", "amount": "12,50"}])], "has_more": False}
    result = read_logs(write(tmp_path / "cost_report.json", json.dumps(page)))
    assert result.rejects["reason"].to_list() == ["cost amount is not a decimal number: 12,50"]
