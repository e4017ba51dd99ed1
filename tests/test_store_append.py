"""History store appends: every call is stored once, whichever way the new calls are told from the stored
ones (nothing stored in the period, the same calls again, other calls of the same days, or a mix)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from conftest import calls_frame

from llmaudit.catalog import load_catalog
from llmaudit.db import connect
from llmaudit.store import HistoryStore

DAY = dt.datetime(2025, 11, 3, tzinfo=dt.UTC)


def _calls(ids: list[str], day: int = 0):
    """Calls of one day with their own token counts, so a call stored twice or lost shows in the sums."""
    return calls_frame(
        record_id=ids,
        model_raw=["gpt-4o-mini"] * len(ids),
        ts=[DAY + dt.timedelta(days=day, minutes=7 * i) for i in range(len(ids))],
        input_uncached_tokens=[100 + int(i[1:]) for i in ids],
        input_total_tokens=[100 + int(i[1:]) for i in ids],
        output_tokens=[10 + int(i[1:]) for i in ids],
    )


def _stored(store: HistoryStore) -> list[tuple[str, int]]:
    with duckdb.connect(str(store.path), read_only=True) as con:
        return con.execute("SELECT record_id, output_tokens FROM calls ORDER BY record_id").fetchall()


def _add_frame_without_row_key(store: HistoryStore, frame, catalog) -> int:
    """`add_from` over a registered frame with no `_seq`: the new calls are inserted by id."""
    con = connect()
    try:
        con.register("given", frame)
        return store.add_from(con, "given", catalog)
    finally:
        con.close()


@pytest.mark.parametrize("via", ["frame", "relation without a row key"])
def test_each_call_is_stored_once_however_the_new_calls_are_found(tmp_path, via):
    catalog = load_catalog()
    store = HistoryStore(tmp_path / "h.duckdb")

    def add(frame) -> int:
        if via == "frame":
            return store.add(frame, catalog)
        return _add_frame_without_row_key(store, frame, catalog)

    first = [f"r{i}" for i in range(0, 40)]
    assert add(_calls(first)) == 40  # a new store: nothing to compare with
    assert add(_calls(first)) == 0  # the same calls again
    others = [f"r{i}" for i in range(100, 130)]
    assert add(_calls(others)) == 30  # other calls of the same day, none stored
    mixed = [f"r{i}" for i in range(20, 60)] + [f"r{i}" for i in range(110, 140)]
    assert add(_calls(mixed)) == 20 + 10  # some stored, some new
    assert add(_calls([f"r{i}" for i in range(200, 205)], day=1)) == 5  # a new day
    expected = sorted({*first, *others, *mixed, *(f"r{i}" for i in range(200, 205))})
    stored = _stored(store)
    assert [r for r, _ in stored] == expected  # each once
    assert all(tokens == 10 + int(r[1:]) for r, tokens in stored)  # each its own row
    assert store.count() == len(expected)


def test_a_store_url_is_refused_and_not_needed_without_a_store(tmp_path, monkeypatch):
    """--db or LLMAUDIT_DB naming object storage is refused (it was folded into a local s3:/… path), before
    any work; `analyze --no-store` does not open the store, so it runs whatever LLMAUDIT_DB says."""
    from typer.testing import CliRunner

    from llmaudit.cli import app
    from llmaudit.errors import UsageError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="the history store is a DuckDB file on local disk"):
        HistoryStore("s3://bucket/history.duckdb")
    result = CliRunner().invoke(app, ["store", "info", "--db", "s3://bucket/history.duckdb"])
    assert result.exit_code == 2 and "s3://bucket/history.duckdb: the history store" in result.output
    monkeypatch.setenv("LLMAUDIT_DB", "gs://bucket/history.duckdb")
    log = tmp_path / "log.jsonl"
    log.write_text(
        '{"object": "chat.completion", "id": "c1", "created": 1750000000, "model": "gpt-4o-mini", '
        '"usage": {"prompt_tokens": 10, "completion_tokens": 2}}\n'
    )
    assert CliRunner().invoke(app, ["analyze", str(log)]).exit_code == 2
    assert CliRunner().invoke(app, ["analyze", str(log), "--no-store"]).exit_code == 0
    assert not (tmp_path / "s3:").exists() and not (tmp_path / "gs:").exists()
