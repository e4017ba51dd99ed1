"""The shipped sample_logs/ stay readable: every file recognized, only the deliberate torn line rejected."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from llmaudit.cli import app

SAMPLES = Path(__file__).parent.parent / "sample_logs"


def test_sample_logs_analyze_cleanly():
    result = CliRunner().invoke(app, ["analyze", str(SAMPLES), "--format", "json", "--no-store"])
    assert result.exit_code == 0, result.output
    coverage = json.loads(result.stdout)["coverage"]
    assert coverage["reconciles"] and coverage["unknown_format_files"] == []
    assert coverage["rejects"] == [f"{(SAMPLES / 'openai_app.jsonl').resolve()}:41: malformed JSON"]
    expected_files = {p for p in SAMPLES.rglob("*") if p.suffix in {".jsonl", ".json", ".csv"}}
    assert coverage["files"] == len(expected_files)
    assert coverage["unpriced_reasons"].get("unknown model") == 1  # the fine-tuned model, on purpose
