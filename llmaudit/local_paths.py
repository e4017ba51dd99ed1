"""Where llmaudit writes: local files and directories. A URL is refused rather than written as a local path
named after it (typer's and pathlib's Path fold s3://bucket/x into s3:/bucket/x, a relative local path)."""

from __future__ import annotations

from pathlib import Path

from llmaudit.errors import UsageError

WRITES_LOCALLY = (
    "llmaudit writes local files and directories; write it here, then copy it to object storage (aws s3 sync, "
    "gsutil rsync...), from where `analyze` reads Parquet calls back"
)


def is_url(target: str | Path) -> bool:
    """Object storage or the web (s3://, gs://, https://...), read through DuckDB's httpfs."""
    return "://" in str(target)


def local_output(target: str | Path, why: str = WRITES_LOCALLY) -> Path:
    """`target` as a local path (a file:// URL names one); an object-storage or web URL is a UsageError
    that says `why`."""
    text = str(target)
    if text.startswith("file://"):
        return Path(text.removeprefix("file://"))
    if is_url(text):
        raise UsageError(f"{text}: {why}")
    return Path(text)
