"""AWS Bedrock model-invocation logs (`schemaType: ModelInvocationLog`, CloudWatch or S3 delivery) and bare
Converse responses (`{usage: {inputTokens, outputTokens, cacheReadInputTokens, ...}}`, optionally in an envelope).

Token semantics: `inputTokenCount` / `inputTokens` EXCLUDE cache reads and writes. Converse reports each cache
count under two names (`cacheReadInputTokens` == `cacheReadInputTokenCount`): counted once. Cache writes are
split by TTL from `cacheDetails[{inputTokens, ttl}]` (or, in a logged Anthropic body, `cache_creation`); with no
split, all writes are 5-minute writes.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader

# usage keys of other SDKs that also spell inputTokens/outputTokens in camelCase (Vercel AI SDK)
_FOREIGN_USAGE_KEYS = {"cachedInputTokens", "reasoningTokens", "inputTokenDetails", "outputTokenDetails"}


def _sniff_log(obj: dict[str, Any]) -> bool:
    if obj.get("schemaType") == "ModelInvocationLog":
        return True
    given = obj.get("input")
    return "modelId" in obj and isinstance(given, dict) and "inputTokenCount" in given


def _is_converse(body: Any) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("usage"), dict):
        return False
    usage = body["usage"]
    return "inputTokens" in usage and "outputTokens" in usage and not (_FOREIGN_USAGE_KEYS & set(usage))


def _sniff_converse(obj: dict[str, Any]) -> bool:
    return "schemaType" not in obj and (_is_converse(obj) or _is_converse(obj.get("response")))


def _ttl_tokens(details: str, ttl: str) -> str:
    """Sum of inputTokens over cacheDetails entries with that TTL (null when there is no such entry)."""
    return (
        f"CAST(list_sum([try_cast(json_extract_string(d, 'inputTokens') AS BIGINT) "
        f"for d in try_cast({details} AS JSON[]) if lower(json_extract_string(d, 'ttl')) = '{ttl}']) AS VARCHAR)"
    )


def _tier(raw: str) -> str:
    """Bedrock ServiceTier.type (priority | default | flex | reserved); `default` is the standard tier."""
    return f"CASE lower({raw}) WHEN 'default' THEN 'standard' ELSE lower({raw}) END"


# A logged body is a JSON object (Converse, native InvokeModel), an array of stream chunks
# (InvokeModelWithResponseStream), or JSON text in a string; json_transform hands all of them over as text.
_OUT = "CASE WHEN json_valid({output.outputBodyJson}) THEN {output.outputBodyJson} END"
_IN = "CASE WHEN json_valid({input.inputBodyJson}) THEN {input.inputBodyJson} END"


def _out(path: str) -> str:
    return f"json_extract_string({_OUT}, '{path}')"


def _in(path: str) -> str:
    return f"json_extract_string({_IN}, '{path}')"


_LOG_DETAILS = f"json_extract({_OUT}, '$.usage.cacheDetails')"
_STREAM_LATENCY = '$[#-1]."amazon-bedrock-invocationMetrics".invocationLatency'

BEDROCK_LOG = JsonReader(
    name="bedrock_invocation_log",
    description="AWS Bedrock model invocation logs (schemaType ModelInvocationLog), JSONL or one JSON document",
    sniff=_sniff_log,
    paths={
        "ts": ("timestamp",),
        "request_id": ("requestId",),
        "region": ("region",),
        "model_raw": ("modelId",),
        "user_id": (
            "requestMetadata.user_id",
            "requestMetadata.userId",
            "requestMetadata.user",
            "identity.arn",
        ),
        "feature": (
            "requestMetadata.feature",
            "requestMetadata.use_case",
            "requestMetadata.useCase",
            "requestMetadata.application",
            "requestMetadata.app",
            "requestMetadata.tag",
        ),
        "project_id": (
            "requestMetadata.project_id",
            "requestMetadata.projectId",
            "requestMetadata.project",
            "requestMetadata.team",
            "accountId",
        ),
        "session_id": ("requestMetadata.session_id", "requestMetadata.sessionId"),
        "trace_id": ("requestMetadata.trace_id", "requestMetadata.traceId"),
        "tok_input": ("input.inputTokenCount",),
        "tok_cache_read": ("input.cacheReadInputTokenCount",),
        "tok_cache_write": ("input.cacheWriteInputTokenCount",),
        "tok_output": ("output.outputTokenCount",),
        "error_type": ("errorCode",),
    },
    exprs={
        "provider": "'aws-bedrock'",
        "source_key": "{requestId}",
        "status": "CASE WHEN {errorCode} IS NOT NULL THEN 'error' ELSE 'ok' END",
        "input_includes_cache": "'false'",
        "tok_cache_write_5m": f"coalesce({_ttl_tokens(_LOG_DETAILS, '5m')}, "
        f"{_out('$.usage.cache_creation.ephemeral_5m_input_tokens')})",
        "tok_cache_write_1h": f"coalesce({_ttl_tokens(_LOG_DETAILS, '1h')}, "
        f"{_out('$.usage.cache_creation.ephemeral_1h_input_tokens')})",
        # Converse: metrics.latencyMs; streams: the last chunk's amazon-bedrock-invocationMetrics
        "latency_ms": f"coalesce({_out('$.metrics.latencyMs')}, {_out(_STREAM_LATENCY)})",
        "finish_reason": f"coalesce({_out('$.stopReason')}, {_out('$.stop_reason')})",
        "response_text": f"coalesce({_out('$.output.message.content[0].text')}, {_out('$.content[0].text')})",
        "request_text": f"coalesce(json_extract({_IN}, '$.messages')::VARCHAR, {_in('$.inputText')}, "
        f"{_in('$.prompt')})",
        "service_tier": _tier(f"coalesce({_out('$.serviceTier.type')}, {_in('$.serviceTier.type')})"),
    },
)


def _converse_paths(body: str) -> dict[str, tuple[str, ...]]:
    u = f"{body}usage"
    return {
        "tok_input": (f"{u}.inputTokens",),
        "tok_cache_read": (f"{u}.cacheReadInputTokens", f"{u}.cacheReadInputTokenCount"),
        "tok_cache_write": (f"{u}.cacheWriteInputTokens", f"{u}.cacheWriteInputTokenCount"),
        "tok_output": (f"{u}.outputTokens",),
        "finish_reason": (f"{body}stopReason",),
        "latency_ms": (f"{body}metrics.latencyMs",),
        "response_text": (f"{body}output.message.content.0.text",),
        "http_status": (f"{body}ResponseMetadata.HTTPStatusCode",),
        "request_id": (f"{body}ResponseMetadata.RequestId",),
    }


def _merged(*groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for key, paths in group.items():
            merged[key] = merged.get(key, ()) + paths
    return merged


_META = ("metadata", "response.metadata")
_CONVERSE_DETAILS = "coalesce({response.usage.cacheDetails}, {usage.cacheDetails})"
_CONVERSE_PATHS = _merged(
    {"request_id": ("request_id", "metadata.request_id")},
    _converse_paths("response."),
    _converse_paths(""),
)
_CONVERSE_PATHS["latency_ms"] += ("latency_ms", "metadata.latency_ms")

BEDROCK_CONVERSE = JsonReader(
    name="bedrock_converse",
    description="AWS Bedrock Converse responses (usage with inputTokens, cacheReadInputTokens, ...)",
    sniff=_sniff_converse,
    paths={
        **_CONVERSE_PATHS,
        "model_raw": ("modelId", "model", "request.modelId", "metadata.modelId", "metadata.model"),
        "ts": ("timestamp", "ts", "metadata.timestamp"),
        "region": ("region", "metadata.region"),
        "user_id": tuple(f"{m}.{k}" for m in _META for k in ("user_id", "user")),
        "feature": tuple(f"{m}.{k}" for m in _META for k in ("feature", "tag", "use_case")),
        "project_id": tuple(f"{m}.{k}" for m in _META for k in ("project_id", "project")),
        "session_id": tuple(f"{m}.session_id" for m in _META),
        "trace_id": tuple(f"{m}.trace_id" for m in _META),
        "request_text": ("request.messages",),
        "error_type": ("error.type", "error.code", "errorCode"),
    },
    exprs={
        "provider": "'aws-bedrock'",
        "source_key": "coalesce({request_id}, {metadata.request_id}, {response.ResponseMetadata.RequestId}, "
        "{ResponseMetadata.RequestId})",
        "status": "CASE WHEN coalesce({error.type}, {error.code}, {error.message}, {errorCode}) IS NOT NULL "
        "THEN 'error' ELSE 'ok' END",
        "input_includes_cache": "'false'",
        "tok_cache_write_5m": _ttl_tokens(_CONVERSE_DETAILS, "5m"),
        "tok_cache_write_1h": _ttl_tokens(_CONVERSE_DETAILS, "1h"),
        "service_tier": _tier("coalesce({response.serviceTier.type}, {serviceTier.type})"),
    },
)

READERS = (BEDROCK_LOG, BEDROCK_CONVERSE)
