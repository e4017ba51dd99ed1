"""Which breakdown a flat format (CSV, Markdown) shows, as rows of display text."""

from __future__ import annotations

from typing import Any

from llmaudit.money import decimal_str

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


def flat_rows(keys: list[str], rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
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
        out.append(flat)
    return out
