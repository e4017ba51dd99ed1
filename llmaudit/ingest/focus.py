"""FinOps FOCUS cost and usage exports (CSV, FOCUS 1.0-1.2 column names), one aggregate row per charge row.

FOCUS rows are billing line items, not calls: every row is read as `row_kind = aggregate` with
`request_count` null (FOCUS has no request count), and none is dropped silently:

- LLM charges become aggregate rows. A row is an LLM charge when `ServiceSubcategory` is "Generative AI",
  when its `ConsumedUnit` counts tokens, or when the service, provider, publisher or SKU meter names an LLM
  vendor or service (OpenAI, Anthropic / Claude, Bedrock, Vertex AI / Gemini, Mistral, Cohere, DeepSeek...).
- Every other row (databases, licenses, the spec's SaaS examples) is skipped with the reason
  "not an LLM charge (FOCUS service: <ServiceName>)", so it is counted but never priced.

Money: `cost_reported` is `EffectiveCost` (the amortized cost of the charge: prepayments and commitments
spread over the usage they cover, so a Purchase row that is amortized elsewhere carries 0 and nothing is
counted twice), else `BilledCost`. Amounts like "$10,000.00 " (currency sign, thousands separators, a
trailing space, as the spec's own samples write them) are read as numbers. A `BillingCurrency` other than
USD is skipped with a reason.

Tokens: only a Usage charge whose `ConsumedUnit` counts tokens ("Tokens", "1K Tokens", "1M tokens") and is
not a virtual currency (`PricingCurrency` "Token" / credits) has tokens: `ConsumedQuantity` x the unit. Which
column they go to is read from the SKU meter (else the charge description): cache writes, cache reads
("cached input"), output ("output", "completion"), input ("input", "prompt", Azure's "Inp"). A token row
whose meter names no direction, and every non-token or non-Usage LLM row (purchases, credits, taxes,
per-request or per-hour meters), is a cost line: cost recorded, no usage (see `openai_usage` for how cost
lines are reported). A SKU meter naming "batch" marks batch pricing.

Attribution: `SubAccountId` -> project_id, `RegionId` -> region, a `feature` key in the `Tags` JSON ->
feature. The model is a model id found in the SKU meter, resource name or charge description
("gpt-4o-mini", "claude-sonnet-4-5", "o3"); the provider comes from the service / provider / publisher
names (Azure OpenAI -> azure, Amazon Bedrock -> aws-bedrock, Vertex AI -> google, ...).

Times: `ChargePeriodStart` / `ChargePeriodEnd`. The spec requires ISO 8601 UTC, but its sample files write
M/D/YY ("5/1/25"); those (and M/D/YYYY, with an optional time) are converted here to ISO text in UTC, so
`ingest.normalize` stays the one place that types timestamps.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader


def _sniff(row: dict[str, Any]) -> bool:
    columns = set(row)
    return "ChargePeriodStart" in columns and bool({"BilledCost", "EffectiveCost"} & columns)


def _col(name: str) -> str:
    """A cell: the CSV layer (ingest.read_logs) already trims cells and turns blank ones into nulls."""
    return f"{{{name}}}"


def _lower(*names: str) -> str:
    return "lower(concat_ws(' ', " + ", ".join(_col(n) for n in names) + "))"


# No `{n,m}` quantifiers in these patterns: braces are field placeholders in reader expressions.
_MDY = r"\d\d?/\d\d?/\d\d(\d\d)?( \d\d?:\d\d(:\d\d)?)?"
_MDY_FORMATS = (
    "['%m/%d/%y', '%m/%d/%Y', '%m/%d/%y %H:%M', '%m/%d/%Y %H:%M', '%m/%d/%y %H:%M:%S', '%m/%d/%Y %H:%M:%S']"
)


def _time(name: str) -> str:
    """M/D/YY[YY] [H:MM[:SS]] (the spec's samples) -> ISO UTC text; anything else is left to normalize."""
    text = _col(name)
    return (
        f"CASE WHEN regexp_full_match({text}, '{_MDY}') "
        f"THEN coalesce(strftime(try_strptime({text}, {_MDY_FORMATS}), '%Y-%m-%dT%H:%M:%S') || '+00:00', {text}) "
        f"ELSE {text} END"
    )


_UNIT = _lower("ConsumedUnit")
_TOKEN_UNIT = f"regexp_full_match({_UNIT}, '([0-9][0-9,]*)? *[km]? *tokens?')"
_UNIT_FACTOR = (
    f"(coalesce(try_cast(replace(regexp_extract({_UNIT}, '^([0-9][0-9,]*)', 1), ',', '') AS BIGINT), 1) "
    f"* CASE regexp_extract({_UNIT}, '([km]) *tokens?$', 1) WHEN 'k' THEN 1000 WHEN 'm' THEN 1000000 ELSE 1 END)"
)
_VIRTUAL = f"regexp_matches({_lower('PricingCurrency')}, 'token|credit')"
_USAGE_CHARGE = f"coalesce({_lower('ChargeCategory')}, 'usage') = 'usage'"
_QUANTITY = f"try_cast(replace({_col('ConsumedQuantity')}, ',', '') AS DECIMAL(38,6))"
_TOKENS = (
    f"CASE WHEN {_TOKEN_UNIT} AND NOT {_VIRTUAL} AND {_USAGE_CHARGE} AND {_QUANTITY} >= 0 "
    f"THEN round({_QUANTITY} * {_UNIT_FACTOR})::BIGINT END"
)


def _direction(text: str) -> str:
    """Which column a token meter feeds (llmaudit's own export names them "Input Tokens", "Cached Input
    Tokens", "Cache Write Tokens (1h)", "Output Audio Tokens", ...); null when the meter does not say."""
    write = "cache[ds]?[ _-]*(write|creation|created)"
    return (
        f"CASE WHEN regexp_matches({text}, '{write}.*(1h|1 ?hour|60 ?min)') THEN 'write_1h' "
        f"WHEN regexp_matches({text}, '{write}') THEN 'write' "
        f"WHEN regexp_matches({text}, 'cached|cache[ _-]*(read|hit|input)|\\bcchd') THEN 'read' "
        f"WHEN regexp_matches({text}, '(output|completion).*audio|audio.*(output|completion)') THEN 'output_audio' "
        f"WHEN regexp_matches({text}, 'output|completion|generated|\\boutp?\\b') THEN 'output' "
        f"WHEN regexp_matches({text}, 'audio') THEN 'input_audio' "
        f"WHEN regexp_matches({text}, 'image') THEN 'input_image' "
        f"WHEN regexp_matches({text}, 'input|prompt|\\binp\\b') THEN 'input' END"
    )


_DIRECTION = f"coalesce({_direction(_lower('SkuMeter'))}, {_direction(_lower('ChargeDescription'))})"


def _tokens(*directions: str) -> str:
    listed = ", ".join(f"'{d}'" for d in directions)
    return f"CASE WHEN {_DIRECTION} IN ({listed}) THEN {_TOKENS} END"


# web searches are counted in requests ("Web Search Requests", unit "Requests" or "1000 Requests")
_REQUEST_UNIT = (
    f"regexp_full_match({_UNIT}, '([0-9][0-9,]*)? *[km]? *(requests?|calls?|searches|quer(y|ies))')"
)
_SEARCHES = (
    f"CASE WHEN {_REQUEST_UNIT} AND {_USAGE_CHARGE} AND {_QUANTITY} >= 0 "
    f"AND regexp_matches({_lower('SkuMeter', 'ChargeDescription')}, 'search') "
    f"THEN round({_QUANTITY} * {_UNIT_FACTOR.replace('tokens?', '(requests?|calls?|searches|quer(y|ies))')})::BIGINT END"
)


_NAMES = _lower("ServiceName", "ProviderName", "PublisherName")
_LLM_WORDS = (
    r"openai|anthropic|claude|bedrock|gemini|vertex ai|mistral|cohere|deepseek|\bgpt-|\bllm\b|"
    r"language model|foundry models|generative ai"
)
_IS_LLM = (
    f"(regexp_matches({_lower('ServiceSubcategory')}, 'generative ai|large language') "
    f"OR ({_TOKEN_UNIT} AND NOT {_VIRTUAL}) "
    f"OR regexp_matches({_lower('ServiceName', 'ProviderName', 'PublisherName', 'SkuMeter')}, '{_LLM_WORDS}'))"
)
_MODEL_ID = (
    r"\b((gpt|chatgpt|claude|gemini|llama|mistral|mixtral|codestral|command|deepseek|grok|qwen|jamba|phi"
    r"|text-embedding|nova|titan)-[a-z0-9][a-z0-9.:_-]*|o[1-9](-[a-z0-9]+)*)\b"
)


def _model() -> str:
    """llmaudit's own export names the model (`x_Model`); otherwise a model id found in the meter text."""
    found = [_col("x_Model")]
    found += [
        f"nullif(regexp_extract({_lower(n)}, '{_MODEL_ID}', 1), '')" for n in ("SkuMeter", "ResourceName")
    ]
    found.append(f"nullif(regexp_extract({_lower('ChargeDescription')}, '{_MODEL_ID}', 1), '')")
    return "coalesce(" + ", ".join(found) + ")"


_PROVIDER = (
    f"CASE WHEN regexp_matches({_NAMES}, 'bedrock|amazon|aws') THEN 'aws-bedrock' "
    f"WHEN regexp_matches({_NAMES}, 'azure|microsoft') THEN 'azure' "
    f"WHEN regexp_matches({_NAMES}, 'vertex|google|gemini') THEN 'google' "
    f"WHEN regexp_matches({_NAMES}, 'openai') THEN 'openai' "
    f"WHEN regexp_matches({_NAMES}, 'anthropic|claude') THEN 'anthropic' "
    f"ELSE lower({_col('ProviderName')}) END"
)
_COST = f"coalesce({_col('EffectiveCost')}, {_col('BilledCost')})"

FOCUS = JsonReader(
    name="focus",
    description="FinOps FOCUS cost and usage CSV exports: LLM charges as aggregate rows, others skipped",
    sniff=_sniff,
    exprs={
        "row_kind": "'aggregate'",
        "ts": _time("ChargePeriodStart"),
        "ts_end": _time("ChargePeriodEnd"),
        "provider": _PROVIDER,
        "model_raw": _model(),
        "project_id": f"coalesce({_col('SubAccountId')}, {_col('SubAccountName')})",
        "region": f"lower({_col('RegionId')})",
        "feature": f"nullif(try(json_extract_string({_col('Tags')}, '$.feature')), '')",
        "user_id": f"nullif(try(json_extract_string({_col('Tags')}, '$.user')), '')",
        "service_tier": f"CASE WHEN {_lower('x_PriceMode')} NOT IN ('', 'standard') THEN {_lower('x_PriceMode')} END",
        "is_batch": f"CASE WHEN {_lower('x_PriceMode')} = 'batch' "
        f"OR regexp_matches({_lower('SkuMeter', 'ChargeDescription')}, '\\bbatch\\b') THEN 'true' END",
        "cost_reported": _COST,
        "input_includes_cache": "'false'",
        # audio and image tokens are parts of the uncached input (or of the output), as in CALL_SCHEMA
        "tok_input": _tokens("input", "input_audio", "input_image"),
        "tok_input_audio": _tokens("input_audio"),
        "tok_input_image": _tokens("input_image"),
        "tok_cache_read": _tokens("read"),
        "tok_cache_write_5m": _tokens("write"),
        "tok_cache_write_1h": _tokens("write_1h"),
        "tok_output": _tokens("output", "output_audio"),
        "tok_output_audio": _tokens("output_audio"),
        "tok_web_search": _SEARCHES,
        "skip_reason": f"CASE WHEN NOT {_IS_LLM} THEN 'not an LLM charge (FOCUS service: ' || "
        f"coalesce({_col('ServiceName')}, {_col('ServiceCategory')}, {_col('ChargeCategory')}, 'none named') || ')' "
        f"WHEN upper(coalesce({_col('BillingCurrency')}, 'USD')) <> 'USD' "
        f"THEN 'cost in ' || upper({_col('BillingCurrency')}) || ': only USD costs are read' "
        f"WHEN {_COST} IS NULL AND {_TOKENS} IS NULL AND {_SEARCHES} IS NULL "
        "THEN 'no cost and no usage in this charge' END",
    },
)

CSV_READERS = (FOCUS,)
