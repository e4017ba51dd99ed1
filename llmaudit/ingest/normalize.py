"""Raw text fields -> typed CALL_SCHEMA rows, in one place, as one SQL select.

Every reader yields the same raw layer (RAW_FIELDS, text). Here counts are checked (non-negative whole numbers),
token semantics unified (input with or without cache, TTL split of cache writes, reasoning inside output),
timestamps parsed to UTC, and every row that cannot be a call gets a reason instead of disappearing. It is
SQL so that DuckDB goes from a log line to a typed row in one pipeline, on every core, without handing
the wide raw layer to Python; the model id is normalized afterwards, once per distinct id (`model_lookup`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from llmaudit.catalog.match import normalize_model_id
from llmaudit.db import duckdb_types, quote_identifier, quote_literal
from llmaudit.schema import CALL_SCHEMA

_COUNTS = {
    "tok_input": "input tokens",
    "tok_cache_read": "cache read tokens",
    "tok_cache_write": "cache write tokens",
    "tok_cache_write_5m": "5m cache write tokens",
    "tok_cache_write_1h": "1h cache write tokens",
    "tok_output": "output tokens",
    "tok_reasoning": "reasoning tokens",
    "tok_input_audio": "input audio tokens",
    "tok_output_audio": "output audio tokens",
    "tok_input_image": "input image tokens",
    "tok_web_search": "web search requests",
    "request_count": "request count",
}
_WHITESPACE = "chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || ' '"
# bits of `_seq` (read order): file number, line, element of an exploded line
_LINE_BITS, _ELEMENT_BITS = 28, 16
# the columns a normalized chunk has besides CALL_SCHEMA: what kind of row it is, and why
KIND_COLUMNS = {"_kind": "VARCHAR", "_reason": "VARCHAR", "_seq": "BIGINT"}


def _trim(expr: str) -> str:
    return f"trim({expr}, {_WHITESPACE})"


def _count(name: str) -> str:
    """A whole non-negative number, or null: '3' and '3.0' are 3; '-5', '2.5', 'abc' are not counts (read
    as DOUBLE: DuckDB's integer cast would round '2.5'). `_d{name}` is the number (see `normalized_sql`)."""
    number = f"_d{name}"
    return f"CASE WHEN {number} >= 0 AND {number} = floor({number}) THEN try_cast({number} AS BIGINT) END"


def _timestamp(name: str, prefix: str) -> list[str]:
    """`{prefix}` (TIMESTAMPTZ), `{prefix}_assumed` (no UTC offset in the text: read as UTC) and
    `{prefix}_reason` from text column `name`: Unix seconds/ms/us, or ISO 8601 with or without an offset."""
    text = f"_t{prefix}"
    number = f"_n{prefix}"
    micros = (
        f"round(CASE WHEN abs({number}) < 1e11 THEN {number} * 1e6 "
        f"WHEN abs({number}) < 1e14 THEN {number} * 1e3 ELSE {number} END)"
    )
    moment = (
        f"CASE WHEN {number} IS NOT NULL THEN try(make_timestamp(try_cast({micros} AS BIGINT))::TIMESTAMPTZ) "
        f"ELSE try_cast({text} AS TIMESTAMPTZ) END"
    )
    # an offset is a letter at the end (Z, UTC) or a sign after the date part
    offset = (
        f"(lower(right({text}, 1)) BETWEEN 'a' AND 'z' OR contains(substr({text}, 11), '+') "
        f"OR contains(substr({text}, 12), '-'))"
    )
    return [
        f"{moment} AS {prefix}",
        # only a text timestamp can lack an offset (CASE: the string tests run on those rows only)
        f"CASE WHEN {number} IS NULL AND {text} IS NOT NULL THEN NOT {offset} ELSE false END AS {prefix}_naive",
        f"{text} AS {prefix}_text",
    ]


def _bool(name: str) -> str:
    text = f"lower({_trim(name)})"
    return (
        f"CASE WHEN {text} IN ('true', '1', 'yes', 't') THEN true "
        f"WHEN {text} IN ('false', '0', 'no', 'f') THEN false END"
    )


def _money(name: str) -> str:
    text = f"regexp_replace({_trim(name)}, '[$,\\s]', '', 'g')"
    return (
        f"CASE WHEN {name} IS NOT NULL THEN coalesce(try_cast({text} AS DECIMAL(38, 15)), "
        f"try_cast(try_cast({text} AS DOUBLE) AS DECIMAL(38, 15))) END"
    )


# keep a key's prefix for attribution, never the secret (DESIGN §8)
_SECRET = r"\b((?:sk|pk|rk)-(?:ant-|proj-|admin-)?[A-Za-z0-9]{0,4})[A-Za-z0-9_\-]{8,}"


def redact_secrets(expr: str) -> str:
    return f"regexp_replace({expr}, {quote_literal(_SECRET)}, '\\1…', 'g')"


def normalized_sql(con: duckdb.DuckDBPyConnection, raw: str) -> str:
    """A SELECT over relation `raw` (a reader's output: RAW_FIELDS as text, `reason` for lines that are not
    records, `record_id`, `line`, `file_no`, `source_file`, `_elem`) giving every CALL_SCHEMA column (`model`
    null: see `model_lookup`) plus `_kind` (call, skip or reject), `_reason` and `_seq` (read order)."""
    typed = ",\n    ".join(
        [
            *[f"{_count(name)} AS _{name}" for name in _COUNTS],
            *_timestamp("ts", "_ts"),
            *_timestamp("ts_end", "_te"),
            f"coalesce({_bool('input_includes_cache')}, false) AS _includes",
            f"coalesce({_bool('output_excludes_reasoning')}, false) AS _excl_reasoning",
            "coalesce(status, 'ok') AS _status",
        ]
    )
    texts = f"{_trim('ts')} AS _t_ts, {_trim('ts_end')} AS _t_te"
    numbers = ", ".join(
        ["try_cast(_t_ts AS DOUBLE) AS _n_ts", "try_cast(_t_te AS DOUBLE) AS _n_te"]
        + [f"try_cast({name} AS DOUBLE) AS _d{name}" for name in _COUNTS]
    )
    bad = [f"({name} IS NOT NULL AND _{name} IS NULL)" for name in _COUNTS]
    count_reasons = [
        f"CASE WHEN {b} THEN '{label} is not a non-negative whole number: ' || left({_trim(name)}, 40) END"
        for b, (name, label) in zip(bad, _COUNTS.items(), strict=True)
    ]
    types = duckdb_types(con, CALL_SCHEMA)
    out = {
        "record_id": "record_id",
        "source_format": "source_format",
        "source_file": "source_file",
        "source_line": "line",
        "row_kind": "coalesce(row_kind, 'call')",
        # a call is one request; an aggregate without a request count (Anthropic reports, FOCUS) stays null
        "request_count": "CASE WHEN row_kind = 'aggregate' THEN _request_count ELSE coalesce(_request_count, 1) END",
        "ts": "_ts",
        "ts_end": "_te",
        "tz_assumed": "coalesce(_ts_naive AND _ts IS NOT NULL, false)",
        "model": "NULL",
        "tags": "NULL",
        "status": "_status",
        "http_status": "try_cast(trunc(try_cast(http_status AS DOUBLE)) AS BIGINT)",
        "is_batch": f"coalesce({_bool('is_batch')}, false)",
        "input_uncached_tokens": "_uncached",
        "cache_read_tokens": "_tok_cache_read",
        "cache_write_5m_tokens": "_w5",
        "cache_write_1h_tokens": "_w1h",
        "input_total_tokens": "_input_total",
        "output_tokens": "_output",
        "reasoning_tokens": "_tok_reasoning",
        "input_audio_tokens": "_tok_input_audio",
        "output_audio_tokens": "_tok_output_audio",
        "input_image_tokens": "_tok_input_image",
        "web_search_requests": "_tok_web_search",
        "cache_storage_token_hours": "NULL",
        "latency_ms": "try_cast(latency_ms AS DOUBLE)",
        "cost_reported": _money("cost_reported"),
        "api_key_id": redact_secrets("api_key_id"),
        # the exact-duplicate key: model id + the request as logged (JSON re-serialized compactly by the
        # reader, so whitespace differences do not matter; key order and every character do)
        "prompt_hash": "CASE WHEN request_text <> '' THEN md5(lower(coalesce(model_raw, '')) || chr(10) || request_text) END",
        "prefix_hash": "NULL",
    }
    select = ",\n  ".join(
        f"({out.get(name, quote_identifier(name))})::{types[name]} AS {quote_identifier(name)}"
        for name in CALL_SCHEMA
    )
    included = "(coalesce(_tok_cache_read, 0) + coalesce(_tok_cache_write, 0))"
    negative = "coalesce(_uncached < 0, false)"
    # a billed line without usage (a Costs API or FOCUS row) is an aggregate record, not a broken call
    not_a_call = (
        "(model_raw IS NULL AND NOT _has_usage AND _status = 'ok' "
        "AND NOT coalesce(row_kind = 'aggregate' AND cost_reported IS NOT NULL, false))"
    )
    rejected = " OR ".join(
        ["reject_reason IS NOT NULL", *bad, "_ts_reason IS NOT NULL", negative, not_a_call]
    )
    reasons = ", ".join(
        [
            "reject_reason",
            *count_reasons,
            "_ts_reason",
            f"CASE WHEN {negative} THEN 'cached tokens (' || {included} || ') exceed input tokens (' "
            "|| _tok_input || ')' END",
            f"CASE WHEN {not_a_call} THEN 'not a ' || source_format || ' record: no model and no usage' END",
        ]
    )
    seq = (
        f"(file_no::BIGINT << {_LINE_BITS + _ELEMENT_BITS}) | (line::BIGINT << {_ELEMENT_BITS}) "
        f"| least(_elem, {(1 << _ELEMENT_BITS) - 1})"
    )
    return f"""
WITH texts AS (SELECT *, {texts} FROM {raw}),
numbers AS (SELECT *, {numbers} FROM texts),
typed AS (
  SELECT *,
    {typed}
  FROM numbers
), semantics AS (
  SELECT *,
    CASE WHEN _ts_text IS NOT NULL AND _ts IS NULL THEN 'unparseable timestamp: ' || left(_ts_text, 40) END
      AS _ts_reason,
    CASE WHEN _includes THEN _tok_input - {included} ELSE _tok_input END AS _uncached,
    -- the TTL split of cache writes: only the total known -> 5m
    CASE WHEN _tok_cache_write_5m IS NOT NULL OR _tok_cache_write_1h IS NOT NULL
         THEN coalesce(_tok_cache_write_5m, 0) + greatest(coalesce(_tok_cache_write, 0)
              - coalesce(_tok_cache_write_5m, 0) - coalesce(_tok_cache_write_1h, 0), 0)
         ELSE _tok_cache_write END AS _w5,
    CASE WHEN _tok_cache_write_5m IS NOT NULL OR _tok_cache_write_1h IS NOT NULL
         THEN coalesce(_tok_cache_write_1h, 0) WHEN _tok_cache_write IS NOT NULL THEN 0 END AS _w1h,
    CASE WHEN _excl_reasoning THEN _tok_output + coalesce(_tok_reasoning, 0) ELSE _tok_output END AS _output
  FROM typed
), usage AS (
  SELECT *,
    CASE WHEN _uncached IS NOT NULL OR _tok_cache_read IS NOT NULL OR _w5 IS NOT NULL OR _w1h IS NOT NULL
         THEN coalesce(_uncached, 0) + coalesce(_tok_cache_read, 0) + coalesce(_w5, 0) + coalesce(_w1h, 0)
    END AS _input_total
  FROM semantics
), judged AS (
  SELECT *, _input_total IS NOT NULL OR _output IS NOT NULL AS _has_usage FROM usage
), kinded AS (
  SELECT *,
    CASE WHEN reason IS NOT NULL THEN 'reject' WHEN skip_reason IS NOT NULL THEN 'skip'
         WHEN {rejected} THEN 'reject' ELSE 'call' END AS _kind
  FROM judged
)
SELECT
  {select},
  _kind,
  CASE _kind WHEN 'call' THEN NULL WHEN 'skip' THEN skip_reason
       ELSE coalesce(reason, {reasons}) END AS _reason,
  {seq} AS _seq
FROM kinded"""


def model_lookup(models: list[str | None]) -> pl.DataFrame:
    """(model_raw, model): the normalized id of each distinct logged id — a dimension lookup, not a loop
    per call."""
    distinct = sorted({m for m in models if m is not None})
    return pl.DataFrame(
        {"model_raw": distinct, "model": [normalize_model_id(m)[0] for m in distinct]},
        schema={"model_raw": pl.String, "model": pl.String},
    )


def with_models(calls: pl.DataFrame) -> pl.DataFrame:
    """Fill `model` from `model_raw` (normalized once per distinct id)."""
    lookup = model_lookup(calls["model_raw"].unique().to_list())
    model = calls["model_raw"].replace_strict(
        lookup["model_raw"], lookup["model"], default=None, return_dtype=pl.String
    )
    return calls.with_columns(pl.coalesce(pl.col("model"), model).alias("model"))


def collapse(calls: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """One row per record_id: streaming snapshots and re-exported copies keep their largest-usage copy."""
    duplicated = calls["record_id"].is_duplicated()
    if not duplicated.any():
        return calls, 0
    size = pl.col("input_total_tokens").fill_null(0) + pl.col("output_tokens").fill_null(0)
    kept = (
        calls.filter(duplicated)
        .with_columns(size.alias("_size"))
        .sort(["record_id", "_size", "source_line"], descending=[False, True, True])
        .unique("record_id", keep="first", maintain_order=True)
        .drop("_size")
    )
    merged = pl.concat([calls.filter(~duplicated), kept]).sort(["source_file", "source_line"])
    return merged, calls.height - merged.height
