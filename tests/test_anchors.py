"""Conformance over real third-party samples in ../shared/anchors/logs (skipped when absent).

Token sums are recomputed here straight from the JSON, independently of the readers; costs use the
hand-checkable test catalog so they do not move when the bundled catalog is updated.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

pytestmark = pytest.mark.anchors


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ccusage_claude_code_session(anchors, catalog):
    result = read_logs(anchors / "logs/claude_code/ccusage__project-alpha__chat.jsonl")
    assert (result.rows_read, result.calls.height, result.rejects.height) == (3, 3, 0)
    priced = price(result.calls, catalog)
    # sonnet-4: 100*3 + 10*0.3 + 25*3.75 + 50*15; opus-4: 200*15 + 20*1.5 + 50*18.75 + 75*75;
    # sonnet-4: 300*3 + 40*0.3 + 125*15  (per 1M tokens)
    assert priced["cost_usd"].sum() == Decimal("0.00114675") + Decimal("0.0095925") + Decimal("0.002787")
    assert priced["cost_reported"].sum() == Decimal("1.02")
    assert priced.filter(priced["service_tier"] == "fast")["price_note"][0].startswith(
        "priority not in catalog"
    )


def test_claude_code_log_edge_cases_reconcile(anchors):
    result = read_logs(anchors / "logs/claude_code/claude-code-log__edge_cases.jsonl")
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        19,
        4,
        12,
        3,
    )
    assert sorted(result.rejects["line"].to_list()) == [13, 15, 16]
    assert result.reconciles


def test_openai_batch_output_is_batch_priced(anchors, catalog):
    result = read_logs(anchors / "logs/openai/litellm__batch_output_gpt-4o-mini.jsonl")
    priced = price(result.calls, catalog)
    assert priced["is_batch"].all() and priced["price_mode"].to_list() == ["batch", "batch"]
    assert priced["cost_usd"].sum() == Decimal("0.00000915")  # 0.5 * ((20+22)*0.15 + (10+10)*0.60) / 1M


def test_openai_chat_completion_spec_example(anchors, catalog):
    priced = price(
        read_logs(anchors / "logs/openai/openai-openapi__chat_completion_example.json").calls, catalog
    )
    assert priced["model"][0] == "gpt-4o" and priced["cost_usd"][0] == Decimal("0.0032525")


def test_anthropic_usage_objects_keep_cache_outside_input(anchors):
    path = anchors / "logs/provider_usage_objects/genai-prices__usages__anthropic_messages.jsonl"
    records = _records(path)
    result = read_logs(path)
    assert result.calls.height == len(records) == 226 and result.rejects.height == 0
    usages = [r["usage"] for r in records]
    expected_total = sum(
        u.get("input_tokens", 0)
        + u.get("cache_read_input_tokens", 0)
        + u.get("cache_creation_input_tokens", 0)
        for u in usages
    )
    expected_1h = sum((u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0) for u in usages)
    assert result.calls["input_total_tokens"].sum() == expected_total
    assert result.calls["output_tokens"].sum() == sum(u.get("output_tokens", 0) for u in usages)
    assert result.calls["cache_write_1h_tokens"].sum() == expected_1h
    assert set(result.calls["source_format"]) == {"anthropic_messages"}


@pytest.mark.parametrize(
    "family", ["openai_chat_compatible", "openai_responses_compatible", "openrouter_chat"]
)
def test_openai_usage_objects_keep_cache_inside_input(anchors, family):
    path = anchors / f"logs/provider_usage_objects/genai-prices__usages__{family}.jsonl"
    records = _records(path)
    result = read_logs(path)
    assert result.calls.height == len(records) and result.rejects.height == 0 and result.reconciles
    usages = [r["usage"] for r in records]
    prompt = sum(u.get("prompt_tokens", u.get("input_tokens", 0)) for u in usages)
    cached = sum(
        (u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}).get("cached_tokens") or 0
        for u in usages
    )
    assert result.calls["input_total_tokens"].sum() == prompt
    assert result.calls["cache_read_tokens"].fill_null(0).sum() == cached
    assert (result.calls["input_uncached_tokens"] >= 0).all()
