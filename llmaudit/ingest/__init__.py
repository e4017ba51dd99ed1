"""Read logs of any supported format into one calls frame, with every input row accounted for.

rows_read = calls + collapsed + skipped + rejected, where collapsed rows are extra copies of a call
(streaming snapshots, re-exports) and skipped rows are valid records that are not calls (user turns).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from llmaudit.db import connect, quote_literal
from llmaudit.errors import InputError
from llmaudit.ingest.files import (
    LineBatch,
    LogSource,
    discover,
    iter_lines,
    json_document_lines,
    logical_suffix,
    numbered,
    open_source,
    read_ahead,
)
from llmaudit.ingest.generic import Mapping, csv_has_known_columns, csv_raw_frame, load_mapping
from llmaudit.ingest.normalize import collapse, normalized_sql, with_models
from llmaudit.ingest.registry import (
    SNIFF_SAMPLE,
    csv_readers,
    json_readers,
    reader_names,
    sniff,
    sniff_objects,
)
from llmaudit.ingest.spec import JsonReader
from llmaudit.ingest.sqlbuild import reader_sql
from llmaudit.schema import CALL_SCHEMA, conform

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


CHUNK_LINES = 100_000  # lines parsed and normalized at a time: bounds the chunk in flight (peak RSS)


def _read_json_file(source: LogSource, readers: list[JsonReader], forced: JsonReader | None):
    """(reader, line batches) for one JSON/JSONL file, or (None, rows) when its format is unknown.

    JSONL (compressed or not) is streamed from disk in blocks, so the text of a large file is never all
    in memory at once; whole JSON documents (small exports) are read at once."""
    path = source.path
    is_document = source.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" or logical_suffix(path) == ".json"
    document = json_document_lines(source.read_all()) if is_document else None
    batches: Iterator[LineBatch] = (
        iter([document]) if document is not None else read_ahead(iter_lines(source, CHUNK_LINES))
    )
    first = next(batches, LineBatch(numbered(pa.array([], pa.string()))))
    reader = forced or sniff(_sample_texts(first), readers)
    if reader is None:
        rows = [first, *batches]
        return None, sum(_non_blank(batch) for batch in rows)
    return reader, itertools.chain([first], batches)


def _sample_texts(batch: LineBatch) -> list[str]:
    texts = batch.lines.column("text").slice(0, 4 * SNIFF_SAMPLE).to_pylist()
    return [t for t in texts if t.strip()][:SNIFF_SAMPLE]


def _non_blank(batch: LineBatch) -> int:
    return sum(1 for t in batch.lines.column("text").to_pylist() if t.strip())


def _read_csv_file(path: Path, data: bytes, mapping: Mapping, forced: JsonReader | None, generic_only: bool):
    """(reader, [line batch]) for a known CSV export; ("generic_csv", raw frame) for a generic CSV;
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
        texts = frame.select(pl.struct(cells).struct.json_encode().alias("text")).to_series().to_arrow()
        return reader, [LineBatch(numbered(texts.cast(pa.string()), 2))]
    raw = _generic_csv(frame, mapping)
    if raw is None:
        return None, rows
    return "generic_csv", raw


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


# receives each normalized chunk as a SELECT on the ingest connection (see `normalized_sql`: CALL_SCHEMA
# columns plus `_kind`, `_reason`, `_seq`); returns how many rows it took
ChunkSink = Callable[[duckdb.DuckDBPyConnection, str], int]


@dataclass
class StreamCounts:
    """What a streamed ingest saw besides the rows it handed to its sink."""

    rows_read: int = 0
    files: dict[str, str] = field(default_factory=dict)  # file -> format
    unknown_files: dict[str, int] = field(default_factory=dict)  # file -> rows, format not recognized


class _Chunker:
    """Runs reader + normalization SQL over numbered lines, one chunk at a time, handing each chunk to the
    sink; many small files of one format share one chunk (one query), big files stream alone."""

    def __init__(self, sink: ChunkSink):
        self.sink = sink
        self.con = connect()
        self.con.execute("SET preserve_insertion_order = false")  # `_seq` keeps the read order
        self.files: list[tuple[int, str, int | None]] = []
        self.pending: dict[str, tuple[JsonReader, list[pa.Table]]] = {}
        self.rows = 0

    def add_file(self, path: Path) -> int:
        self.files.append((len(self.files), str(path), None))
        return len(self.files) - 1

    def _run(self, raw_sql: str, source: str, table: pa.Table) -> None:
        self.con.register(source, table)
        files = pa.table(
            {
                "file_no": pa.array([f[0] for f in self.files], pa.int64()),
                "source_file": pa.array([f[1] for f in self.files], pa.string()),
                "torn_line": pa.array([f[2] for f in self.files], pa.int64()),
            }
        )
        self.con.register("files_in", files)
        try:
            self.rows += self.sink(self.con, normalized_sql(self.con, f"({raw_sql})"))
        finally:
            self.con.unregister(source)
            self.con.unregister("files_in")

    def lines(self, reader: JsonReader, file_no: int, batch: LineBatch) -> None:
        if batch.torn_line is not None:
            self.files[file_no] = (file_no, self.files[file_no][1], batch.torn_line)
        table = batch.lines.append_column("file_no", _repeat(file_no, batch.height))
        if batch.height >= CHUNK_LINES:
            self._run(reader_sql(reader, "lines_in", "files_in"), "lines_in", table)
            return
        _, tables = self.pending.setdefault(reader.name, (reader, []))
        tables.append(table)
        if sum(t.num_rows for t in tables) >= CHUNK_LINES:
            self.flush(reader.name)

    def flush(self, name: str) -> None:
        reader, tables = self.pending.pop(name)
        # one contiguous table: thousands of per-file chunks would make every later step pay per chunk
        lines = pa.concat_tables(tables).combine_chunks()
        self._run(reader_sql(reader, "lines_in", "files_in"), "lines_in", lines)

    def generic_csv(self, file_no: int, raw: pl.DataFrame) -> None:
        """A generic CSV, already in the raw layer: stable ids are the source key when present (re-exports
        collapse), else file + line + text."""
        file = quote_literal(self.files[file_no][1])
        sql = f"""
            SELECT * EXCLUDE (text), NULL::VARCHAR AS reason, {file_no}::BIGINT AS file_no,
                   {file} AS source_file, 0 AS _elem,
                   md5(CASE WHEN source_key IS NOT NULL THEN source_format || '|' || source_key
                            ELSE {file} || '|' || line || '|' || md5(text) END) AS record_id
            FROM raw_in"""
        self._run(sql, "raw_in", raw.to_arrow())

    def close(self) -> None:
        try:
            for name in list(self.pending):
                self.flush(name)
        finally:
            self.con.close()


def _repeat(value: int, times: int) -> pa.Array:
    return pl.repeat(value, times, dtype=pl.Int64, eager=True).to_arrow()


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
    counts = StreamCounts()
    chunker = _Chunker(sink)
    try:
        for path in discover(paths):
            source = open_source(path)
            if logical_suffix(path) in (".csv", ".tsv") or format == "generic_csv":
                found, payload = _read_csv_file(
                    path, source.read_all(), mapping, forced_csv, generic_only=format == "generic_csv"
                )
            else:
                found, payload = _read_json_file(source, readers, forced or forced_csv)
            if found is None:
                counts.unknown_files[str(path)] = payload
                continue
            file_no = chunker.add_file(path)
            if isinstance(found, str):  # generic CSV: already a raw frame
                counts.files[str(path)] = found
                chunker.generic_csv(file_no, payload)
                continue
            counts.files[str(path)] = found.name
            for batch in payload:
                chunker.lines(found, file_no, batch)
    finally:
        chunker.close()
    counts.rows_read = chunker.rows
    if not counts.files:
        unknown = counts.unknown_files
        raise InputError(
            f"{next(iter(unknown)) if len(unknown) == 1 else f'{len(unknown)} files'}: unknown log format "
            f"(known: {', '.join(reader_names(mapping))}, generic_csv; see --input-format/--mapping)"
        )
    return counts


def _rows_of_kind(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    return (
        frame.filter(pl.col("_kind") == kind)
        .select(
            pl.col("source_file").alias("file"),
            pl.col("source_line").alias("line"),
            pl.col("_reason").alias("reason"),
            pl.col("source_format").alias("format"),
        )
        .cast(REJECT_SCHEMA)  # type: ignore[arg-type]
        .sort(["file", "line"])
    )


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
    chunks: list[pl.DataFrame] = []

    def keep(con: duckdb.DuckDBPyConnection, sql: str) -> int:
        chunk = pl.from_arrow(con.sql(sql).to_arrow_table())
        chunks.append(chunk)  # type: ignore[arg-type]
        return chunk.height

    counts = stream_logs(paths, keep, format=format, mapping=mapping)
    rows = pl.concat(chunks, how="vertical_relaxed").sort("_seq")
    calls = conform(with_models(rows.filter(pl.col("_kind") == "call")).select(*CALL_SCHEMA), CALL_SCHEMA)
    all_calls, collapsed = collapse(calls)
    return IngestResult(
        calls=all_calls,
        rejects=_rows_of_kind(rows, "reject"),
        skipped=_rows_of_kind(rows, "skip"),
        rows_read=counts.rows_read,
        collapsed=collapsed,
        files=counts.files,
        unknown_files=counts.unknown_files,
    )


def scan_logs(paths: list[str | Path] | str | Path, **options) -> pl.LazyFrame:
    """The calls of `read_logs` as a LazyFrame (rejects and counts: use read_logs)."""
    return read_logs(paths, **options).calls.lazy()
