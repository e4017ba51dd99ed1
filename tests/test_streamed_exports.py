"""`--out` of an analyze report streams from its workspace: CSV/JSONL a batch of calls at a time, FOCUS a run
of whole (day, provider, model) groups at a time. Tiny batches and runs must give the same files as
exporting every call at once."""

from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import write

from llmaudit import analysis, focus
from llmaudit.analysis import analyze
from llmaudit.errors import InputError
from llmaudit.export import write_calls, write_focus, write_report_calls, write_report_focus
from llmaudit.focus import FOCUS_COLUMNS, X_COLUMNS

DAY = 86_400
NOV1 = 1761998400  # 2025-11-01 00:00 UTC
MODELS = ("gpt-4o-mini", "gpt-4o", "mystery-model")


def _record(i: int) -> str:
    record = {
        "object": "chat.completion",
        "id": f"c{i}",
        "model": MODELS[i % 3],
        "usage": {
            "prompt_tokens": 1000 + i,
            "completion_tokens": 10 * i,
            "prompt_tokens_details": {"cached_tokens": 100 * (i % 4)},
        },
        # a user id that a spreadsheet would run as a formula: quoted in every batch, not just the first
        "metadata": {"user": "=cmd" if i % 5 == 0 else f"u{i % 4}", "feature": ("chat", "search")[i % 2]},
    }
    if i % 11:  # every 11th call has no timestamp: priced, but not in the FOCUS file
        record["created"] = NOV1 + (i * DAY) // 9 + i  # 45 calls over 5 days, 9 a day
    return json.dumps(record)


@pytest.fixture
def report(tmp_path, catalog):
    logs = write(tmp_path / "logs" / "app.jsonl", "\n".join(_record(i) for i in range(45)) + "\n")
    return analyze(logs, catalog=catalog)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_calls_written_in_batches_are_the_file_written_at_once(report, tmp_path, monkeypatch, suffix):
    whole = write_calls(report.calls, tmp_path / f"whole{suffix}")
    monkeypatch.setattr(analysis, "BATCH_ROWS", 4)
    assert len(list(report.iter_calls())) == 12  # 45 calls, 4 at a time
    streamed, count = write_report_calls(report, tmp_path / f"streamed{suffix}")
    assert count == 45
    assert streamed.read_bytes() == whole.read_bytes()
    assert streamed.read_text().count("'=cmd") == 9  # formula-leading text neutralized in every batch


@pytest.mark.parametrize("order", ["_seq", "ts, source_file, source_line"])
def test_calls_in_sorted_slices_come_in_the_order_of_one_sort(tmp_path, catalog, monkeypatch, order):
    """Ranges of the order's leading key, each sorted alone, give the calls of one sort: a history
    store's order leads with `ts`, here out of read order, 3 calls to each of 15 times (a cut falls on a
    value calls share), and 5 calls without one, which come last, as in one sort."""
    records = [json.loads(_record(i)) for i in range(45)]
    for i, record in enumerate(records):
        if "created" in record:
            record["created"] = NOV1 + 3600 * (i * 17 % 5) + 60 * (i * 7 % 3)
    logs = write(tmp_path / "logs" / "app.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    report = analyze(logs, catalog=catalog)
    query = f"SELECT * EXCLUDE (_seq) FROM priced ORDER BY {order}"
    one_sort = analysis.conform(
        pl.from_arrow(report.workspace.con.sql(query).to_arrow_table()), analysis._PRICED_SCHEMA
    )
    monkeypatch.setattr(analysis, "SLICE_ROWS", 7)
    monkeypatch.setattr(analysis, "BATCH_ROWS", 4)
    lead = order.split(",")[0]
    ranges = analysis._slice_ranges(report.workspace.con, "FROM priced WHERE TRUE", lead)
    assert len(ranges) >= 4  # 45 calls in slices of about 7
    frames = list(report.iter_calls(order=order))
    assert pl.concat(frames).equals(one_sort)
    assert one_sort["ts"].null_count() == 5 and one_sort["ts"].n_unique() == 16
    if order != "_seq":
        assert not one_sort["source_line"].is_sorted()  # the order is not the read order


def test_calls_tables_read_in_place_are_sorted_in_one_pass(report, tmp_path, catalog, monkeypatch):
    """A Parquet calls table read in place numbers its rows as it reads them (`_seq` is computed), so a
    range of them would scan every call: its calls come from one sort."""
    table, _ = write_report_calls(report, tmp_path / "calls.parquet")
    in_place = analyze(table, catalog=catalog)
    assert not in_place.workspace.ranges_prune and report.workspace.ranges_prune
    sliced = []
    monkeypatch.setattr(analysis, "_sorted_slices", lambda *a: sliced.append(a) or iter(()))
    monkeypatch.setattr(analysis, "SLICE_ROWS", 7)
    frames = list(in_place.iter_calls())
    one_sort = in_place.workspace.con.sql(
        "SELECT * EXCLUDE (_seq) FROM priced ORDER BY _seq"
    ).to_arrow_table()
    assert not sliced and pl.concat(frames).equals(
        analysis.conform(pl.from_arrow(one_sort), analysis._PRICED_SCHEMA)
    )
    assert pl.concat(frames).height == 45


def test_parquet_of_a_report_holds_its_calls_in_any_order(report, tmp_path):
    """DuckDB copies the calls in parallel, unsorted: the same rows and types as the calls in read order."""
    whole = pl.read_parquet(write_calls(report.calls, tmp_path / "whole.parquet"))
    copied, count = write_report_calls(report, tmp_path / "copied.parquet")
    read = pl.read_parquet(copied)
    assert count == read.height == whole.height == 45
    assert read.schema == whole.schema
    assert read.sort("source_file", "source_line").equals(whole)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_focus_written_a_few_calls_at_a_time_is_the_file_written_at_once(
    report, tmp_path, monkeypatch, catalog, suffix
):
    """Batches of 3 calls split (day, provider, model) groups: their partial rows add up across batches to
    the rows of one pass. The calls are sorted whole days at a time (slices of about 7 calls, cut at UTC
    midnights: 9 calls a day)."""
    whole = write_focus(report.calls, tmp_path / f"whole.focus.{suffix}", catalog)
    monkeypatch.setattr(focus, "FOCUS_BATCH_ROWS", 3)
    monkeypatch.setattr(analysis, "SLICE_ROWS", 7)
    ranges = analysis._slice_ranges(report.workspace.con, "FROM priced WHERE TRUE", "ts", by_day=True)
    cuts = [value for _, params in ranges for value in params]
    assert len(ranges) >= 4 and all(cut.timestamp() % DAY == 0 for cut in cuts)
    sliced, slices = [], analysis._sorted_slices
    monkeypatch.setattr(analysis, "_sorted_slices", lambda *a: sliced.append(a[-1]) or slices(*a))
    batches: list[set] = []
    partial = focus._partial

    def recording(calls, catalog):
        batches.append(
            set(calls.select("ts", "provider", "model").with_columns(pl.col("ts").dt.date()).rows())
        )
        return partial(calls, catalog)

    monkeypatch.setattr(focus, "_partial", recording)
    streamed = write_report_focus(report, tmp_path / f"streamed.focus.{suffix}", catalog)
    assert len(batches) >= 3 and sliced == [True]  # by whole days
    assert any(a & b for i, a in enumerate(batches) for b in batches[i + 1 :])  # a group was split
    assert (streamed.rows, streamed.calls, streamed.cost_usd) == (
        whole.rows.height,
        whole.calls,
        whole.cost_usd,
    )
    assert (streamed.unpriced_calls, streamed.untimed_calls, streamed.untimed_cost_usd) == (
        whole.unpriced_calls,
        whole.untimed_calls,
        whole.untimed_cost_usd,
    )
    assert whole.untimed_calls > 0 and whole.unpriced_calls > 0
    # rows of equal sort keys may come in any order, in both paths
    reader = pl.read_parquet if suffix == "parquet" else lambda path: pl.read_csv(path, infer_schema=False)
    read = [reader(tmp_path / f"{name}.focus.{suffix}") for name in ("whole", "streamed")]
    assert read[0].height == read[1].height > 0
    assert read[0].sort(read[0].columns).equals(read[1].sort(read[1].columns))


def test_focus_of_only_unpriced_calls_is_a_header_only_file(tmp_path, catalog):
    logs = write(
        tmp_path / "logs" / "app.jsonl",
        json.dumps({"object": "chat.completion", "id": "x", "created": NOV1, "model": "mystery-model",
                    "usage": {"prompt_tokens": 5, "completion_tokens": 1}}) + "\n",
    )  # fmt: skip
    report = analyze(logs, catalog=catalog)
    result = write_report_focus(report, tmp_path / "focus.csv", catalog)
    assert (result.calls, result.unpriced_calls, result.rows) == (0, 1, 0)
    assert (tmp_path / "focus.csv").read_text().splitlines() == [",".join([*FOCUS_COLUMNS, *X_COLUMNS])]
    write_report_focus(report, tmp_path / "focus.parquet", catalog)  # a run with no rows is the only part
    assert pl.read_parquet(tmp_path / "focus.parquet").columns == [*FOCUS_COLUMNS, *X_COLUMNS]


def test_a_report_without_workspace_streams_its_frame_and_refuses_sql_filters(report):
    frame_only = analysis.Report("llmaudit.analyze/v1", report.data, calls=report.calls)
    assert [f.height for f in frame_only.iter_calls()] == [45]
    with pytest.raises(ValueError, match="cannot select calls WHERE"):
        frame_only.calls_where("cost_reported IS NOT NULL")


def test_an_export_that_fails_half_way_leaves_the_old_file_and_no_partial_one(report, tmp_path, monkeypatch):
    out = write_calls(report.calls.head(1), tmp_path / "calls.csv")
    before = out.read_bytes()
    monkeypatch.setattr(analysis, "BATCH_ROWS", 4)
    real = analysis.Report.iter_calls

    def failing(self, *args, **kwargs):
        for n, frame in enumerate(real(self, *args, **kwargs)):
            if n == 2:
                raise OSError(28, "No space left on device")
            yield frame

    monkeypatch.setattr(analysis.Report, "iter_calls", failing)
    with pytest.raises(InputError, match="cannot write"):
        write_report_calls(report, out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["calls.csv", "logs"]


def test_a_focus_group_longer_than_a_batch_is_summed_into_its_rows(tmp_path, monkeypatch, catalog):
    """30 calls of one day, model, user and feature make a few FOCUS rows (input, cached input, output):
    read 4 at a time, each row still counts all 30 calls, summed across the batches."""
    records = [
        json.dumps(
            {
                "object": "chat.completion",
                "id": f"g{i}",
                "model": "gpt-4o-mini",
                "created": NOV1 + 60 * i,
                "usage": {
                    "prompt_tokens": 1000,
                    "completion_tokens": 100 + i,
                    "prompt_tokens_details": {"cached_tokens": 200},
                },
                "metadata": {"user": "u1", "feature": "chat"},
            }
        )
        for i in range(30)
    ]
    logs = write(tmp_path / "logs" / "app.jsonl", "\n".join(records) + "\n")
    report = analyze(logs, catalog=catalog)
    whole = write_focus(report.calls, tmp_path / "whole.focus.csv", catalog)
    monkeypatch.setattr(focus, "FOCUS_BATCH_ROWS", 4)
    streamed = write_report_focus(report, tmp_path / "streamed.focus.csv", catalog)
    read = [pl.read_csv(tmp_path / f"{name}.focus.csv", infer_schema=False) for name in ("whole", "streamed")]
    assert read[1].equals(read[0])
    assert (streamed.rows, streamed.calls) == (whole.rows.height, whole.calls) == (3, 30)
    assert read[1]["x_Calls"].to_list() == ["30", "30", "30"]


def test_focus_inputs_are_every_column_its_rows_read(report, catalog):
    """The streamed FOCUS export selects only `FOCUS_INPUTS`: the rows from those columns alone are the
    rows from every column, with a region and a time window set (columns read only when present)."""
    calls = report.calls.with_columns(
        price_region=pl.lit("eu"), price_window=pl.lit("night"), project_id=pl.lit("p1")
    )
    whole = focus.focus_frame(calls, catalog).rows
    narrow = focus.focus_frame(calls.select(focus.FOCUS_INPUTS), catalog).rows
    assert whole.height > 0 and narrow.equals(whole)
    assert whole["SkuPriceDetails"].str.contains("night").all()
