"""Exact money: Decimal only, with one place that decides how amounts are written."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl

# Per-token rates carry 15 decimals: a catalog rate per 1M tokens with up to 9 decimals divides exactly.
MONEY_SCALE = 15
MONEY_DTYPE = pl.Decimal(38, MONEY_SCALE)
ZERO = Decimal(0)


def to_decimal(value: object) -> Decimal:
    """Decimal from a catalog or log value, going through text so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, int | float | str):
        return Decimal(str(value).strip())
    raise TypeError(f"not an amount: {value!r}")


def decimal_str(value: Decimal | None) -> str | None:
    """Exact decimal text for JSON: no exponent, no trailing zeros ("0.1065", "12", "0")."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def usd(value: Decimal | None, places: int | None = None) -> str:
    """Human dollars: cents for large amounts, more digits for tiny ones so nothing prints as $0.00."""
    if value is None:
        return "—"
    if places is None:
        magnitude = abs(value)
        places = 2 if magnitude >= 100 or magnitude == 0 else 4 if magnitude >= Decimal("0.01") else 6
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def sum_decimal(series: pl.Series) -> Decimal:
    """Exact sum of a Decimal column (0 for an empty or all-null column)."""
    total = series.sum()
    return ZERO if total is None else to_decimal(total)
