"""Anthropic Admin API reports: the Messages Usage Report and the Cost Report (pages saved as JSON or JSONL).

Both are `{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more", "next_page"}`; every result
is one aggregate row (`row_kind = aggregate`) with the bucket's RFC 3339 start and end.

Usage Report (`GET /v1/organizations/usage_report/messages`). Token semantics: `uncached_input_tokens`
EXCLUDES cache reads (`cache_read_input_tokens`) and cache writes, which come split by TTL as
`cache_creation: {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}` or flattened as
`cache_creation_5m_input_tokens` / `cache_creation_1h_input_tokens` (both read); `output_tokens` includes
thinking; `server_tool_use.web_search_requests` are billed searches. The report has **no request count**:
`request_count` stays null (unknown, not 1). Dimensions are null unless grouped: `model`, `workspace_id`
(-> project_id), `api_key_id`, `account_id` / `service_account_id` (-> user_id), `service_tier` (`batch`
-> is_batch), `inference_geo` (-> region, so a US-only geo gets its price uplift; `not_available` is
null), `speed` (`fast` -> service_tier `fast`, as for Claude Code). `context_window` ("0-200k" /
"200k-1M") is the one export that says which long-context tier a bucket was billed at; the calls table has
no column for it, so it only enters the row's key. Empty buckets are skipped ("no usage in this bucket").

Cost Report (`GET /v1/organizations/cost_report`): `amount` is a decimal STRING in the lowest currency unit
(cents): "123.45" with currency "USD" is $1.2345, kept exactly (`cost_reported = amount / 100`). Like the
OpenAI Costs API, a cost result is a cost line: an aggregate row with `cost_reported`, every token column
and `request_count` null, the model when grouped by description (`model`, `service_tier`, `workspace_id`
kept); see `openai_usage` for why. A non-USD currency is skipped with a reason.

The sniffers tell the two apart by their results (`uncached_input_tokens` / `cache_read_input_tokens` vs
`amount` + `currency`); a page whose buckets are all empty is read as a usage report (its rows are skipped).
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader

_USAGE_KEYS = {"uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "server_tool_use"}
_USAGE_DIMENSIONS = (
    "model",
    "workspace_id",
    "api_key_id",
    "account_id",
    "service_account_id",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)
_COST_DIMENSIONS = (
    "workspace_id",
    "description",
    "cost_type",
    "token_type",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)


def _results(obj: dict[str, Any]) -> list[dict] | None:
    data = obj.get("data")
    if not isinstance(data, list) or not all(isinstance(b, dict) for b in data):
        return None
    if data and not any("starting_at" in b for b in data):
        return None
    if not data and not ("has_more" in obj and "object" not in obj):
        return None
    return [r for b in data for r in (b.get("results") or []) if isinstance(r, dict)]


def _sniff_usage(obj: dict[str, Any]) -> bool:
    results = _results(obj)
    if results is None:
        return False
    return any(_USAGE_KEYS & set(r) or "cache_creation_5m_input_tokens" in r for r in results) or not results


def _sniff_cost(obj: dict[str, Any]) -> bool:
    results = _results(obj)
    return bool(results) and any("amount" in r and "currency" in r for r in results)


def _text(expr: str) -> str:
    return f"nullif(trim({expr}), '')"


def _key(dimensions: tuple[str, ...]) -> str:
    parts = ", ".join(f"coalesce({_text('{' + d + '}')}, '')" for d in dimensions)
    return "concat_ws('|', {_parent.starting_at}, {_parent.ending_at}, " + parts + ")"


def _common(dimensions: tuple[str, ...]) -> dict[str, str]:
    return {
        "source_key": _key(dimensions),
        "row_kind": "'aggregate'",
        "provider": "'anthropic'",
        "ts": "{_parent.starting_at}",
        "ts_end": "{_parent.ending_at}",
        "model_raw": _text("{model}"),
        "project_id": _text("{workspace_id}"),
        "service_tier": "CASE WHEN lower({speed}) = 'fast' THEN 'fast' ELSE "
        + _text("{service_tier}")
        + " END",
        "is_batch": "CASE WHEN lower({service_tier}) = 'batch' THEN 'true' END",
        "region": "CASE WHEN lower({inference_geo}) NOT IN ('not_available', '') THEN lower({inference_geo}) END",
    }


USAGE_REPORT = JsonReader(
    name="anthropic_usage_report",
    description="Anthropic Admin API Messages Usage Report pages: one aggregate row per bucket result",
    sniff=_sniff_usage,
    explode=("data", "results"),
    paths={
        "tok_input": ("uncached_input_tokens",),
        "tok_cache_read": ("cache_read_input_tokens",),
        "tok_cache_write": ("cache_creation_input_tokens",),
        "tok_cache_write_5m": ("cache_creation.ephemeral_5m_input_tokens", "cache_creation_5m_input_tokens"),
        "tok_cache_write_1h": ("cache_creation.ephemeral_1h_input_tokens", "cache_creation_1h_input_tokens"),
        "tok_output": ("output_tokens",),
        "tok_web_search": ("server_tool_use.web_search_requests", "web_search_requests"),
        "api_key_id": ("api_key_id",),
    },
    exprs={
        **_common(_USAGE_DIMENSIONS),
        "user_id": f"coalesce({_text('{account_id}')}, {_text('{service_account_id}')})",
        "input_includes_cache": "'false'",
        "skip_reason": "CASE WHEN coalesce({uncached_input_tokens}, {cache_read_input_tokens}, {output_tokens}, "
        "{cache_creation.ephemeral_5m_input_tokens}, {cache_creation_5m_input_tokens}, {model}) IS NULL "
        "THEN 'no usage in this bucket' END",
    },
)

# cents (lowest currency unit, a decimal string) -> dollars, exactly
_DOLLARS = "(try_cast(trim({amount}) AS DECIMAL(38,12)) * 0.01::DECIMAL(3,2))"

COST_REPORT = JsonReader(
    name="anthropic_cost_report",
    description="Anthropic Admin API Cost Report pages: one cost line (amount in cents, no tokens) per result",
    sniff=_sniff_cost,
    explode=("data", "results"),
    exprs={
        **_common(_COST_DIMENSIONS),
        "cost_reported": _DOLLARS,
        "reject_reason": f"CASE WHEN {_text('{amount}')} IS NOT NULL AND {_DOLLARS} IS NULL "
        "THEN 'cost amount is not a decimal number: ' || left({amount}, 40) END",
        "skip_reason": "CASE WHEN " + _text("{amount}") + " IS NULL THEN 'no cost in this bucket' "
        "WHEN upper(coalesce(" + _text("{currency}") + ", 'USD')) <> 'USD' "
        "THEN 'cost in ' || upper({currency}) || ': only USD costs are read' END",
    },
)

READERS = (USAGE_REPORT, COST_REPORT)
