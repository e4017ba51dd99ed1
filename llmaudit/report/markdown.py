"""Markdown for pull-request comments and notes: totals, coverage and the main breakdown."""

from __future__ import annotations

from typing import Any

from llmaudit.money import usd
from llmaudit.report.rows import duplicates_summary, main_breakdown


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    cov, tot, cache = data["coverage"], data["totals"], data["cache"]
    lines = [
        "## llmaudit analyze",
        "",
        f"**Repriced cost: {usd(tot['cost_usd'])}** over {cov['calls']:,} calls "
        f"({cov['priced']:,} priced, {cov['unpriced']:,} unpriced, {cov['rejected']:,} rows rejected).",
    ]
    if tot["cost_reported_usd"] is not None:
        lines.append(
            f"Cost recorded by the sources: {usd(tot['cost_reported_usd'])} on {tot['calls_with_reported_cost']:,} rows."
        )
    if tot["cost_reported_compared_usd"] is not None:
        lines.append(
            f"On the {tot['calls_compared']:,} of them we repriced: recorded {usd(tot['cost_reported_compared_usd'])}, "
            f"repriced {usd(tot['cost_repriced_where_reported_usd'])} "
            f"(difference {usd(tot['reported_minus_repriced_usd'])}; see `llmaudit reconcile`)."
        )
    lines.append(
        f"Prompt cache: reads saved {usd(cache['read_saving_usd'])}, writes cost {usd(cache['write_premium_usd'])} "
        f"extra, net {usd(cache['net_saving_usd'])}."
    )
    if "duplicates" in data:
        lines.append(duplicates_summary(data["duplicates"]))
    keys, rows = main_breakdown(data)
    lines += ["", "| " + " | ".join([*keys, "calls", "cost", "share"]) + " |", "|" + "---|" * (len(keys) + 3)]
    for row in rows:
        cells = [_escape(str(row.get(k) if row.get(k) is not None else "—")) for k in keys]
        cost = usd(row["cost_usd"]) if row["cost_usd"] is not None else "unpriced"
        lines.append("| " + " | ".join([*cells, f"{row['calls']:,}", cost, f"{row['share']:.1%}"]) + " |")
    if cov["unpriced_models"]:
        names = ", ".join(
            f"`{_escape(str(m['model_raw']))}` ({m['calls']})" for m in cov["unpriced_models"][:10]
        )
        lines += ["", f"Unpriced models: {names}."]
    return "\n".join(lines) + "\n"
