"""`llmaudit export --parquet DIR` and analyze reading that directory back instead of raw logs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import TEST_CATALOG, bench_generator, write
from typer.testing import CliRunner

from llmaudit import parquet_io
from llmaudit.analysis import analyze
from llmaudit.cli import app
from llmaudit.report.jsonout import render_json

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


def _report(paths: list[Path]) -> dict:
    """The analyze report of `paths` (bundled catalog), without what names the inputs."""
    report = analyze(paths)
    data = json.loads(render_json(report.schema, report.data))
    data["coverage"].pop("formats")
    data["coverage"].pop("files", None)
    return data


def _export(logs: list[Path], out: Path) -> Path:
    result = runner.invoke(app, ["export", *map(str, logs), "--parquet", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_exports_read_in_place_give_the_copied_and_the_logs_report(tmp_path, monkeypatch):
    """Local exports are scanned in place (no copy into the workspace); read by copy (as from object
    storage) and from the logs they came from, the report is the same: summary, cache, tiers, duplicates."""
    logs = [p for _, p in bench_generator().generate("mixed", 2400, 5, tmp_path / "g")]
    # two months (one file per month partition) and a second table: row keys across files and tables
    early, late = [p for p in logs if p.suffix != ".csv"], [p for p in logs if p.suffix == ".csv"]
    tables = [_export(early, tmp_path / "pq1"), _export(late, tmp_path / "pq2")]
    in_place = _report(tables)
    assert not any(analyze(tables).workspace.spool.iterdir())  # nothing copied
    monkeypatch.setattr(parquet_io, "is_remote", lambda path: True)
    copied = _report(tables)
    assert in_place == copied
    from_logs = _report(logs)
    for section in ("totals", "by_model", "by_day", "by_feature", "cache", "tiers", "modes", "duplicates"):
        assert in_place[section] == from_logs[section], section
    assert in_place["duplicates"]["repeat_calls"] > 100 and in_place["coverage"]["calls"] == 2400


def test_row_keys_of_parquet_calls_are_their_positions_file_by_file(tmp_path):
    out = _export([_logs(tmp_path)], tmp_path / "pq")  # two month partitions: two files
    with duckdb.connect() as con:
        select = parquet_io.parquet_calls_sql(con, out, table_no=3)
        keys = con.execute(
            f"SELECT _seq - (3::BIGINT << 44), record_id FROM ({select}) ORDER BY 1"
        ).fetchall()
        # the files in name order (month=2026-01 first), the rows of each in the order it holds them
        files = sorted(str(path) for path in out.rglob("*.parquet"))
        held = [
            record
            for file in files
            for (record,) in con.execute(
                f"SELECT record_id FROM read_parquet('{file}', file_row_number = true) ORDER BY file_row_number"
            ).fetchall()
        ]
    assert keys == list(enumerate(held)) and len(files) == 2


def test_calls_without_a_time_go_to_month_unknown_and_a_second_export_adds_files(tmp_path):
    undated = '{"model": "gpt-4o-mini", "request_id": "u1", "input_tokens": 5, "output_tokens": 1}\n'
    logs = write(tmp_path / "logs.jsonl", _logs(tmp_path).read_text() + undated)
    out = tmp_path / "pq"
    for _ in range(2):  # each export writes new files, one per month: the first one's stay
        result = runner.invoke(
            app, ["export", str(logs), "--parquet", str(out), "--catalog", str(TEST_CATALOG)]
        )
        assert result.exit_code == 0 and "wrote 4 calls" in " ".join(result.output.split()), result.output
    assert sorted(p.name for p in out.iterdir()) == ["month=2026-01", "month=2026-02", "month=unknown"]
    assert all(len(list(folder.glob("calls_*.parquet"))) == 2 for folder in out.iterdir())
    glob = str(out / "**" / "*.parquet")
    with duckdb.connect() as con:
        counts = con.sql(
            f"SELECT month, count(*), count(DISTINCT record_id), count(ts) "
            f"FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY month ORDER BY month"
        ).fetchall()
    assert counts == [("2026-01", 2, 1, 2), ("2026-02", 4, 2, 4), ("unknown", 2, 1, 0)]
    # read back, the copies of the two exports collapse to the four calls
    data = _total([str(out)])
    assert (
        data["coverage"]["calls"] == 4
        and data["totals"]["cost_usd"] == _total([str(logs)])["totals"]["cost_usd"]
    )


def test_a_url_reaches_the_reader_as_typed(monkeypatch):
    """The CLI hands object-storage URLs on as text (a Path folded s3://bucket into s3:/bucket, which then
    read as a missing local file), and a URL is read as Parquet calls: a file, a glob, or a directory."""
    seen = []

    def fake_analyze(paths, **options):
        seen.extend(paths)
        raise parquet_io.InputError("stop here")

    monkeypatch.setattr("llmaudit.analysis.analyze", fake_analyze)
    for command in (["analyze"], ["reconcile"], ["export", "--parquet", "out"]):
        result = CliRunner().invoke(app, [*command, "s3://bucket/calls/"])
        assert "stop here" in result.output, result.output
    assert seen == ["s3://bucket/calls/"] * 3
    assert all(parquet_io.is_parquet_source(u) for u in ("s3://b/calls/", "gs://b/x.parquet", "https://h/a"))
    assert parquet_io._glob("s3://b/calls/") == "s3://b/calls/**/*.parquet"
    assert parquet_io._glob("s3://b/calls/month=*/*.parquet") == "s3://b/calls/month=*/*.parquet"
    assert parquet_io._glob("https://h/x.parquet") == "https://h/x.parquet"


def test_object_storage_without_its_extension_says_what_to_do():
    """Offline, DuckDB cannot download httpfs: the message says so and how to install it, not only the
    first line of DuckDB's ('An error occurred while trying to automatically install ... httpfs:')."""
    text = (
        "An error occurred while trying to automatically install the required extension 'httpfs:\n"
        'Failed to download extension "httpfs" at URL "http://extensions.duckdb.org/x.gz"\n\n'
        "For more info, visit https://duckdb.org/docs (ERROR Could not establish connection)\n\nLINE 1: ..."
    )
    message = str(parquet_io._unreadable("s3://b/calls/", duckdb.Error(text)))
    assert message.startswith("s3://b/calls/: reading object storage needs DuckDB's httpfs extension")
    assert "(Could not establish connection)" in message and "install_extension('httpfs')" in message
    other = str(parquet_io._unreadable("x.parquet", duckdb.Error("IO Error: bad magic\nLINE 1: ...")))
    assert other == "x.parquet: cannot read Parquet calls: IO Error: bad magic"


def test_export_to_object_storage_is_refused_before_any_work(tmp_path, monkeypatch):
    """`--parquet s3://…` was written as a local folder named s3:/… and reported as written; it is refused
    before the logs are read. A file:// URL names a local directory."""
    logs = _logs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("llmaudit.analysis.analyze", lambda *a, **k: pytest.fail("analyzed"))
    result = runner.invoke(app, ["export", str(logs), "--parquet", "s3://bucket/calls"])
    assert result.exit_code == 2
    assert "s3://bucket/calls: llmaudit writes local files and directories" in result.output
    assert not (tmp_path / "s3:").exists()
    monkeypatch.undo()
    out = tmp_path / "pq"
    result = runner.invoke(
        app, ["export", str(logs), "--parquet", f"file://{out}", "--catalog", str(TEST_CATALOG)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["month=2026-01", "month=2026-02"]


@pytest.mark.parametrize("out", ["s3://bucket/calls.csv", "calls.txt", "https://h/focus.csv"])
def test_an_out_file_it_cannot_write_is_refused_before_the_analysis(tmp_path, monkeypatch, out):
    """`--out s3://…` was written as a local s3:/… file, and a bad suffix was refused after the analysis."""
    logs = _logs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("llmaudit.analysis.analyze", lambda *a, **k: pytest.fail("analyzed"))
    result = runner.invoke(app, ["analyze", str(logs), "--no-store", "--out", out])
    assert result.exit_code == 2, result.output
    assert out in result.output
    assert not (tmp_path / "s3:").exists() and not (tmp_path / "https:").exists()
