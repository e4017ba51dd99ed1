"""OpenAI organization Usage API and Costs API exports, and the usage-dashboard CSV downloads.

Every row is an aggregate (`row_kind = aggregate`): one per result of a time bucket, never one per call.

Usage API (`GET /v1/organization/usage/completions`, also `/embeddings`): pages
`{"object": "page", "data": [{"object": "bucket", "start_time", "end_time", "results": [...]}]}`, read as
saved (one page per file, a JSON array of pages, or JSONL with one page per line), single buckets, and
bare result objects (`organization.usage.completions.result`). A result gives `request_count =
num_model_requests` (written `3.0` in CSV downloads); the bucket gives `ts` / `ts_end` (unix seconds, UTC).
Token semantics: `input_tokens` INCLUDES `input_cached_tokens` (cache reads) and `input_cache_write_tokens`;
`output_tokens` includes reasoning. The modality splits `input_audio_tokens` / `input_image_tokens` are
parts of the *uncached* input (`input_text + input_audio + input_image = input_uncached`) and map to the
columns of the same name; `output_audio_tokens` is part of the output.
Dimensions (`model`, `project_id`, `user_id`, `api_key_id`, `batch`, `service_tier`) are null unless the
export was grouped by them: a null `model` leaves the row unpriced ("no model": group by model to reprice),
and a null `batch` means "not grouped", so the bucket is priced at standard rates even if some of its
requests went through the Batch API. Results of other usage endpoints (images, audio, vector stores...)
carry no tokens and are skipped with their object name; empty buckets are skipped ("no usage").

Usage-dashboard CSV (`completions_usage_<from>_<to>.csv`): the same result fields as columns after
`start_time,end_time,start_time_iso,end_time_iso`; counts are floats (`59200.0`), `batch` is `TRUE`/`FALSE`;
a day without usage is a row with only the four time columns filled (skipped: "no usage in this bucket"),
and an export with no usage at all has only those four columns.

Costs API (`GET /v1/organization/costs`, results `organization.costs.result`) and the dashboard's cost CSV
(`amount_value, amount_currency, line_item, project_id, ...`): money, no tokens. Decision: a cost line is
an aggregate row with `cost_reported = amount.value` (USD, a float in dollars) and every token column and
`request_count` null, so the amount is kept, attributed (project, API key, day, and the model named by
`line_item` "gpt-4o-2024-08-06, input") and reconcilable, while it never adds calls or tokens to a usage
export of the same period. Such a row has nothing to reprice: it is a "cost line" (aggregate, no usage,
`cost_reported` set), which pricing reports as unpriced and reports should show under the cost recorded
by the source, not as missing coverage. The Costs API `quantity` is not read as tokens (a Usage API export
of the same days would count them twice). Costs in another currency than USD are skipped with a reason.

Re-downloads collapse: a bucket result's key is (bucket start, end, every grouping dimension), so the same
bucket saved twice (or as a page, a bucket and a bare result) is one row, the larger copy kept (a day
downloaded while still in progress and again later). Bare results without a bucket time have no key.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader

USAGE_OBJECTS = ("organization.usage.completions.result", "organization.usage.embeddings.result")
COSTS_OBJECT = "organization.costs.result"
_CSV_TIME_COLUMNS = {"start_time", "end_time", "start_time_iso", "end_time_iso"}


# --- sniffing --------------------------------------------------------------------------------------------


def _bucket_results(buckets: Any) -> list[dict] | None:
    """Results of a list of buckets, or None when it is not a list of OpenAI buckets."""
    if not isinstance(buckets, list) or not all(isinstance(b, dict) for b in buckets):
        return None
    if buckets and not any(b.get("object") == "bucket" or "start_time" in b for b in buckets):
        return None
    return [r for b in buckets for r in (b.get("results") or []) if isinstance(r, dict)]


def _is_usage_result(result: dict) -> bool:
    kind = result.get("object")
    if isinstance(kind, str):
        return kind.startswith("organization.usage.")
    return "num_model_requests" in result


def _is_cost_result(result: dict) -> bool:
    return result.get("object") == COSTS_OBJECT or isinstance(result.get("amount"), dict)


def _page_results(obj: dict[str, Any]) -> list[dict] | None:
    if obj.get("object") not in ("page", None) or "data" not in obj:
        return None
    return _bucket_results(obj["data"])


def _sniff_usage_page(obj: dict[str, Any]) -> bool:
    results = _page_results(obj)
    if results is None:
        return False
    # a page without any result says nothing about its endpoint: read it here (its rows are skipped)
    return any(_is_usage_result(r) for r in results) or (not results and obj.get("object") == "page")


def _sniff_costs_page(obj: dict[str, Any]) -> bool:
    results = _page_results(obj)
    return bool(results) and any(_is_cost_result(r) for r in results)


def _bucket_of(obj: dict[str, Any]) -> list[dict] | None:
    if obj.get("object") != "bucket" and not ("start_time" in obj and "results" in obj):
        return None
    return _bucket_results([obj])


def _sniff_usage_bucket(obj: dict[str, Any]) -> bool:
    results = _bucket_of(obj)
    return results is not None and (any(_is_usage_result(r) for r in results) or not results)


def _sniff_costs_bucket(obj: dict[str, Any]) -> bool:
    results = _bucket_of(obj)
    return bool(results) and any(_is_cost_result(r) for r in results)


def _sniff_usage_result(obj: dict[str, Any]) -> bool:
    # without its `object` a flat record is left to generic_jsonl (same semantics, and --mapping applies)
    return obj.get("object") in USAGE_OBJECTS


def _sniff_costs_result(obj: dict[str, Any]) -> bool:
    return obj.get("object") == COSTS_OBJECT


def _sniff_usage_csv(row: dict[str, Any]) -> bool:
    """A dashboard usage download: the four time columns, then (unless empty) the result columns. Other
    CSVs with these field names are left to generic_csv (same semantics, and --mapping applies)."""
    return _CSV_TIME_COLUMNS <= set(row) and "amount_value" not in row


def _sniff_costs_csv(row: dict[str, Any]) -> bool:
    return _CSV_TIME_COLUMNS <= set(row) and "amount_value" in row


# --- fields ------------------------------------------------------------------------------------------------


def _text(expr: str) -> str:
    return f"nullif(trim({expr}), '')"


def _time(expr: str) -> str:
    """Unix seconds as written (`1730419200`, or `1730419200.0` in CSV), as whole seconds text."""
    return f"coalesce(try_cast(try_cast({expr} AS DOUBLE) AS BIGINT)::VARCHAR, {_text(expr)})"


def _key(start: str, end: str, *dims: str) -> str:
    """Source key of a bucket result: its bucket and every grouping dimension (null without a bucket)."""
    parts = ", ".join(f"coalesce(lower({_text(d)}), '')" for d in dims)
    return f"CASE WHEN {start} IS NOT NULL THEN concat_ws('|', {_time(start)}, {_time(end)}, {parts}) END"


def _usage_reader(name: str, description: str, sniff, explode, bucket: str, flat_times: bool) -> JsonReader:
    """Fields of one usage result; `bucket` is the path prefix of its bucket ("_parent." or "" for flat
    rows that carry their own start_time / end_time columns)."""
    start = f"{{{bucket}start_time}}"
    end = f"{{{bucket}end_time}}"
    if flat_times:
        start = "coalesce({start_time}, {start_time_iso})"
        end = "coalesce({end_time}, {end_time_iso})"
    usage_fields = ("{input_tokens}", "{output_tokens}", "{num_model_requests}", "{model}")
    objects = ", ".join(f"'{o}'" for o in USAGE_OBJECTS)
    return JsonReader(
        name=name,
        description=description,
        sniff=sniff,
        explode=explode,
        paths={
            "model_raw": ("model",),
            "request_count": ("num_model_requests",),
            "is_batch": ("batch",),
            "tok_input": ("input_tokens",),
            "tok_cache_read": ("input_cached_tokens",),
            "tok_cache_write": ("input_cache_write_tokens",),
            "tok_output": ("output_tokens",),
            "tok_input_audio": ("input_audio_tokens",),
            "tok_output_audio": ("output_audio_tokens",),
            "tok_input_image": ("input_image_tokens",),
        },
        exprs={
            "source_format": "'openai_usage_csv'" if name.endswith("csv") else "'openai_usage_api'",
            "source_key": _key(
                start,
                end,
                "{object}",
                "{project_id}",
                "{user_id}",
                "{api_key_id}",
                "{model}",
                "{batch}",
                "{service_tier}",
            ),
            "row_kind": "'aggregate'",
            "provider": "'openai'",
            "ts": start,
            "ts_end": end,
            "project_id": _text("{project_id}"),
            "user_id": _text("{user_id}"),
            "api_key_id": _text("{api_key_id}"),
            "service_tier": _text("{service_tier}"),
            "input_includes_cache": "'true'",
            "skip_reason": f"CASE WHEN {{object}} IS NOT NULL AND {{object}} NOT IN ({objects}) "
            "THEN 'not a completions or embeddings usage result (' || {object} || ')' "
            f"WHEN coalesce({', '.join(usage_fields)}) IS NULL THEN 'no usage in this bucket' END",
        },
    )


def _line_item_model(line_item: str) -> str:
    """The model a cost line names ("gpt-4o-2024-08-06, input" -> gpt-4o-2024-08-06); null for labels that
    are not model ids ("Image models", "web search tool calls")."""
    head = f"trim(split_part({line_item}, ',', 1))"
    return f"CASE WHEN regexp_full_match({head}, '[A-Za-z0-9][A-Za-z0-9._:/-]*') THEN {head} END"


def _costs_reader(name: str, description: str, sniff, explode, bucket: str, csv: bool) -> JsonReader:
    if csv:
        start = "coalesce({start_time}, {start_time_iso})"
        end = "coalesce({end_time}, {end_time_iso})"
        amount, currency = "{amount_value}", "{amount_currency}"
        extra_key = ("{organization_id}",)
    else:
        start, end = f"{{{bucket}start_time}}", f"{{{bucket}end_time}}"
        amount, currency = "{amount.value}", "{amount.currency}"
        extra_key = ()
    return JsonReader(
        name=name,
        description=description,
        sniff=sniff,
        explode=explode,
        exprs={
            "source_format": "'openai_costs_csv'" if csv else "'openai_costs_api'",
            "source_key": _key(start, end, "{line_item}", "{project_id}", "{api_key_id}", *extra_key),
            "row_kind": "'aggregate'",
            "provider": "'openai'",
            "ts": start,
            "ts_end": end,
            "model_raw": _line_item_model("{line_item}"),
            "project_id": _text("{project_id}"),
            "api_key_id": _text("{api_key_id}"),
            "cost_reported": _text(amount),
            "skip_reason": "CASE "
            + (
                ""
                if csv
                else f"WHEN {{object}} IS NOT NULL AND {{object}} <> '{COSTS_OBJECT}' "
                "THEN 'not a costs result (' || {object} || ')' "
            )
            + f"WHEN {_text(amount)} IS NULL THEN 'no cost in this bucket' "
            f"WHEN lower(coalesce({_text(currency)}, 'usd')) <> 'usd' "
            f"THEN 'cost in ' || upper({currency}) || ': only USD costs are read' END",
        },
    )


USAGE_PAGE = _usage_reader(
    "openai_usage_api",
    "OpenAI organization Usage API pages (completions / embeddings): one aggregate row per bucket result",
    _sniff_usage_page,
    ("data", "results"),
    "_parent.",
    flat_times=False,
)
USAGE_BUCKET = _usage_reader(
    "openai_usage_bucket",
    "OpenAI Usage API buckets saved one per line: one aggregate row per result",
    _sniff_usage_bucket,
    "results",
    "_parent.",
    flat_times=False,
)
USAGE_RESULT = _usage_reader(
    "openai_usage_result",
    "OpenAI Usage API result objects (organization.usage.completions.result), without their bucket",
    _sniff_usage_result,
    None,
    "",
    flat_times=True,
)
COSTS_PAGE = _costs_reader(
    "openai_costs_api",
    "OpenAI organization Costs API pages: one cost line (USD, no tokens) per bucket result",
    _sniff_costs_page,
    ("data", "results"),
    "_parent.",
    csv=False,
)
COSTS_BUCKET = _costs_reader(
    "openai_costs_bucket",
    "OpenAI Costs API buckets saved one per line: one cost line per result",
    _sniff_costs_bucket,
    "results",
    "_parent.",
    csv=False,
)
COSTS_RESULT = _costs_reader(
    "openai_costs_result",
    "OpenAI Costs API result objects (organization.costs.result), without their bucket",
    _sniff_costs_result,
    None,
    "",
    csv=False,
)
USAGE_CSV = _usage_reader(
    "openai_usage_csv",
    "OpenAI usage-dashboard CSV downloads (start_time, end_time, ..., num_model_requests, input_tokens, ...)",
    _sniff_usage_csv,
    None,
    "",
    flat_times=True,
)
COSTS_CSV = _costs_reader(
    "openai_costs_csv",
    "OpenAI cost-dashboard CSV downloads (start_time, end_time, ..., amount_value, line_item, ...)",
    _sniff_costs_csv,
    None,
    "",
    csv=True,
)

READERS = (USAGE_PAGE, COSTS_PAGE, USAGE_BUCKET, COSTS_BUCKET, USAGE_RESULT, COSTS_RESULT)
CSV_READERS = (USAGE_CSV, COSTS_CSV)
