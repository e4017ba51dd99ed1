"""The CLI contract: every analyze option, the JSON envelope, exit codes 0/2/3, the history store."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import TEST_CATALOG, write
from typer.testing import CliRunner

from llmaudit import __version__
from llmaudit.cli import app
from llmaudit.workspace import DEFAULT_MEMORY_LIMIT

runner = CliRunner()
CHAT = (
    '{{"object": "chat.completion", "id": "c{i}", "created": {created}, "model": "{model}", '
    '"usage": {{"prompt_tokens": {p}, "completion_tokens": {c}, "prompt_tokens_details": {{"cached_tokens": {k}}}}},'
    ' "metadata": {{"user": "{user}", "feature": "{feature}"}}}}'
)


def _logs(tmp_path: Path) -> Path:
    rows = [
        # 2025-11-01 and 2025-11-02 UTC
        {
            "i": 1,
            "created": 1761998400,
            "model": "gpt-4o-mini",
            "p": 1000,
            "c": 100,
            "k": 400,
            "user": "alice",
            "feature": "chat",
        },
        {
            "i": 2,
            "created": 1761998400,
            "model": "gpt-4o",
            "p": 2000,
            "c": 200,
            "k": 0,
            "user": "bob",
            "feature": "search",
        },
        {
            "i": 3,
            "created": 1762084800,
            "model": "gpt-4o-mini",
            "p": 3000,
            "c": 300,
            "k": 0,
            "user": "alice",
            "feature": "search",
        },
        {
            "i": 4,
            "created": 1762084800,
            "model": "mystery-model",
            "p": 10,
            "c": 1,
            "k": 0,
            "user": "carol",
            "feature": "chat",
        },
    ]
    text = "\n".join(CHAT.format(**r) for r in rows) + "\n{broken\n"
    return write(tmp_path / "logs" / "app.jsonl", text)


def _invoke(*args: str):
    return runner.invoke(app, ["analyze", *args, "--catalog", str(TEST_CATALOG)])


def _json(tmp_path: Path, *args: str) -> dict:
    result = _invoke(str(_logs(tmp_path)), "--format", "json", "--no-store", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# gpt-4o-mini c1: 600*0.15 + 400*0.075 + 100*0.6 = 180e-6; c3: 3000*0.15 + 300*0.6 = 630e-6
# gpt-4o c2: 2000*2.5 + 200*10 = 7000e-6. Bundled catalog is layered under the test catalog.
TOTAL = Decimal("0.00018") + Decimal("0.00063") + Decimal("0.007")


def test_json_envelope_coverage_totals_and_models(tmp_path):
    data = _json(tmp_path)
    assert data["schema"] == "llmaudit.analyze/v1"
    cov = data["coverage"]
    assert (cov["rows_read"], cov["calls"], cov["priced"], cov["unpriced"], cov["rejected"]) == (
        5,
        4,
        3,
        1,
        1,
    )
    assert cov["rows_read"] == cov["calls"] + cov["rejected"] + cov["skipped"] + cov["collapsed"]
    assert cov["reconciles"] is True
    assert cov["rejects"] == [f"{(tmp_path / 'logs' / 'app.jsonl').resolve()}:5: malformed JSON"]
    assert cov["unpriced_models"][0]["model_raw"] == "mystery-model"
    assert Decimal(data["totals"]["cost_usd"]) == TOTAL
    assert isinstance(data["totals"]["cost_usd"], str)
    models = {m["model"]: m for m in data["by_model"]}
    assert Decimal(models["gpt-4o"]["cost_usd"]) == Decimal("0.007") and models["gpt-4o"]["calls"] == 1
    assert models["mystery-model"]["cost_usd"] is None
    assert [d["day"] for d in data["by_day"]] == ["2025-11-01", "2025-11-02"]
    assert {r["feature"] for r in data["by_feature"]} == {"chat", "search"}
    assert Decimal(data["cache"]["read_saving_usd"]) == Decimal("0.00003")  # 400 * (0.15-0.075)/1M


def test_since_and_until_filter_by_utc_day(tmp_path):
    first = _json(tmp_path, "--until", "2025-11-01")
    assert first["coverage"]["calls"] == 2 and first["coverage"]["outside_period"] == 2
    assert Decimal(first["totals"]["cost_usd"]) == Decimal("0.00718")
    second = _json(tmp_path, "--since", "2025-11-02")
    assert second["coverage"]["calls"] == 2 and Decimal(second["totals"]["cost_usd"]) == Decimal("0.00063")


def test_by_groups_on_several_columns(tmp_path):
    data = _json(tmp_path, "--by", "user,model")
    rows = {(r["user"], r["model"]): r for r in data["breakdown"]["rows"]}
    assert rows[("alice", "gpt-4o-mini")]["calls"] == 2
    assert Decimal(rows[("alice", "gpt-4o-mini")]["cost_usd"]) == Decimal("0.00081")


def test_unknown_by_column_is_a_usage_error(tmp_path):
    result = _invoke(str(_logs(tmp_path)), "--by", "colour", "--no-store")
    assert result.exit_code == 2 and "unknown --by column" in result.output


def test_csv_and_markdown_formats(tmp_path):
    logs = str(_logs(tmp_path))
    csv_out = _invoke(logs, "--format", "csv", "--no-store")
    assert csv_out.exit_code == 0
    frame = pl.read_csv(csv_out.stdout.encode(), infer_schema=False)
    assert frame.columns[:2] == ["model", "calls"]
    assert sum(Decimal(c) for c in frame["cost_usd"].drop_nulls()) == TOTAL
    md = _invoke(logs, "--format", "md", "--no-store")
    assert md.exit_code == 0 and md.stdout.startswith("## llmaudit analyze")
    assert "| gpt-4o |" in md.stdout and "`mystery-model`" in md.stdout


def test_table_format_prints_coverage_and_totals(tmp_path):
    result = _invoke(str(_logs(tmp_path)), "--no-store")
    assert result.exit_code == 0
    assert "coverage" in result.stdout and "$0.0078" in result.stdout and "mystery-model" in result.stdout
    assert "app.jsonl:5: malformed JSON" in result.stderr


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_out_writes_one_row_per_call_with_provenance(tmp_path, suffix):
    out = tmp_path / f"priced{suffix}"
    result = _invoke(str(_logs(tmp_path)), "--out", str(out), "--no-store")
    assert result.exit_code == 0, result.output
    frame = {".parquet": pl.read_parquet, ".csv": pl.read_csv, ".jsonl": pl.read_ndjson}[suffix](out)
    assert frame.height == 4
    for column in (
        "record_id",
        "model",
        "input_uncached_tokens",
        "cost_usd",
        "cost_input",
        "catalog_id",
        "price_model",
        "price_version",
        "price_tier",
        "price_mode",
        "priced",
    ):
        assert column in frame.columns
    assert sum(Decimal(str(c)) for c in frame["cost_usd"].drop_nulls()) == TOTAL


def test_out_with_unknown_suffix_is_a_usage_error(tmp_path):
    result = _invoke(str(_logs(tmp_path)), "--out", str(tmp_path / "x.xlsx"), "--no-store")
    assert result.exit_code == 2 and ".parquet, .csv or .jsonl" in result.output


def test_store_is_idempotent_and_reanalysis_needs_no_logs(tmp_path):
    db = tmp_path / "h.duckdb"
    logs = str(_logs(tmp_path))
    first = _invoke(logs, "--db", str(db), "--format", "json")
    assert first.exit_code == 0 and "4 new calls" in first.stderr
    again = _invoke(logs, "--db", str(db), "--format", "json")
    assert "0 new calls" in again.stderr
    history = _invoke("--db", str(db), "--format", "json")
    data = json.loads(history.stdout)
    assert data["coverage"]["calls"] == 4 and Decimal(data["totals"]["cost_usd"]) == TOTAL


def test_no_store_leaves_no_database(tmp_path):
    _invoke(str(_logs(tmp_path)), "--no-store", "--db", str(tmp_path / "none.duckdb"))
    assert not (tmp_path / "none.duckdb").exists()


def test_missing_history_store_is_an_input_error(tmp_path):
    result = _invoke("--db", str(tmp_path / "absent.duckdb"))
    assert result.exit_code == 3 and "no history store" in result.stderr


def test_input_format_and_mapping_options(tmp_path):
    csv = write(tmp_path / "u.txt", "Engine,In,Out\ngpt-4o-mini,1000,100\n")
    mapping = write(tmp_path / "m.yaml", "columns: {model: Engine, input_tokens: In, output_tokens: Out}\n")
    result = _invoke(
        str(csv), "--input-format", "generic_csv", "--mapping", str(mapping), "--format", "json", "--no-store"
    )
    assert result.exit_code == 0, result.output
    assert Decimal(json.loads(result.stdout)["totals"]["cost_usd"]) == Decimal("0.00021")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / "empty").mkdir() or p / "empty", "no log files found"),
        (lambda p: write(p / "x.jsonl", '{"a": 1}\n'), "unknown log format"),
        (lambda p: p / "missing", "no such file or directory"),
    ],
)
def test_unreadable_input_exits_3_with_one_line(tmp_path, make, message):
    result = _invoke(str(make(tmp_path)), "--no-store")
    assert result.exit_code == 3
    assert message in result.stderr and "Traceback" not in result.output


def test_bad_catalog_exits_3_with_file_and_line(tmp_path):
    bad = write(
        tmp_path / "cat" / "x.yaml", "schema_version: 1\nprovider: x\nmodels:\n  m:\n    versions: [oops\n"
    )
    result = runner.invoke(app, ["analyze", str(_logs(tmp_path)), "--catalog", str(bad.parent), "--no-store"])
    assert result.exit_code == 3 and "x.yaml:" in result.stderr and "invalid YAML" in result.stderr


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"llmaudit {__version__}"
    result = runner.invoke(app, ["analyze", "--help"])
    assert result.exit_code == 0
    for option in ("--catalog", "--since", "--until", "--by", "--format", "--out", "--db", "--no-store"):
        assert option in result.stdout


def test_bad_since_is_a_usage_error(tmp_path):
    result = _invoke(str(_logs(tmp_path)), "--since", "last tuesday", "--no-store")
    assert result.exit_code == 2 and "is not a date" in result.stderr


def test_store_written_by_an_older_version_gains_new_columns(tmp_path):
    import duckdb

    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE calls (record_id VARCHAR, ts TIMESTAMPTZ, model_raw VARCHAR, ingested_at TIMESTAMPTZ)"
        )
    result = _invoke(str(_logs(tmp_path)), "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "4 new calls" in result.stderr


def test_unwritable_out_is_an_input_error(tmp_path):
    blocker = write(tmp_path / "file", "x")
    result = _invoke(str(_logs(tmp_path)), "--out", str(blocker / "sub" / "x.csv"), "--no-store")
    assert result.exit_code == 3 and "cannot write" in result.stderr


def test_library_names_stay_functions_after_submodules_load():
    import llmaudit
    from llmaudit import reconciliation  # noqa: F401  (loads llmaudit.analysis and llmaudit.pricing too)

    for name in ("analyze", "price", "reconcile", "read_logs", "load_catalog"):
        assert callable(getattr(llmaudit, name)) and not hasattr(getattr(llmaudit, name), "__path__"), name
        assert getattr(llmaudit, name).__class__.__name__ == "function", name


def test_running_out_of_duckdb_memory_is_a_clear_message_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", "8MB")  # far below what one summary query needs
    result = runner.invoke(app, ["analyze", str(_logs(tmp_path)), "--no-store", "-f", "json"])
    assert result.exit_code == 3, result.output
    assert "LLMAUDIT_MEMORY_LIMIT" in result.output and "Traceback" not in result.output
    assert f"(default {DEFAULT_MEMORY_LIMIT})" in " ".join(result.output.split())


def test_unusable_temp_folder_is_a_clear_message(tmp_path, monkeypatch):
    import llmaudit.workspace

    def refuse(**_):
        raise PermissionError(13, "Permission denied", str(tmp_path / "ro"))

    monkeypatch.setattr(llmaudit.workspace.tempfile, "mkdtemp", refuse)
    result = runner.invoke(app, ["analyze", str(_logs(tmp_path)), "--no-store"])
    assert result.exit_code == 3, result.output
    assert "TMPDIR" in result.output and "Traceback" not in result.output


def test_markdown_states_recorded_cost_once_and_only_when_there_is_some(tmp_path):
    plain = runner.invoke(app, ["analyze", str(_logs(tmp_path)), "--no-store", "-f", "md"])
    assert plain.exit_code == 0 and "Cost recorded" not in plain.output
    sample = Path(__file__).parent.parent / "sample_logs"
    recorded = runner.invoke(app, ["analyze", str(sample), "--no-store", "-f", "md"])
    assert recorded.output.count("Cost recorded") == 1


def test_bad_memory_limit_setting_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMAUDIT_MEMORY_LIMIT", "lots")
    result = runner.invoke(app, ["analyze", str(_logs(tmp_path)), "--no-store"])
    assert result.exit_code == 2 and "LLMAUDIT_MEMORY_LIMIT='lots'" in result.output


def test_every_rejected_line_is_listed_in_json_and_summed_on_stderr(tmp_path):
    """Rejected lines are read lazily (a column, made into `file:line: reason` as JSON is written): all of
    them, by file and line, and stderr shows the first ten and counts the rest."""
    good = _logs(tmp_path).read_text().splitlines()[:4]
    bad = {"b.jsonl": [1, 3, 4, 9, 10, 11, 12], "a.jsonl": [2, 5, 6, 7, 8]}
    for name, lines in bad.items():
        text = [
            ("{oops" if n in lines else good[n % 4].replace('"id": "', f'"id": "{name}-{n}-'))
            for n in range(1, 13)
        ]
        write(tmp_path / "many" / name, "\n".join(text) + "\n")
    result = _invoke(str(tmp_path / "many"), "--format", "json", "--no-store")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["coverage"]["rejects"]
    expected = [
        f"{(tmp_path / 'many' / name).resolve()}:{n}: malformed JSON"
        for name in ("a.jsonl", "b.jsonl")
        for n in bad[name]
    ]
    assert listed == expected
    warned = [line for line in result.stderr.splitlines() if "malformed JSON" in line]
    assert warned == [f"llmaudit: {line}" for line in expected[:10]]
    assert "... and 2 more rejected rows" in result.stderr
