"""Shared fixtures: the hand-checkable test catalog, the real anchors folder, an isolated working dir."""

from __future__ import annotations

import atexit
import datetime as dt
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from llmaudit.catalog import Catalog, load_catalog
from llmaudit.schema import CALL_SCHEMA, conform

# the parsed-catalog cache of the test run: its own folder, never the user's ~/.cache (set before any
# fixture loads a catalog)
os.environ["LLMAUDIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="llmaudit-test-cache-")
atexit.register(shutil.rmtree, os.environ["LLMAUDIT_CACHE_DIR"], True)

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
TEST_CATALOG = FIXTURES / "catalog"
ANCHORS = HERE.parent.parent / "shared" / "anchors"
UTC = dt.UTC


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ./.llmaudit or environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMAUDIT_CATALOG", raising=False)
    monkeypatch.setenv("LLMAUDIT_DB", str(tmp_path / "history.duckdb"))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(TEST_CATALOG, include_bundled=False)


@pytest.fixture
def anchors() -> Path:
    if not (ANCHORS / "logs").is_dir():
        pytest.skip("../shared/anchors is not present")
    return ANCHORS


def calls_frame(**columns: list) -> pl.DataFrame:
    """A calls frame from a few columns; the rest null. ts defaults to 2025-11-01 UTC."""
    n = len(next(iter(columns.values())))
    columns.setdefault("ts", [dt.datetime(2025, 11, 1, tzinfo=UTC)] * n)
    columns.setdefault("status", ["ok"] * n)
    columns.setdefault("is_batch", [False] * n)
    columns.setdefault("request_count", [1] * n)
    if "model_raw" in columns and "model" not in columns:
        columns["model"] = columns["model_raw"]
    frame = pl.DataFrame(columns, schema_overrides={k: v for k, v in CALL_SCHEMA.items() if k in columns})
    return conform(frame, CALL_SCHEMA)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def bench_script(name: str) -> ModuleType:
    """`bench/<name>.py` (scripts, not a package) as a module `bench_<name>`."""
    path = HERE.parent / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[f"bench_{name}"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def bench_generator() -> ModuleType:
    """`bench/generate.py`: the benchmark's seeded log generator."""
    return bench_script("generate")
