"""OpenAI readers: chat.completion and response objects, the envelope, and Batch output files."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1750000000,
    "model": "gpt-4o-mini-2024-07-18",
    "service_tier": "default",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
        "prompt_tokens_details": {"cached_tokens": 600, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 50},
    },
}
RESPONSES = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1760000000,
    "completed_at": 1760000003,
    "status": "completed",
    "model": "o3-2025-04-16",
    "service_tier": "flex",
    "user": "u-9",
    "usage": {
        "input_tokens": 9703,
        "input_tokens_details": {"cached_tokens": 8576},
        "output_tokens": 638,
        "output_tokens_details": {"reasoning_tokens": 576},
        "total_tokens": 10341,
    },
}
ENVELOPE = {
    "timestamp": "2025-07-01T12:00:00Z",
    "request_id": "req-7",
    "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]},
    "response": {**CHAT, "id": "chatcmpl-2", "model": "gpt-4o-2024-08-06", "service_tier": "priority"},
    "metadata": {"user": "alice", "feature": "search", "project": "p1", "latency_ms": 850},
}


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def test_chat_completion_cached_tokens_are_not_double_charged(tmp_path, catalog):
    result = read_logs(write(tmp_path / "chat.jsonl", _lines(CHAT)))
    call = result.calls.row(0, named=True)
    assert call["source_format"] == "openai_chat"
    assert (call["input_uncached_tokens"], call["cache_read_tokens"], call["input_total_tokens"]) == (
        400,
        600,
        1000,
    )
    assert (call["output_tokens"], call["reasoning_tokens"]) == (200, 50)
    assert call["ts"] == dt.datetime.fromtimestamp(1750000000, dt.UTC)
    assert call["finish_reason"] == "stop" and call["response_id"] == "chatcmpl-1"
    priced = price(result.calls, catalog).row(0, named=True)
    # 400*0.15 + 600*0.075 + 200*0.60, per 1M tokens
    assert priced["cost_usd"] == Decimal("0.000225")


def test_responses_object_uses_its_own_usage_names_and_served_tier(tmp_path, catalog):
    call = read_logs(write(tmp_path / "resp.jsonl", _lines(RESPONSES))).calls.row(0, named=True)
    assert call["source_format"] == "openai_responses"
    assert (call["input_uncached_tokens"], call["cache_read_tokens"], call["output_tokens"]) == (
        1127,
        8576,
        638,
    )
    assert call["user_id"] == "u-9" and call["service_tier"] == "flex"
    assert call["ts_end"] - call["ts"] == dt.timedelta(seconds=3)
    priced = price(read_logs(tmp_path / "resp.jsonl").calls, catalog).row(0, named=True)
    # o3 after the cut, flex = 0.5x: (1127*2 + 8576*0.5 + 638*8) * 0.5 / 1M
    assert priced["price_mode"] == "flex"
    assert (
        priced["cost_usd"]
        == (Decimal(1127 * 2) + Decimal(8576) * Decimal("0.5") + Decimal(638 * 8)) / 2 / 10**6
    )


def test_envelope_gives_time_attribution_and_request_text(tmp_path, catalog):
    call = read_logs(write(tmp_path / "env.jsonl", _lines(ENVELOPE))).calls.row(0, named=True)
    assert call["ts"] == dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)
    assert (call["user_id"], call["feature"], call["project_id"], call["latency_ms"]) == (
        "alice",
        "search",
        "p1",
        850,
    )
    assert call["request_id"] == "req-7" and "hello" in call["request_text"]
    priced = price(read_logs(tmp_path / "env.jsonl").calls, catalog).row(0, named=True)
    # gpt-4o priority explicit rates: 400*4.25 + 600*2.125 + 200*17, per 1M
    assert priced["price_mode"] == "priority" and priced["cost_usd"] == Decimal("0.006375")


BATCH_OK = {
    "id": "batch_req_1",
    "custom_id": "request-1",
    "response": {"status_code": 200, "request_id": "r1", "body": {**CHAT, "id": "chatcmpl-b1"}},
    "error": None,
}
BATCH_ERR = {
    "id": "batch_req_2",
    "custom_id": "request-2",
    "response": None,
    "error": {"code": "invalid_request", "message": "bad"},
}


def test_batch_output_is_batch_priced_and_failed_lines_are_error_rows(tmp_path, catalog):
    result = read_logs(write(tmp_path / "batch_output.jsonl", _lines(BATCH_OK, BATCH_ERR)))
    assert result.files[str((tmp_path / "batch_output.jsonl").resolve())] == "openai_batch"
    calls = result.calls.sort("source_line")
    assert calls["is_batch"].to_list() == [True, True]
    assert calls["status"].to_list() == ["ok", "error"]
    assert calls["error_type"][1] == "invalid_request"
    priced = price(calls, catalog)
    assert priced["cost_usd"].to_list() == [Decimal("0.0001125"), Decimal(0)]  # half of 0.000225; error free
    assert priced["price_mode"][0] == "batch"


def test_pretty_printed_json_document_is_read(tmp_path):
    result = read_logs(write(tmp_path / "one.json", json.dumps(CHAT, indent=2)))
    assert result.calls.height == 1 and result.rows_read == 1


def test_json_array_document_numbers_records(tmp_path):
    result = read_logs(write(tmp_path / "many.json", json.dumps([CHAT, {**CHAT, "id": "chatcmpl-x"}, 5])))
    assert result.calls.height == 2
    assert result.rejects.row(0, named=True)["line"] == 3
