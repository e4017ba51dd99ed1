"""LiteLLM proxy tables exported as CSV: `LiteLLM_SpendLogs` rows and the daily spend tables.

SpendLogs CSV (`request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens,
startTime, endTime, model, model_group, custom_llm_provider, user, team_id, metadata, request_tags,
cache_hit, messages, response, status, ...`): the same columns as the JSON rows, read by the same reader
(`ingest.litellm`: `metadata` / `request_tags` are JSON text, cache tokens from `metadata.usage_object`,
naive times read as UTC). Its rows keep the source format `litellm_spendlog` and the key `request_id`,
so a CSV and a JSON export of the same table collapse into one call per request.

Daily spend tables (`LiteLLM_DailyUserSpend` and the Team / Organization / EndUser / Tag / Agent
variants) as CSV: `date, api_key, model, model_group, custom_llm_provider, prompt_tokens,
completion_tokens, cache_read_input_tokens, cache_creation_input_tokens, spend, api_requests,
successful_requests, failed_requests` plus the table's entity column (`user_id`, `team_id`,
`organization_id`, `end_user_id`, `tag`, `agent_id`) and optional `endpoint`, `mcp_namespaced_tool_name`.
Each row is an aggregate (`row_kind = aggregate`, `request_count = api_requests`) for one day (`date`, a
day in the proxy's clock: read as UTC, `tz_assumed`) and one (key, model, provider, entity): `ts` is the day,
`ts_end` the next day, `spend` (USD, LiteLLM's own cost) the recorded cost. Attribution: `api_key` (hashed)
-> api_key_id, `user_id` / `end_user_id` -> user_id, `team_id` / `organization_id` -> project_id,
`tag` -> feature. Key: the day and every dimension, so a day exported again (while in progress and later)
collapses to its larger copy. Exporting two variants of the same spend (the user and the team table)
counts it twice: read one of them.

Token semantics: LiteLLM fills the daily tables from the SpendLogs rows it writes: `prompt_tokens` and
`completion_tokens` are the SpendLogs columns (OpenAI convention: `prompt_tokens` INCLUDES cache reads and
writes, as for `litellm_spendlog`, with the same repair for releases that left the writes out), and the
cache columns are `usage_object.cache_read_input_tokens` / `cache_creation_input_tokens`, written as 0
when the usage object lacks them. So an OpenAI model whose usage reports cached tokens only as
`prompt_tokens_details.cached_tokens` shows 0 cache reads here, and its cached tokens are repriced at the
uncached input rate (an overestimate LiteLLM's table cannot avoid); Anthropic-family rows carry both
cache columns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from llmaudit.ingest.litellm import SPEND_LOG, _input_tokens
from llmaudit.ingest.spec import JsonReader, provider_sql


def _sniff_spend_log_csv(row: dict[str, Any]) -> bool:
    return {"request_id", "spend", "startTime"} <= set(row) and bool(
        {"call_type", "prompt_tokens", "custom_llm_provider"} & set(row)
    )


SPEND_LOG_CSV = dataclasses.replace(
    SPEND_LOG,
    name="litellm_spendlog_csv",
    description="LiteLLM proxy LiteLLM_SpendLogs rows exported as CSV (read as the JSON rows)",
    sniff=_sniff_spend_log_csv,
    exprs={**SPEND_LOG.exprs, "source_format": "'litellm_spendlog'"},
)


def _text(name: str) -> str:
    return f"nullif(trim({{{name}}}), '')"


_DIMENSIONS = (
    "api_key",
    "model",
    "model_group",
    "custom_llm_provider",
    "endpoint",
    "mcp_namespaced_tool_name",
    "user_id",
    "team_id",
    "organization_id",
    "end_user_id",
    "tag",
    "agent_id",
)
_DAY = "try_cast(left(trim({date}), 10) AS DATE)"


def _sniff_daily(row: dict[str, Any]) -> bool:
    columns = set(row)
    return {"date", "api_requests", "spend", "prompt_tokens"} <= columns and bool(
        {"successful_requests", "failed_requests"} & columns
    )


DAILY_SPEND_CSV = JsonReader(
    name="litellm_daily_spend_csv",
    description="LiteLLM daily spend tables (LiteLLM_DailyUserSpend, Team, Tag, ...) exported as CSV: "
    "one aggregate row per day, key and model",
    sniff=_sniff_daily,
    paths={
        "request_count": ("api_requests",),
        "cost_reported": ("spend",),
        "tok_cache_read": ("cache_read_input_tokens",),
        "tok_cache_write": ("cache_creation_input_tokens",),
        "tok_output": ("completion_tokens",),
    },
    exprs={
        "source_format": "'litellm_daily_spend'",
        "source_key": f"CASE WHEN {_DAY} IS NOT NULL THEN concat_ws('|', {_DAY}, "
        + ", ".join(f"coalesce({_text(d)}, '')" for d in _DIMENSIONS)
        + ") END",
        "row_kind": "'aggregate'",
        "ts": _text("date"),
        "ts_end": f"strftime({_DAY} + INTERVAL 1 DAY, '%Y-%m-%d')",
        "gateway": "'litellm'",
        "provider": provider_sql("{custom_llm_provider}"),
        "model_raw": f"coalesce({_text('model')}, {_text('model_group')})",
        "api_key_id": _text("api_key"),
        "user_id": f"coalesce({_text('user_id')}, {_text('end_user_id')}, {_text('end_user')})",
        "project_id": f"coalesce({_text('team_id')}, {_text('organization_id')})",
        "feature": _text("tag"),
        "input_includes_cache": "'true'",
        "tok_input": _input_tokens(
            "{prompt_tokens}", "{cache_read_input_tokens}", "{cache_creation_input_tokens}"
        ),
    },
)

CSV_READERS = (SPEND_LOG_CSV, DAILY_SPEND_CSV)
