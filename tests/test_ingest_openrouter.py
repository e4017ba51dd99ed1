"""OpenRouter generation stats (`GET /api/v1/generation?id=gen-...`), bare or wrapped in `{"data": ...}`.

No licensed real export exists: the records are written by us from the field list in log_formats.md §5.4 and
the API reference's example object (snake_case; camelCase as the TypeScript SDK writes it). Costs are
hand-computed with the test catalog (per 1M tokens).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price


def _gen(**fields) -> dict:
    record = {
        "id": "gen-1",
        "upstream_id": "chatcmpl-u1",
        "created_at": "2025-11-03T10:00:00.433273+00:00",
        "model": "openai/gpt-4o-mini",
        "provider_name": "OpenAI",
        "router": None,
        "api_type": "completions",
        "total_cost": 0.000225,
        "cache_discount": 0.0000450,
        "upstream_inference_cost": None,
        "is_byok": False,
        "tokens_prompt": 980,
        "tokens_completion": 190,
        "native_tokens_prompt": 1000,
        "native_tokens_completion": 200,
        "native_tokens_reasoning": 50,
        "native_tokens_cached": 600,
        "native_tokens_completion_images": 0,
        "num_media_prompt": None,
        "num_search_results": None,
        "latency": 1250,
        "generation_time": 1100,
        "moderation_latency": None,
        "streamed": True,
        "cancelled": False,
        "finish_reason": "stop",
        "native_finish_reason": "stop",
        "external_user": "user-42",
        "app_id": 12345,
        "origin": "https://example.test/",
        "service_tier": None,
        "usage": 0.000225,
    }
    record.update(fields)
    return record


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def _by_id(result) -> dict[str, dict]:
    return {c["request_id"]: c for c in result.calls.to_dicts()}


def test_generation_stats_wrapped_and_bare(tmp_path, catalog):
    byok = _gen(
        id="gen-2",
        model="anthropic/claude-sonnet-4.5",
        provider_name="Anthropic",
        is_byok=True,
        total_cost=0.00033,  # OpenRouter's BYOK fee
        upstream_inference_cost=0.0066,  # billed by Anthropic to the user's own key
        native_tokens_prompt=2500,
        native_tokens_cached=2000,
        native_tokens_completion=300,
        native_tokens_reasoning=None,
        external_user="",
        app_id=None,
    )
    path = write(tmp_path / "generations.jsonl", _lines({"data": _gen()}, byok))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "openrouter_generation"
    assert result.rejects.height == 0 and result.reconciles
    calls = _by_id(result)
    first, second = calls["gen-1"], calls["gen-2"]
    # native_tokens_prompt includes the cached tokens; the completion includes the reasoning
    assert (
        first["input_uncached_tokens"],
        first["cache_read_tokens"],
        first["input_total_tokens"],
        first["output_tokens"],
        first["reasoning_tokens"],
    ) == (400, 600, 1000, 200, 50)
    assert (first["provider"], first["gateway"], first["model_raw"], first["response_id"]) == (
        "openai",
        "openrouter",
        "openai/gpt-4o-mini",
        "chatcmpl-u1",
    )
    assert (
        first["ts"] == dt.datetime(2025, 11, 3, 10, 0, 0, 433273, tzinfo=dt.UTC) and not first["tz_assumed"]
    )
    assert (first["user_id"], first["project_id"], first["latency_ms"], first["finish_reason"]) == (
        "user-42",
        "12345",
        1250,
        "stop",
    )
    assert first["status"] == "ok" and first["cost_reported"] == Decimal("0.000225")
    assert (second["user_id"], second["project_id"], second["provider"]) == (None, None, "anthropic")
    assert second["cost_reported"] == Decimal("0.00693")  # BYOK: fee + upstream cost
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        "gen-1": Decimal("0.000225"),  # gpt-4o-mini: 400*0.15 + 600*0.075 + 200*0.60
        "gen-2": Decimal("0.0066"),  # sonnet-4.5: 500*3 + 2000*0.30 + 300*15
    }


def test_cancelled_errors_and_counts_of_the_other_convention(tmp_path, catalog):
    cancelled = _gen(
        id="gen-c",
        model="google/gemini-2.5-flash",
        provider_name="Google AI Studio",
        cancelled=True,
        finish_reason=None,
        native_finish_reason="STOP",
        native_tokens_prompt=4,
        native_tokens_cached=None,
        native_tokens_completion=521,
        native_tokens_reasoning=None,
    )
    failed = _gen(id="gen-e", finish_reason="error", native_tokens_completion=0, native_tokens_reasoning=0)
    # cached above prompt can only mean the cache is outside the prompt; reasoning above the completion
    # likewise: read that way, not rejected
    outside = _gen(
        id="gen-o",
        native_tokens_prompt=100,
        native_tokens_cached=900,
        native_tokens_completion=10,
        native_tokens_reasoning=30,
    )
    result = read_logs(write(tmp_path / "g.jsonl", _lines(cancelled, failed, outside)))
    assert result.rejects.height == 0
    calls = _by_id(result)
    assert (calls["gen-c"]["status"], calls["gen-c"]["finish_reason"], calls["gen-c"]["provider"]) == (
        "cancelled",
        "STOP",
        "google",
    )
    assert calls["gen-e"]["status"] == "error"
    assert (
        calls["gen-o"]["input_uncached_tokens"],
        calls["gen-o"]["cache_read_tokens"],
        calls["gen-o"]["output_tokens"],
    ) == (100, 900, 40)
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs["gen-c"] == Decimal("0.002086")  # gemini-2.5-flash: 4*0.50 + 521*4
    assert costs["gen-o"] == Decimal("0.0001065")  # gpt-4o-mini: 100*0.15 + 900*0.075 + 40*0.60


def test_generation_without_native_counts_is_unpriced_not_estimated(tmp_path, catalog):
    record = _gen(native_tokens_prompt=None, native_tokens_completion=None, native_tokens_cached=None)
    result = read_logs(write(tmp_path / "g.jsonl", _lines(record)))
    call = price(result.calls, catalog).row(0, named=True)
    assert call["input_total_tokens"] is None and call["output_tokens"] is None
    assert (call["priced"], call["unpriced_reason"]) == (False, "missing usage")


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("OpenAI", "openai"),
        ("Google Vertex", "google"),
        ("Google Vertex (Europe)", "google"),
        ("Amazon Bedrock", "aws-bedrock"),
        ("Azure", "azure"),
        ("DeepSeek", "deepseek"),
        ("Mistral", "mistral"),
        ("xAI", "xai"),
        ("Groq", "groq"),
        ("Together", "together"),
        ("Fireworks", "fireworks"),
        ("Infermatic", "infermatic"),
    ],
)
def test_provider_names_map_to_our_ids(tmp_path, name, ours):
    result = read_logs(write(tmp_path / "g.jsonl", _lines(_gen(provider_name=name))))
    assert result.calls["provider"].to_list() == [ours]


def test_sdk_camel_case_objects_and_json_arrays(tmp_path):
    camel = {
        "data": {
            "id": "gen-3bh",
            "upstreamId": "chatcmpl-791b",
            "totalCost": 0.0015,
            "createdAt": "2024-07-15T23:33:19.433273+00:00",
            "model": "openai/gpt-4o",
            "providerName": "OpenAI",
            "latency": 1250,
            "nativeTokensPrompt": 10,
            "nativeTokensCompletion": 25,
            "nativeTokensReasoning": 5,
            "nativeTokensCached": 3,
            "externalUser": "user-123",
            "isByok": False,
        }
    }
    path = write(tmp_path / "generations.json", json.dumps([camel, _gen()], indent=2))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "openrouter_generation"
    call = _by_id(result)["gen-3bh"]
    assert (call["input_uncached_tokens"], call["cache_read_tokens"], call["output_tokens"]) == (7, 3, 25)
    assert (call["user_id"], call["response_id"], call["cost_reported"]) == (
        "user-123",
        "chatcmpl-791b",
        Decimal("0.0015"),
    )


def test_openrouter_chat_completions_stay_with_the_openai_reader(tmp_path):
    """A chat completion served by OpenRouter (`gen-` id, usage.cost) is a response, not generation stats."""
    response = {
        "id": "gen-9",
        "object": "chat.completion",
        "provider": "OpenAI",
        "model": "openai/gpt-4o-mini",
        "choices": [{"finish_reason": "stop", "message": {"content": "hi"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "cost": 0.0000027},
    }
    path = write(tmp_path / "responses.jsonl", _lines(response))
    assert read_logs(path).files[str(path.resolve())] == "openai"
