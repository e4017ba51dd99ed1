"""Helicone reader: request export records (JSONL from `@helicone/export`, or a JSON array).

No licensed real Helicone export exists (log_formats.md §9), so the records below are written by us from the
field list in log_formats.md §5.2 and the columns Helicone's request query API returns (`request_properties`
as a map, `response_status` as an int, `cost` in USD, `cache_reference_id`, `reasoning_tokens`). Costs are
hand-computed with the test catalog (per 1M tokens).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

NO_CACHE = "00000000-0000-0000-0000-000000000000"

OPENAI_CACHED = {
    "request_id": "7f7b0bb2-0c55-4a57-9a3a-1d0b5f3c0001",
    "request_created_at": "2025-11-03T10:00:00.000Z",
    "response_created_at": "2025-11-03T10:00:01.250Z",
    "response_id": "chatcmpl-h1",
    "request_model": "gpt-4o-mini",
    "response_model": "gpt-4o-mini-2024-07-18",
    "provider": "OPENAI",
    # Helicone stores the uncached prompt (raw prompt_tokens 1000 - 600 cached) and the completion without
    # its reasoning (raw completion_tokens 200 - 50)
    "prompt_tokens": 400,
    "prompt_cache_read_tokens": 600,
    "prompt_cache_write_tokens": 0,
    "completion_tokens": 150,
    "reasoning_tokens": 50,
    "total_tokens": 600,
    "cost": 0.000225,
    "delay_ms": 1250,
    "time_to_first_token": 300,
    "request_user_id": "user-42",
    "request_properties": {"feature": "search", "Helicone-Session-Id": "sess-1", "project": "web"},
    "response_status": 200,
    "cache_reference_id": NO_CACHE,
    "request_body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "find shoes"}]},
    "response_body": {"choices": [{"finish_reason": "stop", "message": {"content": "Here are shoes"}}]},
}
ANTHROPIC_CACHED = {
    "request_id": "7f7b0bb2-0c55-4a57-9a3a-1d0b5f3c0002",
    "request_created_at": "2025-11-03T10:01:00.000Z",
    "response_created_at": "2025-11-03T10:01:04.000Z",
    "model": "claude-sonnet-4-5-20250929",
    "provider": "ANTHROPIC",
    "prompt_tokens": 500,
    "prompt_cache_read_tokens": 2000,
    "prompt_cache_write_tokens": 500,
    "completion_tokens": 300,
    "reasoning_tokens": 0,
    "costUSD": 0.008475,
    "cost": 0.0001,  # costUSD wins when both are present
    "latency": 4000,
    "request_user_id": "user-7",
    "request_properties": {"Feature": "Summarize"},  # header-derived names come in any case
    "response_status": 200,
    "response_body": {"content": [{"type": "text", "text": "Summary"}], "stop_reason": "end_turn"},
}
RATE_LIMITED = {
    "request_id": "7f7b0bb2-0c55-4a57-9a3a-1d0b5f3c0003",
    "request_created_at": "2025-11-03T10:02:00.000Z",
    "model": "gpt-4o",
    "provider": "OPENAI",
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "response_status": 429,
    "delay_ms": 80,
    "response_body": json.dumps({"error": {"type": "rate_limit_exceeded", "message": "slow down"}}),
}
CACHE_HIT = {**OPENAI_CACHED, "request_id": "7f7b0bb2-0c55-4a57-9a3a-1d0b5f3c0004", "cost": 0}
CACHE_HIT["cache_reference_id"] = OPENAI_CACHED["request_id"]
NO_RESPONSE = {
    "request_id": "7f7b0bb2-0c55-4a57-9a3a-1d0b5f3c0005",
    "request_created_at": "2025-11-03T10:03:00.000Z",
    "model": "gpt-4o",
    "provider": "OPENAI",
    "response_status": -1,
}


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def _by_id(result) -> dict[str, dict]:
    return {c["request_id"][-4:]: c for c in result.calls.to_dicts()}


def test_helicone_counts_are_disjoint_and_priced_once(tmp_path, catalog):
    path = write(tmp_path / "helicone.jsonl", _lines(OPENAI_CACHED, ANTHROPIC_CACHED))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "helicone" and result.rejects.height == 0
    calls = _by_id(result)
    openai, anthropic = calls["0001"], calls["0002"]
    assert (
        openai["input_uncached_tokens"],
        openai["cache_read_tokens"],
        openai["input_total_tokens"],
        openai["output_tokens"],
        openai["reasoning_tokens"],
    ) == (400, 600, 1000, 200, 50)
    assert (
        anthropic["input_uncached_tokens"],
        anthropic["cache_read_tokens"],
        anthropic["cache_write_5m_tokens"],
    ) == (
        500,
        2000,
        500,
    )
    assert (openai["provider"], openai["gateway"], openai["model_raw"]) == (
        "openai",
        "helicone",
        "gpt-4o-mini-2024-07-18",
    )
    assert openai["ts"] == dt.datetime(2025, 11, 3, 10, tzinfo=dt.UTC) and openai["latency_ms"] == 1250
    assert (openai["user_id"], openai["feature"], openai["session_id"], openai["project_id"]) == (
        "user-42",
        "search",
        "sess-1",
        "web",
    )
    assert (openai["finish_reason"], openai["response_text"]) == ("stop", "Here are shoes")
    assert "find shoes" in openai["request_text"]
    assert (anthropic["feature"], anthropic["latency_ms"], anthropic["finish_reason"]) == (
        "Summarize",
        4000,
        "end_turn",
    )
    assert anthropic["cost_reported"] == Decimal("0.008475")
    costs = {r["request_id"][-4:]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        "0001": Decimal("0.000225"),  # gpt-4o-mini: 400*0.15 + 600*0.075 + (150+50)*0.60
        "0002": Decimal("0.008475"),  # sonnet-4.5: 500*3 + 2000*0.30 + 500*3.75 + 300*15
    }


def test_helicone_errors_cache_hits_and_missing_responses(tmp_path):
    result = read_logs(write(tmp_path / "helicone.jsonl", _lines(RATE_LIMITED, CACHE_HIT, NO_RESPONSE)))
    calls = _by_id(result)
    assert (calls["0003"]["status"], calls["0003"]["http_status"], calls["0003"]["error_type"]) == (
        "error",
        429,
        "rate_limit_exceeded",
    )
    assert calls["0004"]["service_tier"] == "gateway_cache" and calls["0004"]["status"] == "ok"
    assert (calls["0005"]["status"], calls["0005"]["http_status"], calls["0005"]["error_type"]) == (
        "error",
        None,
        "no_response",
    )
    assert result.reconciles and result.rejects.height == 0


def test_helicone_json_array_export(tmp_path):
    path = write(
        tmp_path / "export.json", json.dumps([OPENAI_CACHED, ANTHROPIC_CACHED, OPENAI_CACHED], indent=2)
    )
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "helicone"
    # the repeated request collapses on its request_id
    assert (result.rows_read, result.calls.height, result.collapsed) == (3, 2, 1)
