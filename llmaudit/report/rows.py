"""Which breakdown a flat format (CSV, Markdown) shows, as rows of display text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaudit.money import decimal_str, usd

BREAKDOWN_FIELDS = (
    "calls",
    "priced_calls",
    "unpriced_calls",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "share",
)


def main_breakdown(data: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(key columns, rows) of --by when given, else by model."""
    if "breakdown" in data:
        return list(data["breakdown"]["by"]), data["breakdown"]["rows"]
    return ["model"], data["by_model"]


def flat_rows(keys: list[str], rows: list[dict[str, Any]]) -> Iterator[dict[str, str]]:
    """Each row as text cells, one at a time (a --by breakdown can have a million rows)."""
    for row in rows:
        flat = {k: "" if row.get(k) is None else str(row[k]) for k in keys}
        for name in BREAKDOWN_FIELDS:
            value = row.get(name)
            flat[name] = (
                ""
                if value is None
                else decimal_str(value)
                if name == "cost_usd"
                else f"{value:.4f}"
                if name == "share"
                else str(value)
            )
        yield flat


def duplicates_summary(dup: dict[str, Any]) -> str:
    """One sentence on exact repeats, shared by the terminal and Markdown reports."""
    judged = f"{dup['calls_with_request']:,} of {dup['calls_with_request'] + dup['calls_without_request']:,}"
    if not dup["calls_with_request"]:
        return "Exact repeats: no call logged its request, so none can be judged."
    if not dup["repeat_calls"]:
        return f"Exact repeats: none among the {judged} successful calls that logged their request."
    unpriced = f" (+{dup['unpriced_repeats']:,} unpriced)" if dup["unpriced_repeats"] else ""
    return (
        f"Exact repeats: {dup['repeat_calls']:,} calls repeated an earlier identical request to the same model "
        f"({dup['groups']:,} distinct request{'' if dup['groups'] == 1 else 's'}), repriced at {usd(dup['repeat_cost_usd'])}{unpriced}; "
        f"{dup['repeat_calls_within_window']:,} came within {dup['window_hours']} h of the previous copy: "
        f"{usd(dup['repeat_cost_within_window_usd'])} a response cache with that TTL would have saved. "
        f"Judged on the {judged} successful calls that logged their request."
    )
