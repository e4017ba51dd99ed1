"""LiteLLM readers: proxy SpendLogs rows (JSON, metadata as a JSON string) and StandardLoggingPayload objects.

Costs are hand-computed with the test catalog (per 1M tokens); the anchor tests recompute token sums from the
raw JSON of the two real LiteLLM samples.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

API_KEY_HASH = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"


def _spend_row(**overrides) -> dict:
    """A LiteLLM_SpendLogs row as the proxy exports it: metadata, request_tags, messages are JSON strings."""
    usage = {
        "prompt_tokens": 3000,
        "completion_tokens": 300,
        "total_tokens": 3300,
        "prompt_tokens_details": {"cached_tokens": 2000},
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 500,
    }
    row = {
        "request_id": "chatcmpl-a1",
        "call_type": "acompletion",
        "api_key": API_KEY_HASH,
        "spend": 0.0084,
        "total_tokens": 3300,
        "prompt_tokens": 3000,
        "completion_tokens": 300,
        "startTime": "2025-11-03 09:20:46.847371",
        "endTime": "2025-11-03 09:20:48.847371",
        "model": "claude-sonnet-4-5-20250929",
        "model_group": "claude-sonnet",
        "custom_llm_provider": "anthropic",
        "user": "internal-7",
        "end_user": "",
        "team_id": "team-search",
        "metadata": json.dumps(
            {"usage_object": usage, "user_api_key_alias": "search-key", "status": "success"}
        ),
        "cache_key": "Cache OFF",
        "cache_hit": "False",
        "request_tags": json.dumps(["search", "beta"]),
        "messages": "{}",
        "response": "{}",
        "status": "success",
    }
    row.update(overrides)
    return row


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def test_spend_log_reads_cache_tokens_from_the_metadata_string(tmp_path, catalog):
    result = read_logs(write(tmp_path / "spend.jsonl", _lines(_spend_row())))
    assert set(result.files.values()) == {"litellm_spendlog"}
    call = result.calls.row(0, named=True)
    # prompt_tokens 3000 includes 2000 reads and 500 writes (OpenAI convention)
    assert (
        call["input_uncached_tokens"],
        call["cache_read_tokens"],
        call["cache_write_5m_tokens"],
        call["input_total_tokens"],
        call["output_tokens"],
    ) == (500, 2000, 500, 3000, 300)
    assert call["ts"] == dt.datetime(2025, 11, 3, 9, 20, 46, 847371, tzinfo=dt.UTC) and call["tz_assumed"]
    assert call["latency_ms"] == 2000
    assert (call["provider"], call["gateway"], call["model_raw"]) == (
        "anthropic",
        "litellm",
        "claude-sonnet-4-5-20250929",
    )
    assert (call["user_id"], call["project_id"], call["api_key_id"], call["feature"]) == (
        "internal-7",  # end_user is "" (absent), so the key owner
        "team-search",
        API_KEY_HASH,
        "search",
    )
    assert call["request_id"] == "chatcmpl-a1" and call["request_text"] is None  # messages "{}": not stored
    priced = price(result.calls, catalog).row(0, named=True)
    # claude-sonnet-4-5: 500*3 + 2000*0.30 + 500*3.75 + 300*15
    assert priced["cost_usd"] == Decimal("0.008475")
    assert priced["cost_reported"] == Decimal("0.0084")


def test_spend_log_rows_that_left_writes_out_of_prompt_tokens_are_not_rejected(tmp_path):
    """Some LiteLLM releases added only Anthropic cache reads into prompt_tokens (100 + 2000 reads)."""
    usage = {
        "prompt_tokens": 2100,
        "completion_tokens": 300,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 500,
    }
    row = _spend_row(metadata=json.dumps({"usage_object": usage}), prompt_tokens=2100)
    result = read_logs(write(tmp_path / "spend.jsonl", _lines(row)))
    assert result.rejects.height == 0
    call = result.calls.row(0, named=True)
    assert (call["input_uncached_tokens"], call["cache_read_tokens"], call["cache_write_5m_tokens"]) == (
        100,
        2000,
        500,
    )


def test_spend_log_falls_back_to_top_level_counts_and_flags_failures_and_cache_hits(tmp_path, catalog):
    plain = _spend_row(
        request_id="r-plain",
        model="gpt-4o-mini",
        custom_llm_provider="openai",
        metadata="None",  # not JSON: ignored, not an error
        prompt_tokens=1000,
        completion_tokens=200,
        request_tags="[]",
        end_user="cust-1",
        team_id="",
    )
    failed = _spend_row(
        request_id="r-fail",
        model="gpt-4o",
        custom_llm_provider="openai",
        status="failure",
        spend=0.0,
        prompt_tokens=0,
        completion_tokens=0,
        metadata=json.dumps({"error_information": {"error_class": "RateLimitError", "error_code": "429"}}),
    )
    hit = _spend_row(request_id="r-hit", cache_hit="True", spend=0.0)
    result = read_logs(write(tmp_path / "spend.jsonl", _lines(plain, failed, hit)))
    calls = {c["request_id"]: c for c in result.calls.to_dicts()}
    assert (calls["r-plain"]["input_uncached_tokens"], calls["r-plain"]["output_tokens"]) == (1000, 200)
    assert calls["r-plain"]["cache_read_tokens"] is None and calls["r-plain"]["feature"] is None
    assert (calls["r-plain"]["user_id"], calls["r-plain"]["project_id"]) == ("cust-1", None)
    assert (calls["r-fail"]["status"], calls["r-fail"]["error_type"], calls["r-fail"]["http_status"]) == (
        "error",
        "RateLimitError",
        429,
    )
    assert calls["r-hit"]["service_tier"] == "gateway_cache" and calls["r-plain"]["service_tier"] is None
    priced = price(result.calls, catalog).filter(request_id="r-plain").row(0, named=True)
    assert priced["cost_usd"] == Decimal("0.00027")  # gpt-4o-mini: 1000*0.15 + 200*0.60


def test_spend_log_re_exports_collapse_on_request_id(tmp_path):
    write(tmp_path / "a" / "spend.jsonl", _lines(_spend_row(), _spend_row(request_id="chatcmpl-a2")))
    write(tmp_path / "b" / "spend.jsonl", _lines(_spend_row()))
    result = read_logs(tmp_path)
    assert (result.rows_read, result.calls.height, result.collapsed) == (3, 2, 1) and result.reconciles


STANDARD_PAYLOAD = {
    "id": "chatcmpl-s1",
    "trace_id": "tr-1",
    "call_type": "acompletion",
    "cache_hit": None,
    "stream": False,
    "status": "success",
    "custom_llm_provider": "openai",
    "saved_cache_cost": 0.0,
    "startTime": 1762160400.0,  # 2025-11-03 09:00:00 UTC
    "endTime": 1762160401.5,
    "completionStartTime": 1762160400.4,
    "response_time": 1.5,
    "model": "gpt-4o",
    "model_group": "gpt-4o",
    "metadata": {
        "user_api_key_hash": "hash-1",
        "user_api_key_alias": "k1",
        "user_api_key_team_id": "team-a",
        "user_api_key_user_id": "owner-1",
        "user_api_key_end_user_id": "cust-9",
    },
    "response_cost": 0.00335,
    "total_tokens": 1160,
    "prompt_tokens": 1000,
    "completion_tokens": 160,
    "request_tags": ["chat", "v2"],
    "end_user": "",
    "messages": [{"role": "user", "content": "hi"}],
    "response": {
        "id": "chatcmpl-s1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello"}}
        ],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 160,
            "total_tokens": 1160,
            "prompt_tokens_details": {"cached_tokens": 600},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    },
    "error_information": {"error_code": "", "error_class": "", "error_message": ""},
}


def test_standard_logging_payload_wins_over_the_openai_reader_and_uses_response_usage(tmp_path, catalog):
    result = read_logs(write(tmp_path / "slp.jsonl", _lines(STANDARD_PAYLOAD)))
    assert set(result.files.values()) == {"litellm_slp"}
    call = result.calls.row(0, named=True)
    assert (call["input_uncached_tokens"], call["cache_read_tokens"], call["output_tokens"]) == (
        400,
        600,
        160,
    )
    assert call["ts"] == dt.datetime(2025, 11, 3, 9, tzinfo=dt.UTC) and not call["tz_assumed"]
    assert call["latency_ms"] == 1500
    assert (call["user_id"], call["project_id"], call["api_key_id"], call["feature"]) == (
        "cust-9",
        "team-a",
        "hash-1",
        "chat",
    )
    assert (call["trace_id"], call["finish_reason"], call["response_text"]) == ("tr-1", "stop", "hello")
    assert call["status"] == "ok" and call["error_type"] is None and call["http_status"] is None
    priced = price(result.calls, catalog).row(0, named=True)
    assert priced["cost_usd"] == Decimal("0.00335")  # gpt-4o: 400*2.5 + 600*1.25 + 160*10


def test_standard_logging_payload_failure_is_an_error_row(tmp_path):
    failed = {
        **STANDARD_PAYLOAD,
        "id": "f1",
        "status": "failure",
        "response": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "response_cost": 0,
        "error_information": {"error_code": "429", "error_class": "RateLimitError", "error_message": "slow"},
    }
    call = read_logs(write(tmp_path / "slp.jsonl", _lines(failed))).calls.row(0, named=True)
    assert (call["status"], call["http_status"], call["error_type"]) == ("error", 429, "RateLimitError")


@pytest.mark.anchors
def test_real_spend_log_row(anchors, catalog):
    path = anchors / "logs/litellm/litellm__spend_logs_payload.json"
    row = json.loads(path.read_text())
    usage = json.loads(row["metadata"])["usage_object"]
    result = read_logs(path)
    assert set(result.files.values()) == {"litellm_spendlog"}
    assert (result.rows_read, result.calls.height, result.rejects.height) == (1, 1, 0)
    call = result.calls.row(0, named=True)
    assert (
        call["input_total_tokens"] == usage["prompt_tokens"]
        and call["output_tokens"] == usage["completion_tokens"]
    )
    assert call["request_id"] == row["request_id"] and call["session_id"] == row["session_id"]
    assert call["tz_assumed"] and call["user_id"] is None and call["api_key_id"] is None  # "" is absent
    priced = price(result.calls, catalog).row(0, named=True)
    assert priced["cost_usd"] == Decimal("0.000225")  # gpt-4o: 10*2.5 + 20*10, per 1M
    assert priced["cost_reported"] == Decimal(str(row["spend"])).quantize(Decimal("1e-15"))


@pytest.mark.anchors
def test_real_standard_logging_payload(anchors, catalog):
    path = anchors / "logs/litellm/litellm__standard_logging_payload.json"
    payload = json.loads(path.read_text())
    result = read_logs(path)
    assert set(result.files.values()) == {"litellm_slp"}
    call = result.calls.row(0, named=True)
    usage = payload["response"]["usage"]
    assert (call["input_total_tokens"], call["output_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert call["latency_ms"] == pytest.approx(payload["response_time"] * 1000)
    assert "Hello, world!" in call["request_text"] and call["response_text"] == "hi"
    assert price(result.calls, catalog)["cost_usd"][0] == Decimal("0.000225")
