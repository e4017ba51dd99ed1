"""Finding log files and reading them into numbered lines (no Python loop per line)."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class LogSource:
    """A log file ready to read: uncompressed files stay on disk (polars reads them directly, no copy in
    Python); compressed ones are decompressed into memory."""

    path: Path
    content: Path | bytes
    head: bytes
    ends_with_newline: bool

    def read_all(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content.read_bytes()


def open_source(path: Path) -> LogSource:
    suffix = path.suffix.lower()
    try:
        if suffix not in COMPRESSED:
            with path.open("rb") as handle:
                head = handle.read(4096)
                size = path.stat().st_size
                handle.seek(max(size - 1, 0))
                last = handle.read(1)
            return LogSource(path, path, head, last == b"\n")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if suffix == ".gz":
            data = gzip.decompress(data)
        else:
            import zstandard  # optional: only needed for .zst input

            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except ImportError:
        raise InputError(
            f"{path}: reading .zst needs the zstandard package (pip install zstandard)"
        ) from None
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path}: cannot decompress: {exc}") from None
    return LogSource(path, data, data[:4096], data.endswith(b"\n"))


_LINE_OPTIONS = {
    "has_header": False,
    "separator": "\x1f",
    "quote_char": None,
    "new_columns": ["text"],
    "schema": {"text": pl.String},
    "truncate_ragged_lines": True,
    "encoding": "utf8-lossy",
}


def _clean_lines(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("line").cast(pl.Int64), pl.col("text").str.strip_prefix("\ufeff")
    ).filter(pl.col("text").str.strip_chars().str.len_bytes() > 0)


def iter_lines(path: Path, batch: int) -> Iterator[pl.DataFrame]:
    """(line, text) frames of about `batch` physical lines, streamed from disk (bounded memory)."""
    if path.stat().st_size == 0:
        return
    scan = pl.scan_csv(path, **_LINE_OPTIONS).with_row_index("line", offset=1)  # type: ignore[arg-type]
    for frame in scan.collect_batches(chunk_size=batch):
        cleaned = _clean_lines(frame)
        if cleaned.height:
            yield cleaned


def split_lines(content: Path | bytes) -> pl.DataFrame:
    """Frame (line, text): 1-based physical line numbers, blank lines dropped, CRLF and BOM handled."""
    source = io.BytesIO(content) if isinstance(content, bytes) else content
    try:
        frame = pl.read_csv(source, **_LINE_OPTIONS)  # type: ignore[arg-type]
    except pl.exceptions.NoDataError:
        return pl.DataFrame(schema={"line": pl.Int64, "text": pl.String})
    return _clean_lines(frame.with_row_index("line", offset=1))


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
