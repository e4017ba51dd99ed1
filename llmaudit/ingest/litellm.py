"""LiteLLM proxy logs: `LiteLLM_SpendLogs` rows exported as JSON, and StandardLoggingPayload objects.

SpendLogs rows (`request_id` is the table's primary key, so re-exports collapse on it): `metadata`,
`request_tags`, `messages` and `response` are JSON *strings* inside the JSON (objects when exported straight
from Postgres `jsonb`; both read the same). Cache tokens exist only in `metadata.usage_object`, which wins
over the top-level `prompt_tokens` / `completion_tokens` columns when present. `startTime` / `endTime` carry
no offset: read as UTC and flagged `tz_assumed`.

StandardLoggingPayload (the callback / GCS / PubSub payload): `startTime` / `endTime` are epoch seconds
(floats) or naive timestamps, `response_cost` is LiteLLM's cost, `response.usage` the OpenAI-shaped usage,
attribution in `metadata.user_api_key_*`.

Token semantics (an assumption, noted here because cost depends on it): LiteLLM normalizes every provider's
usage to the OpenAI convention, so `prompt_tokens` INCLUDES cache reads (`prompt_tokens_details.cached_tokens`
= `cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`); `completion_tokens` includes
reasoning. Current LiteLLM adds Anthropic's cache reads and writes into `prompt_tokens`; some 2025 releases
added only the reads. Where `prompt_tokens` is smaller than reads + writes but not than reads, it is read as
such a row (writes outside `prompt_tokens`); otherwise rows of those releases count the writes twice (once
as uncached input, once as writes) and nothing in the row can tell.

Gateway cache hits (`cache_hit` true: LiteLLM answered from its own cache, the provider was not called and
`spend` is ~0) keep their usage and get `service_tier = "gateway_cache"`, so reports can single them out;
repricing still prices their tokens at the standard rate (the catalog has no zero-cost mode for them).
Empty strings (`"user": ""`, `"team_id": ""`, `"api_key": ""`) are read as absent.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, provider_sql


def _blank(path: str) -> str:
    return f"nullif(trim({{{path}}}), '')"


def _first_tag(path: str) -> str:
    """First element of a JSON list given as a list or as a JSON-encoded string (`"[\\"a\\"]"`)."""
    return f"nullif(try(json_extract_string({{{path}}}, '$[0]')), '')"


def _status(path: str) -> str:
    return (
        f"CASE lower(coalesce({{{path}}}, '')) WHEN 'failure' THEN 'error' WHEN 'error' THEN 'error' "
        "ELSE 'ok' END"
    )


def _cache_hit(path: str) -> str:
    return f"CASE WHEN lower(coalesce({{{path}}}, '')) = 'true' THEN 'gateway_cache' END"


def _input_tokens(prompt: str, read: str, write: str) -> str:
    """`prompt` (OpenAI convention: reads and writes inside); a row whose prompt holds the reads but not the
    writes (some LiteLLM releases) gets its writes added back, so the uncached part is not negative."""
    p, r, w = (f"try_cast({x} AS BIGINT)" for x in (prompt, read, write))
    return (
        f"CASE WHEN {p} < coalesce({r}, 0) + coalesce({w}, 0) AND {p} >= coalesce({r}, 0) "
        f"THEN ({p} + {w})::VARCHAR ELSE {prompt} END"
    )


# --- SpendLogs ---------------------------------------------------------------------------------------

# `metadata` is parsed once per row: one json_extract of the few sub-documents read here (the same
# expression in every field, so DuckDB computes it once); each field then parses only its small piece.
# A metadata string that is not JSON ("None", "") gives nulls, not an error.
_META_KEYS = (
    "usage_object",
    "status",
    "user_api_key_alias",
    "user_api_key_team_id",
    "user_api_key_project_id",
    "error_information",
)
_META = "try(json_extract({metadata}, [" + ", ".join(f"'$.{k}'" for k in _META_KEYS) + "]))"


def _meta(path: str) -> str:
    key, _, rest = path.partition(".")
    return f"json_extract_string({_META}[{_META_KEYS.index(key) + 1}], '${'.' + rest if rest else ''}')"


_UO = "usage_object."
_SPEND_READ = f"coalesce({_meta(_UO + 'prompt_tokens_details.cached_tokens')}, {_meta(_UO + 'cache_read_input_tokens')})"
_SPEND_WRITE = (
    f"coalesce({_meta(_UO + 'cache_creation_input_tokens')}, "
    f"{_meta(_UO + 'prompt_tokens_details.cache_creation_tokens')})"
)
_SPEND_PROMPT = f"coalesce({_meta(_UO + 'prompt_tokens')}, {{prompt_tokens}})"


def _sniff_spend_log(obj: dict[str, Any]) -> bool:
    return "request_id" in obj and "spend" in obj and ("startTime" in obj or "call_type" in obj)


SPEND_LOG = JsonReader(
    name="litellm_spendlog",
    description="LiteLLM proxy LiteLLM_SpendLogs rows as JSON (metadata.usage_object for cache tokens)",
    sniff=_sniff_spend_log,
    paths={
        "ts": ("startTime",),
        "ts_end": ("endTime",),
        "request_id": ("request_id",),
        "cost_reported": ("spend",),
    },
    exprs={
        "source_key": "{request_id}",
        "gateway": "'litellm'",
        "provider": provider_sql("{custom_llm_provider}"),
        "model_raw": f"coalesce({_blank('model')}, {_blank('model_group')})",
        "session_id": _blank("session_id"),
        "user_id": f"coalesce({_blank('end_user')}, {_blank('user')})",
        "project_id": f"coalesce({_blank('team_id')}, nullif({_meta('user_api_key_team_id')}, ''), "
        f"nullif({_meta('user_api_key_project_id')}, ''))",
        "api_key_id": f"coalesce({_blank('api_key')}, nullif({_meta('user_api_key_alias')}, ''))",
        "feature": _first_tag("request_tags"),
        "status": _status("status").replace("{status}", f"coalesce({{status}}, {_meta('status')})"),
        "error_type": f"nullif({_meta('error_information.error_class')}, '')",
        "http_status": f"nullif({_meta('error_information.error_code')}, '')",
        "service_tier": _cache_hit("cache_hit"),
        "latency_ms": "coalesce(try_cast({request_duration_ms} AS DOUBLE), (epoch_us(try_cast({endTime} AS TIMESTAMPTZ)) "
        "- epoch_us(try_cast({startTime} AS TIMESTAMPTZ))) / 1000.0)",
        "input_includes_cache": "'true'",
        "tok_input": _input_tokens(_SPEND_PROMPT, _SPEND_READ, _SPEND_WRITE),
        "tok_cache_read": _SPEND_READ,
        "tok_cache_write": _SPEND_WRITE,
        "tok_cache_write_5m": _meta(
            _UO + "prompt_tokens_details.cache_creation_token_details.ephemeral_5m_input_tokens"
        ),
        "tok_cache_write_1h": _meta(
            _UO + "prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens"
        ),
        "tok_output": f"coalesce({_meta(_UO + 'completion_tokens')}, {{completion_tokens}})",
        "tok_reasoning": _meta(_UO + "completion_tokens_details.reasoning_tokens"),
        "tok_input_audio": _meta(_UO + "prompt_tokens_details.audio_tokens"),
        "tok_output_audio": _meta(_UO + "completion_tokens_details.audio_tokens"),
        "request_text": "CASE WHEN trim({messages}) NOT IN ('', '{}', '[]', 'null') THEN {messages} END",
        "response_text": "try(json_extract_string({response}, '$.choices[0].message.content'))",
    },
)

# --- StandardLoggingPayload ----------------------------------------------------------------------------

_U = "response.usage"
_SLP_READ = f"coalesce({{{_U}.prompt_tokens_details.cached_tokens}}, {{{_U}.cache_read_input_tokens}})"
_SLP_WRITE = (
    f"coalesce({{{_U}.cache_creation_input_tokens}}, {{{_U}.prompt_tokens_details.cache_creation_tokens}})"
)
_SLP_PROMPT = f"coalesce({{{_U}.prompt_tokens}}, {{prompt_tokens}})"


def _sniff_payload(obj: dict[str, Any]) -> bool:
    return (
        "response_cost" in obj
        and "id" in obj
        and "startTime" in obj
        and bool({"custom_llm_provider", "model_map_information", "hidden_params", "call_type"} & set(obj))
    )


STANDARD_LOGGING_PAYLOAD = JsonReader(
    name="litellm_slp",
    description="LiteLLM StandardLoggingPayload objects (logging callbacks, GCS / PubSub exports)",
    sniff=_sniff_payload,
    paths={
        "ts": ("startTime",),
        "ts_end": ("endTime",),
        "request_id": ("id",),
        "response_id": ("response.id",),
        "trace_id": ("trace_id",),
        "cost_reported": ("response_cost",),
        "finish_reason": ("response.choices.0.finish_reason",),
        "tok_cache_write_5m": (
            f"{_U}.prompt_tokens_details.cache_creation_token_details.ephemeral_5m_input_tokens",
        ),
        "tok_cache_write_1h": (
            f"{_U}.prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens",
        ),
        "tok_reasoning": (f"{_U}.completion_tokens_details.reasoning_tokens",),
        "tok_input_audio": (f"{_U}.prompt_tokens_details.audio_tokens",),
        "tok_output_audio": (f"{_U}.completion_tokens_details.audio_tokens",),
        "request_text": ("messages",),
        "response_text": ("response.choices.0.message.content",),
    },
    exprs={
        "source_key": "{id}",
        "gateway": "'litellm'",
        "provider": provider_sql("{custom_llm_provider}"),
        "model_raw": f"coalesce({_blank('model')}, {_blank('model_group')}, "
        f"{_blank('hidden_params.litellm_model_name')})",
        "user_id": f"coalesce({_blank('end_user')}, {_blank('metadata.user_api_key_end_user_id')}, "
        f"{_blank('metadata.user_api_key_user_id')})",
        "project_id": f"coalesce({_blank('metadata.user_api_key_team_id')}, "
        f"{_blank('metadata.user_api_key_project_id')})",
        "api_key_id": f"coalesce({_blank('metadata.user_api_key_hash')}, "
        f"{_blank('metadata.user_api_key_alias')})",
        "feature": _first_tag("request_tags"),
        "status": _status("status"),
        "error_type": _blank("error_information.error_class"),
        "http_status": _blank("error_information.error_code"),
        "service_tier": _cache_hit("cache_hit"),
        "latency_ms": "coalesce(try_cast({response_time} AS DOUBLE) * 1000, "
        "(try_cast({endTime} AS DOUBLE) - try_cast({startTime} AS DOUBLE)) * 1000)",
        "input_includes_cache": "'true'",
        "tok_input": _input_tokens(_SLP_PROMPT, _SLP_READ, _SLP_WRITE),
        "tok_cache_read": _SLP_READ,
        "tok_cache_write": _SLP_WRITE,
        "tok_output": f"coalesce({{{_U}.completion_tokens}}, {{completion_tokens}})",
    },
)

READERS = (SPEND_LOG, STANDARD_LOGGING_PAYLOAD)
