"""How a JSON reader is declared: raw fields from JSON paths, compiled to one DuckDB query per file.

Each line is parsed once (`json_transform` into a STRUCT built from every path the reader uses); fields are
then plain struct accesses. Every raw field is text; `ingest.normalize` types and checks it in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The raw layer every reader produces (all VARCHAR unless noted in normalize).
RAW_FIELDS: tuple[str, ...] = (
    "source_format",
    "source_key",
    "row_kind",
    "request_count",
    "skip_reason",
    "reject_reason",
    "ts",
    "ts_end",
    "provider",
    "gateway",
    "region",
    "model_raw",
    "request_id",
    "response_id",
    "trace_id",
    "session_id",
    "user_id",
    "project_id",
    "api_key_id",
    "feature",
    "tags",
    "status",
    "http_status",
    "error_type",
    "finish_reason",
    "is_batch",
    "service_tier",
    "tok_input",
    "input_includes_cache",
    "tok_cache_read",
    "tok_cache_write",
    "tok_cache_write_5m",
    "tok_cache_write_1h",
    "tok_output",
    "output_excludes_reasoning",
    "tok_reasoning",
    "tok_input_audio",
    "tok_output_audio",
    "tok_input_image",
    "tok_web_search",
    "latency_ms",
    "cost_reported",
    "request_text",
    "response_text",
)


@dataclass(frozen=True)
class JsonReader:
    """A source format read from JSON objects.

    `paths`: raw field -> candidate dotted paths (first non-null wins; `choices.0.x` indexes a list).
    `exprs`: raw field -> SQL over the parsed struct `r` (use `{path}` placeholders), for constants and logic.
    `sniff`: does one decoded object look like this format? Used on the first lines of a file only.
    """

    name: str
    sniff: Callable[[dict[str, Any]], bool]
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exprs: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def all_paths(self) -> set[str]:
        import re

        found = {p for candidates in self.paths.values() for p in candidates}
        for expr in self.exprs.values():
            found.update(re.findall(r"\{([^{}]+)\}", expr))
        return found


def dig(obj: Any, path: str) -> Any:
    """Value at a dotted path in a decoded object (for sniffing only)."""
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit():
            obj = obj[int(part)] if int(part) < len(obj) else None
        else:
            return None
    return obj
