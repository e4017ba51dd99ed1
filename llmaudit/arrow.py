"""Arrow hand-off from polars to DuckDB."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

# DuckDB scans one registered Arrow batch per thread: batches of this size let it use every core
ARROW_BATCH_ROWS = 50_000


def arrow_batches(frame: pl.DataFrame) -> pa.Table:
    """`frame` as an Arrow table split into ARROW_BATCH_ROWS batches, so DuckDB reads it in parallel."""
    table = frame.to_arrow()
    return pa.Table.from_batches(table.to_batches(max_chunksize=ARROW_BATCH_ROWS), schema=table.schema)
