"""A read-only sequence over an Arrow table's rows, each made into a Python value only when it is read.

Long lists in a report (a `--by user` breakdown over a million users, every rejected line of a bad log) stay
columns: as a list of dicts or strings they made a process of 1 to 3 GiB. The JSON and CSV writers read them
a piece at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import pyarrow as pa

_BATCH_ROWS = 10_000


class ArrowRows(Sequence[Any]):
    """The rows of `table` in order, each passed through `make` (a dict of the row's columns -> the item)."""

    def __init__(self, table: pa.Table, make: Callable[[dict[str, Any]], Any], name: str = "rows"):
        self.table, self._make, self._name = table, make, name

    def __len__(self) -> int:
        return self.table.num_rows

    def _items(self, table: pa.Table) -> Iterator[Any]:
        for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
            for row in batch.to_pylist():
                yield self._make(row)

    def __iter__(self) -> Iterator[Any]:
        return self._items(self.table)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            return list(self._items(self.table.slice(start, max(stop - start, 0))))
        position = range(len(self))[index]  # negative indices, and IndexError past the end
        return next(self._items(self.table.slice(position, 1)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArrowRows({len(self):,} {self._name})"
