"""Vectorized repricing: calls x catalog price table -> exact Decimal cost columns + provenance.

Model ids are resolved once per distinct (provider, model_raw) (a dimension lookup), then pricing is one
DuckDB join on (model, mode) with the version's date range and the long-context tier range, and Decimal
arithmetic. The same SQL runs over Parquet or the history store.
"""

from __future__ import annotations

import duckdb
import polars as pl

from llmaudit.catalog import Catalog
from llmaudit.catalog.match import BEDROCK_VENDOR, normalize_model_id
from llmaudit.db import quote_identifier, quote_literal, scratch_cursor
from llmaudit.schema import CALL_SCHEMA, PRICE_SCHEMA, conform

# service_tier values as logged -> catalog mode (OpenAI returns "priority" when "fast" was asked for).
TIER_TO_MODE = {
    "flex": "flex",
    "flex-tier": "flex",
    "on_demand_flex": "flex",
    "flex_discount": "flex",
    "priority": "priority",
    "fast": "priority",
    "priority_on_demand": "priority",
    "batch": "batch",
}


TOKEN_RATE_UNITS = (
    "input",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "input_audio",
    "output_audio",
    "input_image",
)
# only a regional call's rates are scaled: the product and its rescaling to 15 decimals are 128-bit
# arithmetic (a division per rate), ~1.7 CPU-s per million calls when every call paid for them with x 1
_SCALED_RATES = ",\n      ".join(
    f"CASE WHEN r.region_multiplier IS NULL THEN j.rate_{u} "
    f"ELSE (j.rate_{u} * r.region_multiplier)::DECIMAL(38,15) END AS rate_{u}"
    for u in TOKEN_RATE_UNITS
)


def id_region(
    model_raw: str | None, provider: str | None, normalized_id: tuple[str | None, str | None] | None = None
) -> str | None:
    """The pricing region a logged id implies: a Bedrock geo prefix (us., eu., global., ...), or 'in-region'
    for a Bedrock id without one (same-region inference); None when the id says nothing.
    `normalized_id`: `normalize_model_id(model_raw)`, when the caller has it."""
    normalized, region = normalized_id or normalize_model_id(model_raw)
    if region is not None:
        return region
    raw = (model_raw or "").lower().split("/")[-1]
    if normalized and (provider == "aws-bedrock" or BEDROCK_VENDOR.match(raw)) and raw != normalized:
        return "in-region"
    return None


def _resolution(calls: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Per distinct (provider, model_raw): the catalog entry and the id's region (a lookup, not per call)."""
    pairs = calls.select("provider", "model_raw").unique().to_dicts()
    rows = []
    for pair in pairs:
        normalized = normalize_model_id(pair["model_raw"])  # once for both (~1.5 us an id)
        model = catalog.resolve(pair["model_raw"], pair["provider"], normalized[0])
        rows.append(
            {
                **pair,
                "_price_key": model.key if model else None,
                "_catalog_model": model.id if model else None,
                "_catalog_provider": model.provider if model else None,
                "_id_region": id_region(pair["model_raw"], pair["provider"], normalized),
            }
        )
    schema = {
        "provider": pl.String,
        "model_raw": pl.String,
        "_price_key": pl.String,
        "_catalog_model": pl.String,
        "_catalog_provider": pl.String,
        "_id_region": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


USAGE_COLUMNS = (
    "input_uncached_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)

# every call column pricing reads (`usage_sql` binds over a relation of just these): what a store keeps
# beside each repeat so the repeats are priced without the calls (`rollup.MARKS`)
PRICING_INPUTS = (
    "provider", "model_raw", "model", "is_batch", "service_tier", "region", "row_kind", "status",
    "ts", "request_count", "cost_reported", "input_total_tokens", *USAGE_COLUMNS, "input_audio_tokens",
    "input_image_tokens", "output_audio_tokens", "web_search_requests", "cache_storage_token_hours",
)  # fmt: skip


# tiers logs spell exactly so, which price at standard rates: matched as they are, as most calls' tiers are,
# before the folded match (lower(trim()) on every call cost 40 of the pricing join's ~155 CPU-ms per 100k
# calls; with this 117)
STANDARD_TIER_SPELLINGS = ("default", "standard", "auto", "scale", "on_demand")
_MODE_SQL = (
    "CASE WHEN coalesce(c.is_batch, false) THEN 'batch' "
    "WHEN c.service_tier IS NULL OR c.service_tier IN ("
    + ", ".join(f"'{tier}'" for tier in STANDARD_TIER_SPELLINGS)
    + ") THEN 'standard' ELSE CASE lower(trim(c.service_tier)) "
    + " ".join(f"WHEN '{tier}' THEN '{mode}'" for tier, mode in TIER_TO_MODE.items())
    + " ELSE 'standard' END END"
)

# The per-call facts pricing reads beyond plain columns, as SQL over a call `c`. A store rollup keeps
# them per group of calls (`rollup.py`), so the same join prices either.
# minute of the UTC day by integer arithmetic (hour()/minute() on TIMESTAMPTZ go through ICU: 5x slower)
MINUTE_SQL = "coalesce((epoch_us(c.ts) // 60000000 % 1440 + 1440) % 1440, 0)"
# cliff tiers apply per call; an aggregate bucket can only use its average call size, and one without a
# request count (Anthropic usage report, FOCUS) is priced at the base tier
TIER_BASIS_SQL = """CASE WHEN c.row_kind IS DISTINCT FROM 'aggregate' THEN coalesce(c.input_total_tokens, 0)
         WHEN c.request_count IS NOT NULL THEN coalesce(c.input_total_tokens, 0) // greatest(c.request_count, 1)
         ELSE 0 END"""
HAS_USAGE_SQL = " OR ".join(f"c.{c} IS NOT NULL" for c in USAGE_COLUMNS)
# text tokens (billed at the input/output rates): the totals less their audio and image parts
TEXT_IN_SQL = (
    "(coalesce(c.input_uncached_tokens, 0) - coalesce(c.input_audio_tokens, 0)"
    " - coalesce(c.input_image_tokens, 0))"
)
TEXT_OUT_SQL = "(coalesce(c.output_tokens, 0) - coalesce(c.output_audio_tokens, 0))"

_PRICE_SQL = """
WITH base AS (
  SELECT c.*, res._price_key, res._catalog_model, res._catalog_provider,
    {mode} AS _mode,
    coalesce(res._id_region, lower(c.region)) AS _region,
    {minute} AS _minute,
    ({has_usage}) AS _has_usage,
    {tier_basis} AS _tier_basis,
    -- a cost line (Costs API, cost report, FOCUS tax/purchase): money recorded, nothing to reprice
    coalesce(c.row_kind = 'aggregate' AND c.cost_reported IS NOT NULL, false) AS _cost_line
  FROM {source} c
  LEFT JOIN resolution res
    ON res.provider IS NOT DISTINCT FROM c.provider AND res.model_raw IS NOT DISTINCT FROM c.model_raw
), joined AS (
  SELECT c.*, p.* EXCLUDE (catalog_id),
         coalesce(p.catalog_id, {catalog_id}) AS catalog_id,
         {text_in} AS _text_in, {text_out} AS _text_out
  FROM base c
  LEFT JOIN prices p
    ON p.price_key = c._price_key AND p.mode = c._mode
   AND coalesce(c.ts, TIMESTAMPTZ '9999-12-31 00:00:00+00') >= p.eff_from
   AND (p.eff_to IS NULL OR coalesce(c.ts, TIMESTAMPTZ '9999-12-31 00:00:00+00') < p.eff_to)
   AND c._tier_basis > p.tier_lo
   AND (p.tier_hi IS NULL OR c._tier_basis <= p.tier_hi)
   AND c._minute >= p.win_lo AND c._minute < p.win_hi
), regional AS (
  -- regional uplifts (Bedrock geo / in-region, US-only inference) scale token rates, not per-call fees
  SELECT j.* REPLACE (
      {scaled_rates}
    ), CASE WHEN r.region_multiplier IS NOT NULL THEN r.region END AS price_region
  FROM joined j
  LEFT JOIN regions r ON r.price_key = j._price_key AND r.eff_from = j.eff_from AND r.region = j._region
), flagged AS (
  SELECT *,
    (_has_usage AND eff_from IS NOT NULL) AS _priced,
    CASE WHEN service_tier = 'gateway_cache' THEN 'served from the gateway cache: not billed by the provider'
         WHEN NOT _has_usage AND status <> 'ok' THEN status || ' without usage: not billed' END AS _not_billed_why
  FROM regional
), usage AS (
  SELECT *, _not_billed_why IS NOT NULL AS _not_billed FROM flagged
)
"""

# per-call costs: exact Decimal arithmetic on every row (for the priced calls themselves)
_COST_SQL = """, costed AS (
  SELECT *,
    coalesce(greatest(_text_in, 0) * rate_input, 0) AS cost_input,
    coalesce(coalesce(cache_read_tokens, 0) * rate_cache_read, 0) AS cost_cache_read,
    coalesce(coalesce(cache_write_5m_tokens, 0) * rate_cache_write_5m, 0)
      + coalesce(coalesce(cache_write_1h_tokens, 0) * rate_cache_write_1h, 0) AS cost_cache_write,
    coalesce(greatest(_text_out, 0) * rate_output, 0) AS cost_output,
    coalesce(coalesce(input_audio_tokens, 0) * rate_input_audio, 0)
      + coalesce(coalesce(input_image_tokens, 0) * rate_input_image, 0)
      + coalesce(coalesce(output_audio_tokens, 0) * rate_output_audio, 0)
      + coalesce(coalesce(web_search_requests, 0) * rate_web_search, 0)
      + coalesce(coalesce(request_count, 1) * rate_request, 0)
      + coalesce(coalesce(cache_storage_token_hours, 0) * rate_cache_storage, 0) AS cost_other,
    coalesce(coalesce(cache_read_tokens, 0) * (rate_input - rate_cache_read), 0) AS _cache_saving,
    coalesce(coalesce(cache_write_5m_tokens, 0) * (rate_cache_write_5m - rate_input), 0)
      + coalesce(coalesce(cache_write_1h_tokens, 0) * (rate_cache_write_1h - rate_input), 0) AS _cache_premium,
    CASE WHEN eff_from IS NOT NULL THEN concat_ws('; ',
      CASE WHEN coalesce(cache_read_tokens, 0) > 0 AND borrowed_cache_read IS NOT NULL
           THEN 'cache reads at the ' || borrowed_cache_read || ' rate (no cache_read rate)' END,
      CASE WHEN coalesce(cache_write_1h_tokens, 0) > 0 AND borrowed_cache_write_1h IS NOT NULL
           THEN '1h cache writes at the ' || borrowed_cache_write_1h || ' rate (no cache_write_1h rate)' END,
      CASE WHEN _text_in > 0 AND rate_input IS NULL THEN 'input has no rate' END,
      CASE WHEN _text_out > 0 AND rate_output IS NULL THEN 'output has no rate' END,
      CASE WHEN coalesce(web_search_requests, 0) > 0 AND rate_web_search IS NULL
           THEN 'web searches have no rate' END,
      CASE WHEN coalesce(cache_storage_token_hours, 0) > 0 AND rate_cache_storage IS NULL
           THEN 'cache storage has no rate' END,
      CASE WHEN ts IS NULL THEN 'no timestamp: latest price' END,
      CASE WHEN row_kind = 'aggregate' AND request_count IS NOT NULL
           THEN 'aggregate: tier from the average call size' END,
      CASE WHEN row_kind = 'aggregate' AND request_count IS NULL
           THEN 'aggregate without a request count: base tier' END) END AS _missing
  FROM usage
)
SELECT {call_columns},
  coalesce(_catalog_model, model) AS model, coalesce(provider, _catalog_provider) AS provider,
  catalog_id, price_provider, price_model, price_version, price_tier, _mode AS price_mode,
  price_window, price_region, price_source,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN cost_input END AS cost_input,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN cost_cache_read END AS cost_cache_read,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN cost_cache_write END AS cost_cache_write,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN cost_output END AS cost_output,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN cost_other END AS cost_other,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN _cache_saving END AS cache_read_saving_usd,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15) WHEN _priced THEN _cache_premium END AS cache_write_premium_usd,
  CASE WHEN _not_billed THEN 0::DECIMAL(38,15)
       WHEN _priced THEN cost_input + cost_cache_read + cost_cache_write + cost_output + cost_other END AS cost_usd,
  _priced OR _not_billed AS priced,
  {unpriced_reason} AS unpriced_reason,
  CASE WHEN _not_billed THEN _not_billed_why
       ELSE nullif(concat_ws('; ', price_note, nullif(_missing, '')), '') END AS price_note
FROM costed
"""

# the unpriced reason of a call whose model id no catalog entry matches
UNKNOWN_MODEL = "unknown model"
_UNPRICED_REASON = f"""CASE WHEN _priced OR _not_billed THEN NULL
       WHEN _cost_line AND NOT _has_usage THEN 'cost line (no usage)'
       WHEN _price_key IS NULL AND model_raw IS NULL THEN 'no model'
       WHEN _price_key IS NULL THEN '{UNKNOWN_MODEL}'
       WHEN NOT _has_usage THEN 'missing usage'
       ELSE 'before first price' END"""

# billable quantities per call, as integers: every cost is linear in them, so a summary can sum the
# quantities per price (`_pid`, `price_region`) and multiply once per group instead of once per call
BILLED_QUANTITIES = {
    "input": "greatest(_text_in, 0)",
    "cache_read": "coalesce(cache_read_tokens, 0)",
    "cache_write_5m": "coalesce(cache_write_5m_tokens, 0)",
    "cache_write_1h": "coalesce(cache_write_1h_tokens, 0)",
    "output": "greatest(_text_out, 0)",
    "input_audio": "coalesce(input_audio_tokens, 0)",
    "input_image": "coalesce(input_image_tokens, 0)",
    "output_audio": "coalesce(output_audio_tokens, 0)",
    "web_search": "coalesce(web_search_requests, 0)",
    "request": "coalesce(request_count, 1)",
    "cache_storage": "coalesce(cache_storage_token_hours, 0)",
}
_USAGE_SQL = """
SELECT {call_columns},
  coalesce(_catalog_model, model) AS model, coalesce(provider, _catalog_provider) AS provider,
  price_tier, _mode AS price_mode, price_region,
  _priced OR _not_billed AS priced,
  {unpriced_reason} AS unpriced_reason,
  CASE WHEN _priced AND NOT _not_billed THEN _pid END AS _pid
  {quantities}
FROM usage
"""


def register_catalog(con: duckdb.DuckDBPyConnection, source: str, catalog: Catalog) -> pl.DataFrame:
    """Register the small dimension tables pricing joins: `resolution` (per distinct provider and model
    id), `prices` (one row per version x mode x tier x window, numbered `_pid`, returned) and `regions`."""
    # execute, not sql(): a caller may have left a result pending (`fetchone`), which sql() refuses
    rows = con.execute(f"SELECT DISTINCT provider, model_raw FROM {source}").fetchall()
    pairs = pl.DataFrame(rows, schema={"provider": pl.String, "model_raw": pl.String}, orient="row")
    resolution = _resolution(pairs, catalog)
    keys = resolution["_price_key"].drop_nulls().unique().to_list()
    con.register("resolution", resolution)
    prices = catalog.table_for(keys).with_row_index("_pid")
    con.register("prices", prices)
    con.register("regions", catalog.regions_for(keys))
    return prices


# what a rollup row (`rollup.py`) carries instead of the per-call facts: the same names, precomputed
_ROLLED_UP_FACTS = {
    "{minute}": "c._minute",
    "{tier_basis}": "c._tier_basis",
    "{has_usage}": "c._has_usage",
    "{text_in}": "NULL::BIGINT",  # its quantities are summed already (`_q_<unit>`)
    "{text_out}": "NULL::BIGINT",
}
_PER_CALL_FACTS = {
    "{minute}": MINUTE_SQL,
    "{tier_basis}": TIER_BASIS_SQL,
    "{has_usage}": HAS_USAGE_SQL,
    "{text_in}": TEXT_IN_SQL,
    "{text_out}": TEXT_OUT_SQL,
}


def _build(
    con: duckdb.DuckDBPyConnection,
    source: str,
    catalog: Catalog,
    tail: str,
    extra: str = "",
    register: bool = True,
    rolled_up: bool = False,
) -> tuple[str, list[str]]:
    columns = [row[0] for row in con.execute(f"DESCRIBE {source}").fetchall()]
    if register:
        register_catalog(con, source, catalog)
    passthrough = ", ".join(quote_identifier(c) for c in columns if c not in ("model", "provider"))
    sql = _PRICE_SQL + tail
    for placeholder, fact in (_ROLLED_UP_FACTS if rolled_up else _PER_CALL_FACTS).items():
        sql = sql.replace(placeholder, fact)
    return (
        sql.replace("{catalog_id}", quote_literal(catalog.catalog_id))
        .replace("{scaled_rates}", _SCALED_RATES)
        .replace("{mode}", _MODE_SQL)
        .replace("{unpriced_reason}", _UNPRICED_REASON)
        .replace("{quantities}", extra)
        .replace("{call_columns}", passthrough)
        .replace("{source}", source)
    ), columns


def priced_sql(
    con: duckdb.DuckDBPyConnection, source: str, catalog: Catalog, *, catalog_registered: bool = False
) -> str:
    """A SELECT over relation `source` (CALL_SCHEMA columns, plus any extras, which pass through) giving
    CALL_SCHEMA + PRICE_SCHEMA columns, then the extras.

    Registers the small dimension tables it joins (`resolution`, `prices`, `regions`) in `con` (unless
    `catalog_registered`: `register_catalog` ran on a relation with the same models); the calls are never
    copied out of DuckDB, so this prices a history store or a workspace of any size."""
    inner, columns = _build(con, source, catalog, _COST_SQL, register=not catalog_registered)
    extras = [c for c in columns if c not in CALL_SCHEMA and c not in PRICE_SCHEMA]
    wanted = [*CALL_SCHEMA, *PRICE_SCHEMA, *extras]
    return f"SELECT {', '.join(quote_identifier(c) for c in wanted)} FROM ({inner})"


def usage_sql(
    con: duckdb.DuckDBPyConnection, source: str, catalog: Catalog, *, catalog_registered: bool = False
) -> str:
    """What summaries need from pricing, without per-call Decimal arithmetic: the calls of `source` with
    model, provider, price_tier, price_mode, price_region, priced and unpriced_reason as `priced_sql` gives
    them, the price that applies (`_pid`, null when the call costs nothing or is unpriced) and its billed
    quantities `_q_<unit>`. Cost = sum of quantity x rate (see `rates_sql`), exactly as per call.
    `catalog_registered`: `priced_sql` already registered this catalog for this source (saves a scan)."""
    quantities = "".join(f",\n  {sql} AS _q_{unit}" for unit, sql in BILLED_QUANTITIES.items())
    inner, _ = _build(con, source, catalog, _USAGE_SQL, quantities, register=not catalog_registered)
    return inner


def rolled_up_usage_sql(
    con: duckdb.DuckDBPyConnection, source: str, catalog: Catalog, *, catalog_registered: bool = False
) -> str:
    """`usage_sql` over groups of calls (a store rollup, `rollup.py`): each row carries its calls' summed
    quantities `_q_<unit>` and the facts that pick their price (`_minute`, `_tier_basis`, `_has_usage`,
    the same for every call of the group as far as the catalog can tell), so one price per group."""
    inner, _ = _build(con, source, catalog, _USAGE_SQL, "", register=not catalog_registered, rolled_up=True)
    return inner


RATE_UNITS = (*TOKEN_RATE_UNITS, "web_search", "request", "cache_storage")


def quantity_cost_sql(units: tuple[str, ...] | list[str] = tuple(BILLED_QUANTITIES)) -> str:
    """SQL for the cost of summed quantities `_q_<unit>` at rates `rate_<unit>` (see `rates_sql`): a
    missing rate or quantity costs nothing, as in the per-call pricing."""
    return " + ".join(f"coalesce(_q_{unit} * rate_{unit}, 0)" for unit in units)


def rates_sql() -> str:
    """Per (`_pid`, `price_region`) the rates of each billed quantity, regional uplifts applied to token
    rates (not to per-request fees), as the per-call pricing applies them. Needs `register_catalog`."""
    scaled = ", ".join(
        f"(p.rate_{u} * {'coalesce(r.region_multiplier, 1)' if u in TOKEN_RATE_UNITS else '1'})"
        f"::DECIMAL(38,15) AS rate_{u}"
        for u in RATE_UNITS
    )
    plain = ", ".join(f"p.rate_{u}::DECIMAL(38,15) AS rate_{u}" for u in RATE_UNITS)
    return (
        f"SELECT p._pid, r.region AS price_region, {scaled} FROM prices p "
        "JOIN regions r ON r.price_key = p.price_key AND r.eff_from = p.eff_from "
        "WHERE r.region_multiplier IS NOT NULL "
        f"UNION ALL SELECT p._pid, NULL AS price_region, {plain} FROM prices p"
    )


# the call columns pricing may change (the catalog's id and provider fill them in); the others pass through
PRICING_SETS = ("model", "provider")


def price(calls: pl.DataFrame | pl.LazyFrame, catalog: Catalog) -> pl.DataFrame:
    """Reprice every call; returns CALL_SCHEMA + PRICE_SCHEMA columns, input order kept.

    Unknown models, calls before a model's first price and calls without usage are unpriced
    (cost null, `unpriced_reason` set) — never $0. Error rows without usage cost 0 (not billed).
    """
    return price_columns(calls, catalog, [*CALL_SCHEMA, *PRICE_SCHEMA])


def price_columns(calls: pl.DataFrame | pl.LazyFrame, catalog: Catalog, columns: list[str]) -> pl.DataFrame:
    """Only `columns` (of CALL_SCHEMA + PRICE_SCHEMA) of `price(calls, catalog)`, input order kept: a
    counterfactual that needs one cost (reconcile reprices a run of calls up to 13 times) is not charged
    for building and copying back the other ~60 columns (50k calls: 0.16 s instead of 0.25 s)."""
    schema = {**CALL_SCHEMA, **PRICE_SCHEMA}
    unknown = [c for c in columns if c not in schema]
    if unknown:
        raise ValueError(f"price_columns: not a call or price column: {', '.join(unknown)}")
    frame = calls.collect() if isinstance(calls, pl.LazyFrame) else calls
    frame = conform(frame.select([c for c in frame.columns if c in CALL_SCHEMA]), CALL_SCHEMA)
    # only what pricing computes makes the round trip through DuckDB; the call's other columns are taken
    # from `frame` as they are (100k calls, every column: 0.17 instead of 0.31 CPU-s)
    computed = [c for c in columns if c in PRICE_SCHEMA or c in PRICING_SETS]
    con = scratch_cursor()
    try:
        con.register("calls_in", frame.with_row_index("_row"))
        inner = priced_sql(con, "calls_in", catalog)
        selected = ", ".join(quote_identifier(c) for c in [*computed, "_row"])
        priced = con.sql(f"SELECT {selected} FROM ({inner})").pl()
    finally:
        con.close()
    if priced.height != frame.height:  # every join is a LEFT join on a unique key: one row per call
        raise RuntimeError(f"pricing returned {priced.height} rows for {frame.height} calls")
    # back to input order in polars: DuckDB's ORDER BY carries every column through its sort
    priced = priced.sort("_row").drop("_row")
    taken = frame.select(c for c in columns if c not in computed)
    return conform(pl.concat([taken, priced], how="horizontal"), {c: schema[c] for c in columns})
