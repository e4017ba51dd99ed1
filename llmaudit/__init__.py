"""llmaudit: where your LLM API money went, what was wasted, and what a different policy would have cost.

Library API (the CLI is a thin layer over it)::

    import llmaudit
    report = llmaudit.analyze("logs/")                  # read, reprice, summarize
    calls = llmaudit.read_logs("logs/").calls           # the normalized calls table (CALL_SCHEMA)
    priced = llmaudit.price(calls, llmaudit.load_catalog())

Names are imported lazily so `llmaudit --help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "llmaudit.analysis",
    "Report": "llmaudit.analysis",
    "read_logs": "llmaudit.ingest",
    "scan_logs": "llmaudit.ingest",
    "load_catalog": "llmaudit.catalog",
    "price": "llmaudit.pricing",
    "CALL_SCHEMA": "llmaudit.schema",
    "PRICE_SCHEMA": "llmaudit.schema",
    "HistoryStore": "llmaudit.store",
    "reconcile": "llmaudit.reconciliation",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'llmaudit' has no attribute {name!r}")
