"""Read logs of any supported format into one calls frame, with every input row accounted for.

rows_read = calls + collapsed + skipped + rejected, where collapsed rows are extra copies of a call
(streaming snapshots, re-exports) and skipped rows are valid records that are not calls (user turns).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from llmaudit.errors import InputError
from llmaudit.ingest.files import _logical_suffix, discover, json_document_lines, read_bytes, split_lines
from llmaudit.ingest.generic import Mapping, csv_has_known_columns, csv_raw_frame, load_mapping
from llmaudit.ingest.normalize import collapse, normalize
from llmaudit.ingest.registry import json_readers, reader_names, sniff
from llmaudit.ingest.spec import RAW_FIELDS, JsonReader
from llmaudit.ingest.sqlbuild import reader_sql

__all__ = ["IngestResult", "Mapping", "load_mapping", "read_logs", "reader_names", "scan_logs"]

REJECT_SCHEMA = {"file": pl.String, "line": pl.Int64, "reason": pl.String, "format": pl.String}


@dataclass
class IngestResult:
    calls: pl.DataFrame
    rejects: pl.DataFrame
    skipped: pl.DataFrame
    rows_read: int
    collapsed: int
    files: dict[str, str] = field(default_factory=dict)  # file -> format
    unknown_files: dict[str, int] = field(
        default_factory=dict
    )  # file -> rows, not read: format not recognized

    @property
    def reconciles(self) -> bool:
        return (
            self.rows_read == self.calls.height + self.collapsed + self.skipped.height + self.rejects.height
        )


def _line_rejects(file: str, lines: pl.DataFrame, reason: str, fmt: str | None) -> pl.DataFrame:
    return lines.select(
        pl.lit(file).alias("file"),
        "line",
        pl.lit(reason).alias("reason"),
        pl.lit(fmt, dtype=pl.String).alias("format"),
    )


def _classify(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame, ends_with_newline: bool) -> pl.DataFrame:
    """Add `reason` for lines that are not JSON objects (malformed, torn last line, arrays, scalars)."""
    con.register("lines_in", lines)
    last = int(lines["line"].max()) if lines.height else 0
    torn = (
        ""
        if ends_with_newline
        else f"WHEN line = {last} THEN 'truncated last line (file does not end with a newline)'"
    )
    frame = con.sql(f"""
        SELECT line, text, CASE
            WHEN json_valid(text) THEN CASE WHEN json_type(text) = 'OBJECT' THEN NULL
                 ELSE 'not a JSON object (a JSON ' || CASE json_type(text) WHEN 'VARCHAR' THEN 'string'
                      WHEN 'ARRAY' THEN 'array' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null'
                      ELSE 'number' END || ')' END
            {torn}
            ELSE 'malformed JSON' END AS reason
        FROM lines_in ORDER BY line""").pl()
    con.unregister("lines_in")
    return frame


def _run_reader(con: duckdb.DuckDBPyConnection, reader: JsonReader, objects: pl.DataFrame) -> pl.DataFrame:
    con.register("objects_in", objects.select("line", "text"))
    frame = con.sql(reader_sql(reader, "objects_in")).pl()
    con.unregister("objects_in")
    return frame


def _empty_raw() -> pl.DataFrame:
    return pl.DataFrame(schema={"line": pl.Int64, "text": pl.String, **dict.fromkeys(RAW_FIELDS, pl.String)})


def _read_json_file(con, path: Path, data: bytes, readers: list[JsonReader], forced: JsonReader | None):
    """(raw frame, rejects, format name) for one JSON/JSONL file."""
    file = str(path)
    lines = (
        json_document_lines(data) if data.lstrip()[:1] == b"[" or _logical_suffix(path) == ".json" else None
    )
    if lines is None:
        lines = split_lines(data)
    classified = _classify(con, lines, data.endswith(b"\n") or _logical_suffix(path) == ".json")
    bad = classified.filter(pl.col("reason").is_not_null())
    objects = classified.filter(pl.col("reason").is_null())
    reader = forced or sniff(objects, readers)
    if reader is None:
        return None, lines.height, None
    rejects = bad.select(pl.lit(file).alias("file"), "line", "reason", pl.lit(reader.name).alias("format"))
    raw = _run_reader(con, reader, objects) if objects.height else _empty_raw()
    return raw, rejects, reader.name


def _read_csv_file(path: Path, data: bytes, mapping: Mapping):
    separator = "\t" if _logical_suffix(path) == ".tsv" else ","
    try:
        frame = pl.read_csv(
            io.BytesIO(data.removeprefix(b"\xef\xbb\xbf")),
            infer_schema=False,
            separator=separator,
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(f"{path}:1: not a readable CSV file: {str(exc).splitlines()[0]}") from None
    if not csv_has_known_columns(frame.columns, mapping):
        return None, frame.height, None
    # CSV line numbers: header is line 1 (quoted multi-line cells would shift this; noted in README).
    frame = frame.with_row_index("line", offset=2).with_columns(
        pl.col("line").cast(pl.Int64),
        pl.concat_str(pl.all().exclude("line").fill_null(""), separator=",").alias("text"),
    )
    return csv_raw_frame(frame, mapping), pl.DataFrame(schema=REJECT_SCHEMA), "generic_csv"


def read_logs(
    paths: list[str | Path] | str | Path,
    *,
    format: str = "auto",
    mapping: Mapping | str | Path | None = None,
) -> IngestResult:
    """Read every log file under `paths` into a calls frame (CALL_SCHEMA) with rejects and counts.

    `format` forces one reader by name (see `reader_names()`); `mapping` is a Mapping or a YAML mapping file
    for generic JSONL/CSV with your own field names.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    readers = json_readers(mapping)
    forced = None
    if format != "auto":
        forced = next((r for r in readers if r.name == format), None)
        if forced is None and format != "generic_csv":
            raise InputError(
                f"unknown input format {format!r}; known: auto, {', '.join(reader_names(mapping))}, generic_csv"
            )
    con = duckdb.connect()
    raws: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    formats: dict[str, str] = {}
    rows_read = 0
    unknown: dict[str, int] = {}
    for path in discover(paths):
        data = read_bytes(path)
        is_csv = _logical_suffix(path) in (".csv", ".tsv") or format == "generic_csv"
        raw, file_rejects, fmt = (
            _read_csv_file(path, data, mapping)
            if is_csv
            else _read_json_file(con, path, data, readers, forced)
        )
        if raw is None:
            unknown[str(path)] = file_rejects
            continue
        formats[str(path)] = fmt
        rows_read += raw.height + file_rejects.height
        raws.append(raw.with_columns(pl.lit(str(path)).alias("source_file")))
        rejects.append(file_rejects.cast(REJECT_SCHEMA))
    if not formats:
        raise InputError(
            f"{next(iter(unknown)) if len(unknown) == 1 else f'{len(unknown)} files'}: unknown log format "
            f"(known: {', '.join(reader_names(mapping))}, generic_csv; see --input-format/--mapping)"
        )
    raw = pl.concat([r.cast(dict.fromkeys(RAW_FIELDS, pl.String)) for r in raws], how="diagonal_relaxed")
    raw = _with_record_ids(con, raw)
    calls, skipped, row_rejects = normalize(raw)
    calls, collapsed = collapse(calls)
    all_rejects = pl.concat([*rejects, row_rejects.cast(REJECT_SCHEMA)]).sort(["file", "line"])
    return IngestResult(
        calls=calls,
        rejects=all_rejects,
        skipped=skipped,
        rows_read=rows_read,
        collapsed=collapsed,
        files=formats,
        unknown_files=unknown,
    )


def _with_record_ids(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame) -> pl.DataFrame:
    """Stable ids: the source key when the format has one (so re-exports collapse), else file + line + text."""
    con.register("raw_in", raw)
    frame = con.sql("""
        SELECT * EXCLUDE (text), line AS source_line,
               md5(CASE WHEN source_key IS NOT NULL THEN source_format || '|' || source_key
                        ELSE source_file || '|' || line || '|' || md5(text) END) AS record_id
        FROM raw_in""").pl()
    con.unregister("raw_in")
    return frame


def scan_logs(paths: list[str | Path] | str | Path, **options) -> pl.LazyFrame:
    """The calls of `read_logs` as a LazyFrame (rejects and counts: use read_logs)."""
    return read_logs(paths, **options).calls.lazy()
