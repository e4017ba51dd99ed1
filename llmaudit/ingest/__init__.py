"""Read logs of any supported format into one calls frame, with every input row accounted for.

rows_read = calls + collapsed + skipped + rejected, where collapsed rows are extra copies of a call
(streaming snapshots, re-exports) and skipped rows are valid records that are not calls (user turns).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from llmaudit.arrow import arrow_batches
from llmaudit.db import connect, quote_literal
from llmaudit.errors import InputError
from llmaudit.ingest.files import (
    LogSource,
    discover,
    iter_lines,
    json_document_lines,
    logical_suffix,
    open_source,
)
from llmaudit.ingest.generic import Mapping, csv_has_known_columns, csv_raw_frame, load_mapping
from llmaudit.ingest.normalize import collapse, normalize
from llmaudit.ingest.registry import (
    SNIFF_SAMPLE,
    csv_readers,
    json_readers,
    reader_names,
    sniff,
    sniff_objects,
)
from llmaudit.ingest.spec import RAW_FIELDS, JsonReader
from llmaudit.ingest.sqlbuild import reader_sql

__all__ = [
    "IngestResult",
    "Mapping",
    "StreamCounts",
    "load_mapping",
    "read_logs",
    "reader_names",
    "scan_logs",
    "stream_logs",
]

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


CHUNK_LINES = 100_000  # lines parsed and normalized at a time: bounds the wide intermediate frames (peak RSS)


def _tagged(batches: Iterable[pl.DataFrame], file: str) -> Iterator[pl.DataFrame]:
    """Batches of (line, text) with `source_file`, and `torn` (false unless the batch says otherwise)."""
    for batch in batches:
        if "source_file" in batch.columns:  # streamed lines come tagged
            yield batch
            continue
        torn = pl.col("torn") if "torn" in batch.columns else pl.lit(False).alias("torn")
        yield batch.select("line", "text", pl.lit(file).alias("source_file"), torn)


def _read_json_file(source: LogSource, readers: list[JsonReader], forced: JsonReader | None):
    """(reader, tagged line batches) for one JSON/JSONL file, or (None, rows) when its format is unknown.

    JSONL (compressed or not) is streamed from disk in blocks, so the text of a large file is never all
    in memory at once; whole JSON documents (small exports) are read at once."""
    path = source.path
    is_document = source.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" or logical_suffix(path) == ".json"
    lines = json_document_lines(source.read_all()) if is_document else None
    batches: Iterator[pl.DataFrame] = iter([lines]) if lines is not None else iter_lines(source, CHUNK_LINES)
    first = next(batches, pl.DataFrame(schema={"line": pl.Int64, "text": pl.String}))
    reader = forced or sniff(first, readers)
    if reader is None:
        return None, first.height + sum(batch.height for batch in batches)
    return reader, _tagged(itertools.chain([first], batches), str(path))


def _run_reader(con, reader: JsonReader, lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(raw frame with record_id and source_file, rejects) for tagged lines of one or many files."""
    con.register("lines_in", arrow_batches(lines))  # batches: DuckDB parses them on every core
    frame = con.sql(reader_sql(reader, "lines_in")).pl()
    con.unregister("lines_in")
    rejects = frame.filter(pl.col("reason").is_not_null()).select(
        pl.col("source_file").alias("file"), "line", "reason", pl.lit(reader.name).alias("format")
    )
    return frame.filter(pl.col("reason").is_null()).drop("reason"), rejects


def _read_csv_file(
    con, path: Path, data: bytes, mapping: Mapping, forced: JsonReader | None, generic_only: bool = False
):
    """(reader, tagged line batches) for a known CSV export; ("generic_csv", raw frame) for a generic CSV;
    (None, rows) when its columns are not recognized.

    A known export (csv_readers: OpenAI usage/costs downloads, FOCUS) is read by its reader, each row as a
    flat JSON object keyed by the header's names (values as text, empty cells null); any other CSV with
    model and token columns is generic_csv (always, with `generic_only`)."""
    frame, rows = _csv_frame(path, data)
    stripped = [c.strip() for c in frame.columns]
    if len(set(stripped)) == len(stripped):
        frame = frame.rename(dict(zip(frame.columns, stripped, strict=True)))
    reader = forced
    if reader is None and not generic_only:
        sample = frame.head(SNIFF_SAMPLE).to_dicts() or [dict.fromkeys(frame.columns)]
        reader = sniff_objects(sample, csv_readers())
    if reader is not None:
        # CSV line numbers: the header is line 1
        # blank cells, quoted or not, are unknown (null), never an empty value
        cells = [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in frame.columns]
        lines = frame.select(
            pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("line"),
            pl.struct(cells).struct.json_encode().alias("text"),
        )
        return reader, _tagged([lines], str(path))
    raw = _generic_csv(frame, mapping)
    if raw is None:
        return None, rows
    return "generic_csv", _with_record_ids(con, raw, str(path)).with_columns(
        pl.lit(str(path)).alias("source_file")
    )


def _csv_frame(path: Path, data: bytes) -> tuple[pl.DataFrame, int]:
    separator = "\t" if logical_suffix(path) == ".tsv" else ","
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
    return frame, frame.height


def _generic_csv(frame: pl.DataFrame, mapping: Mapping) -> pl.DataFrame | None:
    if not csv_has_known_columns(frame.columns, mapping):
        return None
    # CSV line numbers: header is line 1 (quoted multi-line cells would shift this; noted in README).
    frame = frame.with_row_index("line", offset=2).with_columns(
        pl.col("line").cast(pl.Int64),
        pl.concat_str(pl.all().exclude("line").fill_null(""), separator=",").alias("text"),
    )
    return csv_raw_frame(frame, mapping)


def _resolve_format(
    format: str, mapping: Mapping
) -> tuple[list[JsonReader], JsonReader | None, JsonReader | None]:
    readers = json_readers(mapping)
    forced = forced_csv = None
    if format != "auto":
        forced = next((r for r in readers if r.name == format), None)
        forced_csv = next((r for r in csv_readers() if r.name == format), None)
        if forced is None and forced_csv is None and format != "generic_csv":
            raise InputError(
                f"unknown input format {format!r}; known: auto, {', '.join(reader_names(mapping))}, generic_csv"
            )
    return readers, forced, forced_csv


# receives each normalized chunk: (calls, skipped, rejects)
ChunkSink = Callable[[pl.DataFrame, pl.DataFrame, pl.DataFrame], None]


@dataclass
class StreamCounts:
    """What a streamed ingest saw besides the rows it handed to its sink."""

    rows_read: int = 0
    files: dict[str, str] = field(default_factory=dict)  # file -> format
    unknown_files: dict[str, int] = field(default_factory=dict)  # file -> rows, format not recognized


def stream_logs(
    paths: list[str | Path] | str | Path,
    sink: ChunkSink,
    *,
    format: str = "auto",
    mapping: Mapping | str | Path | None = None,
) -> StreamCounts:
    """Read every log file under `paths`, handing normalized chunks of at most about CHUNK_LINES rows to
    `sink` as they are parsed: memory stays bounded by the chunk, not the logs (copies of a call across
    chunks are not collapsed here; see `read_logs`)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    readers, forced, forced_csv = _resolve_format(format, mapping)
    con = connect()
    # Arrow string views are polars' own string layout: the parsed fields reach polars without a copy
    con.execute("SET produce_arrow_string_view = true")
    counts = StreamCounts()
    pending: dict[str, tuple[JsonReader, list[pl.DataFrame]]] = {}

    def add(raw: pl.DataFrame, line_rejects: pl.DataFrame | None) -> None:
        counts.rows_read += raw.height
        if line_rejects is not None:
            counts.rows_read += line_rejects.height
        raw = raw.with_columns(
            *[pl.lit(None, dtype=pl.String).alias(f) for f in RAW_FIELDS if f not in raw.columns]
        ).cast(dict.fromkeys(RAW_FIELDS, pl.String))
        chunk_calls, chunk_skipped, chunk_rejects = normalize(raw)
        if line_rejects is not None and line_rejects.height:
            chunk_rejects = pl.concat([line_rejects.cast(REJECT_SCHEMA), chunk_rejects.cast(REJECT_SCHEMA)])
        sink(chunk_calls, chunk_skipped, chunk_rejects.cast(REJECT_SCHEMA))

    def flush(name: str) -> None:
        reader, frames = pending.pop(name)
        # one contiguous frame: thousands of per-file chunks would make every later step pay per chunk
        add(*_run_reader(con, reader, pl.concat(frames, rechunk=True)))

    for path in discover(paths):
        source = open_source(path)
        if logical_suffix(path) in (".csv", ".tsv") or format == "generic_csv":
            found, payload = _read_csv_file(
                con, path, source.read_all(), mapping, forced_csv, generic_only=format == "generic_csv"
            )
        else:
            found, payload = _read_json_file(source, readers, forced or forced_csv)
        if found is None:
            counts.unknown_files[str(path)] = payload
            continue
        if isinstance(found, str):  # generic CSV: already a raw frame
            counts.files[str(path)] = found
            add(payload, None)
            continue
        counts.files[str(path)] = found.name
        # many small files of one format share one query and one normalize pass; big files stream alone
        for batch in payload:
            if batch.height >= CHUNK_LINES:
                add(*_run_reader(con, found, batch))
                continue
            reader, frames = pending.setdefault(found.name, (found, []))
            frames.append(batch)
            if sum(f.height for f in frames) >= CHUNK_LINES:
                flush(found.name)
    for name in list(pending):
        flush(name)
    con.close()
    if not counts.files:
        unknown = counts.unknown_files
        raise InputError(
            f"{next(iter(unknown)) if len(unknown) == 1 else f'{len(unknown)} files'}: unknown log format "
            f"(known: {', '.join(reader_names(mapping))}, generic_csv; see --input-format/--mapping)"
        )
    return counts


def read_logs(
    paths: list[str | Path] | str | Path,
    *,
    format: str = "auto",
    mapping: Mapping | str | Path | None = None,
) -> IngestResult:
    """Read every log file under `paths` into a calls frame (CALL_SCHEMA) with rejects and counts.

    `format` forces one reader by name (see `reader_names()`); `mapping` is a Mapping or a YAML mapping file
    for generic JSONL/CSV with your own field names. Everything is held in memory: for logs larger than
    memory, `llmaudit.analyze` streams them into a DuckDB workspace instead.
    """
    calls: list[pl.DataFrame] = []
    skipped: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []

    def keep(chunk_calls: pl.DataFrame, chunk_skipped: pl.DataFrame, chunk_rejects: pl.DataFrame) -> None:
        calls.append(chunk_calls)
        skipped.append(chunk_skipped)
        rejects.append(chunk_rejects)

    counts = stream_logs(paths, keep, format=format, mapping=mapping)
    all_calls, collapsed = collapse(pl.concat(calls, how="vertical_relaxed"))
    return IngestResult(
        calls=all_calls,
        rejects=pl.concat(rejects).sort(["file", "line"]),
        skipped=pl.concat(skipped),
        rows_read=counts.rows_read,
        collapsed=collapsed,
        files=counts.files,
        unknown_files=counts.unknown_files,
    )


def _with_record_ids(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, file: str) -> pl.DataFrame:
    """Stable ids for CSV rows: the source key when present (re-exports collapse), else file + line + text."""
    con.register("raw_in", raw)
    frame = con.sql(f"""
        SELECT * EXCLUDE (text),
               md5(CASE WHEN source_key IS NOT NULL THEN source_format || '|' || source_key
                        ELSE {quote_literal(file)} || '|' || line || '|' || md5(text) END) AS record_id
        FROM raw_in""").pl()
    con.unregister("raw_in")
    return frame


def scan_logs(paths: list[str | Path] | str | Path, **options) -> pl.LazyFrame:
    """The calls of `read_logs` as a LazyFrame (rejects and counts: use read_logs)."""
    return read_logs(paths, **options).calls.lazy()
