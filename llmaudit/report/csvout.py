"""CSV of the main breakdown, safe to open in a spreadsheet (formula-leading cells neutralized)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
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


def iter_csv(data: dict[str, Any], rows_per_piece: int = 10_000) -> Iterator[str]:
    """The main breakdown as CSV text, a piece of `rows_per_piece` rows at a time (a `--by` breakdown can
    have a million rows)."""
    keys, rows = main_breakdown(data)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*keys, *BREAKDOWN_FIELDS])
    for number, row in enumerate(flat_rows(keys, rows), 1):
        writer.writerow([neutralize(row[k]) for k in (*keys, *BREAKDOWN_FIELDS)])
        if number % rows_per_piece == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def render_csv(data: dict[str, Any]) -> str:
    return "".join(iter_csv(data))
