"""Raw text fields -> typed CALL_SCHEMA rows, in one vectorized place.

Every reader yields the same raw layer (RAW_FIELDS, text). Here counts are checked (non-negative whole numbers),
token semantics unified (input with or without cache, TTL split of cache writes, reasoning inside output),
timestamps parsed to UTC, and every row that cannot be a call gets a reason instead of disappearing.
"""

from __future__ import annotations

import polars as pl

from llmaudit.catalog.match import normalize_model_id
from llmaudit.money import MONEY_DTYPE
from llmaudit.schema import CALL_SCHEMA, conform

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
_WHOLE = r"^\+?\d+(\.0*)?$"
_UTC_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


def _count(name: str) -> tuple[pl.Expr, pl.Expr]:
    """(Int64 value, reason when the text is present but not a non-negative whole number)."""
    text = pl.col(name).str.strip_chars()
    ok = text.str.contains(_WHOLE)
    value = pl.when(ok).then(
        text.str.replace(r"\.0*$", "").str.strip_prefix("+").cast(pl.Int64, strict=False)
    )
    reason = pl.when(text.is_not_null() & ~ok.fill_null(False)).then(
        pl.format("{} is not a non-negative whole number: {}", pl.lit(_COUNTS[name]), text.str.slice(0, 40))
    )
    return value, reason


def _timestamp(name: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(UTC datetime, tz_assumed, reason) from unix seconds/ms/us or ISO 8601 text with or without offset."""
    text = pl.col(name).str.strip_chars()
    numeric = text.cast(pl.Float64, strict=False)
    magnitude = numeric.abs()
    from_unix = (
        pl.when(magnitude < 1e11)
        .then(numeric * 1e6)
        .when(magnitude < 1e14)
        .then(numeric * 1e3)
        .otherwise(numeric)
        .round(0)
        .cast(pl.Int64, strict=False)
        .cast(pl.Datetime("us", "UTC"))
    )
    iso = text.str.replace(r"[zZ]$", "+00:00").str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
    with_offset = pl.coalesce(
        [iso.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False) for fmt in _UTC_FORMATS]
    )
    naive = pl.coalesce(
        [iso.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in _NAIVE_FORMATS]
        + [iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("us"))]
    ).dt.replace_time_zone("UTC")
    value = pl.when(numeric.is_not_null()).then(from_unix).otherwise(pl.coalesce(with_offset, naive))
    assumed = numeric.is_null() & with_offset.is_null() & naive.is_not_null()
    reason = pl.when(text.is_not_null() & value.is_null()).then(
        pl.format("unparseable timestamp: {}", text.str.slice(0, 40))
    )
    return value, assumed, reason


def _bool(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["true", "1", "yes", "t"]))
        .then(True)
        .when(text.is_in(["false", "0", "no", "f"]))
        .then(False)
    )


def _money(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars().str.replace_all(r"[$,\s]", "")
    return pl.coalesce(
        text.cast(MONEY_DTYPE, strict=False),
        text.cast(pl.Float64, strict=False).cast(MONEY_DTYPE, strict=False),
    )


def redact_secrets(text: pl.Expr) -> pl.Expr:
    """Keep a key's prefix for attribution, never the secret (DESIGN §8)."""
    return text.str.replace_all(
        r"\b((?:sk|pk|rk)-(?:ant-|proj-|admin-)?[A-Za-z0-9]{0,4})[A-Za-z0-9_\-]{8,}", "${1}…"
    )


def _normalized_models(models: pl.Series) -> pl.Series:
    """Normalize distinct model ids only: a dimension lookup, not a loop per call."""
    uniques = models.drop_nulls().unique().to_list()
    lookup = {raw: normalize_model_id(raw)[0] for raw in uniques}
    return models.replace_strict(lookup, default=None, return_dtype=pl.String)


def normalize(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(calls, skipped, rejects) from a raw-layer frame with `source_file`, `line`, `record_id`."""
    counts = {name: _count(name) for name in _COUNTS}
    ts, tz_assumed, ts_reason = _timestamp("ts")
    ts_end, _, _ = _timestamp("ts_end")
    typed = raw.with_columns(
        *[value.alias(f"_{name}") for name, (value, _) in counts.items()],
        ts.alias("_ts"),
        ts_end.alias("_ts_end"),
        tz_assumed.alias("_tz_assumed"),
        _bool("input_includes_cache").fill_null(False).alias("_includes"),
        _bool("output_excludes_reasoning").fill_null(False).alias("_excl_reasoning"),
        pl.coalesce(*[reason for _, reason in counts.values()], ts_reason).alias("_type_reason"),
    )
    split_known = pl.col("_tok_cache_write_5m").is_not_null() | pl.col("_tok_cache_write_1h").is_not_null()
    write_total = pl.col("_tok_cache_write")
    w5 = (
        pl.when(split_known)
        .then(
            pl.col("_tok_cache_write_5m").fill_null(0)
            + pl.max_horizontal(
                write_total.fill_null(0)
                - pl.col("_tok_cache_write_5m").fill_null(0)
                - pl.col("_tok_cache_write_1h").fill_null(0),
                pl.lit(0),
            )
        )
        .otherwise(write_total)
    )
    w1h = (
        pl.when(split_known)
        .then(pl.col("_tok_cache_write_1h").fill_null(0))
        .when(write_total.is_not_null())
        .then(0)
    )
    read = pl.col("_tok_cache_read")
    included = read.fill_null(0) + write_total.fill_null(0)
    uncached = (
        pl.when(pl.col("_includes")).then(pl.col("_tok_input") - included).otherwise(pl.col("_tok_input"))
    )
    typed = typed.with_columns(
        uncached.alias("input_uncached_tokens"),
        read.alias("cache_read_tokens"),
        w5.cast(pl.Int64).alias("cache_write_5m_tokens"),
        w1h.cast(pl.Int64).alias("cache_write_1h_tokens"),
        pl.when(pl.col("_excl_reasoning"))
        .then(pl.col("_tok_output") + pl.col("_tok_reasoning").fill_null(0))
        .otherwise(pl.col("_tok_output"))
        .alias("output_tokens"),
    )
    usage_cols = [
        "input_uncached_tokens",
        "cache_read_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
    ]
    has_input = pl.any_horizontal([pl.col(c).is_not_null() for c in usage_cols])
    typed = typed.with_columns(
        pl.when(has_input).then(pl.sum_horizontal(usage_cols)).alias("input_total_tokens"),
        (has_input | pl.col("output_tokens").is_not_null()).alias("_has_usage"),
        pl.col("status").fill_null("ok"),
    )
    model = _normalized_models(typed["model_raw"])
    typed = typed.with_columns(model.alias("model"))
    reason = pl.coalesce(
        pl.col("reject_reason"),
        pl.col("_type_reason"),
        pl.when(pl.col("input_uncached_tokens") < 0).then(
            pl.format("cached tokens ({}) exceed input tokens ({})", included, pl.col("_tok_input"))
        ),
        pl.when(pl.col("model_raw").is_null() & ~pl.col("_has_usage") & (pl.col("status") == "ok")).then(
            pl.format("not a {} record: no model and no usage", pl.col("source_format"))
        ),
    )
    typed = typed.with_columns(reason.alias("_reason"))
    rejects = typed.filter(pl.col("_reason").is_not_null() & pl.col("skip_reason").is_null()).select(
        pl.col("source_file").alias("file"),
        "line",
        pl.col("_reason").alias("reason"),
        pl.col("source_format").alias("format"),
    )
    skipped = typed.filter(pl.col("skip_reason").is_not_null()).select(
        pl.col("source_file").alias("file"),
        "line",
        pl.col("skip_reason").alias("reason"),
        pl.col("source_format").alias("format"),
    )
    good = typed.filter(pl.col("_reason").is_null() & pl.col("skip_reason").is_null())
    calls = good.with_columns(
        pl.col("_ts").alias("ts"),
        pl.col("_ts_end").alias("ts_end"),
        pl.col("_tz_assumed").fill_null(False).alias("tz_assumed"),
        pl.col("source_line").cast(pl.Int64)
        if "source_line" in good.columns
        else pl.col("line").alias("source_line"),
        pl.col("row_kind").fill_null("call"),
        pl.col("_request_count").fill_null(1).alias("request_count"),
        _bool("is_batch").fill_null(False).alias("is_batch"),
        pl.col("http_status").cast(pl.Float64, strict=False).cast(pl.Int64, strict=False),
        pl.col("latency_ms").cast(pl.Float64, strict=False),
        _money("cost_reported").alias("cost_reported"),
        pl.col("_tok_reasoning").alias("reasoning_tokens"),
        pl.col("_tok_input_audio").alias("input_audio_tokens"),
        pl.col("_tok_output_audio").alias("output_audio_tokens"),
        pl.col("_tok_input_image").alias("input_image_tokens"),
        pl.col("_tok_web_search").alias("web_search_requests"),
        pl.lit(None, dtype=pl.List(pl.String)).alias("tags"),
        redact_secrets(pl.col("api_key_id")),
    )
    return (
        conform(calls.select([c for c in calls.columns if c in CALL_SCHEMA]), CALL_SCHEMA),
        skipped,
        rejects,
    )


def collapse(calls: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """One row per record_id: streaming snapshots and re-exported copies keep their largest-usage copy."""
    if calls.is_empty():
        return calls, 0
    size = pl.col("input_total_tokens").fill_null(0) + pl.col("output_tokens").fill_null(0)
    kept = (
        calls.with_columns(size.alias("_size"))
        .sort(["record_id", "_size", "source_line"], descending=[False, True, True])
        .unique("record_id", keep="first", maintain_order=True)
        .drop("_size")
        .sort(["source_file", "source_line"])
    )
    return kept, calls.height - kept.height
