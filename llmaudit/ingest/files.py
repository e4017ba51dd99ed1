"""Finding log files and reading them into numbered lines (no Python loop per line)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import shutil
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
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


# bytes read (and decompressed) at a time: bounds memory on files of any size. Each block is one query
# whose planning costs ~28 CPU-ms whatever its size: 64 MiB blocks analyze 10M calls in 39.6-40.2 s and
# 76-78 CPU-s against 41.5-42.4 s and 80-81 with 32 MiB, for a peak of 553-580 MiB instead of 467-479
BLOCK_BYTES = 64 << 20
# at most this much is read to sniff a file's format
SAMPLE_BYTES = 32 << 20


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

    def views(self) -> Iterator[memoryview]:
        """The blocks of `blocks`, each only valid until the next is asked for: a file is read (or
        decompressed) into one reused buffer, so no block costs a fresh allocation and its page faults
        (for blocks that are copied on at once, as `spool_blocks` does)."""
        with _readable(self.path), self.open() as handle:
            if self.compression is not None:
                yield from _carried_views(handle)
                return
            yield from _reused_views(handle)
            yield from map(memoryview, _streamed_blocks(handle))

    def read_all(self) -> bytes:
        if self.compression is None:  # at once: `blocks` sets up a 64 MiB buffer, a small file's cost
            with _readable(self.path):
                return self.path.read_bytes()
        return b"".join(self.blocks())

    def sample(self, lines: int) -> bytes:
        """The file's first `lines` lines or more (to sniff its format), at most SAMPLE_BYTES, cut at a
        line break unless the file ends first."""
        with _readable(self.path), self.open() as handle:
            data = b""
            while data.count(b"\n") < lines and len(data) < SAMPLE_BYTES:
                chunk = handle.read(min(1 << 20, SAMPLE_BYTES - len(data)))
                if not chunk:
                    return data
                data += chunk
        return data[: data.rfind(b"\n") + 1] or data


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


def _reused_views(handle: BinaryIO) -> Iterator[memoryview]:
    """Whole blocks of an uncompressed file read into one buffer, each a view of it cut at its last line
    break. Stops before the last (short) block, or at a line longer than a block, leaving `handle` where
    the rest starts."""
    start = handle.tell()
    buffer = bytearray(BLOCK_BYTES)
    view = memoryview(buffer)
    while True:
        handle.seek(start)
        read = handle.readinto(buffer)
        cut = buffer.rfind(b"\n", 0, read) + 1
        if read < BLOCK_BYTES or not cut:
            break
        yield view[:cut]
        start += cut
    handle.seek(start)


# how much of a decompressed stream is asked for at once: pieces this small come from memory the allocator
# reuses, where a 32 MiB read was a fresh mapping to fault in (2.0 against 1.0 CPU-s to read 1M gzipped calls)
_PIECE_BYTES = 256 << 10


def _carried_views(handle: BinaryIO) -> Iterator[memoryview]:
    """Blocks of a (decompressed) stream cut at their last line break, read a piece at a time into one
    reused buffer; the unfinished line after the cut is carried to the front of the next block. A line
    longer than a block grows the buffer."""
    buffer = bytearray(2 * BLOCK_BYTES)
    held = 0
    while True:
        end = held
        while end < held + BLOCK_BYTES and (piece := handle.read(_PIECE_BYTES)):
            if end + len(piece) > len(buffer):
                buffer = buffer[:end] + bytearray(max(len(buffer), end + len(piece)))
            buffer[end : end + len(piece)] = piece
            end += len(piece)
        if end == held:  # the stream ended: its last line, if it has no line break
            if held:
                yield memoryview(buffer)[:held]
            return
        cut = buffer.rfind(b"\n", 0, end) + 1
        if not cut:
            held = end
            continue
        yield memoryview(buffer)[:cut]
        buffer[: end - cut] = buffer[cut:end]
        held = end - cut


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


def _block_lines(block: bytes | memoryview) -> pa.Array:
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
        text = bytes(block).decode("utf-8", errors="replace").removeprefix("\ufeff")
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


def int_range(first: int, count: int) -> pa.Array:
    """`count` consecutive int64 from `first`, built by polars (pa.array of a range converts each number)."""
    return pl.int_range(first, first + count, dtype=pl.Int64, eager=True).to_arrow()


def numbered(texts: pa.Array, first_line: int = 1) -> pa.Table:
    return pa.table({"line": int_range(first_line, len(texts)), "text": texts})


def ends_unbroken(data: bytes | memoryview) -> bool:
    """Does the block's last line lack a line break (a file's torn last line)?"""
    return len(data) > 0 and data[-1] != 0x0A


def count_lines(data: bytes | memoryview) -> int:
    """Physical lines as the numbered-lines path numbers them (Arrow also breaks at a lone \\r), counted by
    RE2 without a copy."""
    if re2_search(data, "\r") and re2_search(data, _LONE_CR):
        return len(_block_lines(bytes(data)))
    return _count(data, "\n") + ends_unbroken(data)


def is_clean(data: bytes | memoryview, first_line: int) -> bool:
    """Every line is non-blank and ends at \\n (or the block's end): then a JSON reader that skips blank
    lines (DuckDB's read_json) yields exactly one record per line, and the line count is what the
    numbered-lines path would number. Searched by RE2 (pyarrow), which releases the GIL."""
    if first_line == 1 and data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    return not any(re2_search(data, pattern) for pattern in _UNCLEAN)


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
        return self.first_line + self.lines - 1 if self.last and ends_unbroken(self.data) else None

    def is_clean(self) -> bool:
        return is_clean(self.data, self.first_line)

    def line_batch(self) -> LineBatch:
        """The block's physical lines, numbered (the numbered-lines path)."""
        return LineBatch(numbered(_block_lines(self.data), self.first_line), self.torn_line)


@dataclass(frozen=True, eq=False)
class ScratchFile:
    """A scratch copy of a block: the path DuckDB opens, and its descriptor when it is in memory. Released
    by identity, not by path: a memfd's /proc path names whichever file next gets the same descriptor
    number, so a release by path after the file was freed could free the next block's copy."""

    path: Path
    fd: int | None = None  # its memfd (None: a file on disk)


@dataclass(frozen=True)
class SpooledBlock:
    """A block copied to a scratch file for DuckDB's JSON reader, numbered and judged (`clean`, see
    `is_clean`) while its bytes were in hand; they are not kept in memory."""

    file: ScratchFile
    first_line: int
    lines: int
    last: bool
    clean: bool
    unbroken: bool  # its last line has no line break
    keys: frozenset[str] | None = None  # the only keys a clean block can hold, when a scan was asked for
    # not clean only for its blank lines (no lone CR): DuckDB's reader can parse it, its rows numbered by
    # `non_blank_lines`
    blank_lines: bool = False

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def torn_line(self) -> int | None:
        return self.first_line + self.lines - 1 if self.last and self.unbroken else None

    def non_blank_lines(self, max_bytes: int) -> pa.Array:
        """The numbers of the block's lines that are not blank, in order: the lines DuckDB's reader gives
        a row (it skips blank lines, as the numbered-lines path does), read `max_bytes` at a time."""
        return pa.concat_arrays(
            [
                batch.lines.column("line")
                .filter(pc.invert(pc.match_substring_regex(batch.lines.column("text"), _BLANK_LINE)))
                .combine_chunks()
                for batch in self.line_batches(max_bytes)
            ]
        )

    def line_batches(self, max_bytes: int) -> Iterator[LineBatch]:
        """The block's physical lines, numbered, read back from its scratch file in batches of about
        `max_bytes` of text each, cut at line breaks (a line longer than that is a batch of its own), so a
        block read line by line holds a piece of its text as Arrow strings at a time, not all of it."""
        first = self.first_line
        for piece in _pieces(self.path.read_bytes(), max_bytes):
            lines = _block_lines(piece)
            yield LineBatch(numbered(lines, first), self.torn_line)
            first += len(lines)


BOM = b"\xef\xbb\xbf"


def _pieces(data: bytes, max_bytes: int) -> Iterator[memoryview]:
    """`data` cut after the last line break within every `max_bytes` (or the first one after, for a
    longer line), as views."""
    view, start = memoryview(data), 0
    while start < len(data):
        end = start + max_bytes
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            if cut < 0:
                cut = data.find(b"\n", end)
            # not before a line that starts with a byte-order mark: Arrow drops one from a piece's start
            while 0 <= cut and data.startswith(BOM, cut + 1):
                cut = data.find(b"\n", cut + 1)
            end = len(data) if cut < 0 else cut + 1
        yield view[start:end]
        start = end


# what read_json skips as a blank line (JSON whitespace, plus \f and \v)
_JSON_BLANK = "[ \\t\\r\\f\\v]"
_BLANK_LINE = f"^{_JSON_BLANK}*$"  # a line's text (without its break) that is blank
# a lone \r: a line break for the numbered-lines path (Arrow), not for read_json
_LONE_CR = r"\r(?:[^\n]|$)"
# a blank first line, a blank line inside the block, a lone \r, a last line of only blanks (RE2: `$` is
# the end of the block); separate patterns, as literal-led ones scan far faster than one alternation
_UNCLEAN = (
    f"^{_JSON_BLANK}*(?:\\n|$)",
    f"\\n{_JSON_BLANK}*\\n",
    _LONE_CR,
    f"\\n{_JSON_BLANK}+$",
)


def binary_value(data: bytes | memoryview) -> pa.Array:
    """`data` as one zero-copy binary value, for Arrow's string kernels."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])


def re2_search(data: bytes | memoryview, pattern: str) -> bool:
    """Does RE2 find `pattern` in `data`?"""
    return bool(pc.match_substring_regex(binary_value(data), pattern)[0].as_py())


def _count(data: bytes | memoryview, pattern: str) -> int:
    """How often RE2 finds `pattern` in `data` (twice as fast as bytes.count for a newline)."""
    return pc.count_substring_regex(binary_value(data), pattern)[0].as_py()


def iter_blocks(blocks: Iterator[bytes]) -> Iterator[Block]:
    """`blocks` (cut at line breaks) numbered: each with its first line and line count."""
    block = next(blocks, None)
    first = 1
    while block is not None:
        following = next(blocks, None)  # one block of lookahead tells which block is the file's last
        lines = count_lines(block)
        yield Block(block, first, lines, following is None)
        first += lines
        block = following


# in-memory files for blocks (Linux): DuckDB opens one by its /proc path like any file
_MEMFD = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


class Scratch:
    """Where blocks are copied for DuckDB's JSON reader. On Linux, in-memory files (memfd): no disk file
    system's work for bytes read once and dropped (scratch files on ext4 cost 1M calls ~0.5 CPU-s more, in
    the kernel), and the kernel frees them when they are closed or the process ends, so a killed run leaves
    nothing behind. Elsewhere, files in a temporary folder made by `make_directory` when first needed.
    Thread-safe: blocks are written on the reading thread and released on the parse pool; `close` frees
    the ones never released (a run stopped by an error)."""

    def __init__(self, make_directory: Callable[[], Path], in_memory: bool = _MEMFD):
        self._make_directory = make_directory
        self._directory: Path | None = None
        self._in_memory = in_memory
        self._open: set[ScratchFile] = set()
        self._lock = threading.Lock()

    def write(self, data: memoryview, name: str) -> ScratchFile:
        """A new scratch file holding `data`, at a path DuckDB can open."""
        if self._in_memory:
            fd = os.memfd_create(name, os.MFD_CLOEXEC)
            file = ScratchFile(Path(f"/proc/self/fd/{fd}"), fd)
            with self._lock:
                self._open.add(file)
            with open(fd, "wb", closefd=False) as out:
                out.write(data)
            return file
        with self._lock:
            if self._directory is None:
                self._directory = self._make_directory()
            file = ScratchFile(self._directory / f"{uuid.uuid4().hex}-{name}.jsonl")
            self._open.add(file)
        with file.path.open("wb") as out:
            out.write(data)
        return file

    def release(self, file: ScratchFile) -> None:
        """Free a scratch file (once; again is a no-op, even after its descriptor number was reused)."""
        with self._lock:
            if file not in self._open:
                return
            self._open.remove(file)
        if file.fd is None:
            file.path.unlink(missing_ok=True)
        else:
            os.close(file.fd)

    def close(self) -> None:
        for file in list(self._open):
            self.release(file)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def spool_blocks(
    views: Iterator[memoryview],
    scratch: Scratch,
    scan: Callable[[memoryview], frozenset[str] | None] | None = None,
) -> Iterator[SpooledBlock]:
    """`views` (cut at line breaks, each valid until the next: `LogSource.views`) numbered, judged and
    copied to `scratch` one by one, so a block's bytes are in the read buffer only while it is copied (the
    caller releases each block's copy). `scan` gives a clean block's `keys` (`keyscan.KeyScan`)."""
    pending: SpooledBlock | None = None
    first = 1
    for number, view in enumerate(views):
        file = scratch.write(view, f"llmaudit-block-{number}")
        lines = count_lines(view)
        if pending is not None:  # a block is known not to be the file's last once the next one is read
            yield pending
        clean = is_clean(view, first)
        blank_lines = not clean and not re2_search(view, _LONE_CR)
        keys = scan(view) if scan is not None and (clean or blank_lines) else None
        pending = SpooledBlock(file, first, lines, False, clean, ends_unbroken(view), keys, blank_lines)
        first += lines
    if pending is not None:
        yield dataclasses.replace(pending, last=True)


def iter_lines(blocks: Iterator[Block], batch: int) -> Iterator[LineBatch]:
    """Batches of about `batch` numbered physical lines from numbered blocks: memory is bounded by the
    batch, not the file."""
    pending: list[pa.Table] = []
    for block in blocks:
        pending.append(block.line_batch().lines)
        if block.last or sum(t.num_rows for t in pending) >= batch:
            yield LineBatch(pa.concat_tables(pending), block.torn_line)
            pending = []


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
