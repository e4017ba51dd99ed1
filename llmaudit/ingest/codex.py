"""Codex CLI session JSONL (`${CODEX_HOME:-~/.codex}/sessions/**/rollout-*.jsonl`): `{timestamp, type, payload}`.

A call is an `event_msg` line whose payload is a `token_count` with `info.last_token_usage` (the per-turn delta;
legacy lines with only the running `total_token_usage` are differenced against the previous line's total).
Token semantics: `input_tokens` INCLUDES `cached_input_tokens`; `output_tokens` includes `reasoning_output_tokens`.

The model is `info.model` when logged, else the latest `turn_context` line's `payload.model` before the event
(a window over each file's lines, so resolved within a read chunk of CHUNK_LINES lines).

Codex re-emits `token_count` events whose running total did not move (UI and rate-limit refreshes): they are
skipped. Forked and resumed sessions replay the parent's events into a new file: every event after a session's
first carries a content key (running total + delta), so the copies collapse with the original across files.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader

_LINE_TYPES = {"session_meta", "turn_context", "event_msg", "response_item", "compacted"}
_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")


def _sniff(obj: dict[str, Any]) -> bool:
    return obj.get("type") in _LINE_TYPES and isinstance(obj.get("payload"), dict) and "timestamp" in obj


def _usage(kind: str, field: str) -> str:
    return f"{{payload.info.{kind}_token_usage.{field}}}"


def _present(kind: str) -> str:
    return "(" + " OR ".join(f"{_usage(kind, f)} IS NOT NULL" for f in _FIELDS) + ")"


def _as_list(kind: str) -> str:
    return "[" + ", ".join(_usage(kind, f) for f in _FIELDS) + "]"


_IS_TOKEN_COUNT = "coalesce({type} = 'event_msg' AND {payload.type} = 'token_count', false)"
_HAS_LAST = _present("last")
_HAS_TOTAL = _present("total")
_TOTAL = _as_list("total")
_LAST = _as_list("last")
# the previous token_count line's running total in this file
_PREVIOUS = f"lag({_TOTAL}) OVER (PARTITION BY source_file, {_IS_TOKEN_COUNT} AND {_HAS_TOTAL} ORDER BY line)"
_REPEATED = f"({_HAS_TOTAL} AND {_PREVIOUS} IS NOT NULL AND {_TOTAL} IS NOT DISTINCT FROM {_PREVIOUS})"
_ZERO = "(" + " AND ".join(f"coalesce(try_cast({_usage('last', f)} AS DOUBLE), 0) = 0" for f in _FIELDS) + ")"


def _count(position: int, field: str) -> str:
    """The delta when logged; else the running total less the previous one (the total itself after a reset)."""
    total = _usage("total", field)
    previous = f"try_cast(({_PREVIOUS})[{position}] AS BIGINT)"
    delta = (
        f"CASE WHEN {previous} IS NULL OR try_cast({total} AS BIGINT) < {previous} THEN {total} "
        f"ELSE CAST(try_cast({total} AS BIGINT) - {previous} AS VARCHAR) END"
    )
    return f"CASE WHEN {_HAS_LAST} THEN {_usage('last', field)} ELSE {delta} END"


def _running(expr: str) -> str:
    """The latest non-null value of `expr` on this or an earlier line of the file."""
    return (
        f"last_value({expr} IGNORE NULLS) OVER (PARTITION BY source_file ORDER BY line "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )


_EVENT_MODEL = "coalesce({payload.info.model}, {payload.info.model_name})"
_CONTEXT_MODEL = "CASE WHEN {type} = 'turn_context' THEN {payload.model} END"

CODEX = JsonReader(
    name="codex",
    description="Codex CLI session JSONL (token_count events; re-emitted and replayed events counted once)",
    sniff=_sniff,
    paths={"ts": ("timestamp",)},
    exprs={
        "provider": "'openai'",
        "gateway": "'codex'",
        "model_raw": f"coalesce({_EVENT_MODEL}, {_running(f'coalesce({_EVENT_MODEL}, {_CONTEXT_MODEL})')})",
        "session_id": _running("CASE WHEN {type} = 'session_meta' THEN {payload.id} END"),
        "skip_reason": f"CASE WHEN NOT {_IS_TOKEN_COUNT} THEN 'no usage (' || coalesce({{type}}, 'untyped') "
        "|| CASE WHEN {type} = 'event_msg' THEN ' ' || coalesce({payload.type}, 'untyped') ELSE '' END || ' line)' "
        f"WHEN NOT ({_HAS_LAST} OR {_HAS_TOTAL}) THEN 'no usage (token_count without info)' "
        f"WHEN {_REPEATED} THEN 'repeated token_count (running total unchanged)' "
        f"WHEN {_HAS_LAST} AND {_ZERO} THEN 'no usage (token_count with zero counts)' END",
        # a session's first event (delta == running total) is keyed by file and line: two sessions can start
        # with the same counts; later events are keyed by content so a fork's replayed copy collapses
        "source_key": f"CASE WHEN {_IS_TOKEN_COUNT} AND {_HAS_LAST} AND {_HAS_TOTAL} "
        f"AND {_TOTAL} IS DISTINCT FROM {_LAST} THEN 'codex|' || "
        f"array_to_string(list_transform({_TOTAL} || {_LAST}, lambda x: coalesce(x, '')), ',') END",
        "tok_input": _count(1, "input_tokens"),
        "tok_cache_read": _count(2, "cached_input_tokens"),
        "tok_output": _count(3, "output_tokens"),
        "tok_reasoning": _count(4, "reasoning_output_tokens"),
        "input_includes_cache": "'true'",
    },
)

READERS = (CODEX,)
