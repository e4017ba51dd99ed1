"""The benchmark's next-day append: a generated day after the month, appended to a copy of the month's store."""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import bench_generator
from test_bench_library import _run_bench


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_generated_period_holds_its_calls_and_its_own_ids(tmp_path):
    generate = bench_generator()
    month, day = tmp_path / "month.jsonl", tmp_path / "day.jsonl"
    generate.write("openai", 3_000, 0, month)
    first = datetime(2026, 3, 31, tzinfo=UTC)
    generate.write("openai", 600, 1, day, first.date(), 1)
    times = [r["created"] for r in _records(day)]
    # within the day (a repeat may be pushed a second past an original at its end)
    assert min(times) >= first.timestamp()
    assert max(times) <= (first + timedelta(days=1)).timestamp()
    assert max(r["created"] for r in _records(month)) < first.timestamp()  # the month ends before it
    assert not {r["id"] for r in _records(day)} & {r["id"] for r in _records(month)}
    assert generate.check(day, "openai", first.date(), 1)["records"] == 600
    with pytest.raises(AssertionError):  # the check knows the period: the day is not in the month
        generate.check(day, "openai")


@pytest.mark.parametrize(("day_n", "expected"), [(None, 100), (70, 70)])  # default: N / 30
def test_append_day_times_a_fresh_copy_and_leaves_the_store_as_it_was(
    tmp_path, capsys, monkeypatch, day_n, expected
):
    exe = shutil.which("llmaudit", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("no llmaudit executable beside this Python")
    run_bench = _run_bench()
    monkeypatch.chdir(tmp_path)  # llmaudit's default store would land in the working folder
    argv = ["--n", "3000", "--out-dir", str(tmp_path), "--llmaudit", exe, "--store", "--append-day"]
    code = run_bench.main(argv + (["--day-n", str(day_n)] if day_n else []))
    assert code == 0
    out = capsys.readouterr().out
    # the store's part can come out below zero at this size: two ~1 s runs differ by more than it costs
    figures = dict(re.findall(r"(\w+)=(-?[\d.]+)", out.splitlines()[-1]))
    assert int(figures["day_n"]) == expected
    assert float(figures["append_wall_s"]) > 0 and float(figures["day_wall_s"]) > 0
    assert float(figures["append_store_s"]) == pytest.approx(
        float(figures["append_wall_s"]) - float(figures["day_wall_s"]), abs=0.002
    )
    assert f"{expected} calls into 3,000" in out
    # the day was generated after the month; the store itself still holds only the month
    assert (tmp_path / f"openai_n{expected}_s1_2026-03-31_d1.jsonl").exists()
    stores = sorted(p.name for p in tmp_path.glob("*.duckdb*"))
    assert stores == ["openai_n3000_s0.store.duckdb"]
    with duckdb.connect(str(tmp_path / stores[0]), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 3_000


def test_export_times_the_export_and_its_analysis_and_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    exe = shutil.which("llmaudit", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("no llmaudit executable beside this Python")
    monkeypatch.chdir(tmp_path)
    argv = ["--n", "3000", "--out-dir", str(tmp_path), "--llmaudit", exe, "--export", "--repeat", "2"]
    assert _run_bench().main(argv) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"(\w+)=(-?[\d.]+)", out.splitlines()[-1]))
    assert float(figures["export_wall_s"]) > 0 and float(figures["export_analyze_wall_s"]) > 0
    assert float(figures["export_mb"]) > 0 and "export: 3,000 calls" in out
    # two runs, each from an empty folder (a second export into the first's would hold every call twice,
    # which the check of its rows refuses); the folder is removed afterwards
    assert "export --parquet (from the store): 2 runs" in out
    assert not list(tmp_path.glob("*.export"))
