"""Read logs of any supported format into one calls frame, with every input row accounted for.

rows_read = calls + collapsed + skipped + rejected, where collapsed rows are extra copies of a call
(streaming snapshots, re-exports) and skipped rows are valid records that are not calls (user turns).
"""

from __future__ import annotations

import collections
import functools
import io
import itertools
import os
import tempfile
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from llmaudit.db import connect
from llmaudit.errors import InputError
from llmaudit.ingest.files import (
    BLOCK_BYTES,
    BOM,
    COMPRESSED,
    Block,
    LineBatch,
    LogSource,
    Scratch,
    SpooledBlock,
    count_lines,
    discover,
    ends_unbroken,
    int_range,
    is_clean,
    iter_blocks,
    iter_lines,
    json_document_lines,
    logical_suffix,
    numbered,
    open_source,
    spool_blocks,
)
from llmaudit.ingest.generic import Mapping, csv_has_known_columns, csv_raw_frame, load_mapping
from llmaudit.ingest.keyscan import KeyScan
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
from llmaudit.ingest.sqlbuild import parsed_file_sql, reader_sql, record_id_sql, record_shape, shape_keys
from llmaudit.prefetch import read_ahead
from llmaudit.schema import CALL_SCHEMA, REJECT_SCHEMA, conform

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
# JSONL files at least this large (on disk; compressed ones count 8x) are read block by block by DuckDB's
# own JSON reader, blocks in parallel; smaller ones are read whole and joined with other small files into
# such blocks (`_Chunker.small_file`)
BLOCK_READ_MIN_BYTES = 4 << 20
# the most text a block read line by line hands one job: Arrow strings cost its size again, for every job in
# flight (a log of broken lines read in 64 MiB jobs peaked at 951 MiB, against 697 in 32 MiB ones)
LINES_JOB_BYTES = 32 << 20


def _read_json_file(
    source: LogSource, readers: list[JsonReader], forced: JsonReader | None, hint: JsonReader | None = None
):
    """(reader, [line batch]) for a whole JSON document, (reader, None) for a big JSONL file (read later, in
    blocks), (reader, bytes) for a small one (read whole, once), or (None, rows) when its format is unknown
    (rows: its non-blank lines or records). `hint`: the reader the previous file had (see `sniff`).

    Big JSONL (compressed or not) is streamed from disk in blocks, so the text of a large file is never all
    in memory at once; whole JSON documents (small exports) are read at once."""
    path = source.path
    is_document = source.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" or logical_suffix(path) == ".json"
    document = json_document_lines(source.read_all()) if is_document else None
    if document is not None:
        reader = forced or sniff(_sample_texts(document), readers, hint)
        return (reader, [document]) if reader else (None, _non_blank(document))
    data = source.read_all() if _text_size(path) < BLOCK_READ_MIN_BYTES else None  # small: read once
    reader = forced or sniff(
        _texts_sample(source.sample(4 * SNIFF_SAMPLE) if data is None else data), readers, hint
    )
    if reader is None:
        blocks = source.blocks() if data is None else iter([data])
        return None, sum(_non_blank(block.line_batch()) for block in iter_blocks(blocks))
    return reader, data


def _sample_texts(batch: LineBatch) -> list[str]:
    texts = batch.lines.column("text").slice(0, 4 * SNIFF_SAMPLE).to_pylist()
    return [t for t in texts if t.strip()][:SNIFF_SAMPLE]


def _texts_sample(data: bytes) -> list[str]:
    """The first non-blank lines of a file's first bytes, decoded (for sniffing)."""
    # decoded at once, then split: the same text as line by line (a \n is never inside a UTF-8 sequence)
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    texts = [line.strip() for line in text.split("\n", 4 * SNIFF_SAMPLE)[: 4 * SNIFF_SAMPLE]]
    return [t for t in texts if t][:SNIFF_SAMPLE]


def _non_blank(batch: LineBatch) -> int:
    """Lines with more than whitespace (an unknown file's rows, counted in Arrow, not a loop per line)."""
    trimmed = pc.utf8_trim_whitespace(batch.lines.column("text"))
    return pc.sum(pc.not_equal(trimmed, "")).as_py() or 0


def _text_size(path: Path) -> int:
    """About how many bytes of text the file holds (compressed ones count 8x)."""
    return path.stat().st_size * (8 if path.suffix.lower() in COMPRESSED else 1)


def _bundled(reader: JsonReader) -> bool:
    """Join this small JSONL file with others of its reader for DuckDB's JSON reader (see
    `_Chunker.small_file`)?"""
    return reader.row_local


def _block_read(path: Path, reader: JsonReader) -> bool:
    """Read this file block by block with DuckDB's JSON reader (see BLOCK_READ_MIN_BYTES)?"""
    return reader.row_local and _text_size(path) >= BLOCK_READ_MIN_BYTES


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


class ChunkSink(Protocol):
    """Receives each normalized chunk as a SELECT on the ingest connection (see `normalized_sql`:
    CALL_SCHEMA columns plus `_kind`, `_reason`, `_seq`) and returns how many rows it took. Chunks of one
    `shape` come from one reader over records that spell the same keys (blocks of a log), so a column null
    in one is likely null in the next (`Workspace.add_chunk` leaves such columns out); None: unknown."""

    def __call__(
        self, con: duckdb.DuckDBPyConnection, select_sql: str, shape: Hashable | None = None
    ) -> int: ...


@dataclass
class StreamCounts:
    """What a streamed ingest saw besides the rows it handed to its sink."""

    rows_read: int = 0
    files: dict[str, str] = field(default_factory=dict)  # file -> format
    unknown_files: dict[str, int] = field(default_factory=dict)  # file -> rows, format not recognized


class _Chunker:
    """Runs reader + normalization SQL over the input, one chunk at a time, handing each chunk to the sink.

    Chunks are queries run by a small pool of threads, each on its own DuckDB cursor (DuckDB releases the
    GIL), so reading and splitting the next block overlaps parsing the current ones and every core parses.
    A big JSONL file is cut into blocks that DuckDB's JSON reader parses straight from a scratch file (one
    parse per line, no line splitting in Arrow); the lines it cannot take as records (malformed, not an
    object) are read as numbered lines, alone, and a block it cannot number as that path does (a lone CR)
    or whose records lack a source key is read as numbered lines whole. Small files of one format are
    joined into such blocks (`small_file`); the few read as numbered lines share chunks (one query)."""

    def __init__(self, sink: ChunkSink):
        self.sink = sink
        self.con = connect()
        self.con.execute("SET preserve_insertion_order = false")  # `_seq` keeps the read order
        self.files: list[str] = []
        self.pending: dict[str, tuple[JsonReader, list[pa.Table]]] = {}
        self.pending_rows: dict[str, int] = {}  # the rows of each reader's pending tables
        self.torn: dict[int, int] = {}  # file_no -> its torn last line
        # files a block of which was mostly lines DuckDB's reader could not take (another format, garbage):
        # their next blocks are read as numbered lines straight away, not parsed twice
        self.by_lines: set[int] = set()
        self.bundles: dict[str, _Bundle] = {}  # reader name -> its small files waiting to be parsed
        self.scans: dict[str, KeyScan] = {}  # reader name -> the keys its bundles held so far
        self.csv_pending: list[pl.DataFrame] = []  # generic CSVs in the raw layer, waiting for a query
        self.csv_rows = 0
        self.rows = 0
        self.workers = min(4, max(2, os.cpu_count() or 2))
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="llmaudit-chunk")
        self.jobs: collections.deque[Future[int]] = collections.deque()
        self.local = threading.local()
        self.names = itertools.count()
        self.scratch = Scratch(self._scratch_directory)

    def add_file(self, path: Path) -> int:
        self.files.append(str(path))
        return len(self.files) - 1

    # --- jobs (on the pool) ---

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self.local, "cursor", None)
        if cursor is None:
            cursor = self.local.cursor = self.con.cursor()
        return cursor

    def _files_table(self, file_nos: list[int]) -> pa.Table:
        return pa.table(
            {
                "file_no": pa.array(file_nos, pa.int64()),
                "source_file": pa.array([self.files[n] for n in file_nos], pa.string()),
                "torn_line": pa.array([self.torn.get(n) for n in file_nos], pa.int64()),
            }
        )

    def _run(self, tables: dict[str, pa.Table], raw_sql: Callable[[dict[str, str]], str]) -> int:
        """Normalize a reader query over Arrow tables, registered on this thread's cursor under unique
        names (`raw_sql` gets them by key)."""
        cursor = self._cursor()
        names = {key: f"{key}_{next(self.names)}" for key in tables}
        for key, table in tables.items():
            cursor.register(names[key], table)
        try:
            return self.sink(cursor, normalized_sql(cursor, f"({raw_sql(names)})"))
        finally:
            for name in names.values():
                cursor.unregister(name)

    def _lines_job(self, reader: JsonReader, lines: pa.Table) -> int:
        file_nos = pc.unique(lines.column("file_no")).to_pylist()
        return self._run(
            {"lines": lines, "files": self._files_table(file_nos)},
            lambda names: reader_sql(reader, names["lines"], names["files"]),
        )

    def _parsed(
        self,
        reader: JsonReader,
        block: SpooledBlock,
        parsed: Callable[..., str],
        numbered: Callable[[pa.Table], pa.Table],
        expected: int,
        mostly_bad: Callable[[], None],
        where: Callable[[], str],
    ) -> int:
        """Run `parsed` (a `parsed_file_sql` of `block`) through the reader and the sink; the lines DuckDB's
        lenient reader cannot take as records are then read as numbered lines, alone (their rows and
        reasons as that path gives them; `numbered` gives a batch of the block's lines their file), and a
        block the reader fails on, or whose records lack a source key, whole. `mostly_bad` is told when
        fewer than half the `expected` rows parsed; `where()` names the block in an error. The caller releases
        the block's scratch copy."""
        cursor = self._cursor()
        try:
            raw = reader_sql(reader, parsed(), present=block.keys)
            rows = self.sink(cursor, normalized_sql(cursor, f"({raw})"), shape=(reader.name, block.keys))
        except (duckdb.InvalidInputException, duckdb.ConversionException):
            return sum(
                self._lines_job(reader, numbered(batch.lines))
                for batch in block.line_batches(LINES_JOB_BYTES)
            )
        if rows < expected:  # a rare bad line: read it the slow way, not the block
            if 2 * rows < expected:
                mostly_bad()
            rows += self._unreadable_job(reader, block, parsed(unreadable=True), numbered)
        if rows != expected:  # a row per non-blank line; anything else is a bug, not data
            raise RuntimeError(f"{where()}: {rows} rows for {expected} lines")
        return rows

    def _block_job(self, reader: JsonReader, file_no: int, block: SpooledBlock) -> int:
        """Parse a block of a big file straight from its scratch file (`_parsed`), its rows numbered by its
        non-blank lines when it has blank ones. A file whose block was mostly bad lines sends its next
        blocks line by line."""
        cursor = self._cursor()
        expected, numbers = block.lines, None
        try:
            if block.blank_lines:
                lines = block.non_blank_lines(LINES_JOB_BYTES)
                expected, numbers = len(lines), f"numbers_{next(self.names)}"
                cursor.register(numbers, pa.table({"_i": int_range(1, expected), "line": lines}))
            parsed = functools.partial(
                parsed_file_sql,
                reader,
                str(block.path),
                file_no,
                self.files[file_no],
                block.first_line,
                block.keys,
                numbers=numbers,
            )
            return self._parsed(
                reader,
                block,
                parsed,
                lambda lines: _with_file(LineBatch(lines), file_no),
                expected,
                lambda: self.by_lines.add(file_no),
                lambda: f"{self.files[file_no]}: block at line {block.first_line}",
            )
        finally:
            if numbers is not None:
                cursor.unregister(numbers)
            self.scratch.release(block.file)  # once, on every way out

    def _bundle_job(self, reader: JsonReader, block: SpooledBlock, numbers: pa.Table) -> int:
        """Parse a block of small files joined (see `small_file`) as `_block_job` parses a block of one
        file, each row numbered by `numbers` (`_bundle_numbers`) with its file and its line there."""
        cursor = self._cursor()
        name = f"numbers_{next(self.names)}"
        cursor.register(name, numbers)
        try:
            parsed = functools.partial(
                parsed_file_sql, reader, str(block.path), 0, "", 1, block.keys, numbers=name, bundled=True
            )
            return self._parsed(
                reader,
                block,
                parsed,
                lambda lines: _unbundled(lines, numbers),
                block.lines,
                lambda: None,
                lambda: f"{pc.count_distinct(numbers.column('file_no')).as_py()} small files joined",
            )
        finally:
            cursor.unregister(name)
            self.scratch.release(block.file)  # once, on every way out

    def _unreadable_job(
        self,
        reader: JsonReader,
        block: SpooledBlock,
        unreadable_sql: str,
        numbered: Callable[[pa.Table], pa.Table],
    ) -> int:
        """The lines of `block` that `unreadable_sql` numbers, read as numbered lines (`numbered` gives
        their `file_no`)."""
        wanted = self._cursor().sql(unreadable_sql).to_arrow_table().column("line").combine_chunks()
        rows = 0
        for batch in block.line_batches(LINES_JOB_BYTES):
            picked = batch.lines.filter(pc.is_in(batch.lines.column("line"), wanted))
            if picked.num_rows:
                rows += self._lines_job(reader, numbered(picked))
        return rows

    # --- submitting (from the reading thread) ---

    def _submit(self, job, *args) -> None:
        while len(self.jobs) > self.workers:  # bounded: at most a block or chunk per worker waiting
            self.rows += self.jobs.popleft().result()
        self.jobs.append(self.pool.submit(job, *args))

    def _scratch_directory(self) -> Path:
        """A temporary folder for blocks where they cannot be kept in memory (see `Scratch`)."""
        try:
            return Path(tempfile.mkdtemp(prefix="llmaudit-blocks-"))
        except OSError as exc:
            raise InputError(
                f"cannot create a temporary folder in {tempfile.gettempdir()} ({exc}); "
                "point TMPDIR at a writable folder"
            ) from None

    def blocks(self, reader: JsonReader, file_no: int, source: LogSource) -> None:
        """A big JSONL file, block by block: each is read, counted, judged and copied to a scratch file on
        a thread while the pool parses the ones before; DuckDB reads only the keys a block holds."""
        scan = KeyScan(shape_keys(record_shape(reader)))
        for block in read_ahead(spool_blocks(source.views(), self.scratch, scan)):
            if block.torn_line is not None:
                self.torn[file_no] = block.torn_line
            if (block.clean or block.blank_lines) and file_no not in self.by_lines:
                self._submit(self._block_job, reader, file_no, block)
                continue
            try:
                for batch in block.line_batches(LINES_JOB_BYTES):
                    self._submit(self._lines_job, reader, _with_file(batch, file_no))
            finally:
                self.scratch.release(block.file)

    def small_file(self, reader: JsonReader, file_no: int, data: bytes) -> None:
        """A JSONL file too small to be read in blocks of its own (each block is a query, ~30 CPU-ms to
        plan): its lines join a block of small files of the same reader, parsed by DuckDB's reader as a
        big file's blocks are (the numbered-lines path parses a line twice and splits it in Arrow first).
        A file with a line that reader would not number as that path does (see `files.is_clean`) is read
        as numbered lines: found when its block is (a search per file cost 10,000 small files ~1 s)."""
        data = data.removeprefix(BOM)
        if not data:
            return
        lines = data.count(b"\n")
        if ends_unbroken(data):
            lines += 1
            self.torn[file_no] = lines
            data += b"\n"
        bundle = self.bundles.setdefault(reader.name, _Bundle(reader))
        bundle.add(file_no, lines, data)
        if bundle.size >= BLOCK_BYTES:
            self.flush_bundle(reader.name)

    def _numbered_lines(self, reader: JsonReader, file_no: int, data: bytes) -> None:
        self.lines(reader, file_no, Block(data, 1, count_lines(data), last=True).line_batch())

    def flush_bundle(self, name: str) -> None:
        bundle = self.bundles.pop(name)
        data = b"".join(bundle.parts)
        if not is_clean(data, 1):  # a blank line or a lone CR in some file: it is read as numbered lines
            kept = _Bundle(bundle.reader)
            for (file_no, lines), part in zip(bundle.members, bundle.parts, strict=True):
                if is_clean(part, 1):
                    kept.add(file_no, lines, part)
                else:  # as read: its torn last line numbered by Arrow's lines, not by its line breaks
                    self._numbered_lines(bundle.reader, file_no, part[:-1] if file_no in self.torn else part)
            if not kept.members:
                return
            bundle, data = kept, b"".join(kept.parts)
        bundle.parts.clear()
        view = memoryview(data)
        scan = self.scans.setdefault(name, KeyScan(shape_keys(record_shape(bundle.reader))))
        keys = scan(view)
        file = self.scratch.write(view, "llmaudit-small-files")
        lines = sum(n for _, n in bundle.members)
        block = SpooledBlock(file, 1, lines, last=True, clean=True, unbroken=False, keys=keys)
        numbers = _bundle_numbers(bundle.members, self.files)
        self._submit(self._bundle_job, bundle.reader, block, numbers)

    def lines(self, reader: JsonReader, file_no: int, batch: LineBatch) -> None:
        if batch.torn_line is not None:
            self.torn[file_no] = batch.torn_line
        table = _with_file(batch, file_no)
        if batch.height >= CHUNK_LINES:
            self._submit(self._lines_job, reader, table)
            return
        _, tables = self.pending.setdefault(reader.name, (reader, []))
        tables.append(table)
        # counted as they come: summing every pending table per file was quadratic in small files
        self.pending_rows[reader.name] = self.pending_rows.get(reader.name, 0) + table.num_rows
        if self.pending_rows[reader.name] >= CHUNK_LINES:
            self.flush(reader.name)

    def flush(self, name: str) -> None:
        reader, tables = self.pending.pop(name)
        self.pending_rows.pop(name, None)
        # one contiguous table: thousands of per-file chunks would make every later step pay per chunk
        self._submit(self._lines_job, reader, pa.concat_tables(tables).combine_chunks())

    def generic_csv(self, file_no: int, raw: pl.DataFrame) -> None:
        """A generic CSV, already in the raw layer. CSVs share a query until CHUNK_LINES rows wait (a query
        each cost a folder of 1,000 small CSV exports ~36 s)."""
        self.csv_pending.append(raw.with_columns(pl.lit(file_no, pl.Int64).alias("file_no")))
        self.csv_rows += raw.height
        if self.csv_rows >= CHUNK_LINES:
            self.flush_csv()

    def flush_csv(self) -> None:
        """The waiting generic CSVs in one query: stable ids are the source key when present (re-exports
        collapse), else file + line + text."""
        raw = pl.concat(self.csv_pending)
        self.csv_pending, self.csv_rows = [], 0
        files = self._files_table(raw.get_column("file_no").unique().to_list())
        sql = f"""
            SELECT * EXCLUDE (text), NULL::VARCHAR AS reason, 0 AS _elem, {record_id_sql()} AS record_id
            FROM (SELECT r.*, f.source_file FROM {{raw}} r JOIN {{files}} f ON f.file_no = r.file_no)"""
        self._submit(self._run, {"raw": raw.to_arrow(), "files": files}, lambda names: sql.format(**names))

    def close(self, completed: bool = True) -> None:
        """Run what is pending and wait for every job (`completed`), or drop it all (an error elsewhere);
        the first failed job's error is raised."""
        try:
            if completed:
                for name in list(self.bundles):
                    self.flush_bundle(name)
                for name in list(self.pending):
                    self.flush(name)
                if self.csv_pending:
                    self.flush_csv()
                while self.jobs:
                    self.rows += self.jobs.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.con.close()
            self.scratch.close()


def _with_file(batch: LineBatch, file_no: int) -> pa.Table:
    return batch.lines.append_column("file_no", _repeat(file_no, batch.height))


def _repeat(value: int, times: int) -> pa.Array:
    # pa.repeat: 5 µs; polars' eager repeat runs a lazy query, 0.35 ms, 3.5 s for 10,000 small files
    return pa.repeat(pa.scalar(value, pa.int64()), times)


@dataclass
class _Bundle:
    """Small JSONL files of one reader (each clean, ending with a line break) waiting to be joined into a
    block (`_Chunker.small_file`)."""

    reader: JsonReader
    members: list[tuple[int, int]] = field(default_factory=list)  # (file_no, lines)
    parts: list[bytes] = field(default_factory=list)
    size: int = 0

    def add(self, file_no: int, lines: int, data: bytes) -> None:
        self.members.append((file_no, lines))
        self.parts.append(data)
        self.size += len(data)


def _bundle_numbers(members: list[tuple[int, int]], files: list[str]) -> pa.Table:
    """`(_i, line, file_no, source_file)` for each line of a bundle: its position in the block (1-based),
    and its line in its file (built a file at a time, not a line)."""
    starts = [0, *itertools.accumulate(n for _, n in members)]
    _i = int_range(1, starts[-1])
    before = pa.concat_arrays([_repeat(start, n) for start, (_, n) in zip(starts, members, strict=False)])
    member = pa.concat_arrays([_repeat(k, n) for k, (_, n) in enumerate(members)])
    names = pa.array([files[file_no] for file_no, _ in members], pa.string())
    return pa.table(
        {
            "_i": _i,
            "line": pc.subtract(_i, before),
            "file_no": pa.concat_arrays([_repeat(file_no, n) for file_no, n in members]),
            "source_file": pa.DictionaryArray.from_arrays(member, names),
        }
    )


def _unbundled(lines: pa.Table, numbers: pa.Table) -> pa.Table:
    """Lines of a bundle (`line`: the position in its block) as numbered lines of their files."""
    at = pc.subtract(lines.column("line"), 1)
    return pa.table(
        {
            "line": pc.take(numbers.column("line"), at),
            "text": lines.column("text"),
            "file_no": pc.take(numbers.column("file_no"), at),
        }
    )


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
    completed = False
    hint: JsonReader | None = None  # the previous JSON file's reader, tried first on the next
    try:
        for path in discover(paths):
            source = open_source(path)
            if logical_suffix(path) in (".csv", ".tsv") or format == "generic_csv":
                found, payload = _read_csv_file(
                    path, source.read_all(), mapping, forced_csv, generic_only=format == "generic_csv"
                )
            else:
                found, payload = _read_json_file(source, readers, forced or forced_csv, hint)
                hint = found or hint
            if found is None:
                counts.unknown_files[str(path)] = payload
                continue
            file_no = chunker.add_file(path)
            if isinstance(found, str):  # generic CSV: already a raw frame
                counts.files[str(path)] = found
                chunker.generic_csv(file_no, payload)
                continue
            counts.files[str(path)] = found.name
            if isinstance(payload, bytes):  # a small JSONL file, read whole
                if _bundled(found):
                    chunker.small_file(found, file_no, payload)
                    continue
                payload = iter_lines(iter_blocks(iter([payload])), CHUNK_LINES)
            elif payload is None:  # a big JSONL file
                if _block_read(path, found):
                    chunker.blocks(found, file_no, source)
                    continue
                payload = iter_lines(iter_blocks(source.blocks()), CHUNK_LINES)
                if _text_size(path) > BLOCK_BYTES:  # a file of one block has nothing to read ahead of
                    payload = read_ahead(payload)  # (a thread per small file cost more than it saved)
            for batch in payload:
                chunker.lines(found, file_no, batch)
        completed = True
    finally:
        chunker.close(completed)
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

    def keep(con: duckdb.DuckDBPyConnection, sql: str, shape: Hashable | None = None) -> int:
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
