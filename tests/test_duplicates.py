"""Exact duplicates: same model + same logged request; repeats after the first are what a cache saves."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import bench_generator, write

from llmaudit.analysis import analyze
from llmaudit.ingest import read_logs
from llmaudit.pricing import price

HOUR = 3600
T0 = 1772440000  # 2026-03-02


def _call(rid: str, at: int, messages, *, model="gpt-4o-2024-08-06", prompt=1000, output=100, **extra) -> str:
    record = {
        "id": rid,
        "object": "chat.completion",
        "created": at,
        "model": model,
        "usage": {"prompt_tokens": prompt, "completion_tokens": output},
        **({"request": {"messages": messages}} if messages is not None else {}),
        **extra,
    }
    return json.dumps(record)


FAQ = [{"role": "user", "content": "How do I reset my password?"}]
OTHER = [{"role": "user", "content": "How do I delete my account?"}]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    spaced = '[ {"role": "user",   "content": "How do I reset my password?"} ]'
    lines = [
        _call("a1", T0, FAQ),
        # repeat, costlier answer, from another feature: the group is labelled by its first repeat
        _call("a2", T0 + 2 * HOUR, FAQ, output=300, metadata={"feature": "help-center"}),
        # the same request written with other whitespace: the reader re-serializes it, still a repeat
        _call("a3", T0 + 3 * HOUR, FAQ).replace(json.dumps(FAQ), spaced),
        _call("a4", T0 + 50 * HOUR, FAQ),  # a repeat, but 47 h after the previous copy
        _call("b1", T0 + HOUR, FAQ, model="gpt-4o-mini-2024-07-18"),  # same words, another model
        _call("c1", T0 + HOUR, OTHER),
        _call("d1", T0 + 4 * HOUR, None),  # no request logged: cannot be judged
        # a failed retry of the FAQ: no answer to cache, not a repeat
        _call("e1", T0 + 5 * HOUR, FAQ, prompt=0, output=0, error={"type": "rate_limit_error"}),
    ]
    return write(tmp_path / "calls.jsonl", "\n".join(lines) + "\n")


def test_repeats_are_costed_per_call_and_split_by_window(log, catalog):
    report = analyze(log, catalog=catalog)
    dup = report.data["duplicates"]
    priced = price(read_logs(log).calls, catalog)
    cost = dict(zip(priced["response_id"], priced["cost_usd"], strict=True))
    assert cost["a2"] != cost["a1"]  # the repeat's own cost counts, not the first call's
    assert dup["repeat_calls"] == 3 and dup["groups"] == 1
    assert dup["repeat_cost_usd"] == cost["a2"] + cost["a3"] + cost["a4"]
    assert dup["repeat_calls_within_window"] == 2
    assert dup["repeat_cost_within_window_usd"] == cost["a2"] + cost["a3"]
    assert (dup["calls_with_request"], dup["calls_without_request"]) == (6, 1)
    (top,) = dup["top"]
    assert (top["calls"], top["repeats"], top["model"], top["feature"]) == (4, 3, "gpt-4o", "help-center")
    assert top["repeat_cost_usd"] == dup["repeat_cost_usd"]


def test_a_shorter_window_counts_fewer_repeats(log, catalog):
    from llmaudit.duplicates import exact_duplicates

    report = analyze(log, catalog=catalog)
    con = report.workspace.con
    dup = exact_duplicates(con, "period_calls", catalog, "rates", window_hours=1)
    assert dup["repeat_calls"] == 3
    assert dup["repeat_calls_within_window"] == 1  # a3 came one hour after a2


def test_prompt_hashes_that_are_not_md5_text_are_grouped_by_their_text(log, catalog):
    """The window groups md5 text as the number it spells; other hashes (a table from elsewhere) by their
    text: capitals, or an underscore DuckDB's hex cast would skip, never merge two keys."""
    from llmaudit.duplicates import exact_duplicates

    report = analyze(log, catalog=catalog)  # kept: its workspace holds the connection
    con = report.workspace.con
    odd = {"a1": "AB" * 16, "a2": "AB" * 16, "a3": "ab" * 16, "a4": "ab" * 16}
    odd |= {"b1": "a_" + "b" * 30, "c1": "0a" + "b" * 30}  # both read as the same hex number
    cases = " ".join(f"WHEN '{rid}' THEN '{key}'" for rid, key in odd.items())
    con.execute(
        f"CREATE VIEW odd_calls AS SELECT * REPLACE (CASE response_id {cases} END AS prompt_hash) FROM period_calls"
    )
    dup = exact_duplicates(con, "odd_calls", catalog, "rates")
    assert (dup["repeat_calls"], dup["groups"]) == (2, 2)
    assert sorted(t["prompt_hash"] for t in dup["top"]) == ["AB" * 16, "ab" * 16]
    assert all((t["calls"], t["repeats"]) == (2, 1) for t in dup["top"])


def test_history_store_finds_the_same_repeats(log, catalog, tmp_path):
    from llmaudit.analysis import analyze_history
    from llmaudit.store import HistoryStore

    store = HistoryStore(tmp_path / "h.duckdb")
    report = analyze(log, catalog=catalog)
    store.add(report.calls)
    again = analyze_history(store, catalog=catalog).data["duplicates"]
    assert {k: v for k, v in again.items() if k != "top"} == {
        k: v for k, v in report.data["duplicates"].items() if k != "top"
    }


def test_no_request_text_means_nothing_judged(tmp_path, catalog):
    path = write(tmp_path / "bare.jsonl", _call("x", T0, None) + "\n" + _call("y", T0 + 1, None) + "\n")
    dup = analyze(path, catalog=catalog).data["duplicates"]
    assert (dup["calls_with_request"], dup["repeat_calls"], dup["repeat_cost_usd"]) == (0, 0, Decimal(0))


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_every_planted_repeat_is_found(tmp_path, fmt):
    """The benchmark's planted repeats, counted independently from the generated frame with polars."""
    generate = bench_generator()
    out = tmp_path / f"g.{fmt}.jsonl"
    generate.write(fmt, 20_000, 3, out)
    frame = pl.read_ndjson(out)
    key = frame.select("model", pl.col("request").struct.json_encode())
    planted = frame.height - key.n_unique()
    assert planted > 0.2 * frame.height
    dup = analyze(out).data["duplicates"]
    assert dup["calls_with_request"] == frame.height
    assert dup["repeat_calls"] == planted
    assert dup["groups"] == key.filter(key.is_duplicated()).n_unique()


def test_repeat_costs_match_per_call_pricing_from_logs_and_store(tmp_path, catalog):
    """Every call of a repeated request is priced and then ranked in one pass: the section agrees with
    per-call pricing ranked independently in polars (totals, window split, top groups to the cent and
    their labels), from logs and from a history store's marks."""
    from llmaudit.analysis import analyze_history
    from llmaudit.store import HistoryStore

    generate = bench_generator()
    out = tmp_path / "g.openai.jsonl"
    generate.write("openai", 6_000, 5, out)
    calls = read_logs(out).calls
    priced = (
        price(calls, catalog)
        .with_row_index("_order")
        .with_columns(pl.col("cost_usd").fill_null(0))  # unpriced repeats cost nothing here too
        .filter(pl.col("row_kind") == "call", pl.col("status") == "ok", pl.col("prompt_hash").is_not_null())
        .sort("ts", "_order", nulls_last=True)
        .with_columns(
            _n=pl.int_range(pl.len()).over("prompt_hash"), _prev=pl.col("ts").shift().over("prompt_hash")
        )
    )
    repeats = priced.filter(pl.col("_n") > 0)
    within = repeats.filter(pl.col("ts") - pl.col("_prev") <= pl.duration(hours=24))
    groups = (
        repeats.group_by("prompt_hash")
        .agg(
            pl.col("cost_usd").sum(),
            pl.len().alias("repeats"),
            pl.col("model").first(),
            pl.col("feature").sort_by("_n").first(),
        )
        .sort(["cost_usd", "repeats", "prompt_hash"], descending=[True, True, False])
        .head(10)
    )
    dup = analyze(out, catalog=catalog).data["duplicates"]
    assert dup["repeat_calls"] == repeats.height > 1_000
    assert dup["repeat_cost_usd"] == sum(repeats["cost_usd"])
    assert dup["repeat_calls_within_window"] == within.height < repeats.height
    assert dup["repeat_cost_within_window_usd"] == sum(within["cost_usd"])
    top = [
        (t["prompt_hash"], t["repeat_cost_usd"], t["repeats"], t["model"], t["feature"]) for t in dup["top"]
    ]
    assert top == list(groups.select("prompt_hash", "cost_usd", "repeats", "model", "feature").iter_rows())
    store = HistoryStore(tmp_path / "h.duckdb")
    store.add(calls, catalog)
    assert analyze_history(store, catalog=catalog).data["duplicates"] == dup  # from the store's marks
