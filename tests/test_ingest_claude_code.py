"""Claude Code transcripts: streaming copies collapse to the largest usage; API errors are error rows."""

from __future__ import annotations

import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price


def _assistant(msg_id, req, output, ts="2026-01-09T10:00:00.000Z", **extra):
    return {
        "type": "assistant",
        "timestamp": ts,
        "sessionId": "s1",
        "requestId": req,
        "uuid": f"u-{msg_id}-{output}",
        "message": {
            "id": msg_id,
            "model": "claude-opus-4-20250514",
            "role": "assistant",
            "content": [{"type": "text", "text": "x"}],
            "usage": {
                "input_tokens": 10,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 200,
                "output_tokens": output,
            },
        },
        **extra,
    }


LINES = [
    {
        "type": "user",
        "timestamp": "2026-01-09T09:59:59.000Z",
        "sessionId": "s1",
        "uuid": "u0",
        "message": {"role": "user", "content": "do it"},
    },
    _assistant("msg_A", "req_A", 1),  # early streaming copy
    _assistant("msg_A", "req_A", 350),  # final copy: keep this one
    _assistant("msg_A", "req_A", 120),  # another partial copy, later in the file
    _assistant("msg_B", "req_B", 40, costUSD=0.12),
    {
        "type": "assistant",
        "timestamp": "2026-01-09T10:05:00.000Z",
        "sessionId": "s1",
        "uuid": "e1",
        "isApiErrorMessage": True,
        "error": "rate_limit",
        "apiErrorStatus": 429,
        "message": {
            "model": "<synthetic>",
            "role": "assistant",
            "content": [{"type": "text", "text": "API Error"}],
        },
    },
    {"type": "summary", "summary": "did it", "leafUuid": "u0"},
]


def test_streaming_copies_collapse_and_errors_are_kept(tmp_path, catalog):
    result = read_logs(write(tmp_path / "session.jsonl", "".join(json.dumps(x) + "\n" for x in LINES)))
    assert (result.rows_read, result.calls.height, result.collapsed) == (7, 3, 2)
    assert result.skipped.height == 2 and result.rejects.height == 0 and result.reconciles
    calls = result.calls.sort("source_line")
    assert calls["output_tokens"].to_list() == [350, 40, None]
    assert calls["status"].to_list() == ["ok", "ok", "error"]
    error = calls.row(2, named=True)
    assert (error["http_status"], error["error_type"], error["model"]) == (429, "rate_limit", None)
    assert calls["gateway"].to_list() == ["claude-code"] * 3
    priced = price(calls, catalog)
    # opus 4: 10*15 + 1000*1.50 + 200*18.75 + 350*75 per 1M
    assert priced["cost_usd"][0] == Decimal("0.03165")
    assert priced["cost_reported"][1] == Decimal("0.12")
    assert priced["cost_usd"][2] == Decimal(0) and priced["priced"][2]
