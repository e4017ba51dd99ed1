"""Finding log files and reading them into numbered lines (no Python loop per line)."""

from __future__ import annotations

import gzip
import json
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from llmaudit.errors import InputError

LOG_SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".log", ".txt"}
COMPRESSED = {".gz", ".zst"}


def logical_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def discover(paths: list[str | Path]) -> list[Path]:
    """Files named directly, plus log-like files found recursively under directories (sorted, unique)."""
    if not paths:
        raise InputError("no input paths given")
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and logical_suffix(p) in LOG_SUFFIXES
            )
        else:
            raise InputError(f"{path}: no such file or directory")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise InputError(
            f"{', '.join(map(str, paths))}: no log files found (looked for {', '.join(sorted(LOG_SUFFIXES))})"
        )
    return unique


# bytes read (and decompressed) at a time: bounds memory on files of any size
BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class LogSource:
    """A log file ready to read. Files are streamed in blocks (decompressed on the fly for .gz/.zst), so
    a JSONL log never has to fit in memory; `read_all` is for small whole-file formats (CSV, JSON)."""

    path: Path
    head: bytes

    @property
    def compression(self) -> str | None:
        suffix = self.path.suffix.lower()
        return suffix if suffix in COMPRESSED else None

    def open(self) -> BinaryIO:
        if self.compression == ".gz":
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        if self.compression == ".zst":
            try:
                import zstandard  # optional: only needed for .zst input
            except ImportError:
                raise InputError(
                    f"{self.path}: reading .zst needs the zstandard package (pip install zstandard)"
                ) from None
            return zstandard.ZstdDecompressor().stream_reader(self.path.open("rb"), closefd=True)  # type: ignore[return-value]
        return self.path.open("rb")

    def blocks(self) -> Iterator[bytes]:
        """The file's bytes in blocks of about BLOCK_BYTES that end at a line break (but the last)."""
        with _readable(self.path), self.open() as handle:
            rest = b""
            while chunk := handle.read(BLOCK_BYTES):
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                if cut:
                    yield data[:cut]
                rest = data[cut:]
            if rest:
                yield rest

    def read_all(self) -> bytes:
        return b"".join(self.blocks())


class _readable:
    """Read and decompression errors become one clear message naming the file."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, traceback) -> None:
        if kind is not None and issubclass(kind, _read_errors()) and not issubclass(kind, InputError):
            reason = getattr(exc, "strerror", None) or exc
            verb = "cannot decompress" if self.path.suffix.lower() in COMPRESSED else "cannot read"
            raise InputError(f"{self.path}: {verb}: {reason}") from None


def _read_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, ValueError, zlib.error)
    try:
        import zstandard

        return (*errors, zstandard.ZstdError)
    except ImportError:
        return errors


def open_source(path: Path) -> LogSource:
    source = LogSource(path, b"")
    with _readable(path), source.open() as handle:
        head = handle.read(4096)
    return LogSource(path, head)


_LINE_READ = pacsv.ReadOptions(column_names=["text"], block_size=4 << 20)
# one column that never splits: JSON text has no raw control characters outside a malformed line
_LINE_PARSE = pacsv.ParseOptions(
    delimiter="\x1f", quote_char=False, escape_char=False, newlines_in_values=False, ignore_empty_lines=False
)
_LINE_CONVERT = pacsv.ConvertOptions(
    column_types={"text": pa.string()},
    check_utf8=True,
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
    null_values=[],
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _block_lines(block: bytes) -> pa.Array:
    """Every physical line of a block (blank ones included, breaks \\n, \\r\\n or \\r), split by Arrow's
    multithreaded CSV reader; a block it refuses (invalid UTF-8, a stray \\x1f in a broken line) is split in
    Python instead, bad bytes replaced, with the same numbering."""
    try:
        return (
            pacsv.read_csv(
                pa.py_buffer(block),
                read_options=_LINE_READ,
                parse_options=_LINE_PARSE,
                convert_options=_LINE_CONVERT,
            )
            .column("text")
            .combine_chunks()
        )
    except pa.ArrowInvalid:
        text = block.decode("utf-8", errors="replace").removeprefix("\ufeff")
        lines = _LINE_BREAK.split(text)
        if text.endswith(("\n", "\r")):
            lines.pop()
        return pa.array(lines, pa.string())


@dataclass(frozen=True)
class LineBatch:
    """Numbered lines of one file: `lines` (line, text), blank lines still in (readers skip them, numbers
    stay physical); `torn_line` is the file's last line when the file does not end with a line break."""

    lines: pa.Table
    torn_line: int | None = None

    @property
    def height(self) -> int:
        return self.lines.num_rows


def numbered(texts: pa.Array, first_line: int = 1) -> pa.Table:
    line = pl.int_range(first_line, first_line + len(texts), dtype=pl.Int64, eager=True).to_arrow()
    return pa.table({"line": line, "text": texts})


def iter_lines(source: LogSource, batch: int) -> Iterator[LineBatch]:
    """Batches of about `batch` physical lines, streamed block by block: memory is bounded by the batch,
    not the file."""
    blocks = source.blocks()
    block = next(blocks, None)
    pending: list[pa.Table] = []
    offset = 0
    while block is not None:
        following = next(blocks, None)  # one block of lookahead tells which block is the file's last
        texts = _block_lines(block)
        pending.append(numbered(texts, offset + 1))
        offset += len(texts)
        if following is None or sum(t.num_rows for t in pending) >= batch:
            torn = offset if following is None and not block.endswith(b"\n") else None
            yield LineBatch(pa.concat_tables(pending), torn)
            pending = []
        block = following


def read_ahead(batches: Iterator[LineBatch]) -> Iterator[LineBatch]:
    """`batches`, the next one read and split on a thread while the caller works on the current one:
    block reads, decompression and Arrow's line splitting release the GIL, as DuckDB does, so reading
    overlaps parsing. Errors (unreadable, corrupt files) surface in the caller, in order."""
    slot: queue.Queue = queue.Queue(maxsize=1)  # at most one batch ahead: memory stays two batches
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                slot.put(batch)
                if stop.is_set():
                    return
            slot.put(done)
        except BaseException as exc:  # re-raised by the consumer
            slot.put(exc)

    thread = threading.Thread(target=produce, daemon=True, name="llmaudit-read-ahead")
    thread.start()
    try:
        while (item := slot.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full slot
            try:
                slot.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def json_document_lines(data: bytes) -> LineBatch | None:
    """A whole-file JSON document (array of records, or one object) as numbered lines; None if not one.

    Records are numbered by their position in the array (1-based). This path is for small exports;
    large logs are JSONL and never go through Python objects.
    """
    text = data.decode("utf-8-sig", errors="replace").strip()
    if not text or text[0] not in "[{":
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    records = doc if isinstance(doc, list) else [doc]
    return LineBatch(numbered(pa.array([json.dumps(r) for r in records], pa.string())))
