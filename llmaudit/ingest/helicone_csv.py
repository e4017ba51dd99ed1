"""Helicone CSV exports (`npx @helicone/export --format csv`): one row per request.

Columns: `response_id` (the key: the CSV has no request_id), `response_created_at`, `response_status`
(HTTP status; 0 or negative when no response was recorded), `request_created_at`, `request_body`,
`request_properties` (the `Helicone-Property-*` headers as JSON: `feature`, `project`,
`Helicone-Session-Id`), `request_user_id`, `model`, `prompt_tokens`, `completion_tokens`, `latency` (ms),
`cost` (USD; `cost_usd` in some versions of the tool). Some versions of the tool double the quotes of
JSON cells twice, so a JSON cell can read `{""feature"":""search""}`: both forms are read.

Token semantics: the same counts as the JSON export (see `ingest.helicone`): `prompt_tokens` EXCLUDES
cache reads and writes, `completion_tokens` excludes reasoning. The CSV drops the cache and reasoning
columns, so cache reads, cache writes and reasoning tokens are unknown (null, not zero): `input_total`
counts the uncached prompt only, and the repriced cost misses the cache reads and writes (and reasoning)
that Helicone's own `cost` includes, so reconciliation shows such calls below the recorded cost. Use the
JSON/JSONL export for exact cache economics. There is no provider column: the model alone is priced.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader


def _cell(name: str) -> str:
    """A cell: the CSV layer (ingest.read_logs) already trims cells and turns blank ones into nulls."""
    return f"{{{name}}}"


def _json_cell(name: str) -> str:
    """A JSON cell as JSON text: as written, or with the tool's doubled quotes undone."""
    cell = _cell(name)
    fixed = f"replace({cell}, '\"\"', '\"')"
    return f"CASE WHEN json_valid({cell}) THEN {cell} WHEN json_valid({fixed}) THEN {fixed} END"


_PROPERTIES = f"try(json_transform({_json_cell('request_properties')}, '\"MAP(VARCHAR, VARCHAR)\"'))"


def _property(*names: str) -> str:
    """First of the named custom properties, names matched without regard to case."""
    wanted = ", ".join(f"'{n.lower()}'" for n in names)
    return f"nullif(trim(list_filter(map_entries({_PROPERTIES}), lambda e: lower(e.key) IN ({wanted}))[1].value), '')"


_STATUS = "try_cast(try_cast({response_status} AS DOUBLE) AS INTEGER)"


def _sniff(row: dict[str, Any]) -> bool:
    columns = set(row)
    return {"response_id", "request_created_at", "response_status"} <= columns and bool(
        {"prompt_tokens", "completion_tokens"} & columns
    )


HELICONE_CSV = JsonReader(
    name="helicone_csv",
    description="Helicone CSV exports (@helicone/export --format csv: no cache token columns)",
    sniff=_sniff,
    exprs={
        "ts": _cell("request_created_at"),
        "ts_end": _cell("response_created_at"),
        "response_id": _cell("response_id"),
        "model_raw": _cell("model"),
        "cost_reported": f"coalesce({_cell('cost')}, {_cell('cost_usd')}, {_cell('costUSD')})",
        "latency_ms": f"coalesce({_cell('latency')}, {_cell('delay_ms')})",
        "tok_input": _cell("prompt_tokens"),
        "tok_output": _cell("completion_tokens"),
        "source_key": _cell("response_id"),
        "gateway": "'helicone'",
        "user_id": f"coalesce({_cell('request_user_id')}, {_property('Helicone-User-Id')})",
        "feature": _property("feature", "helicone-property-feature"),
        "project_id": _property("project", "helicone-property-project"),
        "session_id": _property("Helicone-Session-Id"),
        "status": f"CASE WHEN {_STATUS} IS NULL OR {_STATUS} BETWEEN 1 AND 399 THEN 'ok' ELSE 'error' END",
        "http_status": f"CASE WHEN {_STATUS} > 0 THEN {_STATUS} END",
        "error_type": f"CASE WHEN {_STATUS} <= 0 THEN 'no_response' END",
        "request_text": f"coalesce({_json_cell('request_body')}, {_cell('request_body')})",
        "input_includes_cache": "'false'",
        "output_excludes_reasoning": "'true'",
    },
)

CSV_READERS = (HELICONE_CSV,)
