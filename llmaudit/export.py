"""Per-call export (`--out`): every CALL_SCHEMA column, the cost components and the pricing provenance."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from llmaudit.errors import InputError, UsageError

FORMATS = (".parquet", ".csv", ".jsonl")
_FORMULA = r"^[=+\-@\t\r]"


def _text_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Flat, exact text for CSV/JSONL: Decimal as text, lists joined, formula-leading strings quoted."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Decimal):
            exprs.append(col.cast(pl.String))
        elif isinstance(dtype, pl.List):
            exprs.append(col.list.join(";"))
        elif dtype == pl.String:
            exprs.append(
                pl.when(col.str.contains(_FORMULA) & col.cast(pl.Float64, strict=False).is_null())
                .then(pl.lit("'") + col)
                .otherwise(col)
                .alias(name)
            )
        else:
            exprs.append(col)
    return frame.select(exprs)


def write_calls(priced: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--out {path}: use a .parquet, .csv or .jsonl file name")
    frame = priced.drop("request_text", "response_text")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            frame.write_parquet(path)
        elif suffix == ".csv":
            _text_safe(frame).write_csv(path)
        else:
            _text_safe(frame).write_ndjson(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path
