"""Gemini / Vertex reader: cached inside prompt, tool-use prompt and thoughts added in, audio, tiers, flex."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

RESPONSE = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "Hi there"}]}, "finishReason": "STOP", "index": 0}
    ],
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-1",
    "usageMetadata": {
        "promptTokenCount": 100_000,
        "cachedContentTokenCount": 40_000,
        "toolUsePromptTokenCount": 10_000,
        "candidatesTokenCount": 2_000,
        "thoughtsTokenCount": 3_000,
        "totalTokenCount": 115_000,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 80_000},
            {"modality": "AUDIO", "tokenCount": 20_000},
        ],
        "cacheTokensDetails": [
            {"modality": "TEXT", "tokenCount": 35_000},
            {"modality": "AUDIO", "tokenCount": 5_000},
        ],
    },
}


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def _read(tmp_path, *objects):
    result = read_logs(write(tmp_path / "gemini.jsonl", _lines(*objects)))
    assert set(result.files.values()) == {"gemini"} and result.reconciles
    return result


def test_envelope_maps_every_token_kind(tmp_path, catalog):
    envelope = {
        "timestamp": "2025-10-02T08:00:00Z",
        "request": {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
        "response": RESPONSE,
        "metadata": {"user_id": "ann", "feature": "voice", "latency_ms": 812},
    }
    call = _read(tmp_path, envelope).calls.row(0, named=True)
    assert (call["source_format"], call["provider"], call["model"]) == (
        "gemini",
        "google",
        "gemini-2.5-flash",
    )
    assert call["ts"] == dt.datetime(2025, 10, 2, 8, tzinfo=dt.UTC)
    # prompt 100k includes the 40k cached; the 10k tool-use prompt is billed on top
    assert (call["input_uncached_tokens"], call["cache_read_tokens"]) == (70_000, 40_000)
    assert call["input_total_tokens"] == 110_000
    # thoughts are outside candidatesTokenCount and billed as output
    assert (call["output_tokens"], call["reasoning_tokens"]) == (5_000, 3_000)
    assert call["input_audio_tokens"] == 15_000  # 20k audio in the prompt, 5k of it cached
    assert (call["user_id"], call["feature"], call["latency_ms"]) == ("ann", "voice", 812.0)
    assert (call["response_id"], call["finish_reason"], call["response_text"]) == (
        "resp-1",
        "STOP",
        "Hi there",
    )
    assert call["status"] == "ok" and "hello" in call["request_text"]
    priced = price(_read(tmp_path, envelope).calls, catalog).row(0, named=True)
    # (70k - 15k audio) * 0.50 + 15k * 2 + 40k * 0.10 + 5k * 4, per 1M
    assert priced["cost_usd"] == Decimal("0.0815")


def test_bare_records_thought_only_embeddings_and_long_context(tmp_path, catalog):
    thought_only = {
        "modelVersion": "models/gemini-2.5-pro",
        "usageMetadata": {
            "promptTokenCount": 250_000,
            "thoughtsTokenCount": 2_000,
            "totalTokenCount": 252_000,
        },
    }
    embedding = {"usageMetadata": {"promptTokenCount": 12, "promptTokenDetails": [{"modality": "TEXT"}]}}
    calls = _read(tmp_path, thought_only, embedding).calls.sort("source_line")
    assert calls["model"].to_list() == ["gemini-2.5-pro", None]
    # a missing candidatesTokenCount is proto3's omitted zero: the thoughts are the whole output
    assert calls["output_tokens"].to_list() == [2_000, 0]
    assert calls["input_uncached_tokens"].to_list() == [250_000, 12]
    priced = price(calls, catalog)
    # above the 200k tier: 250k * 2 + 2k * 15 per 1M; the embedding has no model: unpriced, not $0
    assert priced["cost_usd"][0] == Decimal("0.53")
    assert priced["cost_usd"][1] is None


@pytest.mark.parametrize(
    ("usage_extra", "tier", "cost"),
    [
        ({"trafficType": "ON_DEMAND_FLEX"}, "flex", Decimal("0.00125")),  # half of 1000*0.50 + 500*4
        ({"trafficType": "ON_DEMAND", "serviceTier": "standard"}, "standard", Decimal("0.0025")),
        ({"trafficType": "ON_DEMAND_PRIORITY"}, "priority", Decimal("0.0025")),  # no priority mode: standard
    ],
)
def test_vertex_traffic_type_sets_the_tier(tmp_path, catalog, usage_extra, tier, cost):
    usage = {"promptTokenCount": 1_000, "candidatesTokenCount": 500, **usage_extra}
    record = {"modelVersion": "gemini-2.5-flash", "usageMetadata": usage}
    priced = price(_read(tmp_path, record).calls, catalog).row(0, named=True)
    assert priced["service_tier"] == tier and priced["cost_usd"] == cost


def test_streaming_chunks_collapse_and_errors_are_rows(tmp_path):
    def chunk(output):
        usage = {"promptTokenCount": 10, "candidatesTokenCount": output}
        return {**RESPONSE, "responseId": "stream-1", "usageMetadata": usage}

    error = {
        "timestamp": "2025-10-02T08:00:05Z",
        "response": {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}},
    }
    result = _read(tmp_path, chunk(3), chunk(40), chunk(12), error)
    assert (result.rows_read, result.calls.height, result.collapsed) == (4, 2, 2)
    calls = result.calls.sort("source_line")
    assert calls["output_tokens"].to_list() == [40, None]
    assert calls["status"].to_list() == ["ok", "error"]
    assert (calls["http_status"][1], calls["error_type"][1]) == (429, "RESOURCE_EXHAUSTED")


def test_bad_count_is_rejected_with_both_values(tmp_path):
    good = {
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1},
    }
    bad = {
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {
            "promptTokenCount": "lots",
            "toolUsePromptTokenCount": 5,
            "candidatesTokenCount": 1,
        },
    }
    result = _read(tmp_path, good, bad)
    assert result.calls.height == 1 and result.rejects["line"].to_list() == [2]
    assert "lots + 5" in result.rejects["reason"][0]


@pytest.mark.anchors
def test_genai_prices_gemini_usage_objects(anchors, catalog):
    path = anchors / "logs/provider_usage_objects/genai-prices__usages__gemini_vertex_usageMetadata.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    result = read_logs(path)
    assert result.files == {str(path.resolve()): "gemini"}
    assert result.calls.height == len(records) == 451 and result.rejects.height == 0 and result.reconciles

    def audio(details):
        return sum(d.get("tokenCount", 0) for d in details or [] if d.get("modality") == "AUDIO")

    usages = [r["usageMetadata"] for r in records]
    calls = result.calls
    prompt = sum(u["promptTokenCount"] + u.get("toolUsePromptTokenCount", 0) for u in usages)
    cached = sum(u.get("cachedContentTokenCount", 0) for u in usages)
    output = sum(u.get("candidatesTokenCount", 0) + u.get("thoughtsTokenCount", 0) for u in usages)
    audio_in = sum(audio(u.get("promptTokensDetails")) - audio(u.get("cacheTokensDetails")) for u in usages)
    assert calls["input_total_tokens"].sum() == prompt
    assert calls["cache_read_tokens"].fill_null(0).sum() == cached
    assert calls["input_uncached_tokens"].sum() == prompt - cached
    assert calls["output_tokens"].sum() == output and calls["output_tokens"].null_count() == 0
    assert calls["reasoning_tokens"].fill_null(0).sum() == sum(u.get("thoughtsTokenCount", 0) for u in usages)
    assert calls["input_audio_tokens"].fill_null(0).sum() == audio_in
    # totalTokenCount = prompt + toolUsePrompt + candidates + thoughts, on every record that has it
    totals = sum(u["totalTokenCount"] for u in usages if "totalTokenCount" in u)
    has_total = [i for i, u in enumerate(usages) if "totalTokenCount" in u]
    known = calls.sort("source_line")[has_total]
    assert (known["input_total_tokens"] + known["output_tokens"]).sum() == totals
    assert calls["model"].null_count() == sum(1 for r in records if "modelVersion" not in r) == 12
    prefixed = calls.filter(calls["model_raw"] == "models/gemini-2.5-pro")
    assert prefixed.height == 5 and set(prefixed["model"]) == {"gemini-2.5-pro"}
    assert calls["service_tier"].to_list().count("flex") == 1

    # every gemini-2.5-flash call repriced independently from the raw JSON with the test catalog rates
    expected = Decimal(0)
    for u in (r["usageMetadata"] for r in records if r.get("modelVersion") == "gemini-2.5-flash"):
        cache = u.get("cachedContentTokenCount", 0)
        audio_uncached = audio(u.get("promptTokensDetails")) - audio(u.get("cacheTokensDetails"))
        text_in = u["promptTokenCount"] + u.get("toolUsePromptTokenCount", 0) - cache - audio_uncached
        out = u.get("candidatesTokenCount", 0) + u.get("thoughtsTokenCount", 0)
        rates = Decimal("0.5") * text_in + 2 * audio_uncached + Decimal("0.1") * cache + 4 * out
        expected += rates / 10**6
    priced = price(calls, catalog)
    flash = priced.filter(priced["model"] == "gemini-2.5-flash")
    assert flash.height == 105 and flash["cost_usd"].sum() == expected
