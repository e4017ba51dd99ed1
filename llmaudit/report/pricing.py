"""Rendering for the `pricing` commands: check findings, one model's prices, a catalog diff."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from llmaudit.money import decimal_str, usd

WARNINGS_SHOWN = 30


def render_check(findings: list, console: Console, github: bool) -> None:
    """Every error; warnings up to WARNINGS_SHOWN, then counts by rule (all of them: --format json)."""
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity != "error"]
    for finding in errors + warnings[:WARNINGS_SHOWN]:
        if github:
            console.print(
                f"::{finding.severity} file={finding.file},line={finding.line}::{finding.message} "
                f"[{finding.rule}]",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        else:
            style = "red" if finding.severity == "error" else "yellow"
            console.print(f"[{style}]{finding}[/]", highlight=False, soft_wrap=True)
    hidden = warnings[WARNINGS_SHOWN:]
    if hidden:
        by_rule: dict[str, int] = {}
        for finding in hidden:
            by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
        counts = ", ".join(f"{n} {rule}" for rule, n in sorted(by_rule.items(), key=lambda kv: -kv[1]))
        console.print(
            f"... {len(hidden)} more warnings ({counts}); all of them: --format json", highlight=False
        )
    console.print(f"{len(errors)} error(s), {len(warnings)} warning(s)", highlight=False)


def render_show(data: dict[str, Any], console: Console) -> None:
    console.print(
        f"[bold]{data['model']}[/] ({data.get('name') or ''}) matched from {data['query']!r}; "
        f"version in force at {data['at']}: {data['version']['effective_from']}",
        highlight=False,
    )
    console.print(
        f"source: {data['version']['source']}  checked: {data['version']['checked']}", highlight=False
    )
    if data["version"].get("note"):
        console.print(f"note: {data['version']['note']}", style="dim", highlight=False)
    units = data["units"]
    table = Table(title="USD per 1M tokens (web_search, request: per 1K)", title_justify="left")
    for name in ("mode", "tier", *units):
        table.add_column(name, justify="right" if name in units else "left")
    for row in data["rates"]:
        table.add_row(row["mode"], row["tier"], *[decimal_str(row[u]) or "—" for u in units])
    console.print(table)
    if data["regions"]:
        regions = ", ".join(f"{k} x{decimal_str(v)}" for k, v in data["regions"].items())
        here = f" (this id: {data['id_region']})" if data["id_region"] else ""
        console.print(f"regional multipliers of token rates: {regions}{here}", highlight=False)
    for window in data["windows"]:
        console.print(
            f"time-of-day window {window['hours_utc']} UTC: "
            + ", ".join(f"{k} {decimal_str(v)}" for k, v in window["rates"].items()),
            highlight=False,
        )
    if data["modes_priced_at_standard"]:
        console.print(
            f"not in catalog, priced at standard: {', '.join(data['modes_priced_at_standard'])}",
            style="dim",
            highlight=False,
        )
    history = Table(title="versions", title_justify="left")
    for name in ("effective_from", "input", "output", "cache_read", "source"):
        history.add_column(name)
    for version in data["versions"]:
        rates = version["rates"]
        history.add_row(
            str(version["effective_from"]),
            *[decimal_str(rates.get(u)) or "—" for u in ("input", "output", "cache_read")],
            version["source"] or "",
        )
    console.print(history)


def _impact_table(title: str, key: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (key, "calls", "old", "new", "delta"):
        table.add_column(name, justify="left" if name == key else "right")
    for row in rows[:20]:
        table.add_row(str(row[key]), f"{row['calls']:,}", usd(row["old"]), usd(row["new"]), usd(row["delta"]))
    return table


def render_diff(data: dict[str, Any], console: Console) -> None:
    models = data["models"]
    console.print(
        f"{data['old_catalog']} -> {data['new_catalog']}: {len(models['added'])} added, "
        f"{len(models['removed'])} removed, {len(models['repriced'])} repriced",
        highlight=False,
    )
    for item in models["repriced"][:30]:
        changes = (
            ", ".join(
                f"{c['unit']} {decimal_str(c['old']) or '—'} -> {decimal_str(c['new']) or '—'}"
                for c in item["latest_rate_changes"]
            )
            or "history or tiers changed"
        )
        console.print(f"  ~ {item['model']}: {changes}", highlight=False)
    for key in models["added"][:30]:
        console.print(f"  + {key}", style="green", highlight=False)
    for key in models["removed"][:30]:
        console.print(f"  - {key}", style="red", highlight=False)
    impact = data.get("impact")
    if impact:
        pct = "n/a" if impact["delta_pct"] is None else f"{impact['delta_pct']:+.2f}%"
        console.print(
            f"Impact on {impact['calls']:,} recorded calls: {usd(impact['old_cost_usd'])} -> "
            f"{usd(impact['new_cost_usd'])} ({usd(impact['delta_usd'])}, {pct})",
            highlight=False,
        )
        console.print(_impact_table("by model", "model", impact["by_model"]))
        if impact["by_feature"]:
            console.print(_impact_table("by feature", "feature", impact["by_feature"]))


def render_diff_markdown(data: dict[str, Any]) -> str:
    models = data["models"]
    lines = [
        "## llmaudit pricing diff",
        "",
        f"`{data['old_catalog']}` → `{data['new_catalog']}`: {len(models['added'])} added, "
        f"{len(models['removed'])} removed, {len(models['repriced'])} repriced.",
    ]
    impact = data.get("impact")
    if impact:
        pct = "n/a" if impact["delta_pct"] is None else f"{impact['delta_pct']:+.2f}%"
        lines += [
            "",
            f"**Impact on {impact['calls']:,} recorded calls: {usd(impact['old_cost_usd'])} → "
            f"{usd(impact['new_cost_usd'])} ({usd(impact['delta_usd'])}, {pct})**",
            "",
            "| model | calls | old | new | delta |",
            "|---|---|---|---|---|",
        ]
        for row in impact["by_model"][:20]:
            lines.append(
                f"| {row['model']} | {row['calls']:,} | {usd(row['old'])} | {usd(row['new'])} | "
                f"{usd(row['delta'])} |"
            )
    if models["repriced"]:
        lines += ["", "Repriced models: " + ", ".join(f"`{m['model']}`" for m in models["repriced"][:30])]
    return "\n".join(lines) + "\n"
