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
_UTC_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


def with_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `_{name}` (Int64, null unless a non-negative whole number) and `_bad{name}` for each count column.

    The integer cast covers clean columns; only columns where it failed somewhere get the slower
    whole-float fallback ("3.0" is fine, "-5", "abc" and "2.5" are not).
    """
    frame = frame.with_columns(
        pl.col(name).cast(pl.Int64, strict=False).alias(f"_{name}") for name in _COUNTS
    )
    unclean = [
        name
        for name in _COUNTS
        if frame[f"_{name}"].null_count() != frame[name].null_count() or (frame[f"_{name}"] < 0).any()
    ]
    if unclean:
        frame = frame.with_columns(
            pl.coalesce(
                f"_{name}",
                pl.when(
                    pl.col(name).cast(pl.Float64, strict=False).is_finite()
                    & (pl.col(name).cast(pl.Float64, strict=False) % 1 == 0)
                ).then(pl.col(name).cast(pl.Float64, strict=False).cast(pl.Int64)),
            ).alias(f"_{name}")
            for name in unclean
        )
    return frame.with_columns(
        *[
            (pl.col(name).is_not_null() & ~(pl.col(f"_{name}") >= 0).fill_null(False)).alias(f"_bad{name}")
            for name in _COUNTS
        ],
        *[pl.when(pl.col(f"_{name}") >= 0).then(pl.col(f"_{name}")).alias(f"_{name}") for name in unclean],
    )


def _count_reason(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars().str.slice(0, 40)
    return pl.when(pl.col(f"_bad{name}")).then(
        pl.format("{} is not a non-negative whole number: {}", pl.lit(_COUNTS[name]), text)
    )


def with_timestamp(frame: pl.DataFrame, name: str, prefix: str) -> pl.DataFrame:
    """Add `{prefix}` (UTC datetime), `{prefix}_assumed` and `{prefix}_reason` parsed from text column `name`.

    Unix seconds/ms/us or ISO 8601 with or without offset. Formats are tried in stages so each one only
    parses the rows the previous ones left (strptime on nulls is free).
    """
    text = pl.col(name).str.strip_chars()
    numeric = text.cast(pl.Float64, strict=False)
    magnitude = numeric.abs()
    frame = frame.with_columns(
        pl.when(magnitude < 1e11)
        .then(numeric * 1e6)
        .when(magnitude < 1e14)
        .then(numeric * 1e3)
        .otherwise(numeric)
        .round(0)
        .cast(pl.Int64, strict=False)
        .cast(pl.Datetime("us", "UTC"))
        .alias(prefix),
        pl.when(numeric.is_null())
        .then(text)
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
        .alias("_iso"),
    )
    for fmt in _UTC_FORMATS:
        frame = frame.with_columns(
            pl.coalesce(
                prefix,
                pl.when(pl.col(prefix).is_null())
                .then(pl.col("_iso"))
                .str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False),
            ).alias(prefix)
        )
    frame = frame.with_columns(pl.col(prefix).is_null().alias("_naive"))
    naive = [lambda t, f=f: t.str.strptime(pl.Datetime("us"), f, strict=False) for f in _NAIVE_FORMATS]
    naive.append(lambda t: t.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("us")))
    for parse in naive:
        pending = pl.when(pl.col(prefix).is_null()).then(pl.col("_iso"))
        frame = frame.with_columns(
            pl.coalesce(prefix, parse(pending).dt.replace_time_zone("UTC")).alias(prefix)
        )
    return frame.with_columns(
        (pl.col("_naive") & pl.col(prefix).is_not_null()).alias(f"{prefix}_assumed"),
        pl.when(text.is_not_null() & pl.col(prefix).is_null())
        .then(pl.format("unparseable timestamp: {}", text.str.slice(0, 40)))
        .alias(f"{prefix}_reason"),
    ).drop("_iso", "_naive")


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
    raw = with_counts(with_timestamp(with_timestamp(raw, "ts", "_ts"), "ts_end", "_ts_end"))
    typed = raw.with_columns(
        pl.col("_ts_assumed").alias("_tz_assumed"),
        _bool("input_includes_cache").fill_null(False).alias("_includes"),
        _bool("output_excludes_reasoning").fill_null(False).alias("_excl_reasoning"),
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
    # decide rejection with cheap booleans on every row; build reason text only for the rejected few
    negative_uncached = pl.col("input_uncached_tokens") < 0
    # a billed line without usage (a Costs API or FOCUS row) is an aggregate record, not a broken call
    cost_line = (pl.col("row_kind") == "aggregate") & pl.col("cost_reported").is_not_null()
    not_a_call = (
        pl.col("model_raw").is_null()
        & ~pl.col("_has_usage")
        & (pl.col("status") == "ok")
        & ~cost_line.fill_null(False)
    )
    rejected = (
        pl.col("reject_reason").is_not_null()
        | pl.any_horizontal([pl.col(f"_bad{name}") for name in _COUNTS])
        | pl.col("_ts_reason").is_not_null()
        | negative_uncached.fill_null(False)
        | not_a_call
    )
    typed = typed.with_columns(rejected.alias("_rejected"))
    rejects = (
        typed.filter(pl.col("_rejected") & pl.col("skip_reason").is_null())
        .with_columns(
            pl.coalesce(
                pl.col("reject_reason"),
                *[_count_reason(name) for name in _COUNTS],
                pl.col("_ts_reason"),
                pl.when(negative_uncached).then(
                    pl.format("cached tokens ({}) exceed input tokens ({})", included, pl.col("_tok_input"))
                ),
                pl.when(not_a_call).then(
                    pl.format("not a {} record: no model and no usage", pl.col("source_format"))
                ),
            ).alias("_reason")
        )
        .select(
            pl.col("source_file").alias("file"),
            "line",
            pl.col("_reason").alias("reason"),
            pl.col("source_format").alias("format"),
        )
    )
    skipped = typed.filter(pl.col("skip_reason").is_not_null()).select(
        pl.col("source_file").alias("file"),
        "line",
        pl.col("skip_reason").alias("reason"),
        pl.col("source_format").alias("format"),
    )
    good = typed.filter(~pl.col("_rejected") & pl.col("skip_reason").is_null())
    calls = good.with_columns(
        pl.col("_ts").alias("ts"),
        pl.col("_ts_end").alias("ts_end"),
        pl.col("_tz_assumed").fill_null(False).alias("tz_assumed"),
        pl.col("line").cast(pl.Int64).alias("source_line"),
        pl.col("row_kind").fill_null("call"),
        # a call is one request; an aggregate without a request count (Anthropic reports, FOCUS) stays null
        pl.when(pl.col("row_kind") == "aggregate")
        .then(pl.col("_request_count"))
        .otherwise(pl.col("_request_count").fill_null(1))
        .alias("request_count"),
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
