"""`reconcile`: recorded vs repriced cost per call, every cause on hand-computed calls, the CLI contract.

Test catalog (tests/fixtures/catalog), USD per 1M tokens: gpt-4o 2.50/10 (cache read 1.25); gpt-4o-mini
0.15/0.60 (0.075); gpt-5 1.25/10 (flex x0.5; >272000 tier 2.50/15); o3 2/8 since 2025-06-10 (10/40 before);
claude-sonnet-4-5 3/15, cache read 0.30, writes 3.75 (5m) / 6 (1h), >200000 tier 6/22.50;
claude-opus-4 15/75, cache read 1.50, 5m write 18.75.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest
from conftest import TEST_CATALOG, UTC, calls_frame, write
from typer.testing import CliRunner

from llmaudit import reconciliation
from llmaudit.cli import app
from llmaudit.errors import UsageError
from llmaudit.pricing import price
from llmaudit.reconciliation import SCHEMA, Tolerance, classify, exceeds, reconcile, summarize

D = Decimal
runner = CliRunner()
JULY = dt.datetime(2025, 7, 1, tzinfo=UTC)

# (model_raw, usage, recorded cost, expected cause, expected detail fragment); repriced cost in comments
CASES = {
    # 2000*2.5 + 200*10 = 0.007: recorded the same -> a match, no cause
    "match": ("gpt-4o", {"input_uncached_tokens": 2000, "output_tokens": 200}, "0.007", None, None),
    # 600*0.15 + 400*0.075 + 100*0.6 = 0.00018; recorded 1000*0.15 + 100*0.6 = 0.00021
    "cache reads as input": (
        "gpt-4o-mini",
        {"input_uncached_tokens": 600, "cache_read_tokens": 400, "output_tokens": 100},
        "0.00021",
        "cached tokens charged as input",
        "cache reads billed at the input rate",
    ),
    # 10*3 + 1000*0.3 + 200*3.75 + 350*15 = 0.00633; recorded + 200*3 (writes again as input) = 0.00693
    "writes twice": (
        "claude-sonnet-4-5",
        {
            "input_uncached_tokens": 10,
            "cache_read_tokens": 1000,
            "cache_write_5m_tokens": 200,
            "output_tokens": 350,
        },
        "0.00693",
        "cached tokens charged twice",
        "cache writes charged as input and again as cache writes",
    ),
    # 1000 1h writes * 6 = 0.006; recorded at the 5m rate 1000*3.75 = 0.00375
    "ttl": (
        "claude-sonnet-4-5",
        {"input_uncached_tokens": 0, "cache_write_1h_tokens": 1000, "output_tokens": 0},
        "0.00375",
        "cache write TTL",
        "1h cache writes billed at the 5m rate",
    ),
    # 250000 > 200000: 250000*6 + 1000*22.5 = 1.5225; recorded at base 250000*3 + 1000*15 = 0.765
    "tier": (
        "claude-sonnet-4-5",
        {"input_uncached_tokens": 250_000, "output_tokens": 1000},
        "0.765",
        "long-context tier",
        "the >200000 long-context tier was missed",
    ),
    # flex: 100000*0.625 + 1000*5 = 0.0675; recorded at standard 100000*1.25 + 1000*10 = 0.135
    "flex ignored": (
        "gpt-5",
        {"input_uncached_tokens": 100_000, "output_tokens": 1000, "service_tier": "flex"},
        "0.135",
        "batch/flex/priority ignored",
        "billed at standard rates, not flex rates",
    ),
    # standard 1000*2.5 + 1000*10 = 0.0125; recorded at the batch rate (x0.5) = 0.00625
    "batch not logged": (
        "gpt-4o",
        {"input_uncached_tokens": 1000, "output_tokens": 1000},
        "0.00625",
        "batch/flex/priority not logged",
        "billed at batch rates",
    ),
    "unknown model": (
        "mystery-9000",
        {"input_uncached_tokens": 10, "output_tokens": 1},
        "0.5",
        "unknown model",
        None,
    ),
    "missing usage": ("gpt-4o", {}, "0.25", "missing usage", None),
    # 1000*2.5 = 0.0025 recorded as 0
    "recorded as zero": (
        "gpt-4o",
        {"input_uncached_tokens": 1000, "output_tokens": 0},
        "0",
        "recorded as zero",
        None,
    ),
    # gpt-4.1 1000*2 = 0.002; recorded 0.0031: no rule, a single call (no ratio to confirm a price)
    "other": ("gpt-4.1", {"input_uncached_tokens": 1000, "output_tokens": 0}, "0.0031", "other", None),
}


def _frame(rows: list[tuple[str, dict, str | None]], **extra) -> pl.DataFrame:
    columns: dict[str, list] = {
        "model_raw": [r[0] for r in rows],
        "cost_reported": [D(r[2]) if r[2] is not None else None for r in rows],
    }
    names = sorted({k for r in rows for k in r[1]})
    for name in names:
        columns[name] = [r[1].get(name) for r in rows]
    if "input_total_tokens" not in columns:
        columns["input_total_tokens"] = [
            sum(
                r[1].get(c) or 0
                for c in ("input_uncached_tokens", "cache_read_tokens", "cache_write_5m_tokens")
            )
            + (r[1].get("cache_write_1h_tokens") or 0)
            if r[1]
            else None
            for r in rows
        ]
    return calls_frame(**columns, **extra)


def _classify(catalog, rows, **extra) -> pl.DataFrame:
    return classify(price(_frame(rows, **extra), catalog), catalog)


@pytest.mark.parametrize("name", list(CASES))
def test_each_cause_alone(catalog, name):
    model, usage, recorded, cause, detail = CASES[name]
    row = _classify(catalog, [(model, usage, recorded)]).row(0, named=True)
    assert row["recon_cause"] == cause
    if detail:
        assert detail in row["recon_detail"]
    if cause is None:
        assert row["recon_status"] == "match"


def test_causes_together_in_one_frame_and_totals(catalog):
    rows = [(m, u, r) for m, u, r, _, _ in CASES.values()]
    recon = _classify(catalog, rows)
    assert recon["recon_cause"].to_list() == [c for *_, c, _ in CASES.values()]
    data = reconcile(price(_frame(rows), catalog), catalog)
    tot = data["totals"]
    assert (tot["calls"], tot["calls_compared"], tot["calls_matching"], tot["calls_not_compared"]) == (
        11,
        9,
        1,
        2,
    )
    recorded = sum(
        D(r) for n, (_, _, r, _, _) in CASES.items() if n not in ("unknown model", "missing usage")
    )
    repriced = sum(
        (
            D(x)
            for x in ("0.007", "0.00018", "0.00633", "0.006", "1.5225", "0.0675", "0.0125", "0.0025", "0.002")
        ),
        D(0),
    )
    assert tot["recorded_usd"] == recorded and tot["repriced_usd"] == repriced
    assert tot["difference_usd"] == recorded - repriced
    assert tot["recorded_not_compared_usd"] == D("0.75")
    assert tot["match_rate_pct"] == pytest.approx(100 / 9)
    causes = {c["cause"]: c for c in data["causes"]}
    assert causes["long-context tier"]["difference_usd"] == D("0.765") - D("1.5225")
    assert causes["unknown model"]["repriced_usd"] is None and causes["unknown model"]["recorded_usd"] == D(
        "0.5"
    )
    # largest first: the tier miss (0.7575), then the unpriced 0.5 and 0.25
    assert [r["cause"] for r in data["largest"][:3]] == [
        "long-context tier",
        "unknown model",
        "missing usage",
    ]
    assert data["largest"][1]["model"] == "mystery-9000"  # no catalog model: the id as logged


def test_stale_price_is_one_ratio_per_model(catalog):
    # o3 since 2025-06-10: 2/8. A gateway still on the launch price 10/40 records 5x on every call.
    rows = [
        ("o3", {"input_uncached_tokens": 1000, "output_tokens": 100}, "0.014"),  # repriced 0.0028
        ("o3", {"input_uncached_tokens": 3000, "output_tokens": 0}, "0.03"),  # repriced 0.006
        ("o3", {"input_uncached_tokens": 500, "output_tokens": 500}, "0.025"),  # repriced 0.005
    ]
    recon = _classify(catalog, rows, ts=[JULY] * 3)
    assert recon["recon_cause"].to_list() == ["stale or different price"] * 3
    assert set(recon["recon_detail"]) == {"recorded is 500% of catalog for model o3"}
    alone = _classify(catalog, rows[:1], ts=[JULY])  # one call is not evidence of a price
    assert alone["recon_cause"].to_list() == ["other"]


def test_stale_prices_two_ratios_for_one_model(catalog):
    # gpt-4.1 (2/8): two calls recorded at 130%, two at 70%: two prices, each named
    usage = {"input_uncached_tokens": 1000, "output_tokens": 0}  # repriced 0.002
    rows = [("gpt-4.1", usage, r) for r in ("0.0026", "0.0026", "0.0014", "0.0014")]
    recon = _classify(catalog, rows)
    assert recon["recon_cause"].to_list() == ["stale or different price"] * 4
    assert recon["recon_detail"].to_list() == [
        "recorded is 130% of catalog for model gpt-4.1",
        "recorded is 130% of catalog for model gpt-4.1",
        "recorded is 70% of catalog for model gpt-4.1",
        "recorded is 70% of catalog for model gpt-4.1",
    ]


def test_not_billed_error_recorded_with_a_cost(catalog):
    frame = calls_frame(model_raw=["gpt-4o"], status=["error"], cost_reported=[D("0.01")])
    row = classify(price(frame, catalog), catalog).row(0, named=True)
    assert (row["cost_usd"], row["recon_cause"]) == (D(0), "not billed")


def test_tolerance_relative_and_absolute(catalog):
    # repriced 0.007; recorded 0.5% above matches at the default 1%, not at 0.1%
    rows = [("gpt-4o", {"input_uncached_tokens": 2000, "output_tokens": 200}, "0.007035")]
    priced = price(_frame(rows), catalog)
    assert classify(priced, catalog)["recon_status"].to_list() == ["match"]
    strict = Tolerance.parse(["0.1%"])
    assert classify(priced, catalog, strict)["recon_status"].to_list() == ["difference"]
    # the absolute floor: 0.0000005 off matches even with no relative tolerance
    tiny = price(
        _frame([("gpt-4o", {"input_uncached_tokens": 2000, "output_tokens": 200}, "0.0070005")]), catalog
    )
    assert classify(tiny, catalog, Tolerance.parse(["0%"]))["recon_status"].to_list() == ["match"]
    assert classify(tiny, catalog, Tolerance.parse(["0%", "0"]))["recon_status"].to_list() == ["difference"]


def test_tolerance_parsing():
    assert Tolerance.parse(None) == Tolerance(D("0.01"), D("0.000001"))
    assert Tolerance.parse(["0.5%", "$0.01"]) == Tolerance(D("0.005"), D("0.01"))
    assert Tolerance.parse("0.000002USD") == Tolerance(D("0.01"), D("0.000002"))
    for bad in ("lots", "-1%", "nan"):
        with pytest.raises(UsageError, match="--tolerance"):
            Tolerance.parse([bad])


def test_calls_priced_with_another_catalog_are_refused(catalog):
    from llmaudit.catalog import load_catalog

    priced = price(_frame([("gpt-4o", {"input_uncached_tokens": 1}, "0")]), catalog)
    with pytest.raises(UsageError, match="reconcile with the catalog that priced them"):
        classify(priced, load_catalog())


def test_nothing_recorded_reconciles_to_empty_totals(catalog):
    data = reconcile(price(_frame([("gpt-4o", {"input_uncached_tokens": 10}, None)]), catalog), catalog)
    assert data["totals"]["calls_with_recorded_cost"] == 0 and data["totals"]["match_rate_pct"] is None
    assert data["causes"] == [] and data["largest"] == []


def test_gate_on_summed_per_call_mismatch():
    data = {"totals": {"mismatch_usd": D("6"), "repriced_usd": D("100")}}
    assert exceeds(data, ("pct", D("5"))) and not exceeds(data, ("pct", D("6")))
    assert exceeds(data, ("usd", D("5.99"))) and not exceeds(data, ("usd", D("6")))
    assert exceeds({"totals": {"mismatch_usd": D("1"), "repriced_usd": D("0")}}, ("pct", D("5")))


# --- CLI over a Claude Code transcript (it records costUSD per message) ---------------------------------


def _assistant(n: int, model: str, usage: dict, cost: float | None) -> str:
    line = {
        "type": "assistant",
        "timestamp": f"2026-01-09T10:0{n}:00.000Z",
        "sessionId": "s1",
        "requestId": f"req_{n}",
        "uuid": f"u{n}",
        "message": {"id": f"msg_{n}", "model": model, "role": "assistant", "usage": usage},
    }
    if cost is not None:
        line["costUSD"] = cost
    return json.dumps(line)


OPUS_USAGE = {
    "input_tokens": 10,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 200,
    "output_tokens": 350,
}


def _session(tmp_path):
    lines = [
        # opus 4: 10*15 + 1000*1.5 + 200*18.75 + 350*75 = 0.03165 -> match
        _assistant(1, "claude-opus-4-20250514", OPUS_USAGE, 0.03165),
        # cache reads at the input rate: 1010*15 + 200*18.75 + 350*75 = 0.04515
        _assistant(2, "claude-opus-4-20250514", OPUS_USAGE, 0.04515),
        # 1000 1h writes: 0.006 repriced, recorded at the 5m rate 0.00375
        _assistant(
            3,
            "claude-sonnet-4-5-20250929",
            {
                "input_tokens": 0,
                "cache_creation_input_tokens": 1000,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1000},
                "output_tokens": 0,
            },
            0.00375,
        ),
        _assistant(4, "claude-mystery-9", {"input_tokens": 5, "output_tokens": 5}, 0.5),
        _assistant(5, "claude-opus-4-20250514", OPUS_USAGE, None),  # nothing recorded: not compared
    ]
    return write(tmp_path / "session.jsonl", "\n".join(lines) + "\n")


def _cli(*args: str):
    return runner.invoke(app, ["reconcile", *args, "--catalog", str(TEST_CATALOG)])


def test_cli_json_envelope(tmp_path):
    path = _session(tmp_path)
    result = _cli(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == SCHEMA == "llmaudit.reconcile/v1"
    assert data["coverage"]["calls"] == 5 and data["coverage"]["rejects"] == []
    tot = data["totals"]
    assert (tot["calls_with_recorded_cost"], tot["calls_compared"], tot["calls_matching"]) == (4, 3, 1)
    assert isinstance(tot["recorded_usd"], str)
    assert D(tot["recorded_usd"]) == D("0.03165") + D("0.04515") + D("0.00375")
    assert D(tot["repriced_usd"]) == D("0.03165") * 2 + D("0.006")
    assert D(tot["mismatch_usd"]) == D("0.0135") + D("0.00225")
    assert data["tolerance"] == {
        "relative": "0.01",
        "absolute_usd": "0.000001",
        "rule": "|recorded - repriced| <= max(absolute_usd, relative x max(|recorded|, |repriced|))",
    }
    causes = {c["cause"]: c for c in data["causes"]}
    assert set(causes) == {"cached tokens charged as input", "cache write TTL", "unknown model"}
    assert D(causes["cached tokens charged as input"]["difference_usd"]) == D("0.0135")
    assert causes["cached tokens charged as input"]["models"][0]["model"] == "claude-opus-4"
    top = data["largest"][0]
    assert top["location"] == f"{path.resolve()}:4" and top["cause"] == "unknown model"
    assert top["recorded_usd"] == "0.5" and top["repriced_usd"] is None
    second = data["largest"][1]
    assert (second["location"], second["model"], second["recorded_usd"], second["repriced_usd"]) == (
        f"{path.resolve()}:2",
        "claude-opus-4",
        "0.04515",
        "0.03165",
    )
    assert second["explained_by_usd"] == "0.04515"


def test_cli_top_limits_the_list_and_table_and_md_render(tmp_path):
    path = str(_session(tmp_path))
    data = json.loads(_cli(path, "--format", "json", "--top", "1").stdout)
    assert len(data["largest"]) == 1
    table = _cli(path)
    assert table.exit_code == 0 and "unknown model" in table.stdout and "$0.0693" in table.stdout
    md = _cli(path, "--format", "md")
    assert md.exit_code == 0 and md.stdout.startswith("## llmaudit reconcile")
    assert "| cache write TTL | 1 |" in md.stdout


@pytest.mark.parametrize(("gate", "code"), [("5%", 1), ("25%", 0), ("0.01USD", 1), ("1USD", 0), ("$0.02", 0)])
def test_cli_fail_above_exit_codes(tmp_path, gate, code):
    # summed per-call mismatch 0.01575 on 0.0693 repriced = 22.7%
    result = _cli(str(_session(tmp_path)), "--format", "json", "--fail-above", gate)
    assert result.exit_code == code, result.output
    json.loads(result.stdout)  # the report is written before the gate fails
    if code:
        assert "above --fail-above" in result.stderr


def test_cli_tolerance_changes_what_matches(tmp_path):
    # a 60% tolerance absorbs the TTL (0.00375 vs 0.006) and cache-read (0.04515 vs 0.03165) differences
    data = json.loads(_cli(str(_session(tmp_path)), "--format", "json", "--tolerance", "60%").stdout)
    assert data["totals"]["calls_matching"] == 3 and data["tolerance"]["relative"] == "0.6"


def test_cli_usage_and_input_errors(tmp_path):
    path = str(_session(tmp_path))
    assert _cli(path, "--fail-above", "lots").exit_code == 2
    assert _cli(path, "--tolerance", "lots").exit_code == 2
    missing = _cli(str(tmp_path / "absent.jsonl"))
    assert missing.exit_code == 3 and "llmaudit:" in missing.stderr
    assert _cli("--db", str(tmp_path / "none.duckdb")).exit_code == 3


def test_cli_reads_the_history_store(tmp_path):
    db = tmp_path / "h.duckdb"
    path = str(_session(tmp_path))
    assert (
        runner.invoke(app, ["analyze", path, "--db", str(db), "--catalog", str(TEST_CATALOG)]).exit_code == 0
    )
    data = json.loads(_cli("--db", str(db), "--format", "json").stdout)
    assert data["totals"]["calls_compared"] == 3


def test_reconcile_does_not_depend_on_row_order():
    """Per-cause model details are picked by frequency, ties by text: the same calls in another order (or
    another group order) give the same report."""
    from pathlib import Path

    from llmaudit.analysis import analyze
    from llmaudit.catalog import load_catalog

    catalog = load_catalog()
    calls = analyze(Path(__file__).parent.parent / "sample_logs", catalog=catalog).calls
    forward = reconcile(calls, catalog)
    for seed in range(3):
        shuffled = calls.sample(fraction=1.0, shuffle=True, seed=seed)
        assert reconcile(shuffled, catalog)["causes"] == forward["causes"]


def test_reconcile_in_runs_of_one_call_finds_the_stale_price_and_the_same_report(catalog):
    """Runs are classified apart, but a stale price is decided on every call of its ratio bucket: the
    calls of the two 130%/70% prices, the 5x o3 price and every other cause, one call per run, give the
    report of one pass, which also agrees with `summarize(classify(...))`."""
    rows = [(m, u, r) for m, u, r, _, _ in CASES.values()]
    usage = {"input_uncached_tokens": 1000, "output_tokens": 0}
    rows += [("gpt-4.1", usage, r) for r in ("0.0026", "0.0014", "0.0026", "0.0014")]
    priced = price(_frame(rows), catalog)
    whole = reconcile(priced, catalog)
    runs = [priced.slice(i, 1) for i in range(priced.height)]
    assert reconciliation.reconcile_runs(runs, catalog) == whole
    assert summarize(classify(priced, catalog), Tolerance()) | {"catalog": whole["catalog"]} == whole
    stale = next(c for c in whole["causes"] if c["cause"] == "stale or different price")
    assert (
        stale["calls"] == 4
        and stale["models"][0]["detail"] == "recorded is 130% of catalog for model gpt-4.1"
    )
    assert {r["cause"] for r in whole["largest"]} >= {
        "stale or different price",
        "other",
        "long-context tier",
    }


def test_a_models_stale_detail_is_its_most_common_text_across_buckets(catalog):
    """Two ratio buckets that print the same percentage (2 calls each) outnumber a third one (3 calls):
    the detail is counted per text, not per bucket, in one pass and in runs alike."""
    usage = {"input_uncached_tokens": 1000, "output_tokens": 0}  # gpt-4.1 repriced 0.002
    recorded = ["0.0000051"] * 2 + ["0.0000052"] * 2 + ["0.000007"] * 3  # 0.26%, 0.26%, 0.35%
    priced = price(_frame([("gpt-4.1", usage, r) for r in recorded]), catalog)
    for data in (
        reconcile(priced, catalog),
        reconciliation.reconcile_runs([priced[:3], priced[3:]], catalog),
    ):
        (stale,) = data["causes"]
        assert (stale["cause"], stale["calls"]) == ("stale or different price", 7)
        assert stale["models"][0]["detail"] == "recorded is 0.26% of catalog for model gpt-4.1"


def test_reconcile_of_a_report_streams_runs_with_the_one_pass_result(monkeypatch):
    """`reconcile_report` reads only the calls with a recorded cost, RUN_ROWS at a time from the report's
    workspace: with runs of a few calls, the report of one pass over the frame."""
    from pathlib import Path

    from llmaudit.analysis import analyze
    from llmaudit.catalog import load_catalog

    catalog = load_catalog()
    report = analyze(Path(__file__).parent.parent / "sample_logs", catalog=catalog)
    whole = reconcile(report.calls_where("cost_reported IS NOT NULL"), catalog)
    sizes: list[int] = []
    classify_rules = reconciliation._classify_rules

    def recording(priced, *args):
        sizes.append(priced.height)
        return classify_rules(priced, *args)

    monkeypatch.setattr(reconciliation, "_classify_rules", recording)
    monkeypatch.setattr(reconciliation, "RUN_ROWS", 3)
    streamed = reconciliation.reconcile_report(report, catalog)
    assert len(sizes) >= 3 and max(sizes) <= 3
    assert whole["totals"]["calls_compared"] > 0 and whole["causes"] and whole["largest"]
    assert streamed == whole


def test_a_call_two_rules_explain_gets_the_first_rules_cause(catalog):
    """Every rule's counterfactuals are priced together: a call is still given the first rule (in RULES
    order) that explains it, as when each rule only saw the calls the rules before it left."""
    usage = {"input_uncached_tokens": 600, "cache_read_tokens": 400, "output_tokens": 100}
    # gpt-4o-mini, repriced 0.00018; reads billed at the input rate 0.00021, charged twice 0.00024
    rows = [("gpt-4o-mini", usage, "0.000225"), ("gpt-4o-mini", usage, "0.00024")]
    loose = _classify_with(catalog, rows, Tolerance.parse(["10%"]))
    strict = _classify_with(catalog, rows, Tolerance())
    twice = "cache reads charged as input and again as cache reads"
    # 0.000225 is within 10% of both counterfactuals, 0.00024 of the second only
    assert loose["recon_detail"].to_list() == ["cache reads billed at the input rate", twice]
    assert strict["recon_detail"].to_list() == [None, twice]
    assert strict["recon_cause"].to_list() == ["other", "cached tokens charged twice"]
    assert strict["recon_explained_usd"].to_list()[1] == D("0.00024")


def _classify_with(catalog, rows, tolerance) -> pl.DataFrame:
    return classify(price(_frame(rows), catalog), catalog, tolerance)


def test_reconcile_of_a_frame_classifies_it_in_runs(catalog, monkeypatch):
    """`reconcile` of a frame larger than a run splits it (a run's counterfactuals are several times its
    size) and gives the one-run result."""
    rows = [(m, u, r) for m, u, r, _, _ in CASES.values()]
    priced = price(_frame(rows), catalog)
    whole = reconciliation.reconcile_runs([priced], catalog)
    seen: list[int] = []
    runs_of = reconciliation.reconcile_runs

    def counted(runs, *args, **kwargs):
        runs = list(runs)
        seen.extend(run.height for run in runs)
        return runs_of(runs, *args, **kwargs)

    monkeypatch.setattr(reconciliation, "RUN_ROWS", 3)
    monkeypatch.setattr(reconciliation, "reconcile_runs", counted)
    assert reconcile(priced, catalog) == whole
    assert seen == [3] * (priced.height // 3) + ([priced.height % 3] if priced.height % 3 else [])
