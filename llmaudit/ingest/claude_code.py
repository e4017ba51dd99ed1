"""Claude Code session transcripts (~/.claude/projects/<project>/<session>.jsonl).

Streaming writes several lines per message sharing message.id + requestId, early copies with partial output:
they share one source key, and ingest keeps the copy with the largest usage. API-error lines
(`isApiErrorMessage`) are error rows with no usage, never dropped: 429 storms live there.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader


def _sniff(obj: dict[str, Any]) -> bool:
    message = obj.get("message")
    if "sessionId" in obj and (
        "message" in obj or obj.get("type") in {"user", "assistant", "summary", "system"}
    ):
        return True
    return "requestId" in obj and isinstance(message, dict) and "usage" in message and "timestamp" in obj


_HAS_USAGE = "({message.usage.input_tokens} IS NOT NULL OR {message.usage.output_tokens} IS NOT NULL)"
_IS_ERROR = "coalesce({isApiErrorMessage}, 'false') = 'true'"

CLAUDE_CODE = JsonReader(
    name="claude_code",
    description="Claude Code session JSONL (deduplicated by message.id + requestId)",
    sniff=_sniff,
    paths={
        "ts": ("timestamp",),
        "session_id": ("sessionId",),
        "request_id": ("requestId",),
        "response_id": ("message.id",),
        "model_raw": ("message.model",),
        "finish_reason": ("message.stop_reason",),
        "tok_input": ("message.usage.input_tokens",),
        "tok_cache_read": ("message.usage.cache_read_input_tokens",),
        "tok_cache_write": ("message.usage.cache_creation_input_tokens",),
        "tok_cache_write_5m": ("message.usage.cache_creation.ephemeral_5m_input_tokens",),
        "tok_cache_write_1h": ("message.usage.cache_creation.ephemeral_1h_input_tokens",),
        "tok_output": ("message.usage.output_tokens",),
        "tok_web_search": ("message.usage.server_tool_use.web_search_requests",),
        "cost_reported": ("costUSD",),
        "error_type": ("error",),
        "http_status": ("apiErrorStatus",),
        "response_text": ("message.content.0.text",),
    },
    exprs={
        "provider": "'anthropic'",
        "gateway": "'claude-code'",
        "source_key": "CASE WHEN {message.id} IS NOT NULL AND {requestId} IS NOT NULL "
        "THEN {message.id} || ':' || {requestId} ELSE {uuid} END",
        "skip_reason": f"CASE WHEN {_IS_ERROR} OR {_HAS_USAGE} OR {{type}} = 'assistant' THEN NULL "
        "ELSE 'no usage (' || coalesce({type}, 'untyped') || ' line)' END",
        "status": f"CASE WHEN {_IS_ERROR} THEN 'error' ELSE 'ok' END",
        "service_tier": "CASE WHEN {message.usage.speed} = 'fast' THEN 'fast' "
        "ELSE {message.usage.service_tier} END",
        "input_includes_cache": "'false'",
        "feature": "CASE WHEN {isSidechain} = 'true' THEN 'sidechain' END",
    },
)

READERS = (CLAUDE_CODE,)
