"""Generic JSONL and CSV logs, with an optional YAML column mapping for a user's own field names.

Mapping file (`--mapping map.yaml`):

    input_includes_cache: true      # does the input column already contain the cached tokens? (OpenAI: yes)
    columns:                        # our name: your column (CSV header) or dotted JSON path
      timestamp: Time
      model: Model Name
      input_tokens: usage.prompt
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from llmaudit.catalog.yamlio import load_yaml
from llmaudit.errors import InputError
from llmaudit.ingest.spec import RAW_FIELDS, JsonReader, dig

# our column name -> (raw field, candidate names in logs; first present wins)
GENERIC_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "timestamp": (
        "ts",
        ("timestamp", "ts", "time", "created_at", "created", "start_time", "startTime", "datetime", "date"),
    ),
    "end_time": ("ts_end", ("end_time", "endTime", "completed_at")),
    "model": ("model_raw", ("model", "model_name", "model_id", "modelId", "usage.model")),
    "provider": ("provider", ("provider", "llm_provider", "custom_llm_provider")),
    "input_tokens": (
        "tok_input",
        ("input_tokens", "prompt_tokens", "tokens_in", "usage.input_tokens", "usage.prompt_tokens"),
    ),
    "input_uncached_tokens": ("_uncached", ("input_uncached_tokens", "uncached_input_tokens")),
    "cached_tokens": (
        "tok_cache_read",
        (
            "cached_tokens",
            "cache_read_tokens",
            "cache_read_input_tokens",
            "cached_input_tokens",
            "input_cached_tokens",
            "usage.prompt_tokens_details.cached_tokens",
        ),
    ),
    "cache_write_tokens": (
        "tok_cache_write",
        ("cache_write_tokens", "cache_creation_input_tokens", "input_cache_write_tokens"),
    ),
    "cache_write_5m_tokens": ("tok_cache_write_5m", ("cache_write_5m_tokens",)),
    "cache_write_1h_tokens": ("tok_cache_write_1h", ("cache_write_1h_tokens",)),
    "output_tokens": (
        "tok_output",
        (
            "output_tokens",
            "completion_tokens",
            "tokens_out",
            "usage.output_tokens",
            "usage.completion_tokens",
        ),
    ),
    "reasoning_tokens": ("tok_reasoning", ("reasoning_tokens", "reasoning_output_tokens")),
    "web_search_requests": ("tok_web_search", ("web_search_requests",)),
    "user": ("user_id", ("user_id", "user", "end_user")),
    "feature": ("feature", ("feature", "tag", "use_case", "route")),
    "project": ("project_id", ("project_id", "project", "team", "team_id", "workspace_id")),
    "api_key": ("api_key_id", ("api_key_id", "key_id", "api_key_name", "api_key_alias")),
    "session": ("session_id", ("session_id", "conversation_id")),
    "trace": ("trace_id", ("trace_id",)),
    "request_id": ("request_id", ("request_id", "id")),
    "status": ("status", ("status",)),
    "http_status": ("http_status", ("http_status", "status_code")),
    "error_type": ("error_type", ("error_type",)),
    "service_tier": ("service_tier", ("service_tier",)),
    "batch": ("is_batch", ("is_batch", "batch")),
    "region": ("region", ("region",)),
    "latency_ms": ("latency_ms", ("latency_ms", "duration_ms")),
    "request_count": (
        "request_count",
        ("request_count", "num_model_requests", "api_requests", "num_requests"),
    ),
    "cost": ("cost_reported", ("cost_usd", "cost", "spend", "total_cost", "response_cost")),
}
_MODEL_KEYS = GENERIC_FIELDS["model"][1]
_TOKEN_KEYS = GENERIC_FIELDS["input_tokens"][1] + GENERIC_FIELDS["output_tokens"][1]


@dataclass(frozen=True)
class Mapping:
    """A user's names for our fields; unnamed fields use the default candidates."""

    columns: dict[str, str] = field(default_factory=dict)
    input_includes_cache: bool = True

    def candidates(self, ours: str) -> tuple[str, ...]:
        if ours in self.columns:
            return (self.columns[ours],)
        return GENERIC_FIELDS[ours][1]


def load_mapping(path: str | Path | None) -> Mapping:
    if path is None:
        return Mapping()
    try:
        doc = load_yaml(Path(path))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("columns", {}), dict):
        raise InputError(f"{path}:1: a mapping file has `columns: {{our_name: your_column}}`")
    columns = {str(k): str(v) for k, v in (doc.get("columns") or {}).items()}
    unknown = sorted(set(columns) - set(GENERIC_FIELDS))
    if unknown:
        raise InputError(
            f"{path}:{getattr(doc.get('columns'), 'line', 1)}: unknown field(s) {', '.join(unknown)}; "
            f"known: {', '.join(GENERIC_FIELDS)}"
        )
    return Mapping(columns=columns, input_includes_cache=bool(doc.get("input_includes_cache", True)))


def _sniff(obj: dict[str, Any]) -> bool:
    return any(dig(obj, k) is not None for k in _MODEL_KEYS) and any(
        dig(obj, k) is not None for k in _TOKEN_KEYS
    )


def generic_json_reader(mapping: Mapping) -> JsonReader:
    paths = {GENERIC_FIELDS[ours][0]: mapping.candidates(ours) for ours in GENERIC_FIELDS}
    uncached = paths.pop("_uncached")
    includes = "'true'" if mapping.input_includes_cache else "'false'"
    first = "coalesce(" + ", ".join("{" + p + "}" for p in uncached) + ")"
    source_key = paths.get("request_id", ())
    return JsonReader(
        name="generic_jsonl",
        description="JSON lines with flat fields (model, input_tokens, output_tokens, timestamp, ...)",
        sniff=_sniff,
        paths={k: v for k, v in paths.items() if k != "tok_input"},
        exprs={
            "tok_input": f"coalesce({first}, " + ", ".join("{" + p + "}" for p in paths["tok_input"]) + ")",
            "input_includes_cache": f"CASE WHEN {first} IS NOT NULL THEN 'false' ELSE {includes} END",
            "source_key": "coalesce(" + ", ".join("{" + p + "}" for p in source_key) + ")"
            if source_key
            else "NULL",
            "row_kind": "CASE WHEN coalesce("
            + ", ".join("{" + p + "}" for p in paths["request_count"])
            + ") IS NOT NULL THEN 'aggregate' END",
        },
    )


def csv_raw_frame(frame: pl.DataFrame, mapping: Mapping) -> pl.DataFrame:
    """Raw-layer frame from a CSV read as text: the same fields a JSON reader yields."""
    by_lower = {c.lower().strip(): c for c in frame.columns}

    def column(ours: str) -> pl.Expr:
        present = [by_lower[c.lower()] for c in mapping.candidates(ours) if c.lower() in by_lower]
        if not present:
            return pl.lit(None, dtype=pl.String)
        return pl.coalesce([pl.col(c).str.strip_chars().replace("", None) for c in present])

    exprs: dict[str, pl.Expr] = {GENERIC_FIELDS[ours][0]: column(ours) for ours in GENERIC_FIELDS}
    uncached = exprs.pop("_uncached")
    exprs["tok_input"] = pl.coalesce(uncached, exprs["tok_input"])
    exprs["input_includes_cache"] = (
        pl.when(uncached.is_not_null())
        .then(pl.lit("false"))
        .otherwise(pl.lit("true" if mapping.input_includes_cache else "false"))
    )
    exprs["source_key"] = exprs["request_id"]
    exprs["row_kind"] = pl.when(exprs["request_count"].is_not_null()).then(pl.lit("aggregate"))
    exprs["source_format"] = pl.lit("generic_csv")
    return frame.select(
        pl.col("line"),
        pl.col("text"),
        *[exprs.get(name, pl.lit(None, dtype=pl.String)).cast(pl.String).alias(name) for name in RAW_FIELDS],
    )


def csv_has_known_columns(columns: list[str], mapping: Mapping) -> bool:
    lower = {c.lower().strip() for c in columns}
    has = lambda ours: any(c.lower() in lower for c in mapping.candidates(ours))  # noqa: E731
    return has("model") and (has("input_tokens") or has("output_tokens") or has("input_uncached_tokens"))
