"""Portkey log exports (`POST /logs/exports`, an enterprise feature): one row per logged request.

Rows are JSON objects (JSONL or a JSON array; a CSV export with the same column names is read the same
way) with the export's `requested_data` fields: `id` (the key), `trace_id`, `created_at`, `request`,
`response` (objects, or the same as JSON-encoded strings), `is_success`, `ai_org` (the provider: openai,
anthropic, azure-openai, bedrock, vertex-ai, ...), `ai_model`, `req_units` / `res_units` / `total_units`
(prompt / completion / total tokens as Portkey counted them), `cost`, `cost_currency`, `response_time`
(ms), `response_status_code`, `metadata` (Portkey's `_user` key -> user_id; `feature`, `project`,
`session_id` keys when the app sends them).

Cost unit (a GUESS, not verified on a real export): `cost` is in CENTS of `cost_currency` (a Portkey admin
tool documents its cost filter as "cost in cents"). It is converted to USD (`cost / 100`, exactly) when
`cost_currency` is USD or absent (Portkey bills in USD); a cost in another currency is not kept (the call
is, with a null recorded cost). If your export's costs are already in dollars, reconciliation will show
every recorded cost 100x below the repriced one.

Token semantics: tokens come from `response.usage` (else `response.body.usage`); only a row without usage
falls back to `req_units` / `res_units` (no cache split). Portkey logs the response it returned:
- OpenAI shape (`prompt_tokens`, `prompt_tokens_details.cached_tokens`): prompt INCLUDES cached tokens.
- Anthropic shape (`input_tokens` with `cache_read_input_tokens` / `cache_creation_input_tokens`, from the
  `/v1/messages` route): input EXCLUDES cache reads and writes; 5m/1h writes from `cache_creation`.
- OpenAI shape built by Portkey from an Anthropic-family response (`prompt_tokens` plus Anthropic's
  `cache_read_input_tokens` / `cache_creation_input_tokens`): Portkey's gateway has written this both
  ways (`prompt_tokens = input_tokens`, cache outside; and in its newer shared transform
  `prompt_tokens = input + cache read + cache write`). `total_tokens` tells them apart: equal to
  prompt + completion + reads + writes means the cache is outside the prompt, equal to prompt +
  completion means inside. Without a total the cache is read as outside (the main Anthropic transform).
- Responses API shape (`input_tokens` with `input_tokens_details`): input INCLUDES cached tokens.
Output includes reasoning in every shape.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, provider_sql

# Portkey provider slugs -> llmaudit provider ids (others go through provider_sql)
_PROVIDERS = {
    "azure-openai": "azure",
    "azure-ai": "azure",
    "vertex-ai": "google",
    "google": "google",
    "bedrock": "aws-bedrock",
    "mistral-ai": "mistral",
    "together-ai": "together",
    "fireworks-ai": "fireworks",
    "x-ai": "xai",
    "deepseek": "deepseek",
}

# `response` and `request` are objects or JSON strings: both are read as JSON text, and the few
# sub-documents used here are extracted in one pass (the same expression everywhere, computed once).
_RESPONSE_PATHS = (
    "$.usage",
    "$.body.usage",
    "$.model",
    "$.choices[0].finish_reason",
    "$.stop_reason",
    "$.choices[0].message.content",
    "$.content[0].text",
    "$.error",
    "$.body.error",
)
_RESPONSE = "try(json_extract({response}, [" + ", ".join(f"'{p}'" for p in _RESPONSE_PATHS) + "]))"


def _response(path: str) -> str:
    return f"{_RESPONSE}[{_RESPONSE_PATHS.index(path) + 1}]"


_USAGE = f"coalesce({_response('$.usage')}, {_response('$.body.usage')})"


def _usage(path: str) -> str:
    return f"json_extract_string({_USAGE}, '$.{path}')"


def _n(expr: str) -> str:
    return f"try_cast({expr} AS BIGINT)"


def _text(expr: str) -> str:
    return f"nullif(trim({expr}), '')"


def _meta(*keys: str) -> str:
    """First non-blank metadata key (metadata is an object or a JSON string)."""
    return (
        "coalesce("
        + ", ".join(f"{_text(f'try(json_extract_string({{metadata}}, {_key(k)}))')}" for k in keys)
        + ")"
    )


def _key(key: str) -> str:
    return "'$.\"" + key + "\"'"


_PROMPT = _usage("prompt_tokens")
_INPUT = _usage("input_tokens")
_COMPLETION = f"coalesce({_usage('completion_tokens')}, {_usage('output_tokens')})"
_READ = (
    f"coalesce({_usage('cache_read_input_tokens')}, {_usage('prompt_tokens_details.cached_tokens')}, "
    f"{_usage('input_tokens_details.cached_tokens')})"
)
_WRITE = (
    f"coalesce({_usage('cache_creation_input_tokens')}, {_usage('prompt_tokens_details.cache_write_tokens')})"
)
_CACHE = f"(coalesce({_n(_READ)}, 0) + coalesce({_n(_WRITE)}, 0))"
_ANTHROPIC_NAMES = f"({_usage('cache_read_input_tokens')} IS NOT NULL OR {_usage('cache_creation_input_tokens')} IS NOT NULL)"
_TOTAL_SANS_CACHE = f"({_n(_PROMPT)} + coalesce({_n(_COMPLETION)}, 0))"
_INCLUDES_CACHE = (
    f"CASE WHEN {_USAGE} IS NULL THEN 'true' "  # req_units / res_units: no cache split
    f"WHEN {_PROMPT} IS NULL THEN "  # input_tokens: Responses API (inside) or Anthropic (outside)
    f"CASE WHEN {_usage('input_tokens_details')} IS NOT NULL THEN 'true' ELSE 'false' END "
    f"WHEN NOT {_ANTHROPIC_NAMES} THEN 'true' "  # OpenAI chat
    f"WHEN {_CACHE} > 0 AND {_n(_usage('total_tokens'))} = {_TOTAL_SANS_CACHE} + {_CACHE} THEN 'false' "
    f"WHEN {_n(_usage('total_tokens'))} = {_TOTAL_SANS_CACHE} AND {_n(_PROMPT)} >= {_CACHE} THEN 'true' "
    "ELSE 'false' END"
)

# cents -> dollars, exactly (a guess: see the module docstring); other currencies are not kept
_CENTS = "coalesce(try_cast(trim({cost}) AS DECIMAL(38,12)), try_cast(try_cast(trim({cost}) AS DOUBLE) AS DECIMAL(38,12)))"
_COST = f"CASE WHEN upper(coalesce({_text('{cost_currency}')}, 'USD')) = 'USD' THEN {_CENTS} * 0.01::DECIMAL(3,2) END"

_RESPONSE_MODEL = f"json_extract_string({_response('$.model')}, '$')"
_STATUS_CODE = "try_cast(try_cast({response_status_code} AS DOUBLE) AS INTEGER)"
_ERROR = f"coalesce({_response('$.error')}, {_response('$.body.error')})"


def _provider() -> str:
    label = "lower(trim({ai_org}))"
    whens = " ".join(f"WHEN '{slug}' THEN '{ours}'" for slug, ours in _PROVIDERS.items())
    return f"CASE {label} {whens} ELSE {provider_sql('{ai_org}')} END"


def _sniff(obj: dict[str, Any]) -> bool:
    keys = set(obj)
    return bool({"ai_org", "ai_model"} & keys) and bool(
        {"req_units", "res_units", "total_units", "response_status_code", "response_time", "cost_currency"}
        & keys
    )


def _reader(name: str, description: str) -> JsonReader:
    return JsonReader(
        name=name,
        description=description,
        sniff=_sniff,
        exprs={
            "source_format": "'portkey'",  # a CSV and a JSON export of the same logs collapse on `id`
            "source_key": _text("{id}"),
            "request_id": _text("{id}"),
            "trace_id": _text("{trace_id}"),
            "ts": "{created_at}",
            "gateway": "'portkey'",
            "provider": _provider(),
            "model_raw": f"coalesce({_text('{ai_model}')}, {_text(_RESPONSE_MODEL)})",
            "user_id": _meta("_user", "user", "user_id"),
            "feature": _meta("feature", "_feature", "use_case"),
            "project_id": _meta("project", "project_id", "team"),
            "session_id": _meta("session_id", "_session_id"),
            "status": f"CASE WHEN {_STATUS_CODE} >= 400 OR lower(coalesce({{is_success}}, '')) = 'false' "
            "THEN 'error' ELSE 'ok' END",
            "http_status": f"CASE WHEN {_STATUS_CODE} > 0 THEN {_STATUS_CODE} END",
            "error_type": f"CASE WHEN {_STATUS_CODE} >= 400 OR lower(coalesce({{is_success}}, '')) = 'false' "
            f"THEN coalesce(json_extract_string({_ERROR}, '$.type'), json_extract_string({_ERROR}, '$.code')) END",
            "finish_reason": f"coalesce(json_extract_string({_response('$.choices[0].finish_reason')}, '$'), "
            f"json_extract_string({_response('$.stop_reason')}, '$'))",
            "response_text": f"coalesce(json_extract_string({_response('$.choices[0].message.content')}, '$'), "
            f"json_extract_string({_response('$.content[0].text')}, '$'))",
            "request_text": "coalesce(try(json_extract({request}, '$.messages'))::VARCHAR, "
            "try(json_extract({request}, '$.body.messages'))::VARCHAR, {request})",
            "latency_ms": "{response_time}",
            "cost_reported": _COST,
            "reject_reason": f"CASE WHEN {_text('{cost}')} IS NOT NULL AND {_CENTS} IS NULL "
            "THEN 'cost is not a number: ' || left({cost}, 40) END",
            "input_includes_cache": _INCLUDES_CACHE,
            "tok_input": f"CASE WHEN {_USAGE} IS NULL THEN {{req_units}} ELSE coalesce({_PROMPT}, {_INPUT}) END",
            "tok_cache_read": _READ,
            "tok_cache_write": _WRITE,
            "tok_cache_write_5m": _usage("cache_creation.ephemeral_5m_input_tokens"),
            "tok_cache_write_1h": _usage("cache_creation.ephemeral_1h_input_tokens"),
            "tok_output": f"CASE WHEN {_USAGE} IS NULL THEN {{res_units}} ELSE {_COMPLETION} END",
            "tok_reasoning": f"coalesce({_usage('completion_tokens_details.reasoning_tokens')}, "
            f"{_usage('output_tokens_details.reasoning_tokens')})",
            "tok_input_audio": _usage("prompt_tokens_details.audio_tokens"),
            "tok_output_audio": _usage("completion_tokens_details.audio_tokens"),
        },
    )


PORTKEY = _reader(
    "portkey", "Portkey log exports (JSON / JSONL rows with ai_org, ai_model, request, response)"
)
PORTKEY_CSV = _reader(
    "portkey_csv", "Portkey log exports as CSV (the same columns; request / response as JSON)"
)

READERS = (PORTKEY,)
CSV_READERS = (PORTKEY_CSV,)
