"""CSV of the main breakdown, safe to open in a spreadsheet (formula-leading cells neutralized)."""

from __future__ import annotations

import csv
import io
from typing import Any

from llmaudit.report.rows import BREAKDOWN_FIELDS, flat_rows, main_breakdown

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """Prefix a quote so spreadsheets do not run a cell as a formula (numbers stay numbers)."""
    if cell.startswith(_FORMULA_START) and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def render_csv(data: dict[str, Any]) -> str:
    keys, rows = main_breakdown(data)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*keys, *BREAKDOWN_FIELDS])
    for row in flat_rows(keys, rows):
        writer.writerow([neutralize(row[k]) for k in (*keys, *BREAKDOWN_FIELDS)])
    return buffer.getvalue()
