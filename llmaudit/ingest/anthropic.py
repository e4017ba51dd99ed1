"""Anthropic Messages objects (bare or in a {request, response, metadata} envelope) and Message Batches results.

Token semantics: `input_tokens` EXCLUDES cache reads and writes; `cache_creation` splits writes by TTL (5m/1h);
`output_tokens` includes thinking.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, dig

_ANTHROPIC_USAGE_KEYS = {"cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"}


def _is_message(body: Any) -> bool:
    """A Messages object, or a bare {model, usage} record whose usage has Anthropic's cache field names."""
    if not isinstance(body, dict) or not isinstance(body.get("usage"), dict):
        return False
    usage = body["usage"]
    if body.get("type") == "message":
        return "input_tokens" in usage or "output_tokens" in usage
    return (
        isinstance(body.get("model"), str)
        and "input_tokens" in usage
        and bool(_ANTHROPIC_USAGE_KEYS & set(usage))
    )


def _sniff_message(obj: dict[str, Any]) -> bool:
    return _is_message(obj) or _is_message(obj.get("response"))


def _sniff_batch(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and isinstance(obj.get("result"), dict) and "type" in obj["result"]


def _message_paths(body: str) -> dict[str, tuple[str, ...]]:
    u = f"{body}usage"
    return {
        "model_raw": (f"{body}model",),
        "response_id": (f"{body}id",),
        "finish_reason": (f"{body}stop_reason",),
        "service_tier": (f"{u}.service_tier",),
        "region": (f"{u}.inference_geo",),
        "tok_input": (f"{u}.input_tokens",),
        "tok_cache_read": (f"{u}.cache_read_input_tokens",),
        "tok_cache_write": (f"{u}.cache_creation_input_tokens",),
        "tok_cache_write_5m": (f"{u}.cache_creation.ephemeral_5m_input_tokens",),
        "tok_cache_write_1h": (f"{u}.cache_creation.ephemeral_1h_input_tokens",),
        "tok_output": (f"{u}.output_tokens",),
        "tok_reasoning": (f"{u}.output_tokens_details.thinking_tokens",),
        "tok_web_search": (f"{u}.server_tool_use.web_search_requests",),
        "response_text": (f"{body}content.0.text",),
    }


def _merge(*groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for key, paths in group.items():
            merged[key] = merged.get(key, ()) + paths
    return merged


_GEO = "CASE WHEN {r} IN ('not_available', '') THEN NULL ELSE {r} END"

ANTHROPIC = JsonReader(
    name="anthropic_messages",
    description="Anthropic Messages API objects, bare or in {request, response, metadata}",
    sniff=_sniff_message,
    paths={
        **_merge(_message_paths("response."), _message_paths("")),
        "ts": ("timestamp", "ts", "created_at", "metadata.timestamp"),
        "request_id": ("request_id", "metadata.request_id"),
        "user_id": ("metadata.user_id", "metadata.user", "request.metadata.user_id"),
        "feature": ("metadata.feature", "metadata.tag"),
        "project_id": ("metadata.project_id", "metadata.workspace_id", "metadata.project"),
        "api_key_id": ("metadata.api_key_id",),
        "session_id": ("metadata.session_id",),
        "latency_ms": ("latency_ms", "metadata.latency_ms"),
        "request_text": ("request.messages",),
        "error_type": ("error.type",),
    },
    exprs={
        "provider": "'anthropic'",
        "source_key": "coalesce({request_id}, {response.id}, {id})",
        "is_batch": "CASE WHEN coalesce({response.usage.service_tier}, {usage.service_tier}) = 'batch' "
        "THEN 'true' END",
        "input_includes_cache": "'false'",
        "status": "CASE WHEN {error.type} IS NOT NULL THEN 'error' ELSE 'ok' END",
        "region": _GEO.replace("{r}", "coalesce({response.usage.inference_geo}, {usage.inference_geo})"),
    },
)

_RESULT = _message_paths("result.message.")
ANTHROPIC_BATCH = JsonReader(
    name="anthropic_batch",
    description="Anthropic Message Batches results JSONL (priced at batch rates)",
    sniff=_sniff_batch,
    paths={**_RESULT, "error_type": ("result.error.error.type", "result.error.type")},
    exprs={
        "provider": "'anthropic'",
        "source_key": "coalesce({result.message.id}, {custom_id})",
        "is_batch": "'true'",
        "input_includes_cache": "'false'",
        "status": "CASE {result.type} WHEN 'succeeded' THEN 'ok' WHEN 'errored' THEN 'error' "
        "WHEN 'canceled' THEN 'cancelled' WHEN 'expired' THEN 'expired' ELSE 'error' END",
        "region": _GEO.replace("{r}", "{result.message.usage.inference_geo}"),
    },
)

READERS = (ANTHROPIC_BATCH, ANTHROPIC)

__all__ = ["ANTHROPIC", "ANTHROPIC_BATCH", "READERS", "dig"]
