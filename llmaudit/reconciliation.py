"""`reconcile`: the cost a source recorded (gateway, agent, provider) against our repricing, per call.

Where a log carries `cost_reported` (LiteLLM spend, Claude Code costUSD, OpenRouter usage.cost, Helicone,
Langfuse...), every call is compared with its repriced `cost_usd`. A call **matches** when

    |recorded - repriced| <= max(absolute, relative x max(|recorded|, |repriced|))

with relative = 1% and absolute = $0.000001 by default: 1% absorbs gateways that round or carry float
noise, without hiding any real pricing rule (the smallest ones we explain, Bedrock's 10% regional uplift and
cache-write TTLs, are far larger); the absolute floor keeps calls worth a fraction of a cent from failing on
the last printed digit.

Every difference gets one **cause**, each a vectorized rule over the priced calls tried in this order (the
first that explains a call wins). Most are counterfactuals: the call is repriced (`price()` on the whole
frame of still-unexplained calls) with the same catalog after one known billing mistake, and the cause holds
when the recorded cost matches that counterfactual within the same tolerance (RULES lists them):

- unpriced calls cannot be compared: `unknown model`, `missing usage`, `before first price`, `no model`;
- `recorded as zero`: the source recorded $0 for a call we price (it did not know the model; a cache hit);
- `not billed`: we price the call at $0 (error without usage, gateway cache hit) but the source charged it;
- `cached tokens charged as input`, `cached tokens charged twice`, `cache write TTL`, `long-context tier`,
  `batch/flex/priority ignored`, `batch/flex/priority not logged`: counterfactuals, see RULES;
- `stale or different price`: calls of a model left unexplained that share one recorded/repriced ratio (at
  least two calls within the relative tolerance of each other): the source uses another price for the model;
- `other`: nothing above explains the difference.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from llmaudit.catalog import Catalog, load_catalog
from llmaudit.errors import UsageError
from llmaudit.money import MONEY_DTYPE, ZERO, sum_decimal
from llmaudit.pricing import PRICING_INPUTS, price_columns

SCHEMA = "llmaudit.reconcile/v1"
TOP = 20
# far above any long-context threshold: the counterfactual "priced at the highest tier"
_TOP_TIER_BASIS = 10**15


@dataclass(frozen=True)
class Tolerance:
    """A call matches when |recorded - repriced| <= max(absolute, relative x max(|recorded|, |repriced|))."""

    relative: Decimal = Decimal("0.01")
    absolute: Decimal = Decimal("0.000001")

    @classmethod
    def parse(cls, values: list[str] | str | None) -> Tolerance:
        """'0.5%' sets the relative part, '0.000001' (or '0.000001USD', '$0.01') the absolute one."""
        if not values:
            return cls()
        relative, absolute = cls.relative, cls.absolute
        for text in [values] if isinstance(values, str) else values:
            cleaned = text.strip().upper().replace("$", "").replace(",", "")
            try:
                if cleaned.endswith("%"):
                    relative = Decimal(cleaned[:-1].strip()) / 100
                    value = relative
                else:
                    absolute = Decimal(cleaned.removesuffix("USD").strip())
                    value = absolute
            except InvalidOperation:
                value = Decimal(-1)
            if not value.is_finite() or value < 0:
                raise UsageError(
                    f"--tolerance {text!r}: use a percentage (1%) or an amount in USD (0.000001)"
                ) from None
        return cls(relative=relative, absolute=absolute)

    def as_dict(self) -> dict[str, Any]:
        return {
            "relative": self.relative,
            "absolute_usd": self.absolute,
            "rule": "|recorded - repriced| <= max(absolute_usd, relative x max(|recorded|, |repriced|))",
        }


def within(a: pl.Expr, b: pl.Expr, tolerance: Tolerance) -> pl.Expr:
    """Vectorized match test of two money columns (null when either is null)."""
    allowed = pl.max_horizontal(
        pl.lit(tolerance.absolute, dtype=MONEY_DTYPE),
        pl.max_horizontal(a.abs(), b.abs()) * pl.lit(tolerance.relative, dtype=MONEY_DTYPE),
    )
    return (a - b).abs() <= allowed


def _n(name: str) -> pl.Expr:
    return pl.col(name).fill_null(0)


_WRITES = _n("cache_write_5m_tokens") + _n("cache_write_1h_tokens")


@dataclass(frozen=True)
class Rule:
    """A known billing mistake: reprice the calls where `applies` with `change`; recorded ≈ that cost."""

    cause: str
    detail: str | pl.Expr
    applies: pl.Expr
    change: dict[str, pl.Expr]


RULES: tuple[Rule, ...] = (
    Rule(
        "cached tokens charged as input",
        "cache reads billed at the input rate",
        _n("cache_read_tokens") > 0,
        {
            "input_uncached_tokens": _n("input_uncached_tokens") + _n("cache_read_tokens"),
            "cache_read_tokens": pl.lit(0, pl.Int64),
        },
    ),
    Rule(
        "cached tokens charged as input",
        "cache reads and writes billed at the input rate",
        _WRITES > 0,
        {
            "input_uncached_tokens": _n("input_uncached_tokens") + _n("cache_read_tokens") + _WRITES,
            "cache_read_tokens": pl.lit(0, pl.Int64),
            "cache_write_5m_tokens": pl.lit(0, pl.Int64),
            "cache_write_1h_tokens": pl.lit(0, pl.Int64),
        },
    ),
    Rule(
        "cached tokens charged twice",
        "cache writes charged as input and again as cache writes",
        _WRITES > 0,
        {"input_uncached_tokens": _n("input_uncached_tokens") + _WRITES},
    ),
    Rule(
        "cached tokens charged twice",
        "cache reads charged as input and again as cache reads",
        _n("cache_read_tokens") > 0,
        {"input_uncached_tokens": _n("input_uncached_tokens") + _n("cache_read_tokens")},
    ),
    Rule(
        "cached tokens charged twice",
        "cache reads and writes charged as input and again at the cache rates",
        (_n("cache_read_tokens") > 0) & (_WRITES > 0),
        {"input_uncached_tokens": _n("input_uncached_tokens") + _n("cache_read_tokens") + _WRITES},
    ),
    Rule(
        "cache write TTL",
        "1h cache writes billed at the 5m rate",
        _n("cache_write_1h_tokens") > 0,
        {"cache_write_5m_tokens": _WRITES, "cache_write_1h_tokens": pl.lit(0, pl.Int64)},
    ),
    Rule(
        "cache write TTL",
        "5m cache writes billed at the 1h rate",
        _n("cache_write_5m_tokens") > 0,
        {"cache_write_1h_tokens": _WRITES, "cache_write_5m_tokens": pl.lit(0, pl.Int64)},
    ),
    Rule(
        "long-context tier",
        pl.format("billed at base rates: the {} long-context tier was missed", pl.col("price_tier")),
        pl.col("price_tier").fill_null("base") != "base",
        {"input_total_tokens": pl.lit(0, pl.Int64)},
    ),
    Rule(
        "batch/flex/priority ignored",
        pl.format("billed at standard rates, not {} rates", pl.col("price_mode")),
        pl.col("price_mode").fill_null("standard") != "standard",
        {"is_batch": pl.lit(False), "service_tier": pl.lit(None, pl.String)},
    ),
    Rule(
        "long-context tier",
        "billed at long-context rates the call did not reach",
        pl.col("price_tier").fill_null("base") == "base",
        {"input_total_tokens": pl.lit(_TOP_TIER_BASIS, pl.Int64)},
    ),
    *(
        Rule(
            "batch/flex/priority not logged",
            f"billed at {mode} rates, but the log does not say the call was {mode}",
            pl.col("price_mode").fill_null("standard") != mode,
            {
                "is_batch": pl.lit(mode == "batch"),
                "service_tier": pl.lit(mode if mode != "batch" else None, pl.String),
            },
        )
        for mode in ("batch", "flex", "priority")
    ),
)

EXPLANATIONS: dict[str, str] = {
    "unknown model": "no catalog price for the model: the recorded cost cannot be checked",
    "missing usage": "the source recorded a cost but no token counts",
    "before first price": "the call predates the model's first catalog price",
    "no model": "the log names no model",
    "recorded as zero": "the source recorded $0 for a billable call (model unknown to it, or a cache hit)",
    "not billed": "priced at $0 (an error without usage, a gateway cache hit) but the source charged it",
    "cached tokens charged as input": "recorded ≈ the cost with prompt-cache tokens billed at the full input rate",
    "cached tokens charged twice": "recorded ≈ the cost with cache tokens charged as input on top of the cache rates",
    "cache write TTL": "recorded ≈ the cost with cache writes billed at the other TTL's rate (5m vs 1h)",
    "long-context tier": "recorded ≈ the cost at the other long-context tier (cliff pricing missed or misapplied)",
    "batch/flex/priority ignored": "recorded ≈ the standard-mode cost of a batch/flex/priority call",
    "batch/flex/priority not logged": "recorded ≈ the batch/flex/priority cost of a call logged as standard",
    "stale or different price": "one recorded/repriced ratio for the model: the source uses another price",
    "other": "no known rule explains the difference",
}
UNPRICED = ("unknown model", "missing usage", "before first price", "no model")


def _status_frame(priced: pl.DataFrame, tolerance: Tolerance) -> pl.DataFrame:
    recorded, repriced = pl.col("cost_reported"), pl.col("cost_usd")
    has_usage = pl.any_horizontal(
        [
            pl.col(c).is_not_null()
            for c in ("input_uncached_tokens", "cache_read_tokens", "output_tokens", "input_total_tokens")
        ]
    )
    return priced.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"),
        pl.when(recorded.is_null())
        .then(pl.lit("no recorded cost"))
        .when(~pl.col("priced").fill_null(False) | repriced.is_null())
        .then(pl.lit("not compared"))
        .when(within(recorded, repriced, tolerance).fill_null(False))
        .then(pl.lit("match"))
        .otherwise(pl.lit("difference"))
        .alias("recon_status"),
        (recorded - repriced).alias("recon_difference_usd"),
        pl.when(recorded.is_not_null() & ~pl.col("priced").fill_null(False))
        .then(pl.col("unpriced_reason").fill_null("unknown model"))
        .when(
            recorded.is_not_null()
            & (recorded.abs() <= pl.lit(tolerance.absolute, dtype=MONEY_DTYPE))
            & (repriced > 0)
        )
        .then(pl.lit("recorded as zero"))
        .when(
            (repriced == 0)
            & (recorded > pl.lit(tolerance.absolute, dtype=MONEY_DTYPE))
            & (~has_usage | (pl.col("service_tier") == "gateway_cache"))
        )
        .then(pl.lit("not billed"))
        .alias("_first_cause"),
    )


STALE = "stale or different price"
_CAUSE_SCHEMA = {
    "_i": pl.Int64,
    "recon_cause": pl.String,
    "recon_detail": pl.String,
    "recon_explained_usd": MONEY_DTYPE,
}


def _classify_rules(priced: pl.DataFrame, catalog: Catalog, tolerance: Tolerance) -> pl.DataFrame:
    """The priced calls with recon_status, recon_difference_usd and the causes every call can be given on
    its own (first causes, then the RULES' counterfactuals); differences still unexplained get `_bucket`,
    their recorded/repriced ratio on a log scale (one bucket per price within the relative tolerance), or
    "other" when a cost is not positive: whether a bucket is a stale price depends on the other calls of
    the model (`_stale_verdicts`)."""
    ids = priced["catalog_id"].drop_nulls().unique().to_list() if priced.height else []
    if ids and ids != [catalog.catalog_id]:
        raise UsageError(
            f"the calls were priced with catalog {', '.join(map(str, ids))}, not {catalog.catalog_id}: "
            "reconcile with the catalog that priced them"
        )
    frame = _status_frame(priced, tolerance)
    explained: list[pl.DataFrame] = [pl.DataFrame(schema=_CAUSE_SCHEMA)]
    fixed = frame.filter(
        pl.col("recon_status").is_in(["not compared", "difference"]) & pl.col("_first_cause").is_not_null()
    )
    explained.append(
        fixed.select(
            "_i",
            pl.col("_first_cause").alias("recon_cause"),
            pl.lit(None, pl.String).alias("recon_detail"),
            pl.lit(None, MONEY_DTYPE).alias("recon_explained_usd"),
        )
    )
    todo = frame.filter((pl.col("recon_status") == "difference") & pl.col("_first_cause").is_null())
    hits = _rule_hits(todo, catalog, tolerance)
    if hits.height:
        explained.append(hits)
        todo = todo.filter(~pl.col("_i").is_in(hits["_i"].implode()))
    step = math.log1p(max(float(tolerance.relative), 1e-9))
    positive = (pl.col("cost_usd") > 0) & (pl.col("cost_reported") > 0)
    ratio = pl.col("cost_reported").cast(pl.Float64) / pl.col("cost_usd").cast(pl.Float64)
    unexplained = todo.select(
        "_i", pl.when(positive).then(ratio.log().truediv(step).round(0).cast(pl.Int64)).alias("_bucket")
    )
    causes = pl.concat(explained, how="vertical_relaxed")
    out = frame.join(causes, on="_i", how="left", maintain_order="left").join(
        unexplained, on="_i", how="left", maintain_order="left"
    )
    return out.with_columns(
        pl.when(pl.col("recon_status").is_in(["not compared", "difference"]) & pl.col("_bucket").is_null())
        .then(pl.col("recon_cause").fill_null("other"))
        .otherwise(pl.col("recon_cause"))
        .alias("recon_cause")
    ).drop("_i", "_first_cause")


def _rule_hits(todo: pl.DataFrame, catalog: Catalog, tolerance: Tolerance) -> pl.DataFrame:
    """Per call of `todo` that some RULE explains, the first that does (in RULES order): `_i`, its cause,
    detail and the counterfactual cost. Every rule's counterfactual calls are priced in one query: a query
    per rule paid the catalog's registration and the planning of the pricing SQL 13 times a run."""
    tried = [
        todo.lazy()
        .filter(rule.applies.fill_null(False))
        .with_columns(
            (rule.detail if isinstance(rule.detail, pl.Expr) else pl.lit(rule.detail)).alias("recon_detail")
        )
        .with_columns(**rule.change)
        .select(
            "_i",
            pl.lit(number, pl.Int32).alias("_rule"),
            "recon_detail",
            *(c for c in PRICING_INPUTS if c in todo.columns),  # cost_reported among them
        )
        for number, rule in enumerate(RULES)
    ]
    counterfactuals = pl.concat(tried, how="vertical_relaxed").collect()
    if not counterfactuals.height:
        return pl.DataFrame(schema=_CAUSE_SCHEMA)
    cost = price_columns(counterfactuals, catalog, ["cost_usd"])["cost_usd"]
    causes = {number: rule.cause for number, rule in enumerate(RULES)}
    return (
        counterfactuals.select(
            "_i", "_rule", "recon_detail", "cost_reported", cost.alias("recon_explained_usd")
        )
        .filter(within(pl.col("cost_reported"), pl.col("recon_explained_usd"), tolerance).fill_null(False))
        .sort("_i", "_rule")
        .unique("_i", keep="first", maintain_order=True)
        .select(
            "_i",
            pl.col("_rule").replace_strict(causes, return_dtype=pl.String).alias("recon_cause"),
            "recon_detail",
            "recon_explained_usd",
        )
    )


def _stale_verdicts(buckets: pl.DataFrame) -> pl.DataFrame:
    """Per (model, _bucket) of unexplained differences (calls, recorded_usd, repriced_usd): a bucket of at
    least two calls is the source's own price for the model (cause STALE, with the ratio as detail), a
    lone call is "other"."""
    details = [
        f"recorded is {_pct(r['recorded_usd'], r['repriced_usd'])} of catalog for model {r['model']}"
        if r["calls"] >= 2
        else None
        for r in buckets.select("model", "calls", "recorded_usd", "repriced_usd").to_dicts()
    ]
    return buckets.with_columns(
        pl.when(pl.col("calls") >= 2).then(pl.lit(STALE)).otherwise(pl.lit("other")).alias("recon_cause"),
        pl.Series("recon_detail", details, dtype=pl.String),
    )


def _bucket_sums(recon: pl.DataFrame) -> pl.DataFrame:
    return (
        recon.filter(pl.col("_bucket").is_not_null())
        .group_by("model", "_bucket")
        .agg(
            pl.len().alias("calls"),
            pl.col("cost_reported").sum().alias("recorded_usd"),
            pl.col("cost_usd").sum().alias("repriced_usd"),
            pl.col("recon_difference_usd").sum().alias("difference_usd"),
        )
    )


def classify(
    priced: pl.DataFrame, catalog: Catalog | None = None, tolerance: Tolerance | None = None
) -> pl.DataFrame:
    """The priced calls plus recon_status (no recorded cost | not compared | match | difference),
    recon_difference_usd (recorded - repriced), recon_cause, recon_detail and recon_explained_usd
    (the counterfactual cost that the recorded one matches). `catalog` must be the one that priced them."""
    recon = _classify_rules(priced, catalog or load_catalog(), tolerance or Tolerance())
    return _apply_verdicts(recon, _stale_verdicts(_bucket_sums(recon))).drop("_bucket")


def _apply_verdicts(frame: pl.DataFrame, verdicts: pl.DataFrame) -> pl.DataFrame:
    """Calls whose difference waited for a stale-price verdict (a `_bucket`) take its cause and detail."""
    decided = verdicts.select(
        "model", "_bucket", pl.col("recon_cause").alias("_cause"), pl.col("recon_detail").alias("_detail")
    )
    return (
        frame.join(decided, on=["model", "_bucket"], how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.coalesce("_cause", "recon_cause").alias("recon_cause"),
            pl.when(pl.col("_bucket").is_not_null())
            .then("_detail")
            .otherwise("recon_detail")
            .alias("recon_detail"),
        )
        .drop("_cause", "_detail")
    )


def _pct(part: Decimal | None, whole: Decimal | None) -> str:
    if not whole:
        return "—"
    value = (Decimal(str(part or 0)) / Decimal(str(whole)) * 100).quantize(Decimal("0.01"))
    return f"{value.normalize():f}%"


def _dec(value: Any) -> Decimal | None:
    return None if value is None else value if isinstance(value, Decimal) else Decimal(str(value))


def _share(part: Decimal, whole: Decimal) -> float | None:
    return float(part / whole * 100) if whole else None


_OFF = pl.col("recon_status").is_in(["not compared", "difference"])
_COMPARED = pl.col("recon_status").is_in(["match", "difference"])
_DIFFERS = pl.col("recon_status") == "difference"
_MONEY = ("recorded_usd", "repriced_usd", "difference_usd")


@dataclass
class _Part:
    """What `summarize` needs of a classified frame, small: totals; calls and money per (cause, model,
    detail), per model, and per (model, ratio bucket) of the differences a stale price may explain; the
    `top` largest differences. Parts of any frames add up exactly (`_merged`)."""

    totals: dict[str, Any]
    details: pl.DataFrame
    buckets: pl.DataFrame
    by_model: pl.DataFrame
    largest: pl.DataFrame


def _part(recon: pl.DataFrame, top: int) -> _Part:
    if "_bucket" not in recon.columns:  # a finished `classify` frame: every cause is known
        recon = recon.with_columns(pl.lit(None, pl.Int64).alias("_bucket"))
    compared = recon.filter(_COMPARED)
    unchecked = recon.filter(pl.col("recon_status") == "not compared")
    off = recon.filter(_OFF)
    return _Part(
        totals={
            "calls": recon.height,
            "compared": compared.height,
            "unchecked": unchecked.height,
            "matching": int((compared["recon_status"] == "match").sum()) if compared.height else 0,
            "recorded": sum_decimal(compared["cost_reported"]),
            "repriced": sum_decimal(compared["cost_usd"]),
            "mismatch": sum_decimal(compared["recon_difference_usd"].abs()),
            "recorded_not_compared": sum_decimal(unchecked["cost_reported"]),
        },
        details=off.filter(pl.col("_bucket").is_null())
        .group_by("recon_cause", "model", "recon_detail")
        .agg(
            pl.len().alias("calls"),
            pl.col("cost_reported").sum().alias("recorded_usd"),
            pl.col("cost_usd").filter(_DIFFERS).sum().alias("repriced_usd"),
            pl.col("recon_difference_usd").filter(_DIFFERS).sum().alias("difference_usd"),
            _DIFFERS.any().alias("_compared"),
        ),
        buckets=_bucket_sums(off),
        by_model=compared.group_by("model").agg(
            pl.len().alias("calls"),
            (pl.col("recon_status") == "match").sum().cast(pl.Int64).alias("matching"),
            pl.col("cost_reported").sum().alias("recorded_usd"),
            pl.col("cost_usd").sum().alias("repriced_usd"),
            pl.col("recon_difference_usd").sum().alias("difference_usd"),
        ),
        largest=_copied(_largest_rows(off, top)),
    )


def _copied(frame: pl.DataFrame) -> pl.DataFrame:
    """A few rows in buffers of their own: a slice of a frame keeps the whole frame's memory alive."""
    return pl.DataFrame(frame.to_dict(as_series=False), schema=frame.schema)


def _cause_rows(details: pl.DataFrame) -> list[dict[str, Any]]:
    """Per cause, then per model within it, from rows per (cause, model, detail); a model's detail is its
    most common one, ties broken by text, so runs agree."""
    if details.is_empty():
        return []
    sums = [pl.col(m).sum() for m in _MONEY]
    by_model = (
        details.sort(["calls", "recon_detail"], descending=[True, False], nulls_last=True)
        .group_by("recon_cause", "model", maintain_order=True)
        .agg(
            pl.col("calls").sum(),
            *sums,
            pl.col("recon_detail").drop_nulls().first().alias("detail"),
            pl.col("_compared").any(),
        )
    )
    rows = by_model.group_by("recon_cause").agg(pl.col("calls").sum(), *sums, pl.col("_compared").any())
    models = by_model.to_dicts()
    out = []
    for row in rows.to_dicts():
        cause = row["recon_cause"]
        out.append(
            {
                "cause": cause,
                "explanation": EXPLANATIONS.get(cause, ""),
                "calls": row["calls"],
                "recorded_usd": _dec(row["recorded_usd"]) or ZERO,
                "repriced_usd": _dec(row["repriced_usd"]) if row["_compared"] else None,
                "difference_usd": _dec(row["difference_usd"]) if row["_compared"] else None,
                "models": sorted(
                    (
                        {
                            "model": m["model"],
                            "calls": m["calls"],
                            "recorded_usd": _dec(m["recorded_usd"]) or ZERO,
                            "repriced_usd": _dec(m["repriced_usd"]) if m["_compared"] else None,
                            "difference_usd": _dec(m["difference_usd"]) if m["_compared"] else None,
                            "detail": m["detail"],
                        }
                        for m in models
                        if m["recon_cause"] == cause
                    ),
                    key=lambda m: (-abs(m["difference_usd"] or m["recorded_usd"]), str(m["model"])),
                ),
            }
        )
    return sorted(
        out, key=lambda r: (r["difference_usd"] is None, -abs(r["difference_usd"] or ZERO), r["cause"])
    )


def _by_model(by_model: pl.DataFrame) -> list[dict[str, Any]]:
    rows = by_model.to_dicts()
    for row in rows:
        for key in _MONEY:
            row[key] = _dec(row[key]) or ZERO
    return sorted(rows, key=lambda r: (-abs(r["difference_usd"]), str(r["model"])))


_LARGEST_ORDER = {"by": ["_size", "source_file", "source_line"], "descending": [True, False, False]}


def _largest_rows(off: pl.DataFrame, top: int) -> pl.DataFrame:
    """The `top` largest differences (or recorded costs not compared), largest first, ties by file:line;
    with the model and ratio bucket that may still make a difference a stale price."""
    return (
        off.with_columns(
            pl.coalesce(pl.col("recon_difference_usd").abs(), pl.col("cost_reported").abs()).alias("_size")
        )
        .sort(**_LARGEST_ORDER, nulls_last=True)
        .head(max(top, 0))
        .select(
            "_size",
            "source_file",
            "source_line",
            "ts",
            "model",  # the key of the ratio buckets
            pl.coalesce("model", "model_raw").alias("_shown_model"),
            "_bucket",
            "cost_reported",
            "cost_usd",
            "recon_difference_usd",
            "recon_explained_usd",
            "recon_cause",
            "recon_detail",
        )
    )


def _largest(largest: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "location": f"{r['source_file']}:{r['source_line']}"
            if r["source_line"] is not None
            else r["source_file"],
            "file": r["source_file"],
            "line": r["source_line"],
            "ts": r["ts"],
            "model": r["_shown_model"],
            "recorded_usd": _dec(r["cost_reported"]),
            "repriced_usd": _dec(r["cost_usd"]),
            "difference_usd": _dec(r["recon_difference_usd"]),
            "explained_by_usd": _dec(r["recon_explained_usd"]),
            "cause": r["recon_cause"],
            "detail": r["recon_detail"],
        }
        for r in largest.to_dicts()
    ]


def _merged(parts: list[_Part], tolerance: Tolerance, top: int) -> dict[str, Any]:
    """The summary of any parts: sums of sums, stale prices decided on every call's ratio bucket, and the
    top of the tops."""
    t = {key: sum(part.totals[key] for part in parts) for key in parts[0].totals}
    recorded, repriced, mismatch = (_dec(t[k]) or ZERO for k in ("recorded", "repriced", "mismatch"))
    buckets = (
        pl.concat([part.buckets for part in parts], how="vertical_relaxed")
        .group_by("model", "_bucket")
        .agg(pl.col("calls").sum(), *[pl.col(m).sum() for m in _MONEY])
    )
    verdicts = _stale_verdicts(buckets)
    # one row per (cause, model, detail): parts, and buckets whose ratios print alike, share details
    details = (
        pl.concat(
            [
                *(part.details for part in parts),
                verdicts.select(
                    "recon_cause", "model", "recon_detail", "calls", *_MONEY, pl.lit(True).alias("_compared")
                ),
            ],
            how="vertical_relaxed",
        )
        .group_by("recon_cause", "model", "recon_detail")
        .agg(pl.col("calls").sum(), *[pl.col(m).sum() for m in _MONEY], pl.col("_compared").any())
    )
    by_model = (
        pl.concat([part.by_model for part in parts], how="vertical_relaxed")
        .group_by("model")
        .agg(pl.col("calls").sum(), pl.col("matching").sum(), *[pl.col(m).sum() for m in _MONEY])
    )
    largest = (
        pl.concat([part.largest for part in parts], how="vertical_relaxed")
        .sort(**_LARGEST_ORDER, nulls_last=True)
        .head(max(top, 0))
    )
    return {
        "tolerance": tolerance.as_dict(),
        "totals": {
            "calls": t["calls"],
            "calls_with_recorded_cost": t["compared"] + t["unchecked"],
            "calls_compared": t["compared"],
            "calls_matching": t["matching"],
            "calls_differing": t["compared"] - t["matching"],
            "calls_not_compared": t["unchecked"],
            "match_rate_pct": t["matching"] / t["compared"] * 100 if t["compared"] else None,
            "recorded_usd": recorded,
            "repriced_usd": repriced,
            "difference_usd": recorded - repriced,
            "difference_pct": _share(recorded - repriced, repriced),
            "mismatch_usd": mismatch,
            "mismatch_pct": _share(mismatch, repriced),
            "recorded_not_compared_usd": _dec(t["recorded_not_compared"]) or ZERO,
        },
        "causes": _cause_rows(details),
        "by_model": _by_model(by_model),
        "largest": _largest(_apply_verdicts(largest, verdicts)) if top > 0 else [],
    }


def summarize(recon: pl.DataFrame, tolerance: Tolerance, top: int = TOP) -> dict[str, Any]:
    """Totals, causes, per-model comparison and the largest differences of a `classify` frame."""
    return _merged([_part(recon, top)], tolerance, top)


def reconcile(
    priced: pl.DataFrame,
    catalog: Catalog | None = None,
    *,
    tolerance: Tolerance | None = None,
    top: int = TOP,
) -> dict[str, Any]:
    """Recorded vs repriced cost of priced calls (from `price()` with `catalog`, bundled by default):
    totals, differences grouped by cause, per model, and the `top` largest differences (file:line).
    Classified RUN_ROWS calls at a time, as `reconcile_report` does (a run's counterfactuals are several
    times its size); the result does not depend on the split."""
    runs = priced.iter_slices(RUN_ROWS) if priced.height else [priced]
    return reconcile_runs(runs, catalog, tolerance=tolerance, top=top)


# calls classified at a time by `reconcile_report`, and runs classified at once: memory holds about
# RUNS_IN_FLIGHT x RUN_ROWS x 4.4 KB (the RSS step of one 100k run on the 1M benchmark), and a run's
# counterfactuals (up to one per rule per call) several times that: the 1M benchmark's reconcile peaked at
# 684-686, 882-890 and 996-1007 MiB in runs of 25k, 35k and 50k calls (12.0-13.5 s; now 12.2-12.3 s and
# 682-694 MiB in runs of 25k, against 15.0-15.1 s and 867-878 MiB with a query per rule in runs of 50k)
RUN_ROWS = 25_000
RUNS_IN_FLIGHT = 2


def reconcile_runs(
    runs: Iterable[pl.DataFrame],
    catalog: Catalog | None = None,
    *,
    tolerance: Tolerance | None = None,
    top: int = TOP,
) -> dict[str, Any]:
    """`reconcile` over priced calls that arrive in runs of any split: each run is classified on its own
    (every rule but the stale-price one looks at one call) and reduced to a small summary that keeps the
    unexplained differences as sums per (model, ratio bucket), so the stale prices are decided on every
    call at the end. Memory holds a run, not the history; the result is the one of a single `reconcile`."""
    tolerance = tolerance or Tolerance()
    catalog = catalog or load_catalog()

    def summarized(run: pl.DataFrame) -> _Part:
        return _part(_classify_rules(run, catalog, tolerance), top)

    # two runs at a time: one run's repricing queries keep less than the 2 cores busy (1M calls: 43 s with
    # one run of 100k at a time, 25 s with two of 50k, in the same memory)
    parts: list[_Part] = []
    with ThreadPoolExecutor(RUNS_IN_FLIGHT) as pool:
        pending: collections.deque[Future[_Part]] = collections.deque()
        for run in runs:
            if len(pending) == RUNS_IN_FLIGHT:
                parts.append(pending.popleft().result())
            pending.append(pool.submit(summarized, run))
        parts.extend(future.result() for future in pending)
    if not parts:
        raise ValueError("reconcile_runs needs at least one (possibly empty) run")
    data = _merged(parts, tolerance, top)
    data["catalog"] = {"id": catalog.catalog_id}
    return data


def reconcile_report(
    report, catalog: Catalog, *, tolerance: Tolerance | None = None, top: int = TOP
) -> dict[str, Any]:
    """`reconcile` of an analyze report's calls in bounded memory: only calls with a recorded cost are
    read, streamed from the report's workspace (in no particular order: the result does not depend on
    it) and classified RUN_ROWS at a time, RUNS_IN_FLIGHT runs at once."""
    if report.workspace is None:
        return reconcile(report.calls, catalog, tolerance=tolerance, top=top)
    runs = report.iter_calls("cost_reported IS NOT NULL", batch_rows=RUN_ROWS, ordered=False)
    return reconcile_runs(runs, catalog, tolerance=tolerance, top=top)


def exceeds(data: dict[str, Any], threshold: tuple[str, Decimal]) -> bool:
    """The --fail-above gate: the summed per-call mismatch |recorded - repriced| of the compared calls
    above `threshold` ('pct' of the repriced total, or 'usd')."""
    kind, limit = threshold
    totals = data["totals"]
    mismatch, repriced = totals["mismatch_usd"], totals["repriced_usd"]
    if kind == "pct":
        if not repriced:
            return mismatch != ZERO
        return mismatch / repriced * 100 > limit
    return mismatch > limit
