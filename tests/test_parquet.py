"""`llmaudit export --parquet DIR` and analyze reading that directory back instead of raw logs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
from conftest import TEST_CATALOG, write
from typer.testing import CliRunner

from llmaudit.cli import app

runner = CliRunner()
LINE = (
    '{{"timestamp": "{ts}", "model": "gpt-4o-mini", "request_id": "r{i}", "input_tokens": {n}, '
    '"output_tokens": 10, "feature": "f{i}"}}\n'
)


def _logs(tmp_path: Path) -> Path:
    rows = [("2026-01-31T23:00:00Z", 1000), ("2026-02-01T01:00:00Z", 2000), ("2026-02-15T12:00:00Z", 3000)]
    return write(
        tmp_path / "logs.jsonl", "".join(LINE.format(ts=ts, i=i, n=n) for i, (ts, n) in enumerate(rows))
    )


def _total(args: list[str]) -> dict:
    result = runner.invoke(
        app, ["analyze", *args, "--catalog", str(TEST_CATALOG), "--format", "json", "--no-store"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_export_partitions_by_month_and_reads_back_identically(tmp_path):
    logs, out = _logs(tmp_path), tmp_path / "pq"
    result = runner.invoke(app, ["export", str(logs), "--parquet", str(out), "--catalog", str(TEST_CATALOG)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["month=2026-01", "month=2026-02"]
    glob = str(out / "**" / "*.parquet")
    with duckdb.connect() as con:
        rows = con.sql(
            f"SELECT month, count(*), sum(cost_usd) FROM read_parquet('{glob}', hive_partitioning=true) "
            "GROUP BY month ORDER BY month"
        ).fetchall()
    # gpt-4o-mini: (1000*0.15 + 10*0.6)/1M; (2000 + 3000 input, 20 output)
    assert rows == [("2026-01", 1, Decimal("0.000156")), ("2026-02", 2, Decimal("0.000762"))]
    from_logs, from_parquet = _total([str(logs)]), _total([str(out)])
    assert from_parquet["totals"]["cost_usd"] == from_logs["totals"]["cost_usd"] == "0.000918"
    assert from_parquet["coverage"]["calls"] == 3 and from_parquet["coverage"]["formats"] == {
        "calls_parquet": 1
    }


def test_reading_logs_and_their_export_together_counts_each_call_once(tmp_path):
    logs, out = _logs(tmp_path), tmp_path / "pq"
    runner.invoke(app, ["export", str(logs), "--parquet", str(out), "--catalog", str(TEST_CATALOG)])
    data = _total([str(logs), str(out)])
    assert data["coverage"]["calls"] == 3 and data["coverage"]["collapsed"] == 3
    assert data["totals"]["cost_usd"] == "0.000918"


def test_parquet_that_is_not_a_calls_table_is_an_input_error(tmp_path):
    other = tmp_path / "other.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT 1 AS x) TO '{other}' (FORMAT parquet)")
    result = runner.invoke(app, ["analyze", str(other), "--no-store"])
    assert result.exit_code == 3 and "not a calls table" in result.stderr
