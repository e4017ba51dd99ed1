"""FinOps FOCUS v1.2 rows from priced calls: one row per UTC day x provider x model x SKU meter.

A row is a usage charge at one list unit price: besides day, provider, model and meter, rows are split by
everything that changes the price (catalog version, long-context tier, service mode, region, time-of-day
window) and by the attribution FOCUS can carry (SubAccountId = project_id, Tags = {"feature", "user"}). So
ListCost = ListUnitPrice x PricingQuantity holds exactly on every row, and the BilledCost column sums to the
repriced total of the calls exported (Decimal arithmetic throughout).

Costs are llmaudit's repricing at list prices: BilledCost = EffectiveCost = ListCost = ContractedCost (no
negotiated discounts or credits are known from logs). Unpriced calls and calls without a timestamp have no
charge to export and are left out (`focus_frame` reports how many); so are zero-cost components (failed calls,
gateway cache hits). Token meters are priced per "1000000 Tokens" (ListUnitPrice = the catalog rate per 1M),
web searches and per-request fees per "1000 Requests". We do not know the customer's provider account:
BillingAccountId is the provider id, the billing period is the UTC calendar month of the charge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

import polars as pl

from llmaudit.catalog import Catalog
from llmaudit.db import UTC_WALL_CLOCK
from llmaudit.money import MONEY_DTYPE, ZERO, sum_decimal
from llmaudit.pricing import PRICING_INPUTS, price_columns

FOCUS_VERSION = "1.2"
# The 57 columns of FOCUS v1.2, in the alphabetical order of the spec's sample files.
FOCUS_COLUMNS: tuple[str, ...] = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
)
# Our provenance, after the FOCUS columns (custom columns are prefixed x_ and come last, per the spec).
X_COLUMNS: tuple[str, ...] = (
    "x_CatalogId",
    "x_PriceVersion",
    "x_PriceTier",
    "x_PriceMode",
    "x_Model",
    "x_Calls",
)
MONEY_COLUMNS = (
    "BilledCost",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
)
QUANTITY_COLUMNS = ("ConsumedQuantity", "PricingQuantity")
DATE_COLUMNS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
QUANTITY_DTYPE = pl.Decimal(38, 6)

# provider id -> (ProviderName, ServiceName); others: the id itself and "<id> API"
PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("OpenAI", "OpenAI API"),
    "anthropic": ("Anthropic", "Claude API"),
    "google": ("Google", "Gemini API"),
    "aws-bedrock": ("Amazon Web Services", "Amazon Bedrock"),
    "azure": ("Microsoft", "Azure OpenAI"),
    "openrouter": ("OpenRouter", "OpenRouter API"),
    "deepseek": ("DeepSeek", "DeepSeek API"),
    "mistral": ("Mistral AI", "Mistral API"),
    "xai": ("xAI", "xAI API"),
    "groq": ("Groq", "GroqCloud"),
    "together": ("Together AI", "Together API"),
    "fireworks": ("Fireworks AI", "Fireworks API"),
    "cohere": ("Cohere", "Cohere API"),
    "perplexity": ("Perplexity", "Perplexity API"),
}
# model-id pattern -> who made the model (PublisherName); otherwise the provider
PUBLISHERS: tuple[tuple[str, str], ...] = (
    (r"claude", "Anthropic"),
    (r"(^|[/.])(gpt|o\d|chatgpt|text-embedding|davinci|babbage|whisper|tts|dall-e|codex-)", "OpenAI"),
    (r"gemini|gemma|palm", "Google"),
    (r"llama", "Meta"),
    (r"mistral|mixtral|codestral|magistral|devstral|ministral|pixtral", "Mistral AI"),
    (r"deepseek", "DeepSeek"),
    (r"qwen|qwq", "Alibaba Cloud"),
    (r"grok", "xAI"),
    (r"command|(^|[/.])c4ai", "Cohere"),
    (r"(^|[/.])(nova|titan)", "Amazon"),
    (r"kimi|moonshot", "Moonshot AI"),
    (r"glm", "Zhipu AI"),
)


@dataclass(frozen=True)
class Meter:
    id: str
    name: str  # SkuMeter
    quantity: pl.Expr
    cost: str  # column of the split frame
    consumed_unit: str
    pricing_unit: str
    units_per_pricing_unit: int


def _n(name: str) -> pl.Expr:
    return pl.col(name).fill_null(0)


METERS: tuple[Meter, ...] = (
    Meter(
        "input",
        "Input Tokens",
        (_n("input_uncached_tokens") - _n("input_audio_tokens") - _n("input_image_tokens")).clip(0),
        "cost_input",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "cache_read",
        "Cached Input Tokens",
        _n("cache_read_tokens"),
        "cost_cache_read",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "cache_write_5m",
        "Cache Write Tokens (5m)",
        _n("cache_write_5m_tokens"),
        "_cost_cache_write_5m",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "cache_write_1h",
        "Cache Write Tokens (1h)",
        _n("cache_write_1h_tokens"),
        "_cost_cache_write_1h",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "output",
        "Output Tokens",
        (_n("output_tokens") - _n("output_audio_tokens")).clip(0),
        "cost_output",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "input_audio",
        "Input Audio Tokens",
        _n("input_audio_tokens"),
        "_cost_input_audio",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "input_image",
        "Input Image Tokens",
        _n("input_image_tokens"),
        "_cost_input_image",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "output_audio",
        "Output Audio Tokens",
        _n("output_audio_tokens"),
        "_cost_output_audio",
        "Tokens",
        "1000000 Tokens",
        1_000_000,
    ),
    Meter(
        "web_search",
        "Web Search Requests",
        _n("web_search_requests"),
        "_cost_web_search",
        "Requests",
        "1000 Requests",
        1_000,
    ),
    Meter(
        "request",
        "Requests",
        pl.col("request_count").fill_null(1),
        "_cost_request",
        "Requests",
        "1000 Requests",
        1_000,
    ),
)
# the units inside cost_other, each priced alone to split it (request fees are the remainder)
_OTHER_UNITS = {
    "input_audio_tokens": "_cost_input_audio",
    "input_image_tokens": "_cost_input_image",
    "output_audio_tokens": "_cost_output_audio",
    "web_search_requests": "_cost_web_search",
}


@dataclass
class FocusResult:
    rows: pl.DataFrame  # FOCUS_COLUMNS + X_COLUMNS, typed (Decimal money, UTC datetimes)
    calls: int  # calls exported
    cost_usd: Decimal  # their repriced total = sum of BilledCost
    unpriced_calls: int  # left out: no price
    untimed_calls: int  # left out: priced but no timestamp
    untimed_cost_usd: Decimal


def _zero() -> pl.Expr:
    return pl.lit(ZERO, dtype=MONEY_DTYPE)


def _split_costs(calls: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Cache writes by TTL and cost_other by unit: one price() per unit on the few calls that mix them."""
    frame = calls.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"),
        pl.when(_n("cache_write_1h_tokens") == 0)
        .then(pl.col("cost_cache_write"))
        .when(_n("cache_write_5m_tokens") == 0)
        .then(_zero())
        .alias("_cost_cache_write_5m"),
        *[
            pl.when(pl.col("cost_other") == 0).then(_zero()).alias(name)
            for name in (*_OTHER_UNITS.values(), "_cost_request")
        ],
    )
    patches: list[pl.DataFrame] = []
    both = frame.filter(pl.col("_cost_cache_write_5m").is_null())
    if both.height:
        five = price_columns(
            both.with_columns(cache_write_1h_tokens=pl.lit(0, pl.Int64)), catalog, ["cost_cache_write"]
        )
        patches.append(both.select("_i", five["cost_cache_write"].alias("_cost_cache_write_5m")))
    mixed = frame.filter(pl.col("cost_other") != 0)
    if mixed.height:
        # cost_other = sum(unit x rate) + request fees: price the fees alone, then each unit alone
        zeroed = {unit: pl.lit(0, pl.Int64) for unit in _OTHER_UNITS}
        fee = price_columns(mixed.with_columns(**zeroed), catalog, ["cost_other"])["cost_other"]
        parts = mixed.select("_i", "cost_other", fee.alias("_fee"))
        for unit, name in _OTHER_UNITS.items():
            rows = mixed.filter(_n(unit) > 0)
            if rows.is_empty():
                parts = parts.with_columns(_zero().alias(name))
                continue
            alone = price_columns(
                rows.with_columns(**{u: z for u, z in zeroed.items() if u != unit}), catalog, ["cost_other"]
            )
            cost = rows.select("_i", alone["cost_other"].alias(name))
            parts = parts.join(cost, on="_i", how="left").with_columns(
                (pl.col(name) - pl.col("_fee")).fill_null(ZERO).cast(MONEY_DTYPE).alias(name)
            )
        parts = parts.with_columns(
            (pl.col("cost_other") - pl.sum_horizontal(list(_OTHER_UNITS.values())))
            .cast(MONEY_DTYPE)
            .alias("_cost_request")
        )
        patches.append(parts.select("_i", *_OTHER_UNITS.values(), "_cost_request"))
    for patch in patches:
        frame = frame.update(patch, on="_i")
    return frame.with_columns(
        (pl.col("cost_cache_write") - pl.col("_cost_cache_write_5m")).alias("_cost_cache_write_1h")
    ).drop("_i")


def _publisher(provider_name: pl.Expr) -> pl.Expr:
    model = pl.col("x_Model").str.to_lowercase()
    expr = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    for pattern, name in PUBLISHERS:
        expr = expr.when(model.str.contains(pattern)).then(pl.lit(name))
    return expr.otherwise(provider_name)


def _tags() -> pl.Expr:
    feature, user = pl.col("feature"), pl.col("user_id")
    return (
        pl.when(feature.is_not_null() & user.is_not_null())
        .then(pl.struct(feature.alias("feature"), user.alias("user")).struct.json_encode())
        .when(feature.is_not_null())
        .then(pl.struct(feature.alias("feature")).struct.json_encode())
        .when(user.is_not_null())
        .then(pl.struct(user.alias("user")).struct.json_encode())
    )


_GROUP_KEYS = [
    "_day",
    "_provider",
    "_model",
    "_region",
    "project_id",
    "_tags",
    "catalog_id",
    "price_provider",
    "price_model",
    "price_version",
    "price_tier",
    "price_mode",
    "_window",
]
# what a FOCUS row is grouped by: the keys above, the meter and its one exact unit rate
_ROW_KEYS = [*_GROUP_KEYS, "_meter_id", "_meter", "_consumed_unit", "_pricing_unit", "_per", "_unit_rate"]
# the sums of a FOCUS row, which add up across parts of a group
_SUMS = ["_qty", "_cost", "x_Calls"]


def _partial(priced: pl.DataFrame, catalog: Catalog) -> tuple[pl.DataFrame, FocusResult]:
    """The sums of FOCUS rows over `priced` (grouped by `_ROW_KEYS`, unsorted, not yet rows), and the
    result's counts with no rows: sums of parts of a group add up (`_merged`)."""
    ok = pl.col("priced").fill_null(False) & pl.col("cost_usd").is_not_null()
    timed = priced.filter(ok & pl.col("ts").is_not_null())
    untimed = priced.filter(ok & pl.col("ts").is_null())
    region = pl.col("price_region") if "price_region" in priced.columns else pl.lit(None, pl.String)
    window = pl.col("price_window") if "price_window" in priced.columns else pl.lit(None, pl.String)
    calls = _split_costs(timed, catalog).with_columns(
        *[expr.alias(name) for name, expr in _leading_keys().items()],
        pl.coalesce(region, pl.col("region")).alias("_region"),
        window.cast(pl.String).alias("_window"),
        _tags().alias("_tags"),
    )
    long = pl.concat(
        [
            calls.select(
                *_GROUP_KEYS,
                pl.lit(m.id).alias("_meter_id"),
                pl.lit(m.name).alias("_meter"),
                m.quantity.cast(pl.Int64).alias("_qty"),
                pl.col(m.cost).cast(MONEY_DTYPE).alias("_cost"),
                pl.lit(m.consumed_unit).alias("_consumed_unit"),
                pl.lit(m.pricing_unit).alias("_pricing_unit"),
                pl.lit(m.units_per_pricing_unit, pl.Int64).alias("_per"),
            ).filter(pl.col("_cost") != 0)
            for m in METERS
        ],
        how="vertical",
    )
    # the exact per-unit rate: cost = quantity x rate per call, so every row below has one list price
    long = long.with_columns(
        pl.when(pl.col("_qty") > 0).then(pl.col("_cost") / pl.col("_qty")).alias("_unit_rate")
    )
    grouped = long.group_by(_ROW_KEYS).agg(
        pl.col("_qty").sum(), pl.col("_cost").sum(), pl.len().cast(pl.UInt32).alias("x_Calls")
    )
    counts = FocusResult(
        rows=pl.DataFrame(),
        calls=timed.height,
        cost_usd=sum_decimal(timed["cost_usd"]),
        unpriced_calls=int((~priced["priced"].fill_null(False)).sum()) if priced.height else 0,
        untimed_calls=untimed.height,
        untimed_cost_usd=sum_decimal(untimed["cost_usd"]),
    )
    return grouped, counts


def _merged(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Partial sums of the same FOCUS rows (from calls of one group read in two parts) added up."""
    if len(parts) == 1:
        return parts[0]
    both = pl.concat(parts, how="vertical")
    return both.group_by(_ROW_KEYS).agg(pl.col(c).sum() for c in _SUMS)


def _rows(grouped: pl.DataFrame) -> pl.DataFrame:
    """FOCUS rows of summed groups, in the export's order."""
    ordered = grouped.sort(
        ["_day", "_provider", "_model", "_meter_id", "project_id", "_tags", "_unit_rate"], nulls_last=True
    )
    return _columns(ordered)


def focus_frame(priced: pl.DataFrame, catalog: Catalog) -> FocusResult:
    """FOCUS v1.2 rows of priced calls (from `price()` with `catalog`), aggregated with polars group_by."""
    grouped, counts = _partial(priced, catalog)
    return replace(counts, rows=_rows(grouped))


# calls per batch `focus_runs` sums at a time: with the partial rows of one group, its memory. Peak RSS of
# the FOCUS export: 844 MiB at 1M calls, 951 MiB at 10M (runs of whole groups took 1.26 GiB at 10M, where a
# day x provider x model group has ~40k calls; runs of 50k calls took 1.28 GiB at 1M)
FOCUS_BATCH_ROWS = 12_500
# the order `focus_runs` needs its calls in, in SQL over priced calls: by the leading keys
LEADING_KEYS_SQL = (
    f"date_trunc('day', {UTC_WALL_CLOCK}), coalesce(provider, price_provider), "
    "coalesce(model, price_model, model_raw)"
)


# the priced-call columns `_partial` reads (with `price_columns`' inputs, for the split costs): a streamed
# export selects only these (10M calls: 37.7 s instead of 59.4 s, 859 instead of 923 MiB, the same file)
FOCUS_INPUTS = (
    *PRICING_INPUTS,
    "feature", "user_id", "project_id", "cost_usd", "cost_input", "cost_cache_read", "cost_cache_write",
    "cost_output", "cost_other", "priced", "catalog_id", "price_provider", "price_model", "price_version",
    "price_tier", "price_mode", "price_window", "price_region",
)  # fmt: skip


def _leading_keys() -> dict[str, pl.Expr]:
    """The first keys FOCUS rows are grouped and sorted by (UTC day, provider, model; `LEADING_KEYS_SQL`):
    calls that share them make rows that no other call touches."""
    return {
        "_day": pl.col("ts").dt.truncate("1d"),
        "_provider": pl.coalesce("provider", "price_provider"),
        "_model": pl.coalesce("model", "price_model", "model_raw"),
    }


def focus_runs(timed: Iterable[pl.DataFrame], catalog: Catalog) -> Iterator[FocusResult]:
    """`focus_frame` over priced calls that arrive in batches sorted by the leading keys
    (`LEADING_KEYS_SQL`), a batch at a time: each batch is summed into partial FOCUS rows, and the rows of
    its last (day, provider, model) group wait for the next batch, whose calls of that group add to them.
    The rows of every other group are final and come out in order, so the results' rows in order are the
    rows of one `focus_frame` over all the calls, and memory holds a batch and one group's partial rows,
    however many calls a group has. Yields a result per batch (rows or not), and one more for the last
    group's rows."""
    pending: pl.DataFrame | None = None  # partial rows of the last group seen, which may go on
    for batch in timed:
        grouped, counts = _partial(batch, catalog)
        if pending is not None:
            grouped = _merged([pending, grouped])
        if batch.is_empty():
            done, pending = grouped.head(0), grouped
        else:
            last = batch.select(**_leading_keys()).row(-1, named=True)
            going_on = pl.all_horizontal(
                pl.col(k).eq_missing(pl.lit(v, grouped.schema[k])) for k, v in last.items()
            )
            done, pending = grouped.filter(~going_on), grouped.filter(going_on)
        yield replace(counts, rows=_rows(done))
    if pending is not None and pending.height:
        yield FocusResult(
            rows=_rows(pending),
            calls=0,
            cost_usd=ZERO,
            unpriced_calls=0,
            untimed_calls=0,
            untimed_cost_usd=ZERO,
        )


def _columns(grouped: pl.DataFrame) -> pl.DataFrame:
    provider = pl.col("_provider")
    provider_name = provider.replace_strict(
        {k: v[0] for k, v in PROVIDERS.items()}, default=provider, return_dtype=pl.String
    )
    service_name = provider.replace_strict(
        {k: v[1] for k, v in PROVIDERS.items()}, default=provider + pl.lit(" API"), return_dtype=pl.String
    )
    month = pl.col("_day").dt.truncate("1mo")
    list_unit_price = (pl.col("_unit_rate") * pl.col("_per")).cast(MONEY_DTYPE)
    sku_id = pl.concat_str(
        [
            pl.coalesce("price_provider", "_provider"),
            pl.coalesce("price_model", "_model"),
            pl.col("_meter_id"),
        ],
        separator="/",
    )
    mode_text = pl.when(pl.col("price_mode").fill_null("standard") != "standard").then(
        pl.lit(", ") + pl.col("price_mode") + pl.lit(" mode")
    )
    tier_text = pl.when(pl.col("price_tier").fill_null("base") != "base").then(
        pl.lit(", long-context tier ") + pl.col("price_tier")
    )
    tier_mode = [pl.col("price_tier").alias("PriceTier"), pl.col("price_mode").alias("PriceMode")]
    region = pl.col("_region").alias("Region")
    window = pl.col("_window").alias("Window")
    has_region, has_window = pl.col("_region").is_not_null(), pl.col("_window").is_not_null()
    details = (
        pl.when(has_region & has_window)
        .then(pl.struct(*tier_mode, region, window).struct.json_encode())
        .when(has_region)
        .then(pl.struct(*tier_mode, region).struct.json_encode())
        .when(has_window)
        .then(pl.struct(*tier_mode, window).struct.json_encode())
        .otherwise(pl.struct(*tier_mode).struct.json_encode())
    )
    none = pl.lit(None, pl.String)
    frame = grouped.with_columns(
        pl.col("_cost").alias("BilledCost"),
        provider.alias("BillingAccountId"),
        provider_name.alias("BillingAccountName"),
        none.alias("BillingAccountType"),
        pl.lit("USD").alias("BillingCurrency"),
        month.dt.offset_by("1mo").alias("BillingPeriodEnd"),
        month.alias("BillingPeriodStart"),
        pl.lit("Usage").alias("ChargeCategory"),
        none.alias("ChargeClass"),
        pl.concat_str(
            [
                pl.col("_model"),
                pl.lit(" "),
                pl.col("_meter"),
                tier_text.fill_null(""),
                mode_text.fill_null(""),
            ]
        ).alias("ChargeDescription"),
        pl.lit("Usage-Based").alias("ChargeFrequency"),
        pl.col("_day").dt.offset_by("1d").alias("ChargePeriodEnd"),
        pl.col("_day").alias("ChargePeriodStart"),
        pl.col("_qty").cast(QUANTITY_DTYPE).alias("ConsumedQuantity"),
        pl.col("_consumed_unit").alias("ConsumedUnit"),
        pl.col("_cost").alias("ContractedCost"),
        list_unit_price.alias("ContractedUnitPrice"),
        pl.col("_cost").alias("EffectiveCost"),
        none.alias("InvoiceId"),
        provider_name.alias("InvoiceIssuerName"),
        pl.col("_cost").alias("ListCost"),
        list_unit_price.alias("ListUnitPrice"),
        pl.lit("Standard").alias("PricingCategory"),
        (pl.col("_qty").cast(QUANTITY_DTYPE) / pl.col("_per")).cast(QUANTITY_DTYPE).alias("PricingQuantity"),
        pl.col("_pricing_unit").alias("PricingUnit"),
        provider_name.alias("ProviderName"),
        pl.col("_region").alias("RegionId"),
        pl.lit("AI and Machine Learning").alias("ServiceCategory"),
        service_name.alias("ServiceName"),
        pl.lit("Generative AI").alias("ServiceSubcategory"),
        sku_id.alias("SkuId"),
        pl.col("_meter").alias("SkuMeter"),
        details.alias("SkuPriceDetails"),
        pl.concat_str(
            [
                sku_id,
                pl.col("price_version").cast(pl.String).fill_null("-"),
                pl.col("price_tier").fill_null("base"),
                pl.col("price_mode").fill_null("standard"),
                pl.col("_region"),
                pl.col("_window"),
            ],
            separator="/",
            ignore_nulls=True,
        ).alias("SkuPriceId"),
        pl.col("project_id").alias("SubAccountId"),
        none.alias("SubAccountType"),
        pl.col("_tags").alias("Tags"),
        pl.col("catalog_id").alias("x_CatalogId"),
        pl.col("price_version").alias("x_PriceVersion"),
        pl.col("price_tier").alias("x_PriceTier"),
        pl.col("price_mode").alias("x_PriceMode"),
        pl.col("_model").alias("x_Model"),
        pl.col("x_Calls").cast(pl.Int64),
    ).with_columns(_publisher(pl.col("ProviderName")).alias("PublisherName"))
    missing = [none.alias(c) for c in FOCUS_COLUMNS if c not in frame.columns]
    return frame.with_columns(missing).select(*FOCUS_COLUMNS, *X_COLUMNS)
