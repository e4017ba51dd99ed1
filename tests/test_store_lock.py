"""A history store held by another process: opening it waits (LLMAUDIT_STORE_WAIT seconds) instead of failing
at once, so a nightly append that meets a re-analysis in progress still stores its calls."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from test_store_append import _calls

from llmaudit.catalog import load_catalog
from llmaudit.errors import InputError, UsageError
from llmaudit.store import HistoryStore, store_wait_seconds

_HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=sys.argv[3] == "read")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _held(store: HistoryStore, seconds: float, mode: str = "write") -> subprocess.Popen:
    """Another process holding the store for `seconds` (returned once it holds it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store.path), str(seconds), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def store(tmp_path) -> HistoryStore:
    store = HistoryStore(tmp_path / "h.duckdb")
    assert store.add(_calls([f"r{i}" for i in range(5)]), load_catalog()) == 5
    return store


def test_an_append_waits_for_a_store_another_process_holds(store, monkeypatch):
    monkeypatch.setenv("LLMAUDIT_STORE_WAIT", "30")
    holder = _held(store, 1.0, "read")  # an analyst's re-analysis, say
    started = time.monotonic()
    assert store.add(_calls([f"r{i}" for i in range(5, 8)]), load_catalog()) == 3
    assert time.monotonic() - started > 0.5 and holder.wait() == 0  # it waited for the reader to finish
    assert store.count() == 8


def test_a_read_waits_for_a_writer_and_gives_up_after_the_wait(store, monkeypatch):
    monkeypatch.setenv("LLMAUDIT_STORE_WAIT", "30")
    holder = _held(store, 1.0)
    assert store.count() == 5  # waited for the writer
    holder.wait()
    monkeypatch.setenv("LLMAUDIT_STORE_WAIT", "0")
    holder = _held(store, 30)
    try:
        with pytest.raises(InputError, match="another process holds it, and it was still held after 0 s"):
            store.count()
        with pytest.raises(InputError, match="cannot open the history store: another process holds it"):
            store.add(_calls(["r9"]), load_catalog())
    finally:
        holder.kill()
        holder.wait()
    assert store.count() == 5


def test_the_wait_is_a_number_of_seconds(monkeypatch):
    monkeypatch.delenv("LLMAUDIT_STORE_WAIT", raising=False)
    assert store_wait_seconds() == 60
    monkeypatch.setenv("LLMAUDIT_STORE_WAIT", "2.5")
    assert store_wait_seconds() == 2.5
    monkeypatch.setenv("LLMAUDIT_STORE_WAIT", "soon")
    with pytest.raises(UsageError, match="LLMAUDIT_STORE_WAIT='soon'"):
        store_wait_seconds()
