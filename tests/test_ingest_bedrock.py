"""Bedrock readers: invocation logs and Converse responses; input excludes cache, alias pairs counted once."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.ingest.bedrock import BEDROCK_CONVERSE
from llmaudit.pricing import price


def _log(request_id, model, tokens, output_body=None, **extra):
    inp, read, written, out = tokens
    record = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2025-11-03T12:00:00Z",
        "accountId": "123456789012",
        "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/app/worker"},
        "region": "us-east-1",
        "requestId": request_id,
        "operation": "Converse",
        "modelId": model,
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": "summarize this"}]}]},
            "inputTokenCount": inp,
            "cacheReadInputTokenCount": read,
            "cacheWriteInputTokenCount": written,
        },
        "output": {"outputContentType": "application/json", "outputTokenCount": out},
        **extra,
    }
    if output_body is not None:
        record["output"]["outputBodyJson"] = output_body
    return record


CONVERSE_BODY = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Summary."}]}},
    "stopReason": "end_turn",
    "metrics": {"latencyMs": 1234},
    "usage": {
        "inputTokens": 100,
        "outputTokens": 1_000,
        "cacheReadInputTokens": 80_000,
        "cacheWriteInputTokens": 10_000,
        "cacheDetails": [{"inputTokens": 4_000, "ttl": "5m"}, {"inputTokens": 6_000, "ttl": "1h"}],
    },
}
SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def test_invocation_log_converse_call(tmp_path, catalog):
    line = _log(
        "req-1",
        SONNET,
        (100, 80_000, 10_000, 1_000),
        CONVERSE_BODY,
        requestMetadata={"feature": "summarize", "project": "alpha"},
    )
    result = read_logs(write(tmp_path / "bedrock.jsonl", _lines(line)))
    assert result.files == {str((tmp_path / "bedrock.jsonl").resolve()): "bedrock_invocation_log"}
    call = result.calls.row(0, named=True)
    assert (call["provider"], call["region"], call["model"]) == (
        "aws-bedrock",
        "us-east-1",
        "claude-sonnet-4-5-20250929",
    )
    assert call["ts"] == dt.datetime(2025, 11, 3, 12, tzinfo=dt.UTC)
    assert call["user_id"] == "arn:aws:sts::123456789012:assumed-role/app/worker"
    assert (call["feature"], call["project_id"], call["request_id"]) == ("summarize", "alpha", "req-1")
    assert (call["input_uncached_tokens"], call["cache_read_tokens"]) == (100, 80_000)
    assert (call["cache_write_5m_tokens"], call["cache_write_1h_tokens"]) == (4_000, 6_000)
    assert call["input_total_tokens"] == 90_100 and call["output_tokens"] == 1_000
    assert (call["latency_ms"], call["finish_reason"], call["response_text"]) == (
        1234.0,
        "end_turn",
        "Summary.",
    )
    assert "summarize this" in call["request_text"]
    # (100*3 + 80000*0.30 + 4000*3.75 + 6000*6 + 1000*15) per 1M, x1.1 for the us. geo endpoint
    priced = price(result.calls, catalog).row(0, named=True)
    assert (priced["cost_usd"], priced["price_region"]) == (Decimal("0.09933"), "us")


def test_invocation_log_native_bodies_streams_and_errors(tmp_path, catalog):
    native = _log(
        "req-2",
        HAIKU,
        (10, 0, 2_000, 50),
        {
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "max_tokens",
            "usage": {"cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2_000}},
        },
        operation="InvokeModel",
    )
    stream = _log(
        "req-3",
        HAIKU,
        (1_000, 0, 500, 100),
        [
            {"type": "message_start"},
            {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"invocationLatency": 950}},
        ],
        operation="InvokeModelWithResponseStream",
    )
    stream["input"]["inputBodyJson"] = json.dumps({"messages": [{"role": "user", "content": "streamed"}]})
    throttled = _log("req-4", HAIKU, (None, None, None, None), errorCode="ThrottlingException")
    del throttled["input"]["inputTokenCount"], throttled["output"]["outputTokenCount"]
    result = read_logs(write(tmp_path / "bedrock.jsonl", _lines(native, stream, throttled)))
    assert result.calls.height == 3 and result.rejects.height == 0 and result.reconciles
    calls = result.calls.sort("source_line")
    assert calls["cache_write_1h_tokens"].to_list() == [2_000, 0, None]
    assert calls["cache_write_5m_tokens"].to_list() == [0, 500, None]  # no TTL split known: all 5m
    assert calls["latency_ms"].to_list() == [None, 950.0, None]
    assert calls["finish_reason"][0] == "max_tokens" and calls["response_text"][0] == "ok"
    assert "streamed" in calls["request_text"][1]  # a body logged as JSON text is read too
    assert calls["status"].to_list() == ["ok", "ok", "error"]
    assert calls["error_type"][2] == "ThrottlingException"
    priced = price(calls, catalog)
    # haiku 4.5: 10*1 + 2000*2 + 50*5; 1000*1 + 500*1.25 + 100*5 (per 1M); the throttled call costs nothing
    assert priced["cost_usd"].to_list() == [Decimal("0.00426"), Decimal("0.002125"), Decimal(0)]


def test_converse_responses_count_alias_pairs_once(tmp_path, catalog):
    response = {
        "modelId": SONNET,
        "ResponseMetadata": {"RequestId": "abc", "HTTPStatusCode": 200},
        "serviceTier": {"type": "default"},
        **CONVERSE_BODY,
    }
    response["usage"] = {
        **CONVERSE_BODY["usage"],
        "cacheReadInputTokenCount": 80_000,
        "cacheWriteInputTokenCount": 10_000,
        "totalTokens": 91_100,
    }
    no_model = {"usage": {"inputTokens": 7, "outputTokens": 78, "totalTokens": 85}}
    result = read_logs(write(tmp_path / "converse.jsonl", _lines(response, no_model)))
    assert set(result.files.values()) == {"bedrock_converse"} and result.reconciles
    calls = result.calls.sort("source_line")
    first = calls.row(0, named=True)
    assert (first["request_id"], first["http_status"], first["service_tier"]) == ("abc", 200, "standard")
    assert (first["input_total_tokens"], first["cache_write_1h_tokens"], first["latency_ms"]) == (
        90_100,
        6_000,
        1234.0,
    )
    priced = price(calls, catalog)
    # x1.1 geo uplift on the first; no model on the second: unpriced, not $0
    assert priced["cost_usd"].to_list() == [Decimal("0.09933"), None]
    assert calls["provider"].to_list() == ["aws-bedrock"] * 2


def test_converse_sniff_leaves_other_camel_case_usage_alone():
    ai_sdk = {"model": "gpt-4o", "usage": {"inputTokens": 10, "outputTokens": 2, "cachedInputTokens": 5}}
    assert not BEDROCK_CONVERSE.sniff(ai_sdk)
    assert BEDROCK_CONVERSE.sniff({"usage": {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12}})
    assert BEDROCK_CONVERSE.sniff({"response": {"usage": {"inputTokens": 1, "outputTokens": 1}}})


@pytest.mark.anchors
def test_invocation_log_document(anchors):
    path = anchors / "logs/bedrock/aws-bedrock-logs-mcp-server__invocation_log_conversestream_nova.json"
    doc = json.loads(path.read_text())
    result = read_logs(path)
    assert result.files == {str(path.resolve()): "bedrock_invocation_log"}
    assert (result.rows_read, result.calls.height, result.rejects.height) == (1, 1, 0)
    call = result.calls.row(0, named=True)
    assert call["request_id"] == doc["requestId"] and call["region"] == doc["region"] == "us-east-1"
    assert (call["model_raw"], call["model"]) == ("amazon.nova-lite-v1:0", "nova-lite")
    assert call["input_uncached_tokens"] == doc["input"]["inputTokenCount"] == 4
    assert call["output_tokens"] == doc["output"]["outputTokenCount"] == 38
    assert (
        call["input_total_tokens"] + call["output_tokens"]
        == doc["output"]["outputBodyJson"]["usage"]["totalTokens"]
    )
    assert call["latency_ms"] == 302.0 and call["user_id"] == doc["identity"]["arn"]


@pytest.mark.anchors
def test_genai_prices_converse_usage_objects(anchors):
    path = anchors / "logs/provider_usage_objects/genai-prices__usages__bedrock_converse.jsonl"
    usages = [json.loads(line)["usage"] for line in path.read_text().splitlines() if line.strip()]
    result = read_logs(path)
    assert result.files == {str(path.resolve()): "bedrock_converse"}
    assert result.calls.height == len(usages) == 220 and result.rejects.height == 0 and result.reconciles
    calls = result.calls
    read = sum(u.get("cacheReadInputTokens", u.get("cacheReadInputTokenCount", 0)) for u in usages)
    written = sum(u.get("cacheWriteInputTokens", u.get("cacheWriteInputTokenCount", 0)) for u in usages)
    assert calls["input_uncached_tokens"].sum() == sum(u["inputTokens"] for u in usages)
    assert calls["cache_read_tokens"].fill_null(0).sum() == read
    assert calls["cache_write_5m_tokens"].fill_null(0).sum() == written  # every cacheDetails ttl is 5m
    assert calls["cache_write_1h_tokens"].fill_null(0).sum() == 0
    assert calls["output_tokens"].sum() == sum(u["outputTokens"] for u in usages)
    # totalTokens = input + cache read + cache write + output: the alias pairs were counted once
    assert (calls["input_total_tokens"] + calls["output_tokens"]).sum() == sum(
        u["totalTokens"] for u in usages
    )
    assert calls["model"].null_count() == 220  # Converse responses carry no model id
