"""How a JSON reader is declared: raw fields from JSON paths, compiled to one DuckDB query per file.

Each line is parsed once (`json_transform` into a STRUCT built from every path the reader uses); fields are
then plain struct accesses. Every raw field is text; `ingest.normalize` types and checks it in one place.

Paths are dotted (`usage.prompt_tokens`); a digit indexes a list (`choices.0.finish_reason`); a key that itself
contains dots is double-quoted (`usageDetails."prompt_details.cache_read"`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PARENT = "_parent"  # path prefix for the enclosing record in an exploding reader (see JsonReader.explode)

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
    `explode`: path of an array in each record whose elements are the records of this format (a trace export
    holding its observations). Paths and placeholders then address the element; `_parent.` addresses the
    enclosing record (`{_parent.trace.userId}`). Every element is one row (its line is the record's line); a
    record whose array is missing or empty still yields one row with a null element, so it is accounted for.
    A tuple of paths explodes nested arrays, each path relative to an element of the previous one (a usage
    page `("data", "results")`: every result of every bucket); `_parent.` is then the enclosing element
    (the bucket), and an empty array at any level still yields one row with a null element.
    """

    name: str
    sniff: Callable[[dict[str, Any]], bool]
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exprs: dict[str, str] = field(default_factory=dict)
    description: str = ""
    explode: str | tuple[str, ...] | None = None

    def explode_levels(self) -> tuple[str, ...]:
        """The exploded array paths, outermost first (empty when the reader does not explode)."""
        if self.explode is None:
            return ()
        return (self.explode,) if isinstance(self.explode, str) else tuple(self.explode)

    @property
    def row_local(self) -> bool:
        """Each line is read on its own (no array explosion, no window over earlier lines): a file can
        then be read in independent blocks by DuckDB's own JSON reader (`sqlbuild.parsed_file_sql`)."""
        return self.explode is None and not any(" OVER (" in expr for expr in self.exprs.values())

    def all_paths(self) -> set[str]:
        import re

        found = {p for candidates in self.paths.values() for p in candidates}
        for expr in self.exprs.values():
            found.update(re.findall(r"\{([^{}]+)\}", expr))
        return found


def split_path(path: str) -> list[str]:
    """Parts of a dotted path; a double-quoted part may contain dots: `a."b.c".d` -> [a, b.c, d]."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in path:
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@functools.cache
def _path_parts(path: str) -> tuple[str, ...]:
    """`split_path`, once per path: sniffing digs the same few paths in every sampled object of every file."""
    return tuple(split_path(path))


def dig(obj: Any, path: str) -> Any:
    """Value at a dotted path in a decoded object (for sniffing only)."""
    for part in _path_parts(path):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit():
            obj = obj[int(part)] if int(part) < len(obj) else None
        else:
            return None
    return obj


_PROVIDER_ALIASES = {
    "aws-bedrock": ("bedrock", "bedrock_converse", "aws", "aws.bedrock", "amazon-bedrock", "aws_bedrock"),
    "google": (
        "vertex_ai",
        "vertex_ai_beta",
        "vertex",
        "vertexai",
        "gemini",
        "google_ai_studio",
        "gcp.vertex_ai",
        "gcp.gemini",
        "gcp.gen_ai",
        "google-vertex",
    ),
    "azure": ("azure_ai", "azure_openai", "az.ai.openai", "az.ai.inference"),
}


def provider_sql(expr: str) -> str:
    """SQL naming the serving provider as DESIGN §3 does (openai, google, aws-bedrock, azure, ...) from a
    gateway's provider label (LiteLLM `custom_llm_provider`, Helicone `provider`, OTel `gen_ai.system`)."""
    label = f"lower(trim({expr}))"
    whens = " ".join(
        f"WHEN '{alias}' THEN '{name}'" for name, aliases in _PROVIDER_ALIASES.items() for alias in aliases
    )
    return f"CASE {label} {whens} ELSE nullif({label}, '') END"
