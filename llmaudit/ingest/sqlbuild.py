"""Compile a JsonReader into one DuckDB SELECT: parse once into a STRUCT, then plain field accesses."""

from __future__ import annotations

import json
import re

from llmaudit.db import quote_identifier, quote_literal
from llmaudit.ingest.spec import PARENT, RAW_FIELDS, JsonReader, split_path


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
    for parts in sorted((split_path(p) for p in paths), key=lambda parts: -len(parts)):
        _insert(shape, parts)
    return shape


def path_sql(path: str, root: str = "r", parent: str = "r", present: frozenset[str] | None = None) -> str:
    """Struct access for a dotted path: r."usage"."prompt_tokens", lists 1-based in DuckDB.

    In an exploding reader the root is the element `e`, and `_parent.` paths address `parent`: the record
    `r`, or the enclosing element when nested arrays are exploded. With `present` (see `pruned_shape`), a
    path through a key the input does not hold is NULL."""
    parts = split_path(path)
    if root != "r" and parts[0] == PARENT:
        root, parts = parent, parts[1:]
    if present is not None and any(not part.isdigit() and part not in present for part in parts):
        return "NULL"
    sql = root
    for part in parts:
        sql = f"{sql}[{int(part) + 1}]" if part.isdigit() else f"{sql}.{quote_identifier(part)}"
    return sql


def _render(expr: str, root: str = "r", parent: str = "r", present: frozenset[str] | None = None) -> str:
    return re.sub(r"\{([^{}]+)\}", lambda m: path_sql(m.group(1), root, parent, present), expr)


def record_shape(reader: JsonReader) -> dict:
    """The STRUCT every record is parsed into; an exploding reader nests its element paths in the array."""
    paths = reader.all_paths()
    if reader.explode is None:
        if any(split_path(p)[0] == PARENT for p in paths):
            raise ValueError(f"{reader.name}: `{PARENT}.` paths need an exploding reader")
        return struct_shape(paths) or {"_": "VARCHAR"}
    parent = {p for p in paths if split_path(p)[0] == PARENT}
    element = paths - parent
    if not element:
        raise ValueError(f"{reader.name}: an exploding reader reads at least one element path")
    levels = reader.explode_levels()
    inner = "".join(f"{level}.0." for level in levels)  # data.0.results.0.
    outer = "".join(f"{level}.0." for level in levels[:-1])  # data.0. (the enclosing element)
    nested = {f"{inner}{p}" for p in element}
    return struct_shape(nested | {outer + p.split(".", 1)[1] for p in parent})


def shape_keys(shape: dict) -> frozenset[str]:
    """Every key name a reader's STRUCT reads, at any depth."""
    keys: set[str] = set()
    for key, child in shape.items():
        keys.add(key)
        child = child[0] if isinstance(child, list) else child
        if isinstance(child, dict):
            keys |= shape_keys(child)
    return frozenset(keys)


def pruned_shape(shape: dict, present: frozenset[str]) -> dict:
    """`shape` without the keys not in `present`: a record has no such field, so reading it would only
    fill a null (a wide STRUCT costs DuckDB's JSON reader per field, present or not). A struct left
    without fields keeps its own (all of them absent: null)."""
    kept: dict = {}
    for key, child in shape.items():
        if key not in present:
            continue
        inner = child[0] if isinstance(child, list) else child
        if isinstance(inner, dict):
            narrowed = pruned_shape(inner, present)
            if narrowed:
                child = [narrowed] if isinstance(child, list) else narrowed
        kept[key] = child
    return kept


def _not_object_reason() -> str:
    kinds = (
        "CASE json_type(text) WHEN 'VARCHAR' THEN 'string' WHEN 'ARRAY' THEN 'array' "
        "WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' ELSE 'number' END"
    )
    return f"'not a JSON object (a JSON ' || {kinds} || ')'"


NO_TEXT = "a record without a source key needs its text for a stable id"
# a line of nothing but whitespace is not a record (and not a reject); ascii() first keeps the test cheap
_BLANK = "(l.text = '' OR (ascii(l.text) IN (9, 11, 12, 13, 32) AND trim(l.text, chr(9) || chr(11) || chr(12) || chr(13) || ' ') = ''))"


# a line of valid JSON that is an object (JSON lets whitespace, a tab too, come before it)
_OBJECT = "starts_with(ltrim(text, chr(9) || chr(10) || chr(13) || ' '), '{')"
# a line's record without what DuckDB's reader skips around one besides JSON whitespace (a form feed, a
# vertical tab), nor a byte-order mark (one opens each file of a concatenation of exports written by Windows
# tools), so both paths read such a line alike: the block path hands the numbered-lines path the lines its
# reader cannot take (a BOM-led one); only a line holding one of those characters is trimmed
_RECORD_TEXT = (
    "CASE WHEN contains(l.text, chr(11)) OR contains(l.text, chr(12)) OR contains(l.text, chr(65279)) "
    "THEN trim(l.text, chr(65279) || chr(9) || chr(11) || chr(12) || chr(13) || ' ') ELSE l.text END"
)


def struct_ddl(shape: dict | list | str) -> str:
    """The DuckDB type of a json_transform shape: read_json's `columns` take types, not shapes."""
    if isinstance(shape, str):
        return shape
    if isinstance(shape, list):
        return f"{struct_ddl(shape[0])}[]"
    return "STRUCT(" + ", ".join(f"{quote_identifier(k)} {struct_ddl(v)}" for k, v in shape.items()) + ")"


def parsed_lines_sql(reader: JsonReader, source: str, files: str) -> str:
    """`source(line, text, file_no)` (numbered lines of one or many files, blank ones included) joined to
    `files(file_no, source_file, torn_line)`, each non-blank line checked and parsed once into the reader's
    STRUCT `r`; the columns `reader_sql` reads."""
    shape_literal = quote_literal(json.dumps(record_shape(reader)))
    return f"""
    SELECT line, text, file_no, source_file, torn, _valid, _valid AND {_OBJECT} AS _is_object,
           CASE WHEN _valid AND {_OBJECT} THEN json_transform(text, {shape_literal}) END AS r
    FROM (SELECT *, json_valid(text) AS _valid
          FROM (SELECT l.line, {_RECORD_TEXT} AS text, l.file_no, f.source_file,
                       coalesce(l.line = f.torn_line, false) AS torn
                FROM {source} l JOIN {files} f ON f.file_no = l.file_no
                WHERE NOT {_BLANK}))"""


def parsed_file_sql(
    reader: JsonReader,
    path: str,
    file_no: int,
    source_file: str,
    first_line: int = 1,
    present: frozenset[str] | None = None,
    *,
    unreadable: bool = False,
    numbers: str | None = None,
    bundled: bool = False,
) -> str:
    """The columns of `parsed_lines_sql` for a JSONL file (or a block of one whose first line is
    `first_line`) parsed by DuckDB's own reader: one parse per line, no text handed over from Python.
    The reader skips blank lines: for a block without any, the row number is the line number; for one with
    some, `numbers` is a relation `(_i, line)` giving the line of the `_i`-th non-blank line (1-based), and
    `first_line` is not used. The text is not read: `reader_sql` fails on a record without a
    source key, whose id needs it. `present`: the only keys the block can hold (see `pruned_shape`); give
    `reader_sql` the same.

    The reader is lenient, so one bad line does not cost the block: a malformed line reads as null, and a
    line that is not an object, or an object with none of the shape's top-level keys, as a STRUCT of nulls
    (a field of the wrong type is null, as `json_transform` makes it). Only the other lines are selected;
    with `unreadable`, only the numbers (`line`) of those lines, for the caller to read them as numbered
    lines (whose reasons tell a malformed line from an array).

    `bundled`: the block is small files joined (`_Chunker.small_file`), and `numbers` also gives each row's
    `file_no` and `source_file` (`file_no` and `source_file` are not used); with `unreadable`, `line` is
    the row's position in the block (`_i`), not its line in its file."""
    shape = record_shape(reader)
    if present is not None:
        shape = pruned_shape(shape, present) or {"_": "VARCHAR"}
    fields = " OR ".join(f"r.{quote_identifier(key)} IS NOT NULL" for key in shape)
    readable = f"r IS NOT NULL AND ({fields})"  # never null
    file = (
        "file_no, source_file::VARCHAR AS source_file"
        if bundled
        else f"{int(file_no)}::BIGINT AS file_no, {quote_literal(source_file)} AS source_file"
    )
    if unreadable:
        columns, condition = "_i AS line" if bundled else "line", f"NOT ({readable})"
    else:
        columns = f"line, NULL::VARCHAR AS text, {file}, false AS torn, true AS _valid, true AS _is_object, r"
        condition = readable
    read = (
        f"read_json({quote_literal(path)}, format = 'newline_delimited', records = false, ignore_errors = true, "
        f"columns = {{r: {quote_literal(struct_ddl(shape))}}})"
    )
    # the lines are numbered before any is left out
    if numbers is None:
        numbered = f"SELECT row_number() OVER () + {int(first_line) - 1} AS line, r FROM {read}"
    else:
        kept = "_i, n.line, n.file_no, n.source_file" if bundled else "n.line"
        numbered = f"SELECT {kept}, p.r FROM (SELECT row_number() OVER () AS _i, r FROM {read}) p JOIN {numbers} n USING (_i)"
    return f"""
    SELECT {columns}
    FROM ({numbered})
    WHERE {condition}"""


def record_id_sql(element: str | None = None, text_md5: str = "md5(text)") -> str:
    """A row's stable id over columns source_key, source_format, source_file, line and text, as every
    history store holds it: md5 of the source key (with the format), else of the file, the line (with
    `element`, an exploded array's position) and the text's md5 (`text_md5`: how to get it, as SQL)."""
    place = "source_file || '|' || line || '|' || " + (f"{element} || '|' || " if element else "")
    return (
        "md5(CASE WHEN source_key IS NOT NULL THEN source_format || '|' || source_key "
        f"ELSE {place}{text_md5} END)"
    )


def reader_sql(
    reader: JsonReader, source: str, files: str | None = None, present: frozenset[str] | None = None
) -> str:
    """One pass over parsed records giving a reject `reason` for lines that are not JSON objects, and for
    the others every RAW_FIELDS column (VARCHAR) plus a stable `record_id`, `line`, `file_no`,
    `source_file` and `_elem` (the element's index in an exploding reader, else 0). `source` is a relation
    of numbered lines (with `files`: see `parsed_lines_sql`) or, without `files`, a parsed SELECT
    (`parsed_file_sql`). Blank lines give no row; the text is not returned. `torn_line` is a file's last
    line when the file does not end with a newline. `present`: as given to `parsed_file_sql` (a parsed
    file of a reader that does not explode)."""
    levels = reader.explode_levels()
    if present is not None and (levels or files is not None):
        raise ValueError("reader_sql: `present` is for a parsed file of a reader that does not explode")
    root = "r" if not levels else "e"
    parent = "r" if len(levels) < 2 else f"_x{len(levels) - 1}"
    columns = []
    for name in RAW_FIELDS:
        if name in reader.exprs:
            expr = _render(reader.exprs[name], root, parent, present)
        elif name in reader.paths:
            candidates = [path_sql(p, root, parent, present) for p in reader.paths[name]]
            expr = candidates[0] if len(candidates) == 1 else f"coalesce({', '.join(candidates)})"
        elif name == "source_format":
            expr = quote_literal(reader.name)
        elif name == "source_key":
            expr = "NULL"  # referenced by record_id below
        else:
            expr = "NULL"
        columns.append(f"  ({expr})::VARCHAR AS {name}")
    torn = "WHEN torn THEN 'truncated last line (file does not end with a newline)'"
    reason = f"CASE WHEN _is_object THEN NULL WHEN _valid THEN {_not_object_reason()} {torn} ELSE 'malformed JSON' END"
    fields = ",\n".join(columns)
    # a line that is not a record is reported under the reader's name, whatever its expressions say
    fmt = (
        f"CASE WHEN reason IS NULL THEN source_format ELSE {quote_literal(reader.name)} END AS source_format"
    )
    parsed = parsed_lines_sql(reader, source, files) if files is not None else source
    # without the text (a parsed file) a record without a source key cannot get its stable id: the query
    # fails and the caller reads the block as numbered lines instead
    by_text = "md5(text)" if files is not None else f"error({quote_literal(NO_TEXT)})::VARCHAR"
    if reader.explode is None:
        return f"""
SELECT * EXCLUDE (text, source_format), {fmt}, 0 AS _elem,
       {record_id_sql(text_md5=by_text)} AS record_id
FROM (
  SELECT line, text, file_no, source_file, {reason} AS reason,
{fields}
  FROM ({parsed}
  )
)"""
    # one row per array element (a null element when the array is missing or empty); `_element` (1-based,
    # `i.j` for nested arrays) keeps record ids unique among the elements of one record
    exploded = f"SELECT line, text, file_no, source_file, r, {reason} AS reason FROM ({parsed}\n    )"
    enclosing = "r"
    for depth, level in enumerate(levels, start=1):
        alias = "e" if depth == len(levels) else f"_x{depth}"
        array = path_sql(level, enclosing)
        exploded = f"""
    SELECT *, unnest(CASE WHEN len({array}) > 0 THEN {array} ELSE [NULL] END) AS {alias},
           unnest(CASE WHEN len({array}) > 0 THEN range(1, len({array}) + 1) ELSE [1] END) AS _i{depth}
    FROM ({exploded})"""
        enclosing = alias
    element = " || '.' || ".join(f"_i{depth}" for depth in range(1, len(levels) + 1))
    # read order among the elements of one line (for `_seq`): 8 bits per level, enough to keep order
    position = " + ".join(
        f"least(_i{depth}, 255) * {256 ** (len(levels) - depth)}" for depth in range(1, len(levels) + 1)
    )
    return f"""
SELECT * EXCLUDE (text, _element, source_format), {fmt},
       {record_id_sql(element="_element")} AS record_id
FROM (
  SELECT line, text, file_no, source_file, {element} AS _element, {position} AS _elem, reason,
{fields}
  FROM ({exploded}
  )
)"""
