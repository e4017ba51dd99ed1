"""Finding log files and reading them into numbered lines (no Python loop per line)."""

from __future__ import annotations

import gzip
import json
import os
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from llmaudit.errors import InputError

T = TypeVar("T")
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
BLOCK_BYTES = 32 << 20


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
            if self.compression is None:
                yield from _cut_first(handle)
            yield from _streamed_blocks(handle)

    def read_all(self) -> bytes:
        return b"".join(self.blocks())


# how far back from a block's end a plain file is searched for the line break to cut at
_CUT_WINDOW = 64 << 10


def _cut_first(handle: BinaryIO) -> Iterator[bytes]:
    """Whole blocks of an uncompressed file, each read once at its final size: the line break to cut at is
    found by a small read of the block's tail first, so a block is never copied to be cut (read + join +
    slice copied every byte three times). Stops before the last block, or at a line longer than the
    window, leaving `handle` where the rest starts."""
    fd, start = handle.fileno(), handle.tell()
    size = min(_CUT_WINDOW, BLOCK_BYTES)
    while True:
        window_at = start + BLOCK_BYTES - size
        window = os.pread(fd, size, window_at)
        cut = window.rfind(b"\n")
        if len(window) < size or cut < 0:
            break
        data = os.pread(fd, window_at + cut + 1 - start, start)
        if not data.endswith(b"\n"):  # the file changed under us: read the rest the plain way
            break
        yield data
        start += len(data)
    handle.seek(start)


def _streamed_blocks(handle: BinaryIO) -> Iterator[bytes]:
    rest = b""
    while chunk := handle.read(BLOCK_BYTES):
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest


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


@dataclass(frozen=True)
class Block:
    """A block of a file's bytes cut at a line break (the file's last block may end without one), with
    the number of its first line and how many physical lines it holds."""

    data: bytes
    first_line: int
    lines: int
    last: bool  # the file's last block

    @property
    def torn_line(self) -> int | None:
        """The file's last line when the file does not end with a line break."""
        if self.last and self.data and not self.data.endswith(b"\n"):
            return self.first_line + self.lines - 1
        return None

    def is_clean(self) -> bool:
        """Every line is non-blank and ends at \\n (or the block's end): then a JSON reader that skips blank
        lines (DuckDB's read_json) yields exactly one record per line, and `lines` counts what the
        numbered-lines path would number. Searched by RE2 (pyarrow), which releases the GIL."""
        data = self.data.removeprefix(b"\xef\xbb\xbf") if self.first_line == 1 else self.data
        if _BLANK_FIRST.match(data):
            return False
        tail = data[data.rfind(b"\n") + 1 :]
        if tail and not tail.strip(_JSON_BLANK):
            return False
        return not any(_search(data, pattern) for pattern in _UNCLEAN)

    def line_batch(self) -> LineBatch:
        """The block's physical lines, numbered (the numbered-lines path)."""
        return LineBatch(numbered(_block_lines(self.data), self.first_line), self.torn_line)


# what read_json skips as a blank line (JSON whitespace, plus \f and \v)
_JSON_BLANK = b" \t\r\f\v"
_BLANK_FIRST = re.compile(rb"[ \t\r\f\v]*(?:\n|\Z)")
# a lone \r: a line break for the numbered-lines path (Arrow), not for read_json
_LONE_CR = r"\r(?:[^\n]|$)"
_UNCLEAN = (r"\n[ \t\r\f\v]*\n", _LONE_CR)  # a blank line inside the block, or a lone \r


def _search(data: bytes, pattern: str) -> bool:
    """Does RE2 find `pattern` in `data` (one zero-copy binary value; two separate literal-led patterns
    scan far faster than one alternation)."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    return bool(pc.match_substring_regex(whole, pattern)[0].as_py())


def iter_blocks(blocks: Iterator[bytes]) -> Iterator[Block]:
    """`blocks` (cut at line breaks) numbered: each with its first line and line count. A block with a
    lone \\r is split by Arrow to count its lines as the numbered-lines path numbers them."""
    block = next(blocks, None)
    first = 1
    while block is not None:
        following = next(blocks, None)  # one block of lookahead tells which block is the file's last
        lines = block.count(b"\n") + (0 if not block or block.endswith(b"\n") else 1)
        if b"\r" in block and _search(block, _LONE_CR):
            lines = len(_block_lines(block))
        yield Block(block, first, lines, following is None)
        first += lines
        block = following


def iter_lines(blocks: Iterator[Block], batch: int) -> Iterator[LineBatch]:
    """Batches of about `batch` numbered physical lines from numbered blocks: memory is bounded by the
    batch, not the file."""
    pending: list[pa.Table] = []
    for block in blocks:
        pending.append(block.line_batch().lines)
        if block.last or sum(t.num_rows for t in pending) >= batch:
            yield LineBatch(pa.concat_tables(pending), block.torn_line)
            pending = []


def read_ahead(batches: Iterator[T]) -> Iterator[T]:
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
