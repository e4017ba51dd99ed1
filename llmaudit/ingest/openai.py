"""OpenAI Chat Completions and Responses objects (bare, or in a {request, response, metadata} envelope),
and Batch API output files.

Token semantics: `prompt_tokens` / `input_tokens` INCLUDE cached tokens; `completion_tokens` includes reasoning.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, dig

_OBJECTS = {"chat.completion", "response", "text_completion", "list"}


def _is_openai_body(body: Any) -> bool:
    """A chat/response object, or a bare {model, usage} record with OpenAI's usage names."""
    if not isinstance(body, dict):
        return False
    usage = body.get("usage")
    if body.get("object") in _OBJECTS and (usage is None or isinstance(usage, dict)):
        return True
    if not isinstance(usage, dict) or not isinstance(body.get("model"), str):
        return False
    return "prompt_tokens" in usage or (
        "input_tokens" in usage and bool({"input_tokens_details", "output_tokens_details"} & set(usage))
    )


def _sniff_openai(obj: dict[str, Any]) -> bool:
    return _is_openai_body(obj) or _is_openai_body(obj.get("response"))


def _sniff_batch(obj: dict[str, Any]) -> bool:
    return (
        "custom_id" in obj
        and ("response" in obj or "error" in obj)
        and (
            str(obj.get("id", "")).startswith("batch_req")
            or isinstance(dig(obj, "response.status_code"), int)
        )
    )


def _usage_paths(body: str) -> dict[str, tuple[str, ...]]:
    """Chat and Responses usage names under one body prefix ("" for a bare object)."""
    u = f"{body}usage"
    return {
        "model_raw": (f"{body}model",),
        "response_id": (f"{body}id",),
        "service_tier": (f"{body}service_tier",),
        "finish_reason": (f"{body}choices.0.finish_reason",),
        "tok_input": (f"{u}.prompt_tokens", f"{u}.input_tokens"),
        "tok_cache_read": (
            f"{u}.prompt_tokens_details.cached_tokens",
            f"{u}.input_tokens_details.cached_tokens",
        ),
        "tok_cache_write": (
            f"{u}.prompt_tokens_details.cache_write_tokens",
            f"{u}.input_tokens_details.cache_write_tokens",
        ),
        "tok_output": (f"{u}.completion_tokens", f"{u}.output_tokens"),
        "tok_reasoning": (
            f"{u}.completion_tokens_details.reasoning_tokens",
            f"{u}.output_tokens_details.reasoning_tokens",
        ),
        "tok_input_audio": (f"{u}.prompt_tokens_details.audio_tokens",),
        "tok_output_audio": (f"{u}.completion_tokens_details.audio_tokens",),
        "tok_input_image": (f"{u}.prompt_tokens_details.image_tokens",),
        "response_text": (f"{body}choices.0.message.content", f"{body}output_text"),
        "cost_reported": (f"{u}.cost",),  # OpenRouter puts the credits charged here
    }


# Responses objects carry `status`; chat objects have none (a 200 body is a success).
_RESPONSES_STATUS = (
    "CASE {b.status} WHEN 'completed' THEN 'ok' WHEN 'failed' THEN 'error' WHEN 'cancelled' THEN 'cancelled' "
    "WHEN 'incomplete' THEN 'incomplete' WHEN 'in_progress' THEN 'incomplete' ELSE NULL END"
)


def _envelope_reader() -> JsonReader:
    bare = _usage_paths("")
    wrapped = _usage_paths("response.")
    paths = {k: wrapped[k] + bare[k] for k in bare}
    meta = ("metadata", "response.metadata")
    status = _RESPONSES_STATUS.replace("{b.status}", "coalesce({response.status}, {status})")
    return JsonReader(
        name="openai",
        description="OpenAI chat.completion / response objects, bare or in {request, response, metadata}",
        sniff=_sniff_openai,
        paths={
            **paths,
            "ts": (
                "timestamp",
                "ts",
                "metadata.timestamp",
                "response.created",
                "created",
                "response.created_at",
                "created_at",
            ),
            "ts_end": ("response.completed_at", "completed_at"),
            "request_id": ("request_id", "metadata.request_id", "x_request_id"),
            "user_id": tuple(f"{m}.{k}" for m in meta for k in ("user_id", "user"))
            + ("request.user", "response.user", "user", "response.safety_identifier", "safety_identifier"),
            "feature": tuple(f"{m}.{k}" for m in meta for k in ("feature", "tag", "use_case")),
            "project_id": tuple(f"{m}.{k}" for m in meta for k in ("project_id", "project")),
            "api_key_id": tuple(f"{m}.api_key_id" for m in meta),
            "session_id": tuple(f"{m}.session_id" for m in meta),
            "trace_id": tuple(f"{m}.trace_id" for m in meta),
            "latency_ms": ("latency_ms", "metadata.latency_ms"),
            "request_text": ("request.messages", "request.input"),
            "http_status": ("status_code", "metadata.status_code"),
            "error_type": ("error.type", "error.code", "response.error.code"),
        },
        exprs={
            "source_format": "CASE WHEN coalesce({response.object}, {object}) = 'response' "
            "THEN 'openai_responses' ELSE 'openai_chat' END",
            "source_key": "coalesce({request_id}, {response.id}, {id})",
            "status": f"CASE WHEN {{error.type}} IS NOT NULL OR {{error.message}} IS NOT NULL THEN 'error' "
            f"ELSE {status} END",
            "input_includes_cache": "'true'",
            "is_batch": "CASE WHEN lower(coalesce({metadata.batch}, '')) = 'true' THEN 'true' END",
        },
    )


def _batch_reader() -> JsonReader:
    body = _usage_paths("response.body.")
    return JsonReader(
        name="openai_batch",
        description="OpenAI Batch API output JSONL (priced at batch rates)",
        sniff=_sniff_batch,
        paths={
            **body,
            "ts": ("response.body.created", "response.body.created_at"),
            "request_id": ("response.request_id",),
            "error_type": ("error.code", "error.type", "response.body.error.type"),
            "http_status": ("response.status_code",),
        },
        exprs={
            "source_key": "coalesce({id}, {custom_id})",
            "is_batch": "'true'",
            "input_includes_cache": "'true'",
            "status": "CASE WHEN {error.code} IS NOT NULL OR {error.message} IS NOT NULL "
            "OR {response.status_code} IS NULL "
            "OR try_cast({response.status_code} AS INTEGER) >= 400 THEN 'error' ELSE 'ok' END",
        },
    )


OPENAI = _envelope_reader()
OPENAI_BATCH = _batch_reader()
READERS = (OPENAI_BATCH, OPENAI)
