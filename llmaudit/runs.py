"""Runs of whole key groups from a sorted stream of batches: how an export that groups calls by some keys
processes a history of any size a bounded run at a time, with the same result as one pass."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import polars as pl


def whole_groups(
    batches: Iterable[pl.DataFrame], keys: list[pl.Expr], run_rows: int
) -> Iterator[pl.DataFrame]:
    """Batches sorted by `keys` (equal keys adjacent), regrouped into runs that never split a group of equal
    keys (nulls equal): a run is cut once `run_rows` rows are pending, before the group that may go on in
    the next batch; yields at least one frame when `batches` yields one. Each batch is looked at once,
    so a group larger than a run costs no more than its rows."""
    pending: list[pl.DataFrame] = []
    rows = 0
    yielded = False
    previous_last: tuple | None = None  # the keys of the last row seen before this batch
    for batch in batches:
        if batch.is_empty():
            pending.append(batch)
            continue
        first, last_keys = (batch.select(keys).row(i) for i in (0, -1))
        pending.append(batch)
        rows += batch.height
        continues = previous_last is not None and first == previous_last
        previous_last = last_keys
        if rows < run_rows:
            continue
        # the rows with the batch's last keys may go on in the next batch; the rows before them are whole
        # groups (a batch of one key that goes on from the previous one keeps the group open)
        last = batch.select(pl.all_horizontal(key.eq_missing(key.last()) for key in keys)).to_series()
        if last.all():
            if continues:
                continue
            complete, pending = pending[:-1], [batch]
        else:
            complete, pending = [*pending[:-1], batch.filter(~last)], [batch.filter(last)]
        rows = pending[0].height
        if sum(frame.height for frame in complete):
            yielded = True
            yield pl.concat(complete)
    if pending and (not yielded or rows):
        yield pl.concat(pending)
