"""`llmaudit pricing check|show|diff`: each invariant caught on a small broken catalog, exit codes, impact."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import TEST_CATALOG, write
from typer.testing import CliRunner

from llmaudit.catalog.check import check_catalog
from llmaudit.cli import app

runner = CliRunner()
HEAD = "schema_version: 1\nprovider: acme\nmodels:\n"


def _catalog(tmp_path: Path, body: str, name: str = "cat") -> Path:
    write(tmp_path / name / "acme.yaml", HEAD + body)
    return tmp_path / name


def _rules(tmp_path: Path, body: str, **options) -> set[str]:
    return {f.rule for f in check_catalog(_catalog(tmp_path, body), **options)}


V = "effective_from: 2025-01-01, source: https://x.test, checked: 2026-11-01"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (
            f"  m:\n    versions: [{{{V}, rates: {{input: 1, cache_read: 2, output: 4}}}}]\n",
            "cache-read-above-input",
        ),
        (f"  m:\n    versions: [{{{V}, rates: {{input: 100, output: 1}}}}]\n", "output-implausibly-cheap"),
        (
            f"  m:\n    versions:\n      - {{{V}, rates: {{input: 1, output: 4}}}}\n"
            f"      - {{effective_from: 2025-06-01, source: https://x.test, checked: 2026-11-01, "
            f"rates: {{input: 10, output: 4}}}}\n",
            "factor-10-jump",
        ),
        (
            f"  m:\n    versions: [{{{V}, rates: {{input: 2, output: 8}}, tiers: [{{above: 1000, rates: {{input: 1}}}}]}}]\n",
            "tier-cheaper-than-base",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, checked: 2026-11-01, rates: {input: 1, output: 2}}]\n",
            "no-source",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, source: https://x.test, checked: 2020-01-01, "
            "rates: {input: 1, output: 2}}]\n",
            "stale-checked",
        ),
        (
            f"  m:\n    match: [{{prefix: wid}}]\n    versions: [{{{V}, rates: {{input: 1}}}}]\n"
            f"  n:\n    match: [{{prefix: wid}}]\n    versions: [{{{V}, rates: {{input: 1}}}}]\n",
            "ambiguous-match",
        ),
        (
            f"  m:\n    match: [{{regex: '^n'}}]\n    versions: [{{{V}, rates: {{input: 1}}}}]\n"
            f"  n:\n    versions: [{{{V}, rates: {{input: 1}}}}]\n",
            "ambiguous-match",
        ),
        (f"  m:\n    versions: [{{{V}, rates: {{input: -1}}}}]\n", "schema"),
        (
            f"  m:\n    versions: [{{{V}, rates: {{input: 1}}, modes: {{turbo: {{multiplier: 2}}}}}}]\n",
            "schema",
        ),
    ],
)
def test_each_invariant_is_caught(tmp_path, body, rule):
    assert rule in _rules(tmp_path, body)


def test_clean_catalog_has_no_findings(tmp_path):
    assert (
        _rules(tmp_path, f"  m:\n    versions: [{{{V}, rates: {{input: 1, cache_read: 0.1, output: 4}}}}]\n")
        == set()
    )


def test_reference_catalog_catches_an_extra_zero(tmp_path):
    reference = write(
        tmp_path / "ref.json",
        json.dumps({"acme/m": {"input_cost_per_token": 0.000001, "output_cost_per_token": 0.000004}}),
    )
    body = f"  m:\n    versions: [{{{V}, rates: {{input: 10, output: 4}}}}]\n"
    findings = check_catalog(_catalog(tmp_path, body), reference=reference)
    assert [f.rule for f in findings] == ["reference-factor-10"]
    assert "input 10 vs reference 1" in findings[0].message and findings[0].line == 5


def test_check_cli_exit_codes_formats_and_annotations(tmp_path, monkeypatch):
    bad = _catalog(tmp_path, f"  m:\n    versions: [{{{V}, rates: {{input: 1, cache_read: 2}}}}]\n")
    stale = _catalog(
        tmp_path,
        "  m:\n    versions: [{effective_from: 2025-01-01, source: https://x.test, "
        "checked: 2020-01-01, rates: {input: 1}}]\n",
        name="stale",
    )
    assert runner.invoke(app, ["pricing", "check", str(bad)]).exit_code == 1
    assert runner.invoke(app, ["pricing", "check", str(bad), "--fail-on", "never"]).exit_code == 0
    assert runner.invoke(app, ["pricing", "check", str(stale)]).exit_code == 0
    assert runner.invoke(app, ["pricing", "check", str(stale), "--fail-on", "warning"]).exit_code == 1
    data = json.loads(runner.invoke(app, ["pricing", "check", str(bad), "--format", "json"]).stdout)
    assert data["schema"] == "llmaudit.pricing-check/v1" and data["errors"] == 1
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out = runner.invoke(app, ["pricing", "check", str(bad)]).stdout
    assert f"::error file={bad / 'acme.yaml'},line=5::" in out


def test_bundled_catalog_passes_check():
    result = runner.invoke(app, ["pricing", "check"])
    assert result.exit_code == 0 and "0 error(s)" in result.stdout


def test_show_resolves_aliases_and_dates():
    data = json.loads(
        runner.invoke(
            app,
            [
                "pricing",
                "show",
                "o3-2025-04-16",
                "--at",
                "2025-05-01",
                "--catalog",
                str(TEST_CATALOG),
                "--format",
                "json",
            ],
        ).stdout
    )
    assert data["model"] == "openai/o3" and data["version"]["effective_from"] == "2025-04-16"
    standard = next(r for r in data["rates"] if r["mode"] == "standard")
    assert (standard["input"], standard["output"]) == ("10", "40")
    missing = runner.invoke(app, ["pricing", "show", "nope-1"])
    assert missing.exit_code == 3 and "unknown model" in missing.stderr


def test_diff_reports_changes_and_dollar_impact(tmp_path):
    new = tmp_path / "new"
    for file in TEST_CATALOG.iterdir():
        write(
            new / file.name,
            file.read_text().replace(
                "rates: {input: 0.15, cache_read: 0.075, output: 0.60}",
                "rates: {input: 0.30, cache_read: 0.15, output: 1.20}",
            ),
        )
    logs = write(
        tmp_path / "logs.jsonl",
        '{"model": "gpt-4o-mini", "timestamp": "2025-11-01T00:00:00Z", '
        '"input_tokens": 1000000, "output_tokens": 0, "feature": "chat"}\n',
    )
    args = ["pricing", "diff", str(TEST_CATALOG), str(new), "--logs", str(logs)]
    data = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    assert data["models"]["repriced"][0]["model"] == "openai/gpt-4o-mini"
    impact = data["impact"]
    assert (Decimal(impact["old_cost_usd"]), Decimal(impact["new_cost_usd"])) == (
        Decimal("0.15"),
        Decimal("0.3"),
    )
    assert impact["delta_pct"] == 100.0 and impact["by_feature"][0]["feature"] == "chat"
    assert runner.invoke(app, [*args, "--fail-above", "50%"]).exit_code == 1
    assert runner.invoke(app, [*args, "--fail-above", "1USD"]).exit_code == 0
    md = runner.invoke(app, [*args, "--format", "md"]).stdout
    assert md.startswith("## llmaudit pricing diff") and "| gpt-4o-mini |" in md


def test_show_names_regional_multipliers_and_windows(tmp_path):
    bedrock = runner.invoke(
        app, ["pricing", "show", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "--format", "json"]
    )
    data = json.loads(bedrock.stdout)
    assert data["regions"]["eu"] == "1.1" and data["id_region"] == "eu"
    deepseek = json.loads(runner.invoke(app, ["pricing", "show", "deepseek-chat", "--format", "json"]).stdout)
    assert deepseek["windows"][0]["hours_utc"] == "16:30-00:30"


def test_diff_matches_per_call_prices(tmp_path):
    """`pricing diff` prices in DuckDB (quantity sums x rates); the reference is the per-call `price()` of
    each catalog: same totals, priced counts and per-model / per-feature deltas, to the last decimal."""
    import polars as pl

    from llmaudit.catalog import load_catalog
    from llmaudit.ingest import read_logs
    from llmaudit.money import sum_decimal
    from llmaudit.pricediff import diff
    from llmaudit.pricing import price

    write(
        tmp_path / "mine" / "overrides.yaml",
        "schema_version: 1\noverrides:\n  discounts:\n"
        "    - {provider: openai, multiplier: 0.8, effective_from: 2026-03-08}\n"
        "    - {model: anthropic/claude-haiku-4-5, multiplier: 0.5}\n",
    )
    old, new = load_catalog(), load_catalog(tmp_path / "mine")
    calls = read_logs(Path(__file__).parent.parent / "sample_logs").calls
    before, after = price(calls, old), price(calls, new)
    got = diff(old, new, calls)["impact"]
    assert got["calls"] == calls.height
    assert (got["priced_old"], got["priced_new"]) == (before["priced"].sum(), after["priced"].sum())
    old_total, new_total = sum_decimal(before["cost_usd"]), sum_decimal(after["cost_usd"])
    assert (got["old_cost_usd"], got["new_cost_usd"]) == (old_total, new_total)
    assert got["delta_usd"] == new_total - old_total < 0  # the discounts did apply
    both = pl.DataFrame(
        {
            "model": after["model"].fill_null("—"),
            "feature": after["feature"].fill_null("—"),
            "old": before["cost_usd"],
            "new": after["cost_usd"],
        }
    )
    for table, key in (("by_model", "model"), ("by_feature", "feature")):
        expected = set()
        for row in both.group_by(key).agg(pl.len().alias("calls"), pl.col("old"), pl.col("new")).to_dicts():
            o, n = (
                sum_decimal(pl.Series(row["old"], dtype=before["cost_usd"].dtype)),
                sum_decimal(pl.Series(row["new"], dtype=after["cost_usd"].dtype)),
            )
            if n != o:
                expected.add((row[key], row["calls"], o, n, n - o))
        assert {(r[key], r["calls"], r["old"], r["new"], r["delta"]) for r in got[table]} == expected
        assert expected  # the comparison is not vacuous
