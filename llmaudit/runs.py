"""Runs of whole key groups from a sorted stream of batches: how an export or a check that groups calls by
some keys processes a history of any size a bounded run at a time, with the same result as one pass."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import polars as pl


def whole_groups(
    batches: Iterable[pl.DataFrame], keys: list[pl.Expr], run_rows: int
) -> Iterator[pl.DataFrame]:
    """Batches sorted by `keys` (equal keys adjacent), regrouped into runs of at least `run_rows` rows (the
    last may be smaller) that never split a group of equal keys (nulls equal); yields at least one frame
    when `batches` yields one."""
    pending: list[pl.DataFrame] = []
    yielded = False
    for batch in batches:
        pending.append(batch)
        if sum(frame.height for frame in pending) < run_rows:
            continue
        run = pl.concat(pending)
        # the rows with the last row's keys may go on in the next batch; the others are whole groups
        last = run.select(pl.all_horizontal(key.eq_missing(key.last()) for key in keys)).to_series()
        complete, pending = run.filter(~last), [run.filter(last)]
        if complete.height:
            yielded = True
            yield complete
    if pending and (not yielded or sum(frame.height for frame in pending)):
        yield pl.concat(pending)
