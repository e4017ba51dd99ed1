"""One batch ahead on a thread: producing the next batch overlaps consuming the current one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def read_ahead(batches: Iterator[T]) -> Iterator[T]:
    """`batches`, the next one made on a thread while the caller works on the current one: block reads,
    decompression, Arrow's line splitting and DuckDB queries release the GIL, so making a batch overlaps
    using the one before (reading logs overlaps parsing them; an export's next slice of calls is queried
    while the last is written). Errors surface in the caller, in order; closing the iterator early waits
    for the batch in the making."""
    slot: queue.Queue = queue.Queue(maxsize=1)  # at most one batch ahead: memory stays two batches
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                slot.put(batch)
                if stop.is_set():
                    return
            slot.put(done)
        except BaseException as exc:  # re-raised by the consumer
            slot.put(exc)
        finally:  # a generator left early lets go of what it holds (an open query) here, not at collection
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, daemon=True, name="llmaudit-read-ahead")
    thread.start()
    try:
        while (item := slot.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full slot
            try:
                slot.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()
