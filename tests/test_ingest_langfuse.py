"""Langfuse readers: trace exports exploded into their GENERATION observations, and bare observation objects.

Costs are hand-computed with the test catalog (per 1M tokens). The anchor tests read the five real trace
exports and recompute counts, token sums and Langfuse's own costs straight from the JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.ingest.spec import split_path
from llmaudit.pricing import price

TRACE = {
    "id": "t1",
    "projectId": "proj-1",
    "name": "support-bot",
    "timestamp": "2025-11-03T10:00:00.000Z",
    "userId": "u-1",
    "sessionId": "s-1",
    "tags": ["support", "prod"],
    "metadata": json.dumps({"feature": "ignored-when-tagged"}),
    "latency": 9.5,  # seconds at trace level: not used
}


def _obs(oid: str, otype: str = "GENERATION", **fields) -> dict:
    return {
        "id": oid,
        "traceId": "t1",
        "type": otype,
        "startTime": "2025-11-03T10:00:01.000Z",
        "endTime": "2025-11-03T10:00:02.500Z",
        "level": "DEFAULT",
        "statusMessage": None,
        "latency": 1500,
        **fields,
    }


OBSERVATIONS = [
    _obs("root", "SPAN"),
    # LangChain handler / Langfuse ingestion: details are subtracted from input and output (additive keys);
    # total 1200 = 400 + 600 + 150 + 50 confirms it
    _obs(
        "g-additive",
        model="gpt-4o-mini-2024-07-18",
        usageDetails={
            "input": 400,
            "input_cache_read": 600,
            "output": 150,
            "output_reasoning": 50,
            "total": 1200,
        },
        costDetails={"input": 0.000105, "output": 0.00012, "total": 0.000225},
        metadata={"ls_provider": "openai"},
    ),
    # OpenTelemetry / OpenInference keys: subsets of input (total = input + output)
    _obs(
        "g-otel",
        model="claude-sonnet-4-5-20250929",
        usageDetails={
            "input": 3000,
            "prompt_details.cache_read": 2000,
            "prompt_details.cache_write": 500,
            "output": 300,
            "total": 3300,
        },
        metadata={"attributes": {"llm.provider": "anthropic"}},
    ),
    # Langfuse keys without a total: additive by default; 1h cache writes keep their TTL
    _obs(
        "g-ttl",
        model="claude-haiku-4-5",
        usageDetails={"input": 100, "input_cache_read": 1000, "input_cache_creation_1h": 200, "output": 50},
    ),
    # an integration that passed cache-inclusive input with a Langfuse key: total 1100 = input + output says so
    _obs(
        "g-inclusive",
        model="gpt-4o-mini",
        usageDetails={"input": 1000, "input_cache_read": 600, "output": 100, "total": 1100},
    ),
    _obs(
        "g-error",
        model="gpt-4o",
        level="ERROR",
        statusMessage="Error code: 429 - {'error': {'message': 'Rate limit reached'}}",
        usageDetails={},
        costDetails={},
    ),
    _obs("tool-1", "TOOL"),
]
EXPORT = {"trace": TRACE, "observations": OBSERVATIONS}


def test_path_parts_may_quote_keys_with_dots():
    assert split_path('usageDetails."prompt_details.cache_read"') == [
        "usageDetails",
        "prompt_details.cache_read",
    ]
    assert split_path("choices.0.message") == ["choices", "0", "message"]


def test_trace_export_is_one_call_per_generation(tmp_path, catalog):
    path = write(tmp_path / "trace.json", json.dumps(EXPORT, indent=2))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "langfuse"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        7,
        5,
        2,
        0,
    )
    assert result.reconciles
    assert sorted(result.skipped["reason"]) == [
        "not a call (SPAN observation)",
        "not a call (TOOL observation)",
    ]
    calls = {c["request_id"]: c for c in result.calls.to_dicts()}
    assert set(result.calls["source_line"]) == {1} and result.calls["record_id"].n_unique() == 5
    for call in calls.values():
        assert (call["trace_id"], call["user_id"], call["session_id"], call["feature"]) == (
            "t1",
            "u-1",
            "s-1",
            "support",
        )
        assert (call["gateway"], call["project_id"]) == ("langfuse", "proj-1")
    tokens = {
        oid: (
            c["input_uncached_tokens"],
            c["cache_read_tokens"],
            c["cache_write_5m_tokens"],
            c["cache_write_1h_tokens"],
        )
        for oid, c in calls.items()
    }
    assert tokens == {
        "g-additive": (400, 600, None, None),
        "g-otel": (500, 2000, 500, 0),
        "g-ttl": (100, 1000, 0, 200),
        "g-inclusive": (400, 600, None, None),
        "g-error": (None, None, None, None),
    }
    assert (calls["g-additive"]["output_tokens"], calls["g-additive"]["reasoning_tokens"]) == (200, 50)
    assert calls["g-additive"]["provider"] == "openai" and calls["g-otel"]["provider"] == "anthropic"
    first = calls["g-additive"]
    assert first["ts"] == dt.datetime(2025, 11, 3, 10, 0, 1, tzinfo=dt.UTC) and first["latency_ms"] == 1500
    assert first["cost_reported"] == Decimal("0.000225")
    assert (calls["g-error"]["status"], calls["g-error"]["http_status"]) == ("error", 429)
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        "g-additive": Decimal("0.000225"),  # gpt-4o-mini: 400*0.15 + 600*0.075 + 200*0.60
        "g-otel": Decimal("0.008475"),  # sonnet-4.5: 500*3 + 2000*0.30 + 500*3.75 + 300*15
        "g-ttl": Decimal("0.00085"),  # haiku-4.5: 100*1 + 1000*0.10 + 200*2 + 50*5
        "g-inclusive": Decimal("0.000165"),  # gpt-4o-mini: 400*0.15 + 600*0.075 + 100*0.60
        "g-error": Decimal(0),  # an error row without usage: kept (429 storms), costs nothing
    }


def test_re_exported_traces_collapse_on_observation_ids(tmp_path):
    write(tmp_path / "a.json", json.dumps(EXPORT))
    write(tmp_path / "b.json", json.dumps(EXPORT))
    result = read_logs(tmp_path)
    assert (result.rows_read, result.calls.height, result.collapsed) == (14, 5, 5) and result.reconciles


def test_arrays_of_traces_empty_traces_and_bad_lines_are_accounted_for(tmp_path):
    empty = {"trace": {**TRACE, "id": "t2"}, "observations": []}
    path = write(
        tmp_path / "traces.jsonl",
        "\n".join([json.dumps(EXPORT), json.dumps(empty), "[1, 2]", "{oops"]) + "\n",
    )
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "langfuse"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        10,
        5,
        3,
        2,
    )
    assert result.skipped.filter(line=2)["reason"].to_list() == ["no observations in the trace"]
    assert result.rejects.sort("line")["reason"].to_list() == [
        "not a JSON object (a JSON array)",
        "malformed JSON",
    ]
    assert result.reconciles
    array = read_logs(
        write(tmp_path / "many.json", json.dumps([EXPORT, {**EXPORT, "observations": OBSERVATIONS[:2]}]))
    )
    # g-additive is in both traces: one call (the later copy); 7 + 2 observations read
    assert (array.rows_read, array.collapsed) == (9, 1)
    assert sorted(array.calls["source_line"].to_list()) == [1, 1, 1, 1, 2]


def test_bare_observation_objects(tmp_path, catalog):
    path = write(tmp_path / "observations.jsonl", "".join(json.dumps(o) + "\n" for o in OBSERVATIONS[:3]))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "langfuse_observation"
    assert (result.calls.height, result.skipped.height) == (2, 1)
    calls = {c["request_id"]: c for c in result.calls.to_dicts()}
    assert calls["g-otel"]["input_uncached_tokens"] == 500 and calls["g-otel"]["trace_id"] == "t1"
    assert calls["g-otel"]["user_id"] is None  # attribution lives on the trace


def _generations(doc: dict) -> list[dict]:
    return [o for o in doc["observations"] if o["type"] == "GENERATION"]


# file -> (generation calls, other observations, repriced cost with the test catalog)
ANCHOR_TRACES = {
    # gemini-2.5-flash: 6*0.50 + 2055*4 (output already holds the 1104 reasoning tokens)
    "google-gemini-2025-08-01": (1, 0, Decimal("0.008223")),
    # gpt-4o: (60+108)*2.5 + (15+51)*10
    "langgraph-2025-08-22": (2, 7, Decimal("0.00108")),
    # gpt-4o: 13*2.5 + 81*10
    "llamaindex-2025-06-05": (1, 1, Decimal("0.0008425")),
    # gpt-4.1: (85+55)*2 + (29+15)*8
    "openai-agents-2025-09-30": (2, 3, Decimal("0.000632")),
    # gpt-4o-mini: (417+131+502+265)*0.15 + (53+69+14+73)*0.60
    "pydantic-ai-tools-2025-12-04": (4, 8, Decimal("0.00032265")),
}


@pytest.mark.anchors
@pytest.mark.parametrize("name", sorted(ANCHOR_TRACES))
def test_real_langfuse_trace_exports(anchors, catalog, name):
    path = anchors / f"logs/langfuse/langfuse__framework-trace__{name}.json"
    doc = json.loads(path.read_text())
    calls_expected, skipped_expected, cost_expected = ANCHOR_TRACES[name]
    generations = _generations(doc)
    result = read_logs(path)
    assert set(result.files.values()) == {"langfuse"}
    assert (result.calls.height, result.skipped.height, result.rejects.height) == (
        calls_expected,
        skipped_expected,
        0,
    )
    assert result.calls.height == len(generations) and result.rows_read == len(doc["observations"])
    usage = [g["usageDetails"] for g in generations]
    # no sample has cache tokens; output already includes reasoning in every one (total = input + output)
    assert all(u.get("total", u["input"] + u["output"]) == u["input"] + u["output"] for u in usage)
    assert result.calls["input_total_tokens"].sum() == sum(u["input"] for u in usage)
    assert result.calls["output_tokens"].sum() == sum(u["output"] for u in usage)
    assert result.calls["reasoning_tokens"].fill_null(0).sum() == sum(
        u.get("completion_details.reasoning", u.get("output_reasoning", 0)) for u in usage
    )
    assert sorted(result.calls["request_id"]) == sorted(g["id"] for g in generations)
    assert result.calls["cost_reported"].sum() == sum(
        Decimal(str(g["costDetails"]["total"])) for g in generations
    )
    assert result.calls["latency_ms"].to_list() == [
        g["latency"]
        for g in sorted(generations, key=lambda g: result.calls["request_id"].to_list().index(g["id"]))
    ]
    assert (result.calls["user_id"].to_list(), result.calls["session_id"].to_list()) == (
        [doc["trace"]["userId"]] * calls_expected,
        [doc["trace"]["sessionId"]] * calls_expected,
    )
    assert result.calls["feature"].to_list() == [(doc["trace"]["tags"] or [None])[0]] * calls_expected
    priced = price(result.calls, catalog)
    assert priced["priced"].all() and priced["cost_usd"].sum() == cost_expected
