"""Helicone request exports (`npx @helicone/export` JSON / JSONL, the request query API): one object per request.

Fields: `request_id` (the key), `request_created_at` / `response_created_at`, the model (`model`, else
`response_model`, `request_model`, `model_override`), `provider` (upper-case in Helicone: OPENAI, ANTHROPIC,
...), `costUSD` or `cost` (USD: the query API divides Helicone's stored integer cost by its precision
multiplier), `delay_ms` or `latency` (ms), `request_user_id`, `request_properties` (the `Helicone-Property-*`
headers: `feature`, `project`, `Helicone-Session-Id`), `response_status` (HTTP status; 0 or negative when no
response was recorded), `request_body` / `response_body`.

Token semantics: Helicone stores *disjoint* counts. Its body processors write `prompt_tokens` as the
effective, uncached prompt (`prompt_tokens - cached_tokens - audio_tokens` for OpenAI, `input_tokens` for
Anthropic) and its cost code prices `prompt_tokens` at the input rate plus `prompt_cache_read_tokens` /
`prompt_cache_write_tokens` at the cache rates. So `prompt_tokens` EXCLUDES cache reads and writes. Likewise
`completion_tokens` excludes `reasoning_tokens` (the query API returns `total_tokens = prompt + completion +
reasoning`), which are added back here; `prompt_audio_tokens` / `completion_audio_tokens` are added back
when present. Requests logged by Helicone builds that stored the raw OpenAI `prompt_tokens` (cache inside)
cannot be told apart in an export and would count their cache reads twice.

Cache hits (`cache_reference_id` set to a real request: answered from Helicone's cache, provider not
called) get `service_tier = "gateway_cache"`, as LiteLLM cache hits do. The CSV export drops the cache token
columns; CSV exports are read by helicone_csv.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, provider_sql

_NO_CACHE_REFERENCE = "00000000-0000-0000-0000-000000000000"


_PROPERTIES = "try(json_transform(coalesce({request_properties}, {properties}), '\"MAP(VARCHAR, VARCHAR)\"'))"


def _property(*names: str) -> str:
    """First of the named custom properties (`request_properties`, else `properties`), names matched without
    regard to case: HTTP header names, and so property names, arrive in any case."""
    wanted = ", ".join(f"'{n.lower()}'" for n in names)
    return f"nullif(trim(list_filter(map_entries({_PROPERTIES}), lambda e: lower(e.key) IN ({wanted}))[1].value), '')"


def _body(path: str, *json_paths: str) -> str:
    """A value inside a body that may be an object or a JSON-encoded string."""
    return "coalesce(" + ", ".join(f"try(json_extract_string({{{path}}}, '{p}'))" for p in json_paths) + ")"


def _plus(count: str, extra: str) -> str:
    """`count` + `extra` when the extra is a positive number, else `count` unchanged (kept as text)."""
    c, e = (f"try_cast({{{x}}} AS BIGINT)" for x in (count, extra))
    return f"CASE WHEN {e} > 0 THEN ({c} + {e})::VARCHAR ELSE {{{count}}} END"


_STATUS = "try_cast({response_status} AS INTEGER)"


def _sniff(obj: dict[str, Any]) -> bool:
    return (
        "request_id" in obj
        and ("request_created_at" in obj or "response_created_at" in obj)
        and bool(
            {"prompt_tokens", "delay_ms", "request_properties", "provider", "response_status"} & set(obj)
        )
    )


HELICONE = JsonReader(
    name="helicone",
    description="Helicone request exports (JSON / JSONL from @helicone/export or the request API)",
    sniff=_sniff,
    paths={
        "ts": ("request_created_at",),
        "ts_end": ("response_created_at",),
        "request_id": ("request_id",),
        "response_id": ("response_id",),
        "model_raw": ("model", "response_model", "request_model", "model_override"),
        "cost_reported": ("costUSD", "cost"),
        "latency_ms": ("delay_ms", "latency"),
        "tok_cache_read": ("prompt_cache_read_tokens",),
        "tok_cache_write": ("prompt_cache_write_tokens",),
        "tok_reasoning": ("reasoning_tokens",),
        "tok_input_audio": ("prompt_audio_tokens",),
        "tok_output_audio": ("completion_audio_tokens",),
        "request_text": ("request_body",),
    },
    exprs={
        "source_key": "{request_id}",
        "gateway": "'helicone'",
        "provider": provider_sql("{provider}"),
        "user_id": "coalesce(nullif(trim({request_user_id}), ''), " + _property("Helicone-User-Id") + ")",
        "feature": _property("feature", "helicone-property-feature"),
        "project_id": _property("project", "helicone-property-project"),
        "session_id": _property("Helicone-Session-Id"),
        "status": f"CASE WHEN {_STATUS} IS NULL OR {_STATUS} BETWEEN 1 AND 399 THEN 'ok' ELSE 'error' END",
        "http_status": f"CASE WHEN {_STATUS} > 0 THEN {_STATUS} END",
        "error_type": f"CASE WHEN {_STATUS} <= 0 THEN 'no_response' "
        f"WHEN {_STATUS} >= 400 THEN {_body('response_body', '$.error.type', '$.error.code')} END",
        "finish_reason": _body("response_body", "$.choices[0].finish_reason", "$.stop_reason"),
        "response_text": _body("response_body", "$.choices[0].message.content", "$.content[0].text"),
        "service_tier": f"CASE WHEN {{cache_reference_id}} IS NOT NULL "
        f"AND {{cache_reference_id}} NOT IN ('', '{_NO_CACHE_REFERENCE}') THEN 'gateway_cache' END",
        "input_includes_cache": "'false'",
        "tok_input": _plus("prompt_tokens", "prompt_audio_tokens"),
        "tok_output": _plus("completion_tokens", "completion_audio_tokens"),
        "output_excludes_reasoning": "'true'",
    },
)

READERS = (HELICONE,)
