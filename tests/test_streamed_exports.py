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
from llmaudit.runs import whole_groups

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


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_focus_written_a_few_groups_at_a_time_is_the_file_written_at_once(
    report, tmp_path, monkeypatch, catalog, suffix
):
    whole = write_focus(report.calls, tmp_path / f"whole.focus.{suffix}", catalog)
    monkeypatch.setattr(analysis, "BATCH_ROWS", 3)
    monkeypatch.setattr(focus, "FOCUS_RUN_ROWS", 5)
    runs: list[set] = []
    focus_frame = focus.focus_frame

    def recording(calls, catalog):
        runs.append(set(calls.select("ts", "provider", "model").with_columns(pl.col("ts").dt.date()).rows()))
        return focus_frame(calls, catalog)

    monkeypatch.setattr(focus, "focus_frame", recording)
    streamed = write_report_focus(report, tmp_path / f"streamed.focus.{suffix}", catalog)
    assert len(runs) >= 3
    assert all(
        not (a & b) for i, a in enumerate(runs) for b in runs[i + 1 :]
    )  # no (day, provider, model) split
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


def test_whole_groups_never_split_a_key_even_one_larger_than_a_run():
    keys = ["a", "b", "b", "b", "b", "b", "b", "b", None, None, "c"]
    frame = pl.DataFrame({"k": keys, "i": range(len(keys))})
    batches = [frame.slice(i, 2) for i in range(0, len(keys), 2)]
    runs = list(whole_groups(batches, [pl.col("k")], run_rows=3))
    assert [run["k"].to_list() for run in runs] == [
        ["a", "b", "b", "b", "b", "b", "b", "b"],
        [None, None],
        ["c"],
    ]
    assert pl.concat(runs).equals(frame)
    assert [r.height for r in whole_groups([frame.head(0)], [pl.col("k")], run_rows=3)] == [0]


@pytest.mark.parametrize("seed", range(20))
def test_whole_groups_on_random_sorted_streams(seed):
    import random

    rng = random.Random(seed)
    keys = [rng.choice([None, *range(6)]) for _ in range(rng.randint(1, 60))]
    frame = pl.DataFrame({"k": keys, "j": [k if k is None else k % 2 for k in keys]}).sort(
        "k", nulls_last=True
    )
    cuts = sorted({0, frame.height, *(rng.randint(0, frame.height) for _ in range(5))})
    batches = [frame.slice(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False)]
    runs = list(whole_groups(batches, [pl.col("k"), pl.col("j")], run_rows=rng.randint(1, 20)))
    assert pl.concat(runs).equals(frame)
    seen = [set(run["k"].to_list()) for run in runs]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])
