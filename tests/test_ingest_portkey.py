"""Portkey log exports: rows with the export's `requested_data` fields (log_formats.md §5.5).

No licensed real export exists: the rows are written by us from that field list. The usage shapes are the
ones Portkey's gateway returns (OpenAI chat usage; its two Anthropic-to-OpenAI transforms, one with the cache
outside `prompt_tokens`, one inside; Anthropic's own usage on the messages route). `cost` is read as CENTS
(a guess, see llmaudit/ingest/portkey.py). Costs are hand-computed with the test catalog (per 1M tokens).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

OPENAI_ROW = {
    "id": "pk-openai",
    "trace_id": "trace-1",
    "created_at": "2025-11-03T10:00:00.000Z",
    "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "find shoes"}]},
    "response": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "Here are shoes"}}],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "total_tokens": 1200,
            "prompt_tokens_details": {"cached_tokens": 600},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    },
    "is_success": True,
    "ai_org": "openai",
    "ai_model": "gpt-4o-mini",
    "req_units": 1000,
    "res_units": 200,
    "total_units": 1200,
    "request_url": "https://api.portkey.ai/v1/chat/completions",
    "cost": 0.0225,  # cents
    "cost_currency": "USD",
    "response_time": 1250,
    "response_status_code": 200,
    "mode": "single",
    "metadata": {"_user": "user-42", "feature": "search", "project": "web", "session_id": "sess-1"},
}

_ANTHROPIC_CHAT = {
    "id": "msg_1",
    "object": "chat.completion",
    "model": "claude-sonnet-4-5-20250929",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "Summary"}}],
}


def _anthropic_row(row_id: str, usage: dict, **fields) -> dict:
    row = {
        "id": row_id,
        "created_at": "2025-11-03T10:01:00.000Z",
        "request": json.dumps(
            {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "sum"}]}
        ),
        "response": json.dumps({**_ANTHROPIC_CHAT, "usage": usage}),  # JSON strings, not objects
        "is_success": True,
        "ai_org": "anthropic",
        "ai_model": "claude-sonnet-4-5-20250929",
        "cost": 0.8475,
        "cost_currency": "USD",
        "response_time": 4000,
        "response_status_code": 200,
        "metadata": json.dumps({"_user": "user-7"}),
    }
    row.update(fields)
    return row


# Portkey's main Anthropic transform: prompt_tokens = input_tokens (cache outside), total counts everything
CACHE_OUTSIDE = _anthropic_row(
    "pk-outside",
    {
        "prompt_tokens": 500,
        "completion_tokens": 300,
        "total_tokens": 3300,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 500,
    },
)
# its newer shared transform: prompt_tokens = input + cache read + cache write, total = prompt + completion
CACHE_INSIDE = _anthropic_row(
    "pk-inside",
    {
        "prompt_tokens": 3000,
        "completion_tokens": 300,
        "total_tokens": 3300,
        "prompt_tokens_details": {"cached_tokens": 2000},
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 500,
    },
)
# the /v1/messages route logs Anthropic's own usage (1-hour cache writes)
NATIVE = {
    **_anthropic_row("pk-native", {}),
    "response": {
        "id": "msg_2",
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Native"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 500,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 500,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 500},
            "output_tokens": 300,
        },
    },
    "cost": 0.96,
}
# no usage in the logged response: req_units / res_units
UNITS_ONLY = {
    "id": "pk-units",
    "created_at": "2025-11-03T10:02:00.000Z",
    "ai_org": "azure-openai",
    "ai_model": "gpt-4o",
    "req_units": 1000,
    "res_units": 200,
    "total_units": 1200,
    "cost": 0.45,
    "cost_currency": "USD",
    "response_status_code": 200,
}
RATE_LIMITED = {
    "id": "pk-429",
    "created_at": "2025-11-03T10:03:00.000Z",
    "response": {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": "429"}},
    "is_success": False,
    "ai_org": "openai",
    "ai_model": "gpt-4o",
    "req_units": 0,
    "res_units": 0,
    "cost": 0,
    "cost_currency": "USD",
    "response_time": 80,
    "response_status_code": 429,
}


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def _by_id(result) -> dict[str, dict]:
    return {c["request_id"]: c for c in result.calls.to_dicts()}


def test_openai_shaped_rows_and_cents(tmp_path, catalog):
    path = write(tmp_path / "portkey.jsonl", _lines(OPENAI_ROW))
    result = read_logs(path)
    # the response is a chat.completion, yet the row is Portkey's (read before the openai envelope)
    assert result.files[str(path.resolve())] == "portkey" and result.rejects.height == 0
    call = result.calls.row(0, named=True)
    assert (
        call["input_uncached_tokens"],
        call["cache_read_tokens"],
        call["input_total_tokens"],
        call["output_tokens"],
    ) == (400, 600, 1000, 200)
    assert (call["provider"], call["gateway"], call["model_raw"], call["trace_id"]) == (
        "openai",
        "portkey",
        "gpt-4o-mini",
        "trace-1",
    )
    assert (call["user_id"], call["feature"], call["project_id"], call["session_id"]) == (
        "user-42",
        "search",
        "web",
        "sess-1",
    )
    assert call["ts"] == dt.datetime(2025, 11, 3, 10, tzinfo=dt.UTC) and call["latency_ms"] == 1250
    assert (call["status"], call["http_status"], call["finish_reason"], call["response_text"]) == (
        "ok",
        200,
        "stop",
        "Here are shoes",
    )
    assert "find shoes" in call["request_text"]
    assert call["cost_reported"] == Decimal("0.000225")  # 0.0225 cents
    priced = price(result.calls, catalog).row(0, named=True)
    assert priced["cost_usd"] == Decimal("0.000225")  # gpt-4o-mini: 400*0.15 + 600*0.075 + 200*0.60


def test_anthropic_usage_shapes_are_counted_once(tmp_path, catalog):
    result = read_logs(write(tmp_path / "portkey.jsonl", _lines(CACHE_OUTSIDE, CACHE_INSIDE, NATIVE)))
    assert result.rejects.height == 0
    calls = _by_id(result)
    for key in ("pk-outside", "pk-inside", "pk-native"):
        call = calls[key]
        assert (
            call["input_uncached_tokens"],
            call["cache_read_tokens"],
            call["cache_write_5m_tokens"] + call["cache_write_1h_tokens"],
            call["output_tokens"],
        ) == (500, 2000, 500, 300), key
        assert call["provider"] == "anthropic" and call["user_id"] == "user-7"
    assert calls["pk-native"]["cache_write_1h_tokens"] == 500
    assert (calls["pk-native"]["finish_reason"], calls["pk-native"]["response_text"]) == (
        "end_turn",
        "Native",
    )
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        "pk-outside": Decimal("0.008475"),  # sonnet-4.5: 500*3 + 2000*0.30 + 500*3.75 + 300*15
        "pk-inside": Decimal("0.008475"),
        "pk-native": Decimal("0.0096"),  # 500*3 + 2000*0.30 + 500*6 (1h) + 300*15
    }
    assert calls["pk-outside"]["cost_reported"] == Decimal("0.008475")


def test_units_fallback_errors_and_other_currencies(tmp_path, catalog):
    euro = {**OPENAI_ROW, "id": "pk-eur", "cost": 2.1, "cost_currency": "EUR"}
    result = read_logs(write(tmp_path / "portkey.jsonl", _lines(UNITS_ONLY, RATE_LIMITED, euro)))
    assert result.rejects.height == 0
    calls = _by_id(result)
    units = calls["pk-units"]
    assert (units["input_uncached_tokens"], units["cache_read_tokens"], units["output_tokens"]) == (
        1000,
        None,
        200,
    )
    assert (units["provider"], units["cost_reported"]) == ("azure", Decimal("0.0045"))
    limited = calls["pk-429"]
    assert (limited["status"], limited["http_status"], limited["error_type"]) == (
        "error",
        429,
        "rate_limit_error",
    )
    assert calls["pk-eur"]["cost_reported"] is None and calls["pk-eur"]["input_total_tokens"] == 1000
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs["pk-units"] == Decimal("0.0045")  # gpt-4o: 1000*2.50 + 200*10
    assert costs["pk-429"] == Decimal("0")


def test_a_bad_cost_is_rejected_with_its_reason(tmp_path):
    result = read_logs(write(tmp_path / "portkey.jsonl", _lines({**OPENAI_ROW, "cost": "n/a"})))
    assert result.rejects["reason"].to_list() == ["cost is not a number: n/a"]


def test_csv_export_reads_the_same_and_collapses_with_the_json_export(tmp_path, catalog):
    columns = ["id", "trace_id", "created_at", "request", "response", "ai_org", "ai_model", "req_units"]
    columns += ["res_units", "cost", "cost_currency", "response_time", "response_status_code", "metadata"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in (OPENAI_ROW, CACHE_OUTSIDE):
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()})
    path = write(tmp_path / "csv" / "portkey_logs.csv", text.getvalue())
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "portkey_csv" and result.rejects.height == 0
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {"pk-openai": Decimal("0.000225"), "pk-outside": Decimal("0.008475")}
    assert _by_id(result)["pk-openai"]["user_id"] == "user-42"
    write(tmp_path / "json" / "portkey.jsonl", _lines(OPENAI_ROW))
    both = read_logs(tmp_path)
    assert (both.rows_read, both.calls.height, both.collapsed) == (3, 2, 1)
