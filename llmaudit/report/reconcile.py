"""Rendering of `llmaudit reconcile`: recorded vs repriced totals, differences by cause, largest ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llmaudit.money import usd

CAUSE_MODELS = 3


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}%"


def _summary(data: dict[str, Any]) -> Panel:
    tot, cov, tol = data["totals"], data["coverage"], data["tolerance"]
    text = Text()
    text.append(f"{cov['calls']:,} calls read ({cov['rejected']:,} rows rejected); ")
    text.append(f"{tot['calls_with_recorded_cost']:,} carry a cost recorded by the source")
    if not tot["calls_with_recorded_cost"]:
        text.append(
            "\nNothing to reconcile: no call carries a recorded cost (cost_reported). Gateways and agents "
            "(LiteLLM, Claude Code, OpenRouter, Helicone, Langfuse) record one; raw provider logs do not.",
            style="yellow",
        )
        return Panel(text, title="reconcile", title_align="left")
    text.append(f"\n{tot['calls_compared']:,} compared: ")
    rate = tot["match_rate_pct"]
    text.append(
        f"{tot['calls_matching']:,} match ({rate:.1f}%)" if rate is not None else "0 match",
        style="green" if tot["calls_differing"] == 0 else "",
    )
    text.append(f", {tot['calls_differing']:,} differ", style="red" if tot["calls_differing"] else "")
    if tot["calls_not_compared"]:
        text.append(
            f"; {tot['calls_not_compared']:,} unpriced, not compared "
            f"(recorded {usd(tot['recorded_not_compared_usd'])})",
            style="yellow",
        )
    text.append("\nRecorded ", style="bold")
    text.append(usd(tot["recorded_usd"]), style="bold")
    text.append("   repriced ", style="bold")
    text.append(usd(tot["repriced_usd"]), style="bold green")
    diff = tot["difference_usd"]
    text.append(f"   difference {usd(diff)} ({_pct(tot['difference_pct'])})", style="red" if diff else "")
    text.append(
        f"\nSum of per-call differences |recorded - repriced|: {usd(tot['mismatch_usd'])}"
        f" ({_pct(tot['mismatch_pct']).lstrip('+')} of repriced)",
        style="dim",
    )
    text.append(
        f"\nMatch: |recorded - repriced| <= max(${tol['absolute_usd']}, "
        f"{tol['relative'] * 100:g}% of the larger)",
        style="dim",
    )
    text.append(f"\nCatalog {data['catalog']['id']}", style="dim")
    return Panel(text, title="reconcile", title_align="left")


def _causes(data: dict[str, Any]) -> Table:
    table = Table(title="differences by cause", title_justify="left")
    for name in ("cause", "calls", "recorded", "repriced", "difference", "models"):
        table.add_column(
            name, justify="right" if name in ("calls", "recorded", "repriced", "difference") else "left"
        )
    for row in data["causes"]:
        models = "; ".join(
            m["detail"] or f"{m['model']} ({m['calls']:,})" for m in row["models"][:CAUSE_MODELS]
        )
        if len(row["models"]) > CAUSE_MODELS:
            models += f"; +{len(row['models']) - CAUSE_MODELS} more"
        table.add_row(
            Text(row["cause"]),
            f"{row['calls']:,}",
            usd(row["recorded_usd"]),
            usd(row["repriced_usd"]) if row["repriced_usd"] is not None else "unpriced",
            usd(row["difference_usd"]) if row["difference_usd"] is not None else "—",
            Text(models),
        )
    return table


def _largest(data: dict[str, Any]) -> Table:
    table = Table(title=f"largest differences (top {len(data['largest'])})", title_justify="left")
    for name in ("where", "model", "recorded", "repriced", "difference", "cause"):
        if name in ("recorded", "repriced", "difference"):
            table.add_column(name, justify="right", no_wrap=True)
        else:
            table.add_column(name, overflow="fold")
    for row in data["largest"]:
        table.add_row(
            Text(_short(row["location"])),
            Text(str(row["model"])),
            usd(row["recorded_usd"]),
            usd(row["repriced_usd"]) if row["repriced_usd"] is not None else "unpriced",
            usd(row["difference_usd"]) if row["difference_usd"] is not None else "—",
            Text(row["cause"]),
        )
    return table


def _short(location: str) -> str:
    """file:line relative to the working directory when the file is under it."""
    try:
        return str(Path(location).relative_to(Path.cwd()))
    except ValueError:
        return location


def render_table(data: dict[str, Any], console: Console) -> None:
    parts: list[Any] = [_summary(data)]
    if data["causes"]:
        parts += [_causes(data), _largest(data)]
    console.print(Group(*parts))


def _escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    tot = data["totals"]
    lines = ["## llmaudit reconcile", ""]
    if not tot["calls_with_recorded_cost"]:
        lines.append("No call carries a cost recorded by the source: nothing to reconcile.")
        return "\n".join(lines) + "\n"
    rate = tot["match_rate_pct"]
    lines.append(
        f"**Recorded {usd(tot['recorded_usd'])} vs repriced {usd(tot['repriced_usd'])}** "
        f"(difference {usd(tot['difference_usd'])}, {_pct(tot['difference_pct'])}) over "
        f"{tot['calls_compared']:,} calls; {tot['calls_matching']:,} match"
        + (f" ({rate:.1f}%)." if rate is not None else ".")
    )
    if tot["calls_not_compared"]:
        lines.append(
            f"{tot['calls_not_compared']:,} calls with a recorded cost ({usd(tot['recorded_not_compared_usd'])}) "
            "are unpriced and were not compared."
        )
    if data["causes"]:
        lines += [
            "",
            "| cause | calls | recorded | repriced | difference | detail |",
            "|---|---|---|---|---|---|",
        ]
        for row in data["causes"]:
            detail = "; ".join(m["detail"] or str(m["model"]) for m in row["models"][:CAUSE_MODELS])
            lines.append(
                f"| {_escape(row['cause'])} | {row['calls']:,} | {usd(row['recorded_usd'])} | "
                f"{usd(row['repriced_usd']) if row['repriced_usd'] is not None else 'unpriced'} | "
                f"{usd(row['difference_usd']) if row['difference_usd'] is not None else '—'} | "
                f"{_escape(detail)} |"
            )
        lines += ["", "| where | model | recorded | repriced | cause |", "|---|---|---|---|---|"]
        for row in data["largest"]:
            lines.append(
                f"| `{_escape(row['location'])}` | {_escape(row['model'])} | {usd(row['recorded_usd'])} | "
                f"{usd(row['repriced_usd']) if row['repriced_usd'] is not None else 'unpriced'} | "
                f"{_escape(row['cause'])} |"
            )
    return "\n".join(lines) + "\n"
