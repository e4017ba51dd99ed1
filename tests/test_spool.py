"""The workspace's spool leaves out the columns a log's blocks do not fill, learned from a whole block of the
same shape and guarded: whatever a later block holds, the calls come out as the numbered-lines path gives them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import write

import llmaudit.ingest as ingest
import llmaudit.ingest.files as files
import llmaudit.workspace as workspace
from llmaudit.analysis import analyze

SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"


def _record(i: int, late: bool) -> str:
    """OpenAI chat objects that spell the same keys throughout; `service_tier` and `usage.cost` are null
    until `late`."""
    return json.dumps(
        {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "created": 1_741_000_000 + i,
            "model": "gpt-4o-mini",
            "service_tier": "flex" if late else None,
            "usage": {"prompt_tokens": 100 + i, "completion_tokens": 7, "cost": "0.0001" if late else None},
        }
    )


def _spy_writes(monkeypatch) -> list[tuple[frozenset[str], str]]:
    """Every spool write: the columns it left out and how it ended."""
    writes: list[tuple[frozenset[str], str]] = []
    original = workspace.Workspace._write_chunk

    def spy(con, select_sql, target, omit):
        try:
            rows = original(con, select_sql, target, omit)
        except duckdb.InvalidInputException:
            writes.append((omit, "guard"))
            raise
        writes.append((omit, "written"))
        return rows

    monkeypatch.setattr(workspace.Workspace, "_write_chunk", staticmethod(spy))
    return writes


@pytest.mark.parametrize("late_from", [None, 30])  # never filled; filled from the 31st record on
def test_left_out_columns_read_as_null_and_a_filled_one_is_written_whole(tmp_path, monkeypatch, late_from):
    lines = [_record(i, late_from is not None and i >= late_from) for i in range(60)]
    path = write(tmp_path / "log.jsonl", "\n".join(lines) + "\n")
    monkeypatch.setattr(ingest, "BLOCK_READ_MIN_BYTES", 1 << 62)
    expected = analyze(path).calls  # numbered lines: one chunk, nothing left out
    monkeypatch.setattr(ingest, "BLOCK_READ_MIN_BYTES", 0)
    monkeypatch.setattr(files, "BLOCK_BYTES", 1200)  # ~5 records a block
    writes = _spy_writes(monkeypatch)
    report = analyze(path)
    # blocks after the first of their shape left columns out, the ones null so far among them
    left_out = [omit for omit, _ in writes if omit]
    assert left_out and {"service_tier", "cost_reported", "latency_ms"} <= left_out[0]
    spool = report.workspace.spool
    schemas = report.workspace.con.execute(
        f"SELECT file_name, list(name) FROM parquet_schema('{spool}/*.parquet') GROUP BY ALL"
    ).fetchall()
    assert any("service_tier" not in names for _, names in schemas)
    # a block with a filled value tripped the guard and was written whole (two blocks in flight may both)
    guards = [outcome for _, outcome in writes].count("guard")
    assert guards == 0 if late_from is None else guards >= 1
    got = report.calls.sort("record_id")
    assert got.equals(expected.sort("record_id"))
    if late_from is not None:
        assert got.filter(got["service_tier"] == "flex").height == len(lines) - late_from


def test_null_columns_are_read_from_the_files_statistics(tmp_path):
    con = duckdb.connect()
    target = tmp_path / "chunk.parquet"
    con.execute(
        f"COPY (SELECT 1 AS a, NULL::VARCHAR AS b, [NULL]::VARCHAR[] AS c, NULL::BIGINT AS _seq, "
        f"CASE WHEN x = 2 THEN 'x' END AS d FROM range(3) t(x)) TO '{target}'"
    )
    # b is null throughout; nested c and the always-spooled _seq are never left out; d has one value
    assert workspace._all_null_columns(con, target) == frozenset({"b"})


@pytest.mark.parametrize("source", ["sample_logs", "anchors"])
def test_logs_by_blocks_through_the_workspace_equal_numbered_lines(source, request, monkeypatch):
    paths = SAMPLE_LOGS if source == "sample_logs" else request.getfixturevalue("anchors") / "logs"
    monkeypatch.setattr(ingest, "BLOCK_READ_MIN_BYTES", 1 << 62)
    expected = analyze(paths)  # numbered lines: no chunk leaves a column out
    monkeypatch.setattr(ingest, "BLOCK_READ_MIN_BYTES", 0)
    monkeypatch.setattr(files, "BLOCK_BYTES", 4096)
    writes = _spy_writes(monkeypatch)
    got = analyze(paths)
    assert any(omit for omit, _ in writes)  # blocks did leave columns out
    assert got.calls.sort("record_id").equals(expected.calls.sort("record_id"))
    assert got.rejects.equals(expected.rejects)
    assert got.data == expected.data
