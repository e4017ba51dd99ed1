"""The versioned JSON envelope: money as exact decimal strings, times as ISO 8601."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from llmaudit import __version__
from llmaudit.money import decimal_str


def plain(value: Any) -> Any:
    """JSON-ready copy: Decimal -> exact string, dates -> ISO text."""
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def render_json(schema: str, data: dict[str, Any]) -> str:
    envelope = {"schema": schema, "llmaudit_version": __version__, **plain(data)}
    return json.dumps(envelope, indent=2, ensure_ascii=False)
