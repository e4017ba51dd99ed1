"""The parsed catalog kept on disk, so a command does not parse ~1,300 models of YAML every time it starts.

An entry is keyed by everything the catalog is made of: the catalog files' paths and bytes, the code that
parses them (this package's sources), llmaudit's version and Python's. A changed price, file or parser makes
a new key, never a stale hit. Entries live in `$LLMAUDIT_CACHE_DIR` (`off` disables the cache), else
`$XDG_CACHE_HOME/llmaudit` or `~/.cache/llmaudit`; a cache that cannot be read or written is skipped.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

KEEP = 16  # entries kept; older ones are removed when a new one is written
_SOURCES = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    value = os.environ.get("LLMAUDIT_CACHE_DIR")
    if value == "off":
        return None
    if value:
        return Path(value)
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "llmaudit"
    try:
        return Path.home() / ".cache" / "llmaudit"
    except RuntimeError:  # no home directory to speak of: no cache
        return None


def key(layers: list[tuple[Path, list[Path]]]) -> str | None:
    """The key of a catalog made of `layers` (each a path and its YAML files, in load order); None when a
    file cannot be read (the parse then says which, and why)."""
    from llmaudit import __version__

    digest = hashlib.sha256(f"{__version__}|{sys.version_info[:2]}|{pickle.HIGHEST_PROTOCOL}".encode())
    try:
        for source in sorted(_SOURCES.glob("*.py")):
            digest.update(source.read_bytes())
        for layer, files in layers:
            digest.update(f"\0layer {layer.resolve()}".encode())
            for file in files:
                digest.update(f"\0file {file.resolve()}\0".encode())
                digest.update(file.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()[:32]


def load(entry: str | None) -> Any | None:
    """The catalog stored under `entry`, or None (no cache, no entry, or one that cannot be read)."""
    folder = cache_dir()
    if folder is None or entry is None:
        return None
    try:
        with open(folder / f"catalog-{entry}.pickle", "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - our own cache, in the user's own folder
    except Exception:  # missing, truncated or from an incompatible build: parse the YAML instead
        return None


def save(entry: str | None, catalog: Any) -> None:
    """Store `catalog` under `entry` (written beside, then renamed: readers never see half a file)."""
    folder = cache_dir()
    if folder is None or entry is None:
        return
    temporary: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as fh:
            temporary = Path(fh.name)
            pickle.dump(catalog, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, folder / f"catalog-{entry}.pickle")
        temporary = None
        entries = sorted(folder.glob("catalog-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except Exception:  # a full disk, a read-only home, an object pickle refuses: no cache this time
        pass
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
