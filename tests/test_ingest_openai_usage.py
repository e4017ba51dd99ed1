"""OpenAI organization Usage API / Costs API exports and usage-dashboard CSV downloads: aggregate rows.

Costs are hand-computed with the test catalog (USD per 1M tokens): gpt-4o-mini 0.15 in / 0.075 cache read /
0.60 out; gpt-4o 2.50 / 1.25 / 10, audio 40 in / 80 out; batch = half price. The anchor tests read the
OpenAPI spec's own examples and recompute counts and sums straight from the JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import polars as pl
import pytest
from conftest import write

from llmaudit.ingest import read_logs, sqlbuild
from llmaudit.ingest.spec import JsonReader
from llmaudit.pricing import price

NOV1, NOV2, NOV3, NOV4 = 1761955200, 1762041600, 1762128000, 1762214400  # 2025-11-01..04 00:00 UTC
UTC = dt.UTC


def _result(model, input_tokens, cached, output, requests, **dims) -> dict:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": input_tokens,
        "input_cached_tokens": cached,
        "input_cache_write_tokens": 0,
        "input_uncached_tokens": input_tokens - cached,
        "output_tokens": output,
        "num_model_requests": requests,
        "project_id": None,
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": None,
        "service_tier": None,
        **dims,
    }


def _bucket(start, end, results) -> dict:
    return {"object": "bucket", "start_time": start, "end_time": end, "results": results}


R1 = _result("gpt-4o-mini-2024-07-18", 10000, 4000, 2000, 10, project_id="proj_a", batch=False)
R2 = _result("gpt-4o-2024-08-06", 20000, 0, 5000, 4, project_id="proj_b", batch=True, service_tier="default")
# audio is part of the uncached input (2000 text + 1000 audio) and of the output (500 text + 200 audio)
R3 = _result(
    "gpt-4o-2024-08-06",
    3000,
    0,
    700,
    3,
    project_id="proj_a",
    batch=False,
    input_text_tokens=2000,
    input_audio_tokens=1000,
    output_text_tokens=500,
    output_audio_tokens=200,
    input_image_tokens=0,
)
PAGE = {
    "object": "page",
    "data": [
        _bucket(NOV1, NOV2, [R1, R2]),
        _bucket(NOV2, NOV3, [R3]),
        _bucket(NOV3, NOV4, []),  # a day without usage
    ],
    "has_more": False,
    "next_page": None,
}
# gpt-4o-mini: 6000*0.15 + 4000*0.075 + 2000*0.60 = 0.0024
# gpt-4o batch: (20000*2.50 + 5000*10) * 0.5 = 0.05
# gpt-4o audio: 2000*2.50 + 1000*40 + 500*10 + 200*80 = 0.066
EXPECTED = {"gpt-4o-mini-2024-07-18": Decimal("0.0024"), "batch": Decimal("0.05"), "audio": Decimal("0.066")}


def _costs(priced) -> list[Decimal]:
    return priced.sort("ts", "model_raw")["cost_usd"].to_list()


def test_usage_page_is_one_aggregate_row_per_bucket_result(tmp_path, catalog):
    path = write(tmp_path / "usage.json", json.dumps(PAGE, indent=2))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "openai_usage_api"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        4,
        3,
        1,
        0,
    )
    assert result.reconciles
    assert result.skipped["reason"].to_list() == ["no usage in this bucket"]
    calls = result.calls.sort("ts", "model_raw")
    assert set(calls["row_kind"]) == {"aggregate"} and set(calls["source_format"]) == {"openai_usage_api"}
    assert calls["request_count"].to_list() == [4, 10, 3]
    assert calls["ts"].to_list() == [
        dt.datetime(2025, 11, 1, tzinfo=UTC),
        dt.datetime(2025, 11, 1, tzinfo=UTC),
        dt.datetime(2025, 11, 2, tzinfo=UTC),
    ]
    assert calls["ts_end"].to_list()[-1] == dt.datetime(2025, 11, 3, tzinfo=UTC)
    assert not calls["tz_assumed"].any() and set(calls["provider"]) == {"openai"}
    assert calls["input_uncached_tokens"].to_list() == [20000, 6000, 3000]
    assert calls["cache_read_tokens"].to_list() == [0, 4000, 0]
    assert calls["input_total_tokens"].to_list() == [20000, 10000, 3000]
    assert calls["output_tokens"].to_list() == [5000, 2000, 700]
    assert (calls["input_audio_tokens"][2], calls["output_audio_tokens"][2]) == (1000, 200)
    assert calls["is_batch"].to_list() == [True, False, False]
    assert calls["project_id"].to_list() == ["proj_b", "proj_a", "proj_a"]
    priced = price(result.calls, catalog)
    assert priced["priced"].all()
    assert _costs(priced) == [EXPECTED["batch"], EXPECTED["gpt-4o-mini-2024-07-18"], EXPECTED["audio"]]
    assert priced["price_mode"].sort().to_list() == ["batch", "standard", "standard"]


def test_pages_saved_as_jsonl_buckets_and_bare_results(tmp_path, catalog):
    second = {**PAGE, "data": PAGE["data"][1:]}
    first = {**PAGE, "data": PAGE["data"][:1], "has_more": True, "next_page": "page_2"}
    jsonl = read_logs(write(tmp_path / "a" / "pages.jsonl", f"{json.dumps(first)}\n{json.dumps(second)}\n"))
    assert (jsonl.rows_read, jsonl.calls.height, jsonl.skipped.height) == (4, 3, 1)
    assert sorted(jsonl.calls["source_line"].to_list()) == [1, 1, 2]
    assert _costs(price(jsonl.calls, catalog)) == [
        EXPECTED["batch"],
        EXPECTED["gpt-4o-mini-2024-07-18"],
        EXPECTED["audio"],
    ]

    buckets = write(tmp_path / "b" / "buckets.jsonl", "".join(json.dumps(b) + "\n" for b in PAGE["data"]))
    by_bucket = read_logs(buckets)
    assert by_bucket.files[str(buckets.resolve())] == "openai_usage_bucket"
    assert (by_bucket.calls.height, by_bucket.skipped.height) == (3, 1)
    assert set(by_bucket.calls["source_format"]) == {"openai_usage_api"}

    bare = write(tmp_path / "c" / "results.json", json.dumps([R1, R3]))
    results = read_logs(bare)
    assert results.files[str(bare.resolve())] == "openai_usage_result"
    # no bucket: no timestamp (priced at the latest catalog version), still an aggregate with its count
    assert results.calls["ts"].null_count() == 2 and results.calls["request_count"].to_list() == [10, 3]
    assert (
        price(results.calls, catalog)["cost_usd"].sum()
        == EXPECTED["gpt-4o-mini-2024-07-18"] + EXPECTED["audio"]
    )


def test_re_downloaded_buckets_collapse_and_the_larger_copy_wins(tmp_path):
    partial = {
        **PAGE,
        "data": [_bucket(NOV1, NOV2, [{**R1, "output_tokens": 1500, "num_model_requests": 7}])],
    }
    write(tmp_path / "monday.json", json.dumps(partial))
    write(tmp_path / "tuesday.json", json.dumps(PAGE))
    result = read_logs(tmp_path)
    assert (result.rows_read, result.calls.height, result.collapsed) == (5, 3, 1) and result.reconciles
    mini = result.calls.filter(model_raw="gpt-4o-mini-2024-07-18")
    assert (mini["output_tokens"][0], mini["request_count"][0]) == (2000, 10)


def test_ungrouped_results_and_other_endpoints(tmp_path, catalog):
    ungrouped = _result(None, 5000, 1000, 800, 12)
    images = {
        "object": "organization.usage.images.result",
        "images": 4,
        "num_model_requests": 4,
        "size": "1024x1024",
    }
    embeddings = {
        "object": "organization.usage.embeddings.result",
        "input_tokens": 9000,
        "num_model_requests": 3,
        "model": "text-embedding-3-small",
    }
    page = {"object": "page", "data": [_bucket(NOV1, NOV2, [ungrouped, images, embeddings])]}
    result = read_logs(write(tmp_path / "usage.json", json.dumps(page)))
    assert (result.calls.height, result.skipped.height, result.rejects.height) == (2, 1, 0)
    assert (
        result.skipped["reason"][0]
        == "not a completions or embeddings usage result (organization.usage.images.result)"
    )
    calls = {c["model_raw"]: c for c in result.calls.to_dicts()}
    assert calls[None]["input_uncached_tokens"] == 4000 and calls[None]["request_count"] == 12
    assert calls["text-embedding-3-small"]["input_total_tokens"] == 9000
    assert calls["text-embedding-3-small"]["output_tokens"] is None
    priced = {r["model_raw"]: r for r in price(result.calls, catalog).to_dicts()}
    # a bucket not grouped by model cannot be repriced: unpriced, never $0
    assert (priced[None]["priced"], priced[None]["cost_usd"], priced[None]["unpriced_reason"]) == (
        False,
        None,
        "no model",
    )


COSTS_PAGE = {
    "object": "page",
    "data": [
        _bucket(
            NOV1,
            NOV2,
            [
                {
                    "object": "organization.costs.result",
                    "amount": {"value": 0.0024, "currency": "usd"},
                    "line_item": "gpt-4o-mini-2024-07-18, input",
                    "project_id": "proj_a",
                    "api_key_id": None,
                },
                {
                    "object": "organization.costs.result",
                    "amount": {"value": 0.5, "currency": "usd"},
                    "line_item": "Image models",
                    "project_id": "proj_b",
                },
            ],
        ),
        _bucket(
            NOV2,
            NOV3,
            [
                {"object": "organization.costs.result", "amount": {"value": "0.13080438", "currency": "usd"}},
                {"object": "organization.costs.result", "amount": {"value": 1.25, "currency": "eur"}},
            ],
        ),
        _bucket(NOV3, NOV4, []),
    ],
    "has_more": False,
}


def test_costs_pages_are_cost_lines_without_usage(tmp_path, catalog):
    path = write(tmp_path / "costs.json", json.dumps(COSTS_PAGE))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "openai_costs_api"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        5,
        3,
        2,
        0,
    )
    assert sorted(result.skipped["reason"]) == [
        "cost in EUR: only USD costs are read",
        "no cost in this bucket",
    ]
    calls = result.calls.sort("ts", "cost_reported")
    assert calls["cost_reported"].to_list() == [Decimal("0.0024"), Decimal("0.5"), Decimal("0.13080438")]
    assert calls["model_raw"].to_list() == ["gpt-4o-mini-2024-07-18", None, None]  # "Image models" is no id
    assert calls["project_id"].to_list() == ["proj_a", "proj_b", None]
    # money only: no tokens, no request count, so a usage export of the same days is not counted twice
    assert calls["request_count"].null_count() == 3 and calls["input_total_tokens"].null_count() == 3
    assert calls["output_tokens"].null_count() == 3 and set(calls["row_kind"]) == {"aggregate"}
    priced = price(result.calls, catalog)
    assert not priced["priced"].any() and priced["cost_usd"].null_count() == 3


USAGE_CSV_HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,"
    "batch,service_tier,input_tokens,output_tokens,input_cached_tokens,input_uncached_tokens,input_text_tokens,"
    "output_text_tokens,input_cached_text_tokens,input_audio_tokens,input_cached_audio_tokens,output_audio_tokens,"
    "input_image_tokens,input_cached_image_tokens,output_image_tokens"
)


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, UTC).isoformat()


def test_usage_dashboard_csv(tmp_path, catalog):
    rows = [
        f"{NOV1},{NOV2},{_iso(NOV1)},{_iso(NOV2)},proj_a,10.0,,,gpt-4o-mini-2024-07-18,FALSE,default,"
        "10000.0,2000.0,4000.0,6000.0,6000.0,2000.0,4000.0,0.0,0.0,0.0,0.0,0.0,0.0",
        f"{NOV1},{NOV2},{_iso(NOV1)},{_iso(NOV2)},proj_b,4.0,,,gpt-4o-2024-08-06,TRUE,default,"
        "20000.0,5000.0,0.0,20000.0,20000.0,5000.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0",
        f"{NOV2},{NOV3},{_iso(NOV2)},{_iso(NOV3)},proj_a,3.0,,,gpt-4o-2024-08-06,FALSE,default,"
        "3000.0,700.0,0.0,3000.0,2000.0,500.0,0.0,1000.0,0.0,200.0,0.0,0.0,0.0",
        f"{NOV3},{NOV4},{_iso(NOV3)},{_iso(NOV4)}" + "," * 20,  # a day without usage
    ]
    path = write(
        tmp_path / "completions_usage_2025-11-01_2025-11-03.csv",
        "\r\n".join([USAGE_CSV_HEADER, *rows]) + "\r\n",
    )
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "openai_usage_csv"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        4,
        3,
        1,
        0,
    )
    assert result.skipped.row(0) == (str(path.resolve()), 5, "no usage in this bucket", "openai_usage_csv")
    calls = result.calls.sort("ts", "model_raw")
    assert calls["request_count"].to_list() == [4, 10, 3] and calls["is_batch"].to_list() == [
        True,
        False,
        False,
    ]
    assert calls["source_line"].to_list() == [3, 2, 4]
    assert calls["input_total_tokens"].to_list() == [20000, 10000, 3000]
    assert (calls["input_audio_tokens"][2], calls["output_audio_tokens"][2]) == (1000, 200)
    assert _costs(price(result.calls, catalog)) == [
        EXPECTED["batch"],
        EXPECTED["gpt-4o-mini-2024-07-18"],
        EXPECTED["audio"],
    ]


def test_usage_csv_with_only_the_four_time_columns_means_no_usage(tmp_path):
    header = "start_time,end_time,start_time_iso,end_time_iso"
    days = write(
        tmp_path / "a" / "completions_usage.csv", f"{header}\n{NOV1},{NOV2},{_iso(NOV1)},{_iso(NOV2)}\n"
    )
    result = read_logs(days)
    assert result.files[str(days.resolve())] == "openai_usage_csv"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        1,
        0,
        1,
        0,
    )
    empty = write(tmp_path / "b" / "completions_usage.csv", header + "\n")
    nothing = read_logs(empty)
    assert nothing.files[str(empty.resolve())] == "openai_usage_csv"
    assert (nothing.rows_read, nothing.calls.height) == (0, 0) and nothing.reconciles


def test_costs_dashboard_csv(tmp_path):
    text = (
        "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id,"
        "organization_id,organization_name\n"
        f"{NOV1},{NOV2},{_iso(NOV1)},{_iso(NOV2)},0.8958740000000000,usd,,,org-1,Personal\n"
        f"{NOV2},{NOV3},{_iso(NOV2)},{_iso(NOV3)},,,,,,\n"
        f'{NOV3},{NOV4},{_iso(NOV3)},{_iso(NOV4)},0.072054,usd,"gpt-5-mini-2025-08-07, output",proj_a,org-1,Personal\n'
    )
    path = write(tmp_path / "costs.csv", text)
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "openai_costs_csv"
    assert (result.calls.height, result.skipped.height, result.rejects.height) == (2, 1, 0)
    assert result.calls["cost_reported"].sum() == Decimal("0.967928")
    assert result.calls.sort("ts")["model_raw"].to_list() == [None, "gpt-5-mini-2025-08-07"]


def test_nested_explode_keeps_enclosing_fields_and_accounts_for_empty_levels(tmp_path):
    """Framework: a tuple explodes nested arrays; `_parent.` is the enclosing element (the bucket)."""
    reader = JsonReader(
        name="nested_test",
        sniff=lambda obj: "groups" in obj,
        explode=("groups", "items"),
        paths={"model_raw": ("model",), "tok_output": ("n",)},
        exprs={"ts": "{_parent.day}", "feature": "{_parent.name}", "row_kind": "'aggregate'"},
    )
    doc = {
        "groups": [
            {"day": "2025-11-01", "name": "a", "items": [{"model": "m1", "n": 1}, {"model": "m2", "n": 2}]},
            {"day": "2025-11-02", "name": "b", "items": []},
        ]
    }
    lines = f"{json.dumps(doc)}\n{json.dumps({'groups': []})}\n"
    frame = pl.DataFrame({"line": [1, 2], "text": lines.splitlines(), "file_no": [0, 0]})
    files = pl.DataFrame(
        {"file_no": [0], "source_file": ["f.jsonl"], "torn_line": [None]},
        schema_overrides={"torn_line": pl.Int64},
    )
    con = duckdb.connect()
    con.register("lines_in", frame)
    con.register("files_in", files)
    rows = (
        con.sql(sqlbuild.reader_sql(reader, "lines_in", "files_in"))
        .pl()
        .sort("line", "model_raw", nulls_last=True)
    )
    assert rows.select("line", "model_raw", "tok_output", "ts", "feature").rows() == [
        (1, "m1", "1", "2025-11-01", "a"),
        (1, "m2", "2", "2025-11-01", "a"),
        (1, None, None, "2025-11-02", "b"),  # an empty inner array: one row, with its bucket
        (2, None, None, None, None),  # an empty outer array: one row
    ]
    assert rows["record_id"].n_unique() == 4


@pytest.mark.anchors
def test_real_usage_page_example(anchors, catalog):
    path = anchors / "logs/openai/openai-openapi__usage_completions_page_example.json"
    doc = json.loads(path.read_text())
    results = [(b, r) for b in doc["data"] for r in b["results"]]
    result = read_logs(path)
    assert set(result.files.values()) == {"openai_usage_api"}
    assert (result.rows_read, result.calls.height, result.rejects.height) == (len(results), len(results), 0)
    calls = result.calls
    assert calls["request_count"].sum() == sum(r["num_model_requests"] for _, r in results)
    assert calls["input_total_tokens"].sum() == sum(r["input_tokens"] for _, r in results)
    assert calls["cache_read_tokens"].sum() == sum(r["input_cached_tokens"] for _, r in results)
    assert calls["cache_write_5m_tokens"].sum() == sum(r["input_cache_write_tokens"] for _, r in results)
    assert calls["input_uncached_tokens"].sum() == sum(r["input_uncached_tokens"] for _, r in results)
    assert calls["output_tokens"].sum() == sum(r["output_tokens"] for _, r in results)
    assert calls["input_audio_tokens"].sum() == sum(r["input_audio_tokens"] for _, r in results)
    assert calls["ts"].to_list() == [dt.datetime.fromtimestamp(b["start_time"], UTC) for b, _ in results]
    assert calls["ts_end"].to_list() == [dt.datetime.fromtimestamp(b["end_time"], UTC) for b, _ in results]
    # the example is not grouped by model: kept, counted, but not repriceable
    assert calls["model_raw"].null_count() == len(results)
    assert not price(calls, catalog)["priced"].any()


@pytest.mark.anchors
def test_real_grouped_usage_result_example(anchors, catalog):
    path = anchors / "logs/openai/openai-openapi__usage_completions_result_grouped_example.json"
    r = json.loads(path.read_text())
    result = read_logs(path)
    assert set(result.files.values()) == {"openai_usage_result"} and result.calls.height == 1
    call = result.calls.row(0, named=True)
    assert call["input_total_tokens"] == r["input_tokens"] == 5000
    assert call["input_uncached_tokens"] == r["input_uncached_tokens"] == 3000
    assert (call["cache_read_tokens"], call["cache_write_5m_tokens"]) == (
        r["input_cached_tokens"],
        r["input_cache_write_tokens"],
    )
    assert (call["request_count"], call["model_raw"], call["project_id"]) == (5, r["model"], r["project_id"])
    assert (call["user_id"], call["api_key_id"], call["is_batch"]) == (
        r["user_id"],
        r["api_key_id"],
        r["batch"],
    )
    assert (call["input_audio_tokens"], call["input_image_tokens"]) == (
        r["input_audio_tokens"],
        r["input_image_tokens"],
    )
    assert call["output_audio_tokens"] == r["output_audio_tokens"]
    # the modality splits are parts of the uncached input (text + audio + image = uncached)
    assert (
        r["input_text_tokens"] + r["input_audio_tokens"] + r["input_image_tokens"]
        == call["input_uncached_tokens"]
    )
    assert price(result.calls, catalog)["priced"].all()


@pytest.mark.anchors
def test_real_costs_page_example(anchors):
    path = anchors / "logs/openai/openai-openapi__costs_page_example.json"
    doc = json.loads(path.read_text())
    results = [r for b in doc["data"] for r in b["results"]]
    result = read_logs(path)
    assert set(result.files.values()) == {"openai_costs_api"}
    assert (result.rows_read, result.calls.height, result.rejects.height) == (len(results), len(results), 0)
    assert result.calls["cost_reported"].sum() == sum(Decimal(str(r["amount"]["value"])) for r in results)
    assert result.calls["request_count"].null_count() == len(results)
    assert result.calls["input_total_tokens"].null_count() == len(results)


def test_forcing_generic_csv_still_reads_a_usage_download_generically(tmp_path):
    text = (
        f"{USAGE_CSV_HEADER}\n{NOV1},{NOV2},a,b,proj_a,2.0,,,gpt-4o-mini,FALSE,default,100.0,10.0,40.0,60.0"
        + ",0" * 9
    )
    path = write(tmp_path / "usage.csv", text + "\n")
    assert read_logs(path).files[str(path.resolve())] == "openai_usage_csv"
    forced = read_logs(path, format="generic_csv")
    assert forced.files[str(path.resolve())] == "generic_csv"
    assert forced.calls["input_uncached_tokens"][0] == 60 and forced.calls["request_count"][0] == 2


def test_quoted_blank_csv_cells_are_unknown_not_empty(tmp_path):
    row = (
        f'{NOV1},{NOV2},{_iso(NOV1)},{_iso(NOV2)},"  ",2.0,"",,gpt-4o-mini-2024-07-18,FALSE,default,'
        '1000.0,10.0,"",1000.0,,,,,,,,,'
    )
    result = read_logs(write(tmp_path / "usage.csv", USAGE_CSV_HEADER + "\n" + row + "\n"))
    call = result.calls.row(0, named=True)
    assert result.rejects.height == 0 and call["project_id"] is None and call["user_id"] is None
    assert (call["input_total_tokens"], call["request_count"]) == (1000, 2)
