"""Summaries of many groups: the attribution lists keep their costliest rows and sum the rest apart, and a
summary that does not fit the smaller summary share runs again with the full one."""

from __future__ import annotations

import json

import duckdb
import pytest
from conftest import write

from llmaudit import summarize
from llmaudit.analysis import analyze
from llmaudit.db import DEFAULT_MEMORY_LIMIT
from llmaudit.workspace import SUMMARY_MEMORY_LIMIT

USERS = 8


def _chat(rid: str, at: int, model: str, prompt: int, output: int, **metadata: str | None) -> str:
    """One OpenAI chat object (its metadata's keys left out when None)."""
    kept = {k: v for k, v in metadata.items() if v is not None}
    return json.dumps(
        {
            "object": "chat.completion",
            "id": rid,
            "created": at,
            "model": model,
            "usage": {"prompt_tokens": prompt, "completion_tokens": output},
            **({"metadata": kept} if kept else {}),
        }
    )


def _logs(tmp_path):
    """OpenAI chat objects of USERS users, each a different cost (more calls and tokens per user)."""
    lines = [
        _chat(
            f"c-{user}-{call}",
            1772323200 + 60 * call,
            "gpt-4o-mini",
            1000 * (user + 1),
            10 * user,
            user=f"u-{user}",
            feature="chat",
        )  # fmt: skip
        for user in range(USERS)
        for call in range(user + 1)
    ]
    return write(tmp_path / "logs.jsonl", "\n".join(lines) + "\n")


def test_attribution_lists_keep_the_costliest_rows_and_sum_the_rest(tmp_path, monkeypatch):
    logs = _logs(tmp_path)
    whole = analyze(logs).data
    assert len(whole["by_user"]) == USERS and "omitted" not in whole
    monkeypatch.setattr(summarize, "MAX_LIST_ROWS", 3)
    capped = analyze(logs).data
    # the same first rows, shares of the whole cost; the rest summed apart
    assert capped["by_user"] == whole["by_user"][:3]
    assert [r["user"] for r in capped["by_user"]] == ["u-7", "u-6", "u-5"]
    rest = whole["by_user"][3:]
    assert capped["omitted"] == {
        "by_user": {
            "rows": len(rest),
            "calls": sum(r["calls"] for r in rest),
            "cost_usd": sum(r["cost_usd"] for r in rest),
        }
    }
    assert capped["by_feature"] == whole["by_feature"]  # one feature: nothing left out
    assert capped["totals"] == whole["totals"]


def test_model_lists_keep_the_costliest_models_and_sum_the_rest(tmp_path, monkeypatch):
    """by_model and the coverage's unknown model ids are capped like the attribution lists (554k distinct
    fine-tuned ids made a 3.4 GiB process): the same first rows, the rest summed apart."""
    priced = ["gpt-4o-mini", "gpt-4o", "gpt-4.1"]
    unknown = [f"ft:acme-private-{n}" for n in range(5)]
    lines = [
        _chat(f"m-{i}-{call}", 1772323200 + 60 * call, model, 1000 * (i + 1), 10)
        for i, model in enumerate(priced + unknown)
        for call in range(i + 1)
    ]
    logs = write(tmp_path / "models.jsonl", "\n".join(lines) + "\n")
    whole = analyze(logs).data
    assert len(whole["by_model"]) == len(priced + unknown) and "omitted" not in whole
    assert len(whole["coverage"]["unpriced_models"]) == len(unknown)
    assert "unpriced_models_omitted" not in whole["coverage"]
    monkeypatch.setattr(summarize, "MAX_LIST_ROWS", 3)
    capped = analyze(logs).data
    assert capped["by_model"] == whole["by_model"][:3]
    rest = whole["by_model"][3:]
    assert capped["omitted"]["by_model"] == {
        "rows": len(rest),
        "calls": sum(r["calls"] for r in rest),
        "cost_usd": sum((r["cost_usd"] or 0) for r in rest),
    }
    # the most called unknown ids first
    assert [m["model_raw"] for m in capped["coverage"]["unpriced_models"]] == unknown[::-1][:3]
    assert capped["coverage"]["unpriced_models"] == whole["coverage"]["unpriced_models"][:3]
    left = whole["coverage"]["unpriced_models"][3:]
    assert capped["coverage"]["unpriced_models_omitted"] == {
        "models": 2,
        "calls": sum(m["calls"] for m in left),
        "input_tokens": sum(m["input_tokens"] for m in left),
    }
    assert capped["totals"] == whole["totals"]


def _oom_once(monkeypatch) -> list[str]:
    """summarize fails with DuckDB's out-of-memory error on its first call; returns the memory limit
    each call ran with."""
    real, limits = summarize.summarize, []

    def flaky(con, *args, **kwargs):
        limits.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        if len(limits) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return real(con, *args, **kwargs)

    monkeypatch.setattr(summarize, "summarize", flaky)
    return limits


def test_a_summary_out_of_memory_runs_again_with_the_full_share(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMAUDIT_MEMORY_LIMIT", raising=False)
    logs = _logs(tmp_path)
    expected = analyze(logs).data
    limits = _oom_once(monkeypatch)
    assert analyze(logs).data == expected
    probe = duckdb.connect()
    shown = []
    for size in (SUMMARY_MEMORY_LIMIT, DEFAULT_MEMORY_LIMIT):  # as DuckDB shows them (256MB: 244.1 MiB)
        probe.execute(f"SET memory_limit = '{size}'")
        shown.append(probe.execute("SELECT current_setting('memory_limit')").fetchone()[0])
    assert shown[0] != shown[1] and limits == shown


def test_a_chosen_limit_is_not_exceeded_to_finish_a_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", "300MB")
    logs = _logs(tmp_path)
    limits = _oom_once(monkeypatch)
    with pytest.raises(duckdb.OutOfMemoryException):
        analyze(logs)
    assert len(limits) == 1


class _NoGroupingSets:
    """A connection whose GROUPING SETS queries run out of memory, as DuckDB's did over ~1M groups of
    keys (it holds their input in memory); everything else runs as usual."""

    def __init__(self, con: duckdb.DuckDBPyConnection, refused: list[str]):
        self.con, self.refused = con, refused

    def execute(self, sql: str, *args, **kwargs):
        if "GROUPING SETS" in sql:
            self.refused.append(sql)
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return self.con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.con, name)


@pytest.mark.parametrize("by", [None, "user,day"])
def test_a_summary_whose_grouping_sets_do_not_fit_is_summed_in_two_aggregates(tmp_path, monkeypatch, by):
    """The keys and the days summed by two plain aggregates (which spill) give the same report."""
    logs = _logs(tmp_path)
    expected = analyze(logs, by=by).data
    real, refused = summarize.summarize, []
    monkeypatch.setattr(
        summarize, "summarize", lambda con, *a, **k: real(_NoGroupingSets(con, refused), *a, **k)
    )
    assert analyze(logs, by=by).data == expected
    assert len(refused) == 1


def _tied_logs(tmp_path):
    """Calls whose groups tie on cost (ordered by key then), lack a user (null key: last among equals),
    or are unpriced (no cost, never $0)."""
    calls = [
        ("u-b", "gpt-4o-mini", 1000),
        ("u-a", "gpt-4o-mini", 1000),
        (None, "gpt-4o-mini", 1000),
        ("u-c", "gpt-4o", 5000),
        ("u-c", "acme-unknown-1", 5000),
        ("u-d", "acme-unknown-1", 10),
        ("", "gpt-4o-mini", 1000),
    ]
    lines = [
        _chat(f"t-{i}", 1772323200 + 3600 * i, model, tokens, 7, user=user)
        for i, (user, model, tokens) in enumerate(calls)
    ]
    return write(tmp_path / "tied.jsonl", "\n".join(lines) + "\n")


def test_breakdown_rows_stream_from_columns_as_the_lists_order_them(tmp_path):
    """A --by breakdown keeps its rows as columns (`ArrowRows`) in DuckDB's order: the same rows, order
    and shares as the attribution list of the same key, and as `_group_rows` sorting them in Python."""
    import random

    from llmaudit.arrowrows import ArrowRows
    from llmaudit.summarize import _group_rows

    data = analyze(_tied_logs(tmp_path), by="user").data
    rows = data["breakdown"]["rows"]
    assert isinstance(rows, ArrowRows) and len(rows) == 6
    assert list(rows) == data["by_user"] and rows == data["by_user"]
    assert [r["user"] for r in rows] == ["u-c", "", "u-a", "u-b", None, "u-d"]
    assert rows[0] == rows[-6] == data["by_user"][0] and rows[1:3] == data["by_user"][1:3]
    assert rows[::2] == data["by_user"][::2] and rows[4:99] == data["by_user"][4:]
    with pytest.raises(IndexError):
        rows[6]
    several = analyze(_tied_logs(tmp_path), by="user,day").data["breakdown"]["rows"]
    raw = several.table.to_pylist()
    random.Random(1).shuffle(raw)
    keys = ["breakdown_user", "breakdown_day"]
    assert list(several) == _group_rows(raw, keys, ["user", "day"], sum(r["cost_usd"] or 0 for r in raw))


def test_json_and_csv_write_a_breakdown_row_by_row_as_a_whole_document(tmp_path):
    """The JSON and CSV of a report with a --by breakdown, written a row at a time, are the text of the
    whole document rendered at once."""
    import csv as csvlib

    from llmaudit import __version__
    from llmaudit.report.csvout import iter_csv, render_csv
    from llmaudit.report.jsonout import iter_json, plain

    for by in ("user", "user,day"):
        data = analyze(_tied_logs(tmp_path), by=by).data
        whole = {**data, "breakdown": {**data["breakdown"], "rows": list(data["breakdown"]["rows"])}}
        envelope = {"schema": "s", "llmaudit_version": __version__, **plain(whole)}
        expected = json.dumps(envelope, indent=2, ensure_ascii=False)
        assert "".join(iter_json("s", data)) == expected
        assert "".join(iter_json("s", data, rows_per_piece=2)) == expected  # commas between pieces
        pieces = list(iter_csv(data, rows_per_piece=2))
        assert len(pieces) > 2 and "".join(pieces) == render_csv(whole)
        parsed = list(csvlib.DictReader("".join(pieces).splitlines()))
        assert [r["user"] for r in parsed][:3] == ["u-c", "", "u-a"]
    empty = {**data, "breakdown": {**data["breakdown"], "rows": data["breakdown"]["rows"][0:0]}}
    lazy_empty = {**data, "breakdown": {**data["breakdown"], "rows": data["breakdown"]["rows"]}}
    lazy_empty["breakdown"]["rows"].table = lazy_empty["breakdown"]["rows"].table.slice(0, 0)
    assert json.loads("".join(iter_json("s", lazy_empty)))["breakdown"]["rows"] == []
    assert json.loads("".join(iter_json("s", empty)))["breakdown"]["rows"] == []
