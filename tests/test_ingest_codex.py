"""Codex CLI sessions: token_count deltas, model from turn_context, re-emits skipped, fork replays collapsed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

KEYS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")


def _usage(inp, cached, out, reasoning):
    return dict(zip(KEYS, (inp, cached, out, reasoning, inp + out), strict=True))


def _line(ts, kind, payload):
    return {"timestamp": f"2025-11-0{ts}T10:00:00.000Z", "type": kind, "payload": payload}


def _tokens(ts, last, total, **info):
    body = {"last_token_usage": _usage(*last), "total_token_usage": _usage(*total), **info}
    return _line(ts, "event_msg", {"type": "token_count", "info": body})


TURN_1 = ((10_000, 4_000, 1_000, 600), (10_000, 4_000, 1_000, 600))
TURN_2 = ((20_000, 16_000, 500, 0), (30_000, 20_000, 1_500, 600))
TURN_3 = ((1_000, 0, 100, 50), (31_000, 20_000, 1_600, 650))

SESSION = [
    _line(1, "session_meta", {"id": "sess-1", "cwd": "/work", "originator": "codex_cli_rs"}),
    _line(1, "turn_context", {"model": "gpt-5", "cwd": "/work"}),
    _line(1, "event_msg", {"type": "token_count", "info": None, "rate_limits": {}}),
    _line(1, "event_msg", {"type": "user_message", "message": "fix the bug"}),
    _tokens(1, *TURN_1),
    _tokens(1, *TURN_1),  # re-emitted: the running total did not move
    _line(1, "response_item", {"type": "message", "role": "assistant", "content": []}),
    _tokens(2, *TURN_2),
    _line(3, "turn_context", {"model": "o3"}),
    _tokens(3, *TURN_3),
]


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def test_session_calls_models_and_skips(tmp_path, catalog):
    result = read_logs(write(tmp_path / "rollout-1.jsonl", _lines(*SESSION)))
    assert result.files == {str((tmp_path / "rollout-1.jsonl").resolve()): "codex"}
    counts = (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height)
    assert counts == (10, 3, 7, 0) and result.reconciles
    assert sorted(result.skipped["reason"].to_list()) == [
        "no usage (event_msg user_message line)",
        "no usage (response_item line)",
        "no usage (session_meta line)",
        "no usage (token_count without info)",
        "no usage (turn_context line)",
        "no usage (turn_context line)",
        "repeated token_count (running total unchanged)",
    ]
    calls = result.calls.sort("source_line")
    assert calls["model"].to_list() == ["gpt-5", "gpt-5", "o3"]  # only turn_context lines name the model
    assert calls["session_id"].to_list() == ["sess-1"] * 3
    assert set(calls["gateway"]) == {"codex"} and set(calls["provider"]) == {"openai"}
    # input includes the cached tokens; output includes reasoning
    assert calls["input_uncached_tokens"].to_list() == [6_000, 4_000, 1_000]
    assert calls["cache_read_tokens"].to_list() == [4_000, 16_000, 0]
    assert calls["input_total_tokens"].to_list() == [10_000, 20_000, 1_000]
    assert calls["output_tokens"].to_list() == [1_000, 500, 100]
    assert calls["reasoning_tokens"].to_list() == [600, 0, 50]
    priced = price(calls, catalog)
    # gpt-5: 6000*1.25 + 4000*0.125 + 1000*10; 4000*1.25 + 16000*0.125 + 500*10; o3 (June 2025 price):
    # 1000*2 + 100*8 (per 1M)
    assert priced["cost_usd"].to_list() == [Decimal("0.018"), Decimal("0.012"), Decimal("0.0028")]


def test_fork_replay_collapses_with_the_parent(tmp_path):
    fork = [
        _line(4, "session_meta", {"id": "sess-2", "forked_from_id": "sess-1"}),
        _line(4, "turn_context", {"model": "gpt-5"}),
        _tokens(4, *TURN_1),  # replayed history, re-stamped to the fork time
        _tokens(4, *TURN_2),
        _tokens(4, *TURN_3),
        _tokens(5, (2_000, 1_000, 10, 0), (33_000, 21_000, 1_610, 650)),  # the fork's own turn
    ]
    write(tmp_path / "logs/rollout-1.jsonl", _lines(*SESSION))
    write(tmp_path / "logs/rollout-2.jsonl", _lines(*fork))
    result = read_logs(tmp_path / "logs")
    assert result.reconciles and result.rejects.height == 0
    # turns 2 and 3 collapse with the parent's copies; a session's first turn is keyed by file and line (two
    # sessions can start with the same counts), so a fork that replays from the very start counts it again
    assert (result.calls.height, result.collapsed) == (3 + 2, 2)
    assert result.calls["output_tokens"].sum() == 1_000 + 500 + 100 + 1_000 + 10


def test_legacy_running_totals_are_differenced(tmp_path):
    def legacy(ts, total):
        return _line(ts, "event_msg", {"type": "token_count", "info": {"total_token_usage": _usage(*total)}})

    lines = [
        _line(1, "turn_context", {"model": "gpt-5"}),
        legacy(1, (1_000, 200, 100, 0)),
        legacy(2, (3_000, 1_000, 400, 100)),
        legacy(3, (3_000, 1_000, 400, 100)),  # unchanged: a refresh, not a call
    ]
    result = read_logs(write(tmp_path / "legacy.jsonl", _lines(*lines)))
    calls = result.calls.sort("source_line")
    assert calls["input_total_tokens"].to_list() == [1_000, 2_000]
    assert calls["cache_read_tokens"].to_list() == [200, 800]
    assert calls["output_tokens"].to_list() == [100, 300]
    assert result.skipped.height == 2 and result.reconciles


@pytest.mark.anchors
def test_ccusage_codex_session(anchors):
    path = anchors / "logs/codex_cli/ccusage__codex_session-alpha.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    events = [r["payload"]["info"] for r in records if r["payload"].get("type") == "token_count"]
    result = read_logs(path)
    assert result.files == {str(path.resolve()): "codex"}
    counts = (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height)
    assert counts == (3, 2, 1, 0)
    calls = result.calls.sort("source_line")
    assert calls["model"].to_list() == [e["model"] for e in events] == ["gpt-5.2-codex", "gpt-5.3-codex"]
    last = [e["last_token_usage"] for e in events]
    assert calls["input_total_tokens"].to_list() == [u["input_tokens"] for u in last]
    assert calls["cache_read_tokens"].to_list() == [u["cached_input_tokens"] for u in last]
    assert calls["input_uncached_tokens"].sum() == sum(
        u["input_tokens"] - u["cached_input_tokens"] for u in last
    )
    assert calls["output_tokens"].to_list() == [u["output_tokens"] for u in last]
    assert calls["reasoning_tokens"].to_list() == [u["reasoning_output_tokens"] for u in last]
    # the deltas add up to the session's final running total
    final = events[-1]["total_token_usage"]
    assert calls["input_total_tokens"].sum() == final["input_tokens"]
    assert calls["output_tokens"].sum() == final["output_tokens"]
