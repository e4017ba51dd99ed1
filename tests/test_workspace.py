"""The workspace's DuckDB memory share: the full share by default, a smaller one for analyze's summary
queries unless the user chose a limit; and what a chunk's I/O error says."""

from __future__ import annotations

import shutil

import pytest
from conftest import write

import llmaudit.workspace as workspace
from llmaudit.analysis import analyze
from llmaudit.errors import InputError
from llmaudit.workspace import Workspace


def _limit(ws: Workspace) -> str:
    return ws.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _expected(size: str) -> str:
    """How DuckDB shows a limit it was given (e.g. 256MB as 244.1 MiB)."""
    probe = Workspace(memory_limit=size)
    try:
        return _limit(probe)
    finally:
        probe.close()


@pytest.mark.parametrize("env", [None, ""])  # an empty variable chooses nothing
def test_the_summary_share_is_smaller_and_given_back(monkeypatch, env):
    if env is None:
        monkeypatch.delenv("LLMAUDIT_MEMORY_LIMIT", raising=False)
    else:
        monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", env)
    ws = Workspace()
    full = _limit(ws)
    assert full == _expected(workspace.DEFAULT_MEMORY_LIMIT)
    with ws.summary_share():
        assert _limit(ws) == _expected(workspace.SUMMARY_MEMORY_LIMIT) != full
    assert _limit(ws) == full
    ws.close()


@pytest.mark.parametrize("chosen", ["env", "argument"])
def test_a_chosen_limit_holds_everywhere(monkeypatch, chosen):
    if chosen == "env":
        monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", "300MB")
        ws = Workspace()
    else:
        monkeypatch.delenv("LLMAUDIT_MEMORY_LIMIT", raising=False)
        ws = Workspace(memory_limit="300MB")
    with ws.summary_share():
        assert _limit(ws) == _expected("300MB")
    assert _limit(ws) == _expected("300MB")
    ws.close()


def test_analyze_summarizes_within_the_summary_share_and_exports_get_the_full_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMAUDIT_MEMORY_LIMIT", raising=False)
    seen = []
    finish = workspace.Workspace.collapse

    def collapse(self):
        seen.append(_limit(self))
        return finish(self)

    monkeypatch.setattr(workspace.Workspace, "collapse", collapse)
    line = '{"id": "c1", "object": "chat.completion", "created": 1741000000, "model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}'
    report = analyze(write(tmp_path / "log.jsonl", line + "\n"))
    assert seen == [_expected(workspace.SUMMARY_MEMORY_LIMIT)]
    assert _limit(report.workspace) == _expected(workspace.DEFAULT_MEMORY_LIMIT)


def test_a_chunk_that_cannot_be_read_or_written_says_which(tmp_path):
    """A chunk's I/O error names the side that failed (DuckDB quotes the whole query, which names the
    workspace either way), and leaves no spool file behind."""
    ws = Workspace()
    try:
        with pytest.raises(InputError) as read:
            ws.add_chunk(ws.con.cursor(), f"SELECT * FROM read_json('{tmp_path / 'gone.jsonl'}')")
        assert str(read.value).startswith("cannot read the logs: ") and "gone.jsonl" in str(read.value)
        assert "LINE 1" not in str(read.value) and "workspace" not in str(read.value)
        assert not any(ws.spool.iterdir())
        shutil.rmtree(ws.spool)  # the spool's folder gone: the write fails
        with pytest.raises(InputError) as written:
            ws.add_chunk(ws.con.cursor(), "SELECT 1 AS x, NULL AS request_text, NULL AS response_text")
        assert str(written.value).startswith(f"cannot write the workspace in {ws.directory}: ")
    finally:
        ws.close()
