"""OpenRouter generation stats: `GET /api/v1/generation?id=gen-...` objects, one call each.

Read as saved: the API's `{"data": {...}}` wrapper or the bare object, one per line (JSONL) or a JSON
array; snake_case as the API returns it (camelCase, as the TypeScript SDK writes it, is read too).

Fields: `id` (`gen-...`, the key), `upstream_id` (the provider's response id), `created_at` (ISO with
`+00:00`), `model` (`vendor/model`, kept as logged), `provider_name` (the serving provider, mapped to
llmaudit's ids: OpenAI -> openai, Google AI Studio / Google Vertex -> google, Amazon Bedrock ->
aws-bedrock, ...; other names lowercased), `total_cost` (USD), `latency` (total, ms; else
`generation_time`, ms), `external_user` (the request's `user`) -> user_id, `app_id` (the OpenRouter app,
from the HTTP-Referer) -> project_id, `service_tier`, `finish_reason` (else `native_finish_reason`).
`cancelled` true -> status `cancelled`; finish_reason `error` -> status `error`.

Token semantics. The `native_tokens_*` counts are the provider's own (billed) counts; `tokens_prompt` /
`tokens_completion` are OpenRouter's normalized (GPT-tokenizer) counts, not billed, and are never used:
a generation without native counts is unpriced ("missing usage"), not priced from approximate counts.
- `native_tokens_prompt` INCLUDES `native_tokens_cached` (cache reads), the OpenAI convention. Evidence:
  OpenRouter normalizes every provider's usage to the OpenAI shape, in which `usage.prompt_tokens`
  includes `prompt_tokens_details.cached_tokens` (client libraries that treated OpenRouter's cached tokens
  as outside the prompt count had to fix double counting), and the generation stats report the same
  native counts; the API reference's example (prompt 10, cached 3) is consistent with it. Not verified on
  a real record: a record whose cached count exceeds its prompt count can only be the other convention
  and is read as such (cache outside the prompt) rather than rejected.
- Cache writes are not reported by the generation stats: Anthropic-family cache writes are inside
  `native_tokens_prompt` and priced at the base input rate (the write premium is missed).
- `native_tokens_completion` INCLUDES `native_tokens_reasoning` (a record whose reasoning exceeds its
  completion is read as reasoning outside the completion).
- `num_search_results` is not priced: OpenRouter bills web search per result, not per search request.

Cost: `total_cost` is what OpenRouter charged the account (USD). For a BYOK generation (`is_byok`) that
is only OpenRouter's fee; the provider billed `upstream_inference_cost` to the user's own key, so the
recorded cost is their sum, the call's whole spend, comparable to its repriced list cost.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, provider_sql

# OpenRouter provider names -> llmaudit provider ids (matched lowercased, without a "(region)" suffix)
_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "google ai studio": "google",
    "google vertex": "google",
    "amazon bedrock": "aws-bedrock",
    "azure": "azure",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "xai": "xai",
    "groq": "groq",
    "together": "together",
    "fireworks": "fireworks",
    "moonshot ai": "moonshotai",
    "z.ai": "zai",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _field(name: str) -> str:
    """A generation field, wrapped in `data` or bare, snake_case or camelCase (first present wins)."""
    names = (name, _camel(name)) if _camel(name) != name else (name,)
    return "coalesce(" + ", ".join(f"{{{p}{n}}}" for n in names for p in ("data.", "")) + ")"


def _blank(name: str) -> str:
    return f"nullif(trim({_field(name)}), '')"


def _count(name: str) -> str:
    return f"try_cast({_field(name)} AS BIGINT)"


def _usd(name: str) -> str:
    text = _field(name)
    return f"coalesce(try_cast({text} AS DECIMAL(38,15)), try_cast(try_cast({text} AS DOUBLE) AS DECIMAL(38,15)))"


def _provider() -> str:
    label = f"lower(trim(regexp_replace({_field('provider_name')}, '\\s*\\(.*\\)\\s*$', '')))"
    whens = " ".join(f"WHEN '{name}' THEN '{ours}'" for name, ours in _PROVIDERS.items())
    return f"CASE {label} {whens} ELSE {provider_sql(label)} END"


def _is_true(name: str) -> str:
    return f"lower(coalesce({_field(name)}, '')) = 'true'"


def _generation(obj: dict[str, Any]) -> dict[str, Any]:
    data = obj.get("data")
    return data if isinstance(data, dict) else obj


def _sniff(obj: dict[str, Any]) -> bool:
    gen = _generation(obj)
    keys = set(gen)
    tokens = {"native_tokens_prompt", "tokens_prompt", "nativeTokensPrompt", "tokensPrompt"} & keys
    stats = {"total_cost", "provider_name", "totalCost", "providerName"} & keys
    return bool(tokens and stats) or (str(gen.get("id", "")).startswith("gen-") and bool(stats))


_PROMPT, _CACHED = _count("native_tokens_prompt"), _count("native_tokens_cached")
_COMPLETION, _REASONING = _count("native_tokens_completion"), _count("native_tokens_reasoning")

OPENROUTER_GENERATION = JsonReader(
    name="openrouter_generation",
    description="OpenRouter generation stats (GET /api/v1/generation objects, bare or in {data})",
    sniff=_sniff,
    exprs={
        "source_key": _blank("id"),
        "request_id": _blank("id"),
        "response_id": _blank("upstream_id"),
        "ts": _field("created_at"),
        "model_raw": _blank("model"),
        "provider": _provider(),
        "gateway": "'openrouter'",
        "user_id": _blank("external_user"),
        "project_id": _blank("app_id"),
        "service_tier": _blank("service_tier"),
        "finish_reason": f"coalesce({_blank('finish_reason')}, {_blank('native_finish_reason')})",
        "status": f"CASE WHEN {_is_true('cancelled')} THEN 'cancelled' "
        f"WHEN lower(coalesce({_field('finish_reason')}, '')) = 'error' THEN 'error' ELSE 'ok' END",
        "latency_ms": f"coalesce({_field('latency')}, {_field('generation_time')})",
        "input_includes_cache": f"CASE WHEN {_CACHED} > {_PROMPT} THEN 'false' ELSE 'true' END",
        "tok_input": _field("native_tokens_prompt"),
        "tok_cache_read": _field("native_tokens_cached"),
        "tok_output": _field("native_tokens_completion"),
        "tok_reasoning": _field("native_tokens_reasoning"),
        "output_excludes_reasoning": f"CASE WHEN {_REASONING} > {_COMPLETION} THEN 'true' END",
        "cost_reported": f"CASE WHEN {_is_true('is_byok')} AND {_usd('upstream_inference_cost')} IS NOT NULL "
        f"THEN (coalesce({_usd('total_cost')}, 0) + {_usd('upstream_inference_cost')})::VARCHAR "
        f"ELSE {_field('total_cost')} END",
    },
)

READERS = (OPENROUTER_GENERATION,)
