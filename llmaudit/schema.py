"""The calls table: one row per call (or aggregate bucket), the single frame every stage reads.

Token semantics (DESIGN §3): counts are non-negative, null when unknown (unknown is not zero);
`input_total_tokens = input_uncached_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens`;
`output_tokens` includes reasoning. Readers map their source into these columns; `ingest.normalize` enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from llmaudit.money import MONEY_DTYPE

UTC_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    meaning: str


CALL_COLUMNS: tuple[Column, ...] = (
    Column(
        "record_id",
        pl.String(),
        "stable hash of the source key (or file, line and text): idempotent re-ingest",
    ),
    Column("source_format", pl.String(), "reader that parsed the row (openai_chat, claude_code, ...)"),
    Column("source_file", pl.String(), "file the row came from"),
    Column("source_line", pl.Int64(), "1-based line (or record number) in source_file"),
    Column("row_kind", pl.String(), "call, or aggregate for usage-API buckets"),
    Column("request_count", pl.Int64(), "1 for a call; n for an aggregate"),
    Column("ts", UTC_TS, "call start (UTC)"),
    Column("ts_end", UTC_TS, "call end (UTC), when known"),
    Column("tz_assumed", pl.Boolean(), "the source timestamp had no offset and was read as UTC"),
    Column("provider", pl.String(), "serving provider: openai, anthropic, google, aws-bedrock, azure, ..."),
    Column("gateway", pl.String(), "gateway or agent that logged the call (litellm, claude-code, ...)"),
    Column("region", pl.String(), "inference region or geo when known"),
    Column("model_raw", pl.String(), "model id exactly as logged"),
    Column("model", pl.String(), "canonical catalog id once priced; the normalized id otherwise"),
    Column("request_id", pl.String(), "provider or gateway request id"),
    Column("response_id", pl.String(), "message / completion id"),
    Column("trace_id", pl.String(), "trace grouping key"),
    Column("session_id", pl.String(), "session grouping key"),
    Column("user_id", pl.String(), "end user"),
    Column("project_id", pl.String(), "project / workspace / team"),
    Column("api_key_id", pl.String(), "key id or hash (never the secret)"),
    Column("feature", pl.String(), "feature attribution (tag, property)"),
    Column("tags", pl.List(pl.String()), "free tags"),
    Column("status", pl.String(), "ok, error, cancelled, expired, incomplete"),
    Column("http_status", pl.Int64(), "HTTP status when logged"),
    Column("error_type", pl.String(), "error class (rate_limit, server_error, ...)"),
    Column("finish_reason", pl.String(), "stop, length, tool_use, ..."),
    Column("is_batch", pl.Boolean(), "served through a batch API (discounted)"),
    Column("service_tier", pl.String(), "served tier as logged (default, flex, priority, standard, ...)"),
    Column("input_uncached_tokens", pl.Int64(), "input billed at the base rate"),
    Column("cache_read_tokens", pl.Int64(), "prompt-cache reads"),
    Column("cache_write_5m_tokens", pl.Int64(), "prompt-cache writes, 5-minute TTL (or TTL unknown)"),
    Column("cache_write_1h_tokens", pl.Int64(), "prompt-cache writes, 1-hour TTL"),
    Column("input_total_tokens", pl.Int64(), "uncached + cache reads + cache writes: the long-context basis"),
    Column("output_tokens", pl.Int64(), "all billed output, reasoning included"),
    Column("reasoning_tokens", pl.Int64(), "informational subset of output_tokens"),
    Column("input_audio_tokens", pl.Int64(), "audio part of the uncached input"),
    Column("output_audio_tokens", pl.Int64(), "audio part of the output"),
    Column("input_image_tokens", pl.Int64(), "image part of the uncached input"),
    Column("web_search_requests", pl.Int64(), "server-side web searches"),
    Column(
        "cache_storage_token_hours",
        pl.Int64(),
        "explicit-cache storage (tokens x hours), when the source logs it",
    ),
    Column("latency_ms", pl.Float64(), "end-to-end duration"),
    Column("cost_reported", MONEY_DTYPE, "cost written by the source (USD), for reconciliation"),
    Column("prompt_hash", pl.String(), "hash of the normalized request text (duplicates)"),
    Column("prefix_hash", pl.String(), "hash of the request prefix (cacheability)"),
    Column("request_text", pl.String(), "request text when the source has it (optional)"),
    Column("response_text", pl.String(), "response text when the source has it (optional)"),
)

PRICE_COLUMNS: tuple[Column, ...] = (
    Column("cost_usd", MONEY_DTYPE, "repriced cost of the call; null when unpriced"),
    Column("cost_input", MONEY_DTYPE, "uncached text input"),
    Column("cost_cache_read", MONEY_DTYPE, "prompt-cache reads"),
    Column("cost_cache_write", MONEY_DTYPE, "prompt-cache writes (5m + 1h)"),
    Column("cost_output", MONEY_DTYPE, "text output, reasoning included"),
    Column("cost_other", MONEY_DTYPE, "audio, image, web-search and per-request fees"),
    Column(
        "cache_read_saving_usd",
        MONEY_DTYPE,
        "cache reads x (input rate - cache read rate): what caching saved",
    ),
    Column(
        "cache_write_premium_usd",
        MONEY_DTYPE,
        "cache writes x (write rate - input rate): what caching cost extra",
    ),
    Column("priced", pl.Boolean(), "a catalog entry priced the call"),
    Column("unpriced_reason", pl.String(), "why not: unknown model, before first price, missing usage"),
    Column("catalog_id", pl.String(), "catalog content id (release and hash)"),
    Column("price_provider", pl.String(), "catalog provider of the matched entry"),
    Column("price_model", pl.String(), "catalog model entry"),
    Column("price_version", pl.Date(), "effective_from of the version used"),
    Column("price_tier", pl.String(), "base, or the long-context tier (>200000)"),
    Column("price_mode", pl.String(), "standard, batch, flex, priority"),
    Column("price_window", pl.String(), "time-of-day window that priced the call (off-peak), if any"),
    Column("price_region", pl.String(), "region whose uplift applied (Bedrock geo, in-region, US-only)"),
    Column("price_note", pl.String(), "fallbacks applied (mode not in catalog, rate missing)"),
    Column("price_source", pl.String(), "URL of the version's source"),
)

CALL_SCHEMA: dict[str, pl.DataType] = {c.name: c.dtype for c in CALL_COLUMNS}
PRICE_SCHEMA: dict[str, pl.DataType] = {c.name: c.dtype for c in PRICE_COLUMNS}
TOKEN_COLUMNS: tuple[str, ...] = (
    "input_uncached_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "input_total_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "web_search_requests",
    "cache_storage_token_hours",
)
ATTRIBUTION_COLUMNS: tuple[str, ...] = ("feature", "user_id", "project_id", "api_key_id", "session_id")


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType] = CALL_SCHEMA) -> pl.DataFrame:
    """Add the schema's missing columns as nulls, cast, and put them first in schema order."""
    missing = [
        pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns
    ]
    frame = frame.with_columns(missing) if missing else frame
    extra = [c for c in frame.columns if c not in schema]
    return frame.select([pl.col(n).cast(d) for n, d in schema.items()] + extra)


def validate(frame: pl.DataFrame, schema: dict[str, pl.DataType] = CALL_SCHEMA) -> list[str]:
    """Problems with a frame that claims to follow the schema (missing columns, wrong dtypes)."""
    problems = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            problems.append(f"missing column {name}")
        elif frame.schema[name] != dtype:
            problems.append(f"column {name} is {frame.schema[name]}, expected {dtype}")
    return problems


# a row that could not become a call: where it was and why (what `analyze` reports as rejected)
REJECT_SCHEMA = {"file": pl.String, "line": pl.Int64, "reason": pl.String, "format": pl.String}
