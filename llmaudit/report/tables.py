"""Terminal rendering with rich: coverage first (what was read and what was not), then the money."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llmaudit.money import usd
from llmaudit.report.rows import duplicates_summary

TOP_ROWS = 15


def _breakdown_table(
    title: str,
    keys: list[str],
    rows: list[dict[str, Any]],
    limit: int = TOP_ROWS,
    omitted: dict[str, Any] | None = None,
) -> Table:
    """The costliest `limit` rows; `omitted`: what the report itself left out of a long list."""
    table = Table(title=title, title_justify="left", expand=False)
    for key in keys:
        table.add_column(key)
    for name in ("calls", "input tok", "output tok", "cost", "share"):
        table.add_column(name, justify="right")
    for row in rows[:limit]:
        cost = usd(row["cost_usd"]) if row["cost_usd"] is not None else "[yellow]unpriced[/]"
        if row["cost_usd"] is not None and row.get("unpriced_calls"):
            cost += f" [yellow](+{row['unpriced_calls']} unpriced)[/]"
        table.add_row(
            *[Text(str(row.get(k)) if row.get(k) is not None else "—") for k in keys],
            f"{row['calls']:,}",
            f"{row['input_tokens'] or 0:,}",
            f"{row['output_tokens'] or 0:,}",
            cost,
            f"{row['share']:.1%}",
        )
    more = max(len(rows) - limit, 0)
    if omitted:
        table.caption = (
            f"{more + omitted['rows']:,} more rows (the report keeps the {len(rows):,} costliest; "
            f"--by {keys[0]} --format csv lists all)"
        )
    elif more:
        table.caption = f"{more} more rows (use --format json or csv for all)"
    return table


def _coverage(cov: dict[str, Any], store_rollup: dict[str, Any] | None = None) -> Panel:
    lines = Text()
    lines.append(f"{cov['rows_read']:,} rows read from {cov['files']} file(s) ")
    lines.append(", ".join(f"{n} {fmt}" for fmt, n in cov["formats"].items()), style="dim")
    lines.append(f"\n{cov['calls']:,} calls: {cov['priced']:,} priced, ")
    lines.append(f"{cov['unpriced']:,} unpriced", style="yellow" if cov["unpriced"] else "")
    if cov.get("cost_lines"):
        lines.append(
            f" ({cov['cost_lines']:,} of them cost lines: recorded money, no usage to reprice)", style="dim"
        )
    lines.append(f"; {cov['rejected']:,} rows rejected", style="red" if cov["rejected"] else "")
    lines.append(
        f"; {cov['collapsed']:,} duplicate copies collapsed; {cov['skipped']:,} non-call rows skipped"
    )
    if cov["outside_period"]:
        lines.append(f"; {cov['outside_period']:,} calls outside --since/--until")
    if not cov["reconciles"]:
        lines.append("\ncounts do not reconcile: please report this", style="bold red")
    for model in cov["unpriced_models"][:8]:
        lines.append(f"\n  unknown model {model['model_raw']!s}: {model['calls']:,} calls", style="yellow")
    for reason, count in cov["unpriced_reasons"].items():
        if reason not in ("unknown model", "cost line (no usage)"):
            lines.append(f"\n  unpriced ({reason}): {count:,} calls", style="yellow")
    for sample in cov["rejects_sample"][:5]:
        lines.append(f"\n  rejected {sample}", style="red")
    if cov["rejected"] > 5:
        lines.append(f"\n  ... {cov['rejected'] - 5:,} more rejected rows (see --format json)", style="red")
    for item in cov["unknown_format_files"]:
        lines.append(f"\n  not read (unknown format): {item['file']} ({item['rows']:,} rows)", style="red")
    if cov["calls_without_timestamp"]:
        lines.append(
            f"\n  {cov['calls_without_timestamp']:,} calls have no timestamp: priced at the latest "
            "catalog version",
            style="yellow",
        )
    if store_rollup is not None:  # a history-store re-analysis: how it was priced, and why
        how = "repriced per group from its rollup" if store_rollup["used"] else "repriced call by call"
        why = f" ({store_rollup['why_not']})" if store_rollup["why_not"] else ""
        lines.append(f"\nhistory store {how}{why}", style="dim")
    return Panel(lines, title="coverage", title_align="left")


def _totals(data: dict[str, Any]) -> Panel:
    tot, cache = data["totals"], data["cache"]
    text = Text()
    text.append("Repriced cost  ", style="bold")
    text.append(usd(tot["cost_usd"]), style="bold green")
    text.append(
        f"   input {usd(tot['cost_input_usd'])} · cache reads {usd(tot['cost_cache_read_usd'])} · "
        f"cache writes {usd(tot['cost_cache_write_usd'])} · output {usd(tot['cost_output_usd'])} · "
        f"other {usd(tot['cost_other_usd'])}",
        style="dim",
    )
    if tot["cost_reported_usd"] is not None:
        text.append(
            f"\nRecorded by the sources {usd(tot['cost_reported_usd'])} on {tot['calls_with_reported_cost']:,} rows"
        )
    if tot["cost_reported_compared_usd"] is not None:
        text.append(
            f"; on the {tot['calls_compared']:,} repriced: recorded {usd(tot['cost_reported_compared_usd'])} vs "
            f"repriced {usd(tot['cost_repriced_where_reported_usd'])}, difference "
            f"{usd(tot['reported_minus_repriced_usd'])} (llmaudit reconcile explains it)"
        )
    text.append("\nPrompt cache  ", style="bold")
    text.append(
        f"reads saved {usd(cache['read_saving_usd'])} ({cache['cache_read_tokens']:,} tokens), "
        f"writes cost {usd(cache['write_premium_usd'])} above input "
        f"({cache['cache_write_5m_tokens']:,} 5m + {cache['cache_write_1h_tokens']:,} 1h tokens): net "
    )
    net = cache["net_saving_usd"]
    text.append(usd(net), style="green" if net >= 0 else "red")
    period = data["period"]
    if period["first"] is not None:
        text.append(
            f"\nPeriod {period['first']:%Y-%m-%d %H:%M} → {period['last']:%Y-%m-%d %H:%M} UTC", style="dim"
        )
    text.append(f"\nCatalog {data['catalog']['id']} ({data['catalog']['models']} models)", style="dim")
    return Panel(text, title="totals", title_align="left")


def _exposure(data: dict[str, Any]) -> Table:
    table = Table(title="long-context tiers and service modes", title_justify="left")
    for name in ("kind", "name", "calls", "cost"):
        table.add_column(name, justify="right" if name in ("calls", "cost") else "left")
    for kind in ("tiers", "modes"):
        for row in data[kind]:
            table.add_row(kind[:-1], str(row["name"]), f"{row['calls']:,}", usd(row["cost_usd"]))
    return table


def _duplicates(dup: dict[str, Any]) -> Group:
    parts: list[Any] = [Text(duplicates_summary(dup))]
    if dup["top"]:
        table = Table(title="most expensive repeated requests", title_justify="left")
        for name in (
            "model",
            "feature",
            "calls",
            "repeats $",
            f"≤{dup['window_hours']} h $",
            "first",
            "last",
        ):
            table.add_column(name, justify="right" if name == "calls" or name.endswith("$") else "left")
        for row in dup["top"][:5]:
            table.add_row(
                Text(str(row["model"] or "—")),
                Text(str(row["feature"] or "—")),
                f"{row['calls']:,}",
                usd(row["repeat_cost_usd"]),
                usd(row["repeat_cost_within_window_usd"]),
                f"{row['first']:%m-%d %H:%M}" if row["first"] else "—",
                f"{row['last']:%m-%d %H:%M}" if row["last"] else "—",
            )
        parts.append(table)
    return Group(*parts)


def render_table(data: dict[str, Any], console: Console) -> None:
    parts: list[Any] = [_coverage(data["coverage"], data.get("store_rollup")), _totals(data)]
    if "breakdown" in data:
        parts.append(
            _breakdown_table(
                f"by {', '.join(data['breakdown']['by'])}", data["breakdown"]["by"], data["breakdown"]["rows"]
            )
        )
    else:
        parts.append(_breakdown_table("by model", ["model"], data["by_model"]))
        parts.append(_breakdown_table("by day", ["day"], data["by_day"], limit=31))
        for name in ("feature", "user", "project", "key"):
            if f"by_{name}" in data:
                omitted = data.get("omitted", {}).get(f"by_{name}")
                parts.append(_breakdown_table(f"by {name}", [name], data[f"by_{name}"], 10, omitted))
    parts.append(_exposure(data))
    if "duplicates" in data:
        parts.append(_duplicates(data["duplicates"]))
    console.print(Group(*parts))
