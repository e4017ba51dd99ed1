"""Anthropic readers: Messages objects (bare and in the envelope) and Message Batches results."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hello"}],
    "stop_reason": "end_turn",
    "usage": {
        "input_tokens": 100,
        "cache_read_input_tokens": 80_000,
        "cache_creation_input_tokens": 10_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 4_000, "ephemeral_1h_input_tokens": 6_000},
        "output_tokens": 1_000,
        "service_tier": "standard",
        "inference_geo": "not_available",
        "server_tool_use": {"web_search_requests": 2},
    },
}


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def test_input_excludes_cache_and_ttl_split_is_kept(tmp_path, catalog):
    envelope = {
        "timestamp": "2025-10-02T08:00:00+02:00",
        "response": MESSAGE,
        "metadata": {"user_id": "bob", "feature": "summarize"},
    }
    call = read_logs(write(tmp_path / "m.jsonl", _lines(envelope))).calls.row(0, named=True)
    assert call["source_format"] == "anthropic_messages" and call["provider"] == "anthropic"
    assert call["ts"] == dt.datetime(2025, 10, 2, 6, tzinfo=dt.UTC)
    assert (call["input_uncached_tokens"], call["cache_read_tokens"]) == (100, 80_000)
    assert (call["cache_write_5m_tokens"], call["cache_write_1h_tokens"]) == (4_000, 6_000)
    assert call["input_total_tokens"] == 90_100 and call["web_search_requests"] == 2
    assert call["region"] is None and (call["user_id"], call["feature"]) == ("bob", "summarize")
    priced = price(read_logs(tmp_path / "m.jsonl").calls, catalog).row(0, named=True)
    # 100*3 + 80000*0.30 + 4000*3.75 + 6000*6 + 1000*15 per 1M, + 2 searches * $10/1K
    expected = (Decimal(300) + Decimal(24000) + Decimal(15000) + Decimal(36000) + Decimal(15000)) / 10**6
    assert priced["cost_usd"] == expected + Decimal("0.02")


def test_only_total_cache_write_known_counts_as_5m(tmp_path):
    usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 1956,
        "cache_read_input_tokens": 9511,
        "output_tokens": 44,
    }
    call = read_logs(write(tmp_path / "m.jsonl", _lines({**MESSAGE, "usage": usage}))).calls.row(
        0, named=True
    )
    assert (call["cache_write_5m_tokens"], call["cache_write_1h_tokens"]) == (1956, 0)
    assert call["input_total_tokens"] == 3 + 1956 + 9511


def test_batch_service_tier_in_usage_means_batch_pricing(tmp_path, catalog):
    usage = {"input_tokens": 100_000, "output_tokens": 0, "service_tier": "batch"}
    call = price(read_logs(write(tmp_path / "m.jsonl", _lines({**MESSAGE, "usage": usage}))).calls, catalog)
    assert call["is_batch"][0] and call["cost_usd"][0] == Decimal("0.15")  # 100k * 3/1M * 0.5


def test_message_batches_results(tmp_path, catalog):
    ok = {
        "custom_id": "a",
        "result": {
            "type": "succeeded",
            "message": {
                **MESSAGE,
                "model": "claude-haiku-4-5-20251001",
                "usage": {"input_tokens": 1_000_000, "output_tokens": 100_000},
            },
        },
    }
    errored = {
        "custom_id": "b",
        "result": {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "max_tokens too large"},
                "request_id": None,
            },
        },
    }
    expired = {"custom_id": "c", "result": {"type": "expired"}}
    result = read_logs(write(tmp_path / "results.jsonl", _lines(ok, errored, expired)))
    calls = result.calls.sort("source_line")
    assert calls["source_format"].to_list() == ["anthropic_batch"] * 3
    assert calls["status"].to_list() == ["ok", "error", "expired"]
    assert calls["error_type"][1] == "invalid_request_error"
    priced = price(calls, catalog)
    # haiku 4.5 batch = half of (1M*1 + 100k*5)/1M = 0.75; errors and expired cost nothing
    assert priced["cost_usd"].to_list() == [Decimal("0.75"), Decimal(0), Decimal(0)]
    assert priced["price_note"][0] == "no timestamp: latest price"
