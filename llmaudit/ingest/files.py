"""Finding log files and reading them into numbered lines (no Python loop per line)."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

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


_LINE_OPTIONS = {
    "has_header": False,
    "separator": "\x1f",
    "quote_char": None,
    "new_columns": ["text"],
    "schema": {"text": pl.String},
    "truncate_ragged_lines": True,
    "encoding": "utf8-lossy",
}


def _numbered_lines(block: bytes, offset: int, file: str, last_is_torn: bool) -> tuple[pl.DataFrame, int]:
    """(line, text, source_file, torn) for one block: physical line numbers after `offset`, BOM stripped,
    blank lines dropped; `torn` marks the block's last line when the file ends there without a line break.
    One select and one filter per block: a directory of thousands of small files pays little per file.
    Also returns the block's physical line count."""
    frame = pl.read_csv(io.BytesIO(block), **_LINE_OPTIONS)  # type: ignore[arg-type]
    lines = frame.select(
        pl.int_range(offset + 1, offset + 1 + pl.len(), dtype=pl.Int64).alias("line"),
        pl.col("text").str.strip_prefix("\ufeff"),
        pl.lit(file).alias("source_file"),
        (pl.lit(last_is_torn) & (pl.int_range(pl.len()) == pl.len() - 1)).alias("torn"),
    ).filter(pl.col("text").str.strip_chars().str.len_bytes() > 0)
    return lines, frame.height


def iter_lines(source: LogSource, batch: int) -> Iterator[pl.DataFrame]:
    """(line, text, source_file, torn) frames of about `batch` physical lines (blank ones dropped, numbers
    kept), streamed block by block: memory is bounded by the batch, not the file. `torn` marks the last
    line of a file that does not end with a line break (a write cut short, when it does not parse)."""
    blocks = source.blocks()
    block = next(blocks, None)
    pending: list[pl.DataFrame] = []
    offset = 0
    while block is not None:
        following = next(blocks, None)  # one block of lookahead tells which block is the file's last
        torn = following is None and not block.endswith(b"\n")
        lines, physical = _numbered_lines(block, offset, str(source.path), torn)
        offset += physical
        pending.append(lines)
        if following is None or sum(f.height for f in pending) >= batch:
            whole = pl.concat(pending) if len(pending) > 1 else pending[0]
            if whole.height:
                yield whole
            pending = []
        block = following


def json_document_lines(data: bytes) -> pl.DataFrame | None:
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
    return pl.DataFrame(
        {"line": range(1, len(records) + 1), "text": [json.dumps(r) for r in records]},
        schema={"line": pl.Int64, "text": pl.String},
    )
