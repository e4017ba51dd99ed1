"""Gemini API / Vertex AI GenerateContentResponse objects and bare `{modelVersion, usageMetadata}` records,
bare or in a {request, response, metadata} envelope.

Token semantics: `promptTokenCount` INCLUDES `cachedContentTokenCount`; `toolUsePromptTokenCount` is billed as
input on top of it (added in); `thoughtsTokenCount` is billed as output but is NOT inside `candidatesTokenCount`
(added in). Counts are proto3 JSON, which omits zeros: a missing `candidatesTokenCount` is 0. Audio input is the
AUDIO entries of `promptTokensDetails` less the cached AUDIO tokens (cached audio is priced as a cache read).
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader

_BODIES = ("response.", "")


def _is_gemini_body(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    if isinstance(body.get("usageMetadata"), dict):
        return True
    return isinstance(body.get("modelVersion"), str) and isinstance(body.get("candidates"), list)


def _sniff(obj: dict[str, Any]) -> bool:
    return _is_gemini_body(obj) or _is_gemini_body(obj.get("response"))


def _first(*paths: str) -> str:
    """SQL for the first non-null of several paths (response body first, then the bare object)."""
    rendered = [f"{{{p}}}" for p in paths]
    return rendered[0] if len(rendered) == 1 else f"coalesce({', '.join(rendered)})"


def _usage(name: str) -> str:
    return _first(*(f"{b}usageMetadata.{name}" for b in _BODIES))


def _whole(text: str) -> str:
    return f"(try_cast({text} AS DOUBLE) >= 0 AND try_cast({text} AS DOUBLE) % 1 = 0)"


def _sum_counts(a: str, b: str) -> str:
    """a + b as text when both are whole numbers; one of them when the other is missing; null when both are.
    Anything else stays text ("12 + abc") so normalize rejects the row with the values in the reason."""
    total = f"CAST(CAST(try_cast({a} AS DOUBLE) + try_cast({b} AS DOUBLE) AS BIGINT) AS VARCHAR)"
    return (
        f"CASE WHEN {b} IS NULL THEN {a} WHEN {a} IS NULL THEN {b} "
        f"WHEN {_whole(a)} AND {_whole(b)} THEN {total} ELSE {a} || ' + ' || {b} END"
    )


def _modality_tokens(details: str, modality: str) -> str:
    """Sum of tokenCount over the entries of a [{modality, tokenCount}] list with that modality (null if none)."""
    return (
        f"list_sum([try_cast(json_extract_string(d, 'tokenCount') AS BIGINT) "
        f"for d in try_cast({details} AS JSON[]) if json_extract_string(d, 'modality') = '{modality}'])"
    )


_PROMPT = _usage("promptTokenCount")
_TOOL_PROMPT = _usage("toolUsePromptTokenCount")
_CANDIDATES = _usage("candidatesTokenCount")
_THOUGHTS = _usage("thoughtsTokenCount")
_TOTAL = _usage("totalTokenCount")
# Embeddings responses spell it promptTokenDetails.
_PROMPT_DETAILS = _first(
    *(f"{b}usageMetadata.{k}" for b in _BODIES for k in ("promptTokensDetails", "promptTokenDetails"))
)
_CACHE_DETAILS = _usage("cacheTokensDetails")
_AUDIO_IN = (
    f"greatest({_modality_tokens(_PROMPT_DETAILS, 'AUDIO')} "
    f"- coalesce({_modality_tokens(_CACHE_DETAILS, 'AUDIO')}, 0), 0)"
)

_TRAFFIC = f"upper({_usage('trafficType')})"
_TIER = f"regexp_replace(lower({_usage('serviceTier')}), '^service_tier_', '')"
# Vertex trafficType: ON_DEMAND, ON_DEMAND_FLEX, ON_DEMAND_PRIORITY, PROVISIONED_THROUGHPUT.
_SERVICE_TIER = (
    f"CASE WHEN {_TRAFFIC} = 'ON_DEMAND_FLEX' THEN 'flex' WHEN {_TRAFFIC} = 'ON_DEMAND_PRIORITY' THEN 'priority' "
    f"WHEN {_TIER} IS NOT NULL THEN {_TIER} WHEN {_TRAFFIC} = 'ON_DEMAND' THEN 'standard' "
    f"ELSE lower({_TRAFFIC}) END"
)

_ERROR = (
    "coalesce({error.status}, {error.message}, {error.code}, {response.error.status}, {response.error.code})"
)
_META = ("metadata", "response.metadata")

GEMINI = JsonReader(
    name="gemini",
    description="Gemini API / Vertex AI responses with usageMetadata, bare or in {request, response, metadata}",
    sniff=_sniff,
    paths={
        "model_raw": (
            "response.modelVersion",
            "modelVersion",
            "response.model",
            "model",
            "metadata.model",
            "request.model",
        ),
        "response_id": ("response.responseId", "responseId"),
        "finish_reason": (
            "response.candidates.0.finishReason",
            "candidates.0.finishReason",
            "response.promptFeedback.blockReason",
            "promptFeedback.blockReason",
        ),
        "response_text": (
            "response.candidates.0.content.parts.0.text",
            "candidates.0.content.parts.0.text",
        ),
        "request_text": ("request.contents",),
        "tok_cache_read": tuple(f"{b}usageMetadata.cachedContentTokenCount" for b in _BODIES),
        "tok_reasoning": tuple(f"{b}usageMetadata.thoughtsTokenCount" for b in _BODIES),
        "ts": ("timestamp", "ts", "metadata.timestamp", "response.createTime", "createTime"),
        "request_id": ("request_id", "metadata.request_id"),
        "user_id": tuple(f"{m}.{k}" for m in _META for k in ("user_id", "user")) + ("request.labels.user",),
        "feature": tuple(f"{m}.{k}" for m in _META for k in ("feature", "tag", "use_case"))
        + ("request.labels.feature",),
        "project_id": tuple(f"{m}.{k}" for m in _META for k in ("project_id", "project")),
        "api_key_id": tuple(f"{m}.api_key_id" for m in _META),
        "session_id": tuple(f"{m}.session_id" for m in _META),
        "trace_id": tuple(f"{m}.trace_id" for m in _META),
        "region": ("metadata.region", "metadata.location"),
        "latency_ms": ("latency_ms", "metadata.latency_ms"),
        "http_status": ("status_code", "metadata.status_code", "error.code", "response.error.code"),
        "error_type": ("error.status", "response.error.status", "error.code", "response.error.code"),
    },
    exprs={
        "provider": "'google'",
        "source_key": "coalesce({request_id}, {metadata.request_id}, {response.responseId}, {responseId})",
        "status": f"CASE WHEN {_ERROR} IS NOT NULL THEN 'error' ELSE 'ok' END",
        "input_includes_cache": "'true'",
        "tok_input": _sum_counts(_PROMPT, _TOOL_PROMPT),
        # proto3 JSON omits zero counts: with usageMetadata present, a missing candidatesTokenCount is 0
        # (thought-only responses, embeddings); without usageMetadata the output stays unknown
        "tok_output": f"CASE WHEN {_CANDIDATES} IS NULL AND coalesce({_PROMPT}, {_THOUGHTS}, {_TOTAL}) "
        f"IS NOT NULL THEN '0' ELSE {_CANDIDATES} END",
        "output_excludes_reasoning": "'true'",
        "tok_input_audio": _AUDIO_IN,
        "service_tier": _SERVICE_TIER,
        "is_batch": "CASE WHEN lower(coalesce({metadata.batch}, '')) = 'true' THEN 'true' END",
    },
)

READERS = (GEMINI,)
