"""The benchmark's like-for-like peer figure: llmaudit's library timed on records parsed beforehand."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import bench_script

from llmaudit import load_catalog, price
from llmaudit.ingest import read_logs

SAMPLE = Path(__file__).parent.parent / "sample_logs" / "openai_app.jsonl"


def _run_bench():
    return bench_script("run_bench")


def test_library_timing_prices_the_sample_and_divides_by_the_peer_rate(capsys):
    figures = _run_bench().time_library(SAMPLE, 1, {"loop": 1000.0})
    values = dict(re.findall(r"(\w+)=([\d.]+)", figures))
    price_cpu, cost_cpu = float(values["library_price_cpu_s"]), float(values["library_cost_cpu_s"])
    assert 0 < cost_cpu and 0 < price_cpu
    calls = read_logs(SAMPLE).calls
    # each ratio is the library's calls per CPU-s over the peer's 1,000 (rounded as printed)
    assert (
        abs(float(values["ratio_price_vs_loop_cpu"]) - calls.height / price_cpu / 1000) < 0.01 * calls.height
    )
    assert abs(float(values["ratio_cost_vs_loop_cpu"]) - calls.height / cost_cpu / 1000) < 0.01 * calls.height
    # the child priced the sample's calls to the same total as price() here
    total = price(calls, load_catalog())["cost_usd"].sum()
    said = re.search(r"\$([\d,.]+)", capsys.readouterr().out)
    assert said is not None and float(said.group(1).replace(",", "")) == round(float(total), 2)


def _report_run(report: dict | None = None, stdout: bytes | None = None):
    """A finished benchmark run whose output is `report` (or the bytes `stdout`)."""
    return _run_bench().Run(0, 1.0, 1.0, 1.0, stdout or json.dumps(report).encode(), b"")


def test_the_benchmark_fails_a_run_that_loses_calls_or_differs_from_the_first():
    """Every timed `analyze` run must account for all the generated calls and give the first run's report:
    a run that differs is a bug, not noise (a race once read one block in another's place)."""
    coverage = {"rows_read": 5, "calls": 5, "rejected": 0, "collapsed": 0, "reconciles": True}
    report = {"coverage": coverage, "totals": {"cost_usd": "1.5"}}
    check = _run_bench().report_check(5)
    assert check(_report_run(report)) is None
    assert check(_report_run(report)) is None  # the same again
    differs = check(_report_run({**report, "totals": {"cost_usd": "1.6"}}))
    assert differs is not None and "(totals)" in differs
    fresh = _run_bench().report_check(5)
    short = {**coverage, "calls": 4, "rejected": 1}
    assert "4 calls, 1 rejected" in fresh(_report_run({**report, "coverage": short}))
    assert fresh(_report_run({**report, "coverage": {**coverage, "reconciles": False}})) is not None
    assert "not one JSON document" in fresh(_report_run(stdout=b"{oops"))
