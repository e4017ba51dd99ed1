"""Store rollup: a whole-history re-analysis from the rollup is the per-call report to the last decimal,
however the history was appended, and it steps aside (saying why) whenever it cannot answer exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import bench_generator, calls_frame, write
from typer.testing import CliRunner

from llmaudit import rollup
from llmaudit.analysis import analyze, analyze_history
from llmaudit.catalog import load_catalog
from llmaudit.cli import app
from llmaudit.duplicates import REPEAT_COLUMNS, repeats_sql
from llmaudit.pricediff import diff_relation
from llmaudit.report.jsonout import render_json
from llmaudit.store import HistoryStore
from llmaudit.workspace import Workspace

SAMPLES = Path(__file__).parent.parent / "sample_logs"
BY_KEYS = [None, "model,day", "week,month,tier,mode", "user,feature,provider,status,format,region,gateway"]


def _mixed_logs(folder: Path, n: int = 3000, seed: int = 7) -> list[Path]:
    """The benchmark's mixed logs (OpenAI, Anthropic, CSV): repeats, cache, long context, service tiers."""
    return [path for _, path in bench_generator().generate("mixed", n, seed, folder / "g")]


def _parts(files: list[Path], folder: Path, k: int) -> list[list[Path]]:
    """Each log split into k parts by line (a CSV part keeps the header): every part spans the whole
    month, so a later append brings calls older than the ones already stored (a backfill)."""
    parts: list[list[Path]] = [[] for _ in range(k)]
    for file in files:
        lines = file.read_text().splitlines(keepends=True)
        header, body = (lines[:1], lines[1:]) if file.suffix == ".csv" else ([], lines)
        for i in range(k):
            parts[i].append(write(folder / f"part{i}" / file.name, "".join(header + body[i::k])))
    return parts


def _append(store: HistoryStore, paths, catalog=None) -> int:
    report = analyze(paths, catalog=catalog)
    return store.add_from(report.workspace.con, "period_calls", catalog)


def _report(store: HistoryStore, use_rollup: bool, **options) -> tuple[dict, dict | None]:
    report = analyze_history(store, use_rollup=use_rollup, **options)
    data = json.loads(render_json(report.schema, report.data))
    return data, data.pop("store_rollup", None)


def _assert_same_report(store: HistoryStore, **options) -> dict:
    """The rollup's report equals the per-call one; returns what the rollup said about itself."""
    fast, said = _report(store, True, **options)
    slow, _ = _report(store, False, **options)
    assert fast == slow
    return said


def _marks(store: HistoryStore) -> tuple[list, list]:
    """The stored repeat marks with the columns they carry, and the repeats ranked again from every stored
    call with those columns read from the calls."""
    columns = ", ".join(REPEAT_COLUMNS)
    with duckdb.connect(str(store.path), read_only=True) as con:
        kept = con.execute(f"SELECT _key, prompt_hash, _n, _prev, {columns} FROM {rollup.MARKS} ORDER BY 1")
        kept = kept.fetchall()
        calls = "(SELECT *, rowid AS _seq FROM calls)"
        fresh = con.execute(f"""
            SELECT r.*, {", ".join(f"c.{name}" for name in REPEAT_COLUMNS)}
            FROM ({repeats_sql(calls)}) r JOIN {calls} c ON c._seq = r._key ORDER BY 1""").fetchall()
    return kept, fresh


def test_rollup_report_is_the_per_call_report(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    added = _append(store, [SAMPLES, *_mixed_logs(tmp_path)])
    assert added > 3000
    for by in BY_KEYS:
        said = _assert_same_report(store, by=by)
        assert said == {"used": True, "why_not": None, "repeats_from_marks": True}, by
    data, _ = _report(store, True)
    # the comparison has something to compare: repeats, cache economics, several tiers and modes
    assert data["duplicates"]["repeat_calls"] > 100 and data["duplicates"]["top"]
    assert data["cache"]["cache_read_tokens"] > 0
    assert len(data["tiers"]) > 1 and len(data["modes"]) > 1
    with duckdb.connect(str(store.path), read_only=True) as con:
        groups, calls = con.execute("SELECT count(*), sum(_rows) FROM rollup").fetchone()
    assert calls == data["coverage"]["calls"] and groups < calls


def test_appends_in_any_order_keep_rollup_and_marks_exact(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    parts = _parts(_mixed_logs(tmp_path / "logs", n=2400, seed=11), tmp_path, 3)
    total = 0
    for part in (parts[2], parts[0], parts[1]):
        total += _append(store, part)
        assert _assert_same_report(store)["used"]
        kept, fresh = _marks(store)
        assert kept == fresh
    assert total == store.count() and len(kept) > 100
    # ranks moved as older copies arrived: some repeats of the first append became first copies
    assert _append(store, parts[0]) == 0  # appending the same calls again changes nothing
    assert _marks(store)[0] == kept
    assert _assert_same_report(store)["used"]


@pytest.mark.parametrize(
    "version, why",
    [
        # a long-context threshold the bundled catalog does not have
        ("tiers: [{above: 150000, rates: {input: 0.3, output: 1.2}}]", "tier threshold or time window"),
        # a time-of-day window with new edges
        ('windows: [{hours_utc: "08:00-11:30", multiplier: 0.5}]', "tier threshold or time window"),
    ],
)
def test_a_catalog_with_new_boundaries_is_served_after_the_next_append(tmp_path, version, why):
    custom = write(
        tmp_path / "cat" / "openai.yaml",
        "schema_version: 1\nprovider: openai\nmodels:\n  gpt-4o-mini:\n"
        "    aliases: [gpt-4o-mini-2024-07-18]\n    versions:\n"
        "      - effective_from: 2024-07-18\n        source: https://example.test/custom\n"
        f"        rates: {{input: 0.15, cache_read: 0.075, output: 0.60}}\n        {version}\n",
    )
    catalog = load_catalog(custom.parent)
    store = HistoryStore(tmp_path / "h.duckdb")
    logs = _mixed_logs(tmp_path / "logs", n=1500)
    _append(store, logs)  # cut at the bundled catalog's boundaries
    said = _assert_same_report(store, catalog=catalog)
    assert not said["used"] and why in said["why_not"]
    _append(store, [SAMPLES], catalog)  # an append with the new catalog cuts the rollup again
    assert _assert_same_report(store, catalog=catalog)["used"]
    assert _assert_same_report(store)["used"]  # and it still serves the bundled catalog


def test_mid_day_price_change_and_partial_reports_take_the_per_call_path(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    _append(store, _mixed_logs(tmp_path / "logs", n=1500))
    custom = write(
        tmp_path / "cat" / "openai.yaml",
        "schema_version: 1\nprovider: openai\nmodels:\n  gpt-4o-mini:\n"
        "    aliases: [gpt-4o-mini-2024-07-18]\n    versions:\n"
        "      - {effective_from: 2024-07-18, source: https://example.test/a, rates: {input: 0.15, output: 0.6}}\n"
        "      - {effective_from: 2026-03-10T12:00:00Z, source: https://example.test/b, "
        "rates: {input: 0.1, output: 0.4}}\n",
    )
    said = _assert_same_report(store, catalog=load_catalog(custom.parent))
    assert not said["used"] and "midnight" in said["why_not"]
    said = _assert_same_report(store, by="hour")
    assert not said["used"] and "--by hour" in said["why_not"]
    said = _assert_same_report(store, since="2026-03-05T12:00")
    assert not said["used"] and "midnight" in said["why_not"]


def test_whole_days_are_summed_from_the_rollup_and_their_repeats_ranked_per_call(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    _append(store, [SAMPLES, *_mixed_logs(tmp_path / "logs", n=2000)])
    whole, _ = _report(store, True)
    for period in (
        {"since": "2026-03-05"},
        {"until": "2026-03-20"},
        {"since": "2026-03-03", "until": "2026-03-10"},
    ):
        said = _assert_same_report(store, **period)
        assert said == {"used": True, "why_not": None, "repeats_from_marks": False}, period
        part, _ = _report(store, True, **period)
        # a part of the history: fewer calls, and repeats whose first copy came before it are first copies
        assert 0 < part["coverage"]["calls"] < whole["coverage"]["calls"]
        assert part["coverage"]["outside_period"] == 0 and part["duplicates"]["repeat_calls"] > 0


def _drop_rollup(store: HistoryStore) -> None:
    """The store as an llmaudit without rollups left it."""
    with duckdb.connect(str(store.path)) as con:
        con.execute(f"DROP TABLE {rollup.META}; DROP TABLE {rollup.ROLLUP}; DROP TABLE {rollup.MARKS}")


def test_a_store_without_a_current_rollup_is_priced_per_call_until_the_next_append(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    logs = _mixed_logs(tmp_path / "logs", n=1200)
    _append(store, logs)
    _drop_rollup(store)
    said = _assert_same_report(store)
    assert not said["used"] and "no rollup yet" in said["why_not"]
    assert _append(store, logs) == 0  # nothing new, but the rollup is built
    assert _assert_same_report(store)["used"]
    with duckdb.connect(str(store.path)) as con:  # calls appended behind the rollup's back
        con.execute("INSERT INTO calls SELECT * FROM calls LIMIT 5")
    said = _assert_same_report(store)
    assert not said["used"] and "behind" in said["why_not"]


def _diff(store: HistoryStore, old, new, use_rollup: bool) -> tuple[dict, dict | None]:
    workspace = Workspace()
    try:
        workspace.use_relation(store.select_sql(workspace.con))
        data = diff_relation(old, new, workspace.con, "calls", "history_store" if use_rollup else None)
    finally:
        workspace.close()
    data = json.loads(render_json("diff", data))
    return data, data.pop("store_rollup", None)


def test_pricing_diff_from_the_rollup_is_the_per_call_diff(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    _append(store, [SAMPLES, *_mixed_logs(tmp_path / "logs", n=1500)])
    bundled = load_catalog()
    cheaper = write(
        tmp_path / "cat" / "openai.yaml",
        "schema_version: 1\nprovider: openai\nmodels:\n  gpt-4o-mini:\n"
        "    aliases: [gpt-4o-mini-2024-07-18]\n    versions:\n"
        "      - {effective_from: 2024-07-18, source: https://example.test/a, rates: {input: 0.1, output: 0.5}}\n",
    )
    new = load_catalog(cheaper.parent)
    fast, said = _diff(store, bundled, new, True)
    slow, _ = _diff(store, bundled, new, False)
    assert said == {"used": True, "why_not": None} and fast == slow
    assert fast["impact"]["delta_usd"] != "0" and fast["impact"]["calls"] == store.count()
    tiered = write(
        tmp_path / "cat2" / "openai.yaml",
        cheaper.read_text().replace(
            "output: 0.5}", "output: 0.5}, tiers: [{above: 90000, rates: {input: 0.2}}]"
        ),
    )
    fast, said = _diff(store, bundled, load_catalog(tiered.parent), True)
    assert not said["used"] and "tier threshold" in said["why_not"]
    assert fast == _diff(store, bundled, load_catalog(tiered.parent), False)[0]


def test_rollup_report_is_the_per_call_report_on_the_real_anchor_logs(tmp_path, anchors):
    """Every third-party sample at once: FOCUS cost lines, usage-report aggregates, Bedrock regional ids,
    gateway payloads, Claude Code sessions, provider usage objects."""
    store = HistoryStore(tmp_path / "h.duckdb")
    assert _append(store, [anchors / "logs"]) > 100
    for by in (None, "provider,status,format,region,gateway,tier,mode"):
        assert _assert_same_report(store, by=by)["used"]
    data, _ = _report(store, True, by="format")
    assert data["coverage"]["cost_lines"] > 0 and len(data["breakdown"]["rows"]) >= 8  # source formats


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_store_info_and_refresh_commands(tmp_path, monkeypatch):
    store = HistoryStore(tmp_path / "h.duckdb")
    _append(store, _mixed_logs(tmp_path / "logs", n=1200))
    _drop_rollup(store)
    info = json.loads(_cli("store", "info", "--db", str(store.path), "-f", "json").stdout)
    assert info["calls"] == store.count() and info["rollup"] is None
    assert not info["serves"]["used"] and "no rollup yet" in info["serves"]["why_not"]
    # the refresh runs within DuckDB's share, as analyze does (unbounded, a rebuild for 10M calls took 1.45 GiB)
    monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", "lots")
    refused = _cli("store", "refresh", "--db", str(store.path))
    assert refused.exit_code == 2 and "LLMAUDIT_MEMORY_LIMIT='lots'" in refused.stderr
    monkeypatch.delenv("LLMAUDIT_MEMORY_LIMIT")
    done = _cli("store", "refresh", "--db", str(store.path))
    assert done.exit_code == 0 and f"built from all {store.count():,} calls" in done.stderr
    info = json.loads(_cli("store", "info", "--db", str(store.path), "-f", "json").stdout)
    assert info["rollup"]["calls_covered"] == store.count() and info["serves"]["used"]
    assert info["rollup"]["repeats"] == len(_marks(store)[1]) > 0
    assert _assert_same_report(store)["used"]
    # a catalog with a threshold the rollup was not cut at: refused, then served after a refresh with it
    custom = write(
        tmp_path / "cat" / "openai.yaml",
        "schema_version: 1\nprovider: openai\nmodels:\n  gpt-4o-mini:\n"
        "    aliases: [gpt-4o-mini-2024-07-18]\n    versions:\n"
        "      - {effective_from: 2024-07-18, source: https://example.test/a, rates: {input: 0.1, output: 0.5},"
        " tiers: [{above: 150000, rates: {input: 0.2, output: 0.8}}]}\n",
    )
    cut = ("--db", str(store.path), "--catalog", str(custom.parent))
    assert "does not serve" in _cli("store", "info", *cut).stdout
    assert "cut again" in _cli("store", "refresh", *cut).stderr
    assert "the rollup serves" in _cli("store", "info", *cut).stdout
    assert _assert_same_report(store, catalog=load_catalog(custom.parent))["used"]
    assert "up to date" in _cli("store", "refresh", *cut).stderr
    missing = _cli("store", "refresh", "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 3 and "no history store yet" in missing.stderr


def test_calls_on_every_price_boundary_are_priced_as_per_call(tmp_path, catalog):
    """Hand-made calls on each side of the test catalog's edges: the DeepSeek off-peak window
    (16:30-00:30 UTC), Gemini 2.5 Pro's 200k tier, the o3 price cut of 2025-06-10, no timestamp,
    aggregates with and without a request count, batch and flex, a Bedrock geo prefix."""

    def at(day: int, hour: int, minute: int) -> datetime:
        return datetime(2025, 6, day, hour, minute, tzinfo=UTC)

    models = (
        ["deepseek-chat"] * 6 + ["gemini-2.5-pro"] * 4 + ["o3"] * 2
        + ["gpt-5", "gpt-5", "claude-sonnet-4-5", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    )  # fmt: skip
    n = len(models)
    times = [
        at(9, 0, 29), at(9, 0, 30), at(9, 16, 29), at(9, 16, 30), at(9, 23, 59), None,
        at(9, 12, 0), at(9, 12, 5), at(9, 12, 10), None,
        at(9, 12, 0), at(10, 12, 0),  # the same time of day, either side of the cut
        at(11, 1, 0), at(11, 1, 0), at(11, 2, 0), at(11, 3, 0),
    ]  # fmt: skip
    # every call its own token counts, so that a call priced on the wrong side of an edge cannot be
    # offset by another one priced on the wrong side the other way
    inputs = [1000 + 37 * i for i in range(6)] + [199_999, 200_000, 200_001, 250_000]
    inputs += [1000 + 37 * i for i in range(10, 16)]
    frame = calls_frame(
        record_id=[f"r{i}" for i in range(n)],
        model_raw=models,
        provider=[None] * 15 + ["aws-bedrock"],
        ts=times,
        input_uncached_tokens=inputs,
        input_total_tokens=inputs,
        output_tokens=[500 + 11 * i for i in range(n)],
        cache_read_tokens=[0, 100] * 8,
        row_kind=["call"] * 12 + ["aggregate", "aggregate", "call", "call"],
        request_count=[1] * 12 + [4, None, 1, 1],
        is_batch=[False] * 14 + [True, False],
        service_tier=[None] * 13 + ["flex", None, None],
        prompt_hash=["h1", "h1", "h2", "h2"] + [None] * 12,
        status=["ok"] * n,
    )
    store = HistoryStore(tmp_path / "h.duckdb")
    assert store.add(frame, catalog) == n
    data, said = _report(store, True, catalog=catalog)
    assert said["used"] and data == _report(store, False, catalog=catalog)[0]
    assert {t["name"] for t in data["tiers"]} >= {"base", ">200000"}
    assert data["coverage"]["calls_without_timestamp"] == 2 and data["duplicates"]["repeat_calls"] == 2


def test_a_store_of_an_older_schema_is_refreshed_and_read_as_a_current_one(tmp_path):
    """A store written before some CALL_SCHEMA columns existed: refresh builds its rollup (the columns
    pricing reads are added as nulls), and the re-analysis is the per-call one."""
    store = HistoryStore(tmp_path / "h.duckdb")
    _append(store, _mixed_logs(tmp_path / "logs", n=1200))
    _drop_rollup(store)
    with duckdb.connect(str(store.path)) as con:
        con.execute("ALTER TABLE calls DROP COLUMN cache_storage_token_hours")
        con.execute("ALTER TABLE calls DROP COLUMN feature")
    done = _cli("store", "refresh", "--db", str(store.path))
    assert done.exit_code == 0 and "built from all" in done.stderr, done.stderr
    said = _assert_same_report(store)
    assert said["used"] and said["repeats_from_marks"]
