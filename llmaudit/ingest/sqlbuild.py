"""Compile a JsonReader into one DuckDB SELECT: parse once into a STRUCT, then plain field accesses."""

from __future__ import annotations

import json
import re

from llmaudit.ingest.spec import RAW_FIELDS, JsonReader


def _insert(shape: dict, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        shape.setdefault(head, "VARCHAR")
        return
    if rest[0].isdigit():
        child = shape.get(head)
        if not isinstance(child, list):
            child = [{}]
            shape[head] = child
        if len(rest) > 1:
            _insert(child[0], rest[1:])
        return
    child = shape.get(head)
    if not isinstance(child, dict):
        child = {}
        shape[head] = child
    _insert(child, rest)


def struct_shape(paths: set[str]) -> dict:
    """json_transform structure for a set of dotted paths; a path that is also a parent stays a struct."""
    shape: dict = {}
    for path in sorted(paths, key=lambda p: -p.count(".")):
        _insert(shape, path.split("."))
    return shape


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def path_sql(path: str) -> str:
    """Struct access for a dotted path: r."usage"."prompt_tokens", lists 1-based in DuckDB."""
    sql = "r"
    for part in path.split("."):
        sql = f"{sql}[{int(part) + 1}]" if part.isdigit() else f"{sql}.{_quote(part)}"
    return sql


def _render(expr: str) -> str:
    return re.sub(r"\{([^{}]+)\}", lambda m: path_sql(m.group(1)), expr)


def reader_sql(reader: JsonReader, source: str) -> str:
    """SELECT over `source(line, text)` yielding `line` plus every RAW_FIELDS column as VARCHAR/BOOLEAN."""
    shape = struct_shape(reader.all_paths()) or {"_": "VARCHAR"}
    columns = []
    for name in RAW_FIELDS:
        if name in reader.exprs:
            expr = _render(reader.exprs[name])
        elif name in reader.paths:
            candidates = [path_sql(p) for p in reader.paths[name]]
            expr = candidates[0] if len(candidates) == 1 else f"coalesce({', '.join(candidates)})"
        elif name == "source_format":
            expr = f"'{reader.name}'"
        else:
            expr = "NULL"
        columns.append(f"  ({expr})::VARCHAR AS {name}")
    shape_literal = json.dumps(shape).replace("'", "''")
    return (
        "SELECT line, text,\n"
        + ",\n".join(columns)
        + f"\nFROM (SELECT line, text, json_transform(text, '{shape_literal}') AS r FROM {source})"
    )
