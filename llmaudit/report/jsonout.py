"""The versioned JSON envelope: money as exact decimal strings, times as ISO 8601."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from llmaudit import __version__
from llmaudit.money import decimal_str


class _Lazy(list):
    """The lazy sequences of a document, each standing in it as a placeholder string (NULs and a random
    token: no other text of the document can read like it) until it is written row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.token = uuid.uuid4().hex

    def placeholder(self, number: int) -> str:
        return f"\x00rows {number} {self.token}\x00"


def plain(value: Any, lazy: _Lazy | None = None) -> Any:
    """JSON-ready copy: Decimal -> exact string, dates -> ISO text. With `lazy`, a sequence that is not
    a list or tuple (`arrowrows.ArrowRows`: a breakdown's rows, rejected lines) is appended there and
    replaced by a placeholder."""
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v, lazy) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, lazy) for v in value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if lazy is None:
            return [plain(v) for v in value]
        lazy.append(value)
        return lazy.placeholder(len(lazy) - 1)
    return value


def _batches(rows: Sequence, size: int) -> Iterator[list]:
    pending = iter(rows)
    while batch := list(itertools.islice(pending, size)):
        yield batch


def iter_json(schema: str, data: dict[str, Any], rows_per_piece: int = 10_000) -> Iterator[str]:
    """The envelope as `render_json` gives it, in pieces: a long sequence of rows (a `--by` breakdown of a
    million users) is written `rows_per_piece` rows at a time instead of copied whole into the text (1M
    users: 548 MiB instead of 2.7 GiB, 31 s instead of 35)."""
    lazy = _Lazy()
    envelope = {"schema": schema, "llmaudit_version": __version__, **plain(data, lazy)}
    text = json.dumps(envelope, indent=2, ensure_ascii=False)
    for number, rows in enumerate(lazy):
        placeholder = json.dumps(lazy.placeholder(number), ensure_ascii=False)
        head, text = text.split(placeholder, 1)
        yield head
        if not rows:
            yield "[]"
            continue
        # as json.dumps(rows, indent=2) would write them at this depth (the indent of the line they end)
        line = head[head.rfind("\n") + 1 :]
        margin = line[: len(line) - len(line.lstrip(" "))]
        yield "["
        for index, batch in enumerate(_batches(rows, rows_per_piece)):
            # the batch's elements as json.dumps writes them in a list (without its brackets), indented
            body = json.dumps([plain(row) for row in batch], indent=2, ensure_ascii=False)[2:-2]
            yield ("," if index else "") + "\n" + margin + body.replace("\n", "\n" + margin)
        yield "\n" + margin + "]"
    yield text


def render_json(schema: str, data: dict[str, Any]) -> str:
    return "".join(iter_json(schema, data))
