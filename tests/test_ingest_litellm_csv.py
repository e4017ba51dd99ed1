"""LiteLLM tables exported as CSV: `LiteLLM_SpendLogs` rows and the daily spend tables (log_formats.md §5.1).

The CSVs are written by us with the tables' column names (the SpendLogs JSON columns as JSON text, as a
Postgres `COPY ... CSV` or a dataframe export writes them). Costs are hand-computed with the test catalog
(per 1M tokens).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

SPEND_COLUMNS = [
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "end_user",
    "team_id",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "messages",
    "response",
    "status",
]


def _spend_row(**overrides) -> dict:
    usage = {
        "prompt_tokens": 3000,
        "completion_tokens": 300,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 500,
    }
    row = {
        "request_id": "chatcmpl-a1",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55e",
        "spend": 0.0084,
        "total_tokens": 3300,
        "prompt_tokens": 3000,
        "completion_tokens": 300,
        "startTime": "2025-11-03 09:20:46.847371",
        "endTime": "2025-11-03 09:20:48.847371",
        "model": "claude-sonnet-4-5-20250929",
        "model_id": "m-1",
        "model_group": "claude-sonnet",
        "custom_llm_provider": "anthropic",
        "api_base": "https://api.anthropic.com",
        "user": "internal-7",
        "end_user": "",
        "team_id": "team-search",
        "metadata": json.dumps({"usage_object": usage, "status": "success"}),
        "cache_hit": "False",
        "cache_key": "Cache OFF",
        "request_tags": json.dumps(["search"]),
        "messages": "{}",
        "response": "{}",
        "status": "success",
    }
    row.update(overrides)
    return row


def _csv(columns: list[str], rows: list[dict]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def test_spend_logs_csv_reads_like_the_json_rows(tmp_path, catalog):
    plain = _spend_row(
        request_id="r-plain",
        model="gpt-4o-mini",
        model_group="gpt-4o-mini",
        custom_llm_provider="openai",
        metadata="",
        prompt_tokens=1000,
        completion_tokens=200,
        request_tags="[]",
        team_id="",
    )
    path = write(tmp_path / "spend_logs.csv", _csv(SPEND_COLUMNS, [_spend_row(), plain]))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "litellm_spendlog_csv" and result.rejects.height == 0
    calls = {c["request_id"]: c for c in result.calls.to_dicts()}
    call = calls["chatcmpl-a1"]
    # prompt_tokens 3000 includes 2000 reads and 500 writes (metadata.usage_object)
    assert (
        call["input_uncached_tokens"],
        call["cache_read_tokens"],
        call["cache_write_5m_tokens"],
        call["output_tokens"],
    ) == (500, 2000, 500, 300)
    assert call["ts"] == dt.datetime(2025, 11, 3, 9, 20, 46, 847371, tzinfo=dt.UTC) and call["tz_assumed"]
    assert (call["source_format"], call["provider"], call["gateway"], call["latency_ms"]) == (
        "litellm_spendlog",
        "anthropic",
        "litellm",
        2000,
    )
    assert (call["user_id"], call["project_id"], call["feature"]) == ("internal-7", "team-search", "search")
    assert (calls["r-plain"]["project_id"], calls["r-plain"]["feature"]) == (None, None)
    costs = {r["request_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        "chatcmpl-a1": Decimal("0.008475"),  # sonnet-4.5: 500*3 + 2000*0.30 + 500*3.75 + 300*15
        "r-plain": Decimal("0.00027"),  # gpt-4o-mini: 1000*0.15 + 200*0.60
    }


def test_spend_logs_csv_and_json_exports_of_one_table_collapse(tmp_path):
    write(tmp_path / "csv" / "spend_logs.csv", _csv(SPEND_COLUMNS, [_spend_row()]))
    write(tmp_path / "json" / "spend_logs.jsonl", json.dumps(_spend_row()) + "\n")
    result = read_logs(tmp_path)
    assert sorted(result.files.values()) == ["litellm_spendlog", "litellm_spendlog_csv"]
    assert (result.rows_read, result.calls.height, result.collapsed) == (2, 1, 1)


DAILY_COLUMNS = [
    "id",
    "date",
    "user_id",
    "api_key",
    "model",
    "model_group",
    "custom_llm_provider",
    "endpoint",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "spend",
    "api_requests",
    "successful_requests",
    "failed_requests",
    "created_at",
    "updated_at",
]


def _daily(**overrides) -> dict:
    row = {
        "id": "d-1",
        "date": "2025-11-03",
        "user_id": "user-1",
        "api_key": "88dc28d0f030c55e",
        "model": "claude-sonnet-4-5-20250929",
        "model_group": "claude-sonnet",
        "custom_llm_provider": "anthropic",
        "endpoint": "/chat/completions",
        "prompt_tokens": 30000,
        "completion_tokens": 3000,
        "cache_read_input_tokens": 20000,
        "cache_creation_input_tokens": 5000,
        "spend": 0.08475,
        "api_requests": 10,
        "successful_requests": 10,
        "failed_requests": 0,
        "created_at": "2025-11-03 00:00:05.1",
        "updated_at": "2025-11-03 23:59:01.2",
    }
    row.update(overrides)
    return row


def test_daily_spend_rows_are_aggregates(tmp_path, catalog):
    mini = _daily(
        id="d-2",
        model="gpt-4o-mini",
        model_group="gpt-4o-mini",
        custom_llm_provider="openai",
        prompt_tokens=10000,
        completion_tokens=2000,
        cache_read_input_tokens=0,
        cache_creation_input_tokens=0,
        spend=0.0027,
        api_requests=5,
        successful_requests=4,
        failed_requests=1,
    )
    path = write(tmp_path / "LiteLLM_DailyUserSpend.csv", _csv(DAILY_COLUMNS, [_daily(), mini]))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "litellm_daily_spend_csv" and result.rejects.height == 0
    rows = {r["model_raw"]: r for r in result.calls.to_dicts()}
    sonnet = rows["claude-sonnet-4-5-20250929"]
    assert (sonnet["row_kind"], sonnet["request_count"], rows["gpt-4o-mini"]["request_count"]) == (
        "aggregate",
        10,
        5,
    )
    assert (
        sonnet["input_uncached_tokens"],
        sonnet["cache_read_tokens"],
        sonnet["cache_write_5m_tokens"],
        sonnet["input_total_tokens"],
        sonnet["output_tokens"],
    ) == (5000, 20000, 5000, 30000, 3000)
    assert sonnet["ts"] == dt.datetime(2025, 11, 3, tzinfo=dt.UTC) and sonnet["tz_assumed"]
    assert sonnet["ts_end"] == dt.datetime(2025, 11, 4, tzinfo=dt.UTC)
    assert (sonnet["provider"], sonnet["gateway"], sonnet["user_id"], sonnet["api_key_id"]) == (
        "anthropic",
        "litellm",
        "user-1",
        "88dc28d0f030c55e",
    )
    assert sonnet["cost_reported"] == Decimal("0.08475")
    costs = {r["model_raw"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        # sonnet-4.5: 5000*3 + 20000*0.30 + 5000*3.75 + 3000*15
        "claude-sonnet-4-5-20250929": Decimal("0.08475"),
        "gpt-4o-mini": Decimal("0.0027"),  # 10000*0.15 + 2000*0.60
    }


def test_daily_tables_attribution_and_re_exported_days(tmp_path):
    team = [
        "date",
        "team_id",
        "api_key",
        "model",
        "custom_llm_provider",
        "prompt_tokens",
        "completion_tokens",
    ]
    team += ["cache_read_input_tokens", "cache_creation_input_tokens", "spend", "api_requests"]
    team += ["successful_requests", "failed_requests"]
    early = {"date": "2025-11-03", "team_id": "team-a", "api_key": "k1", "model": "gpt-4o"}
    early |= {"custom_llm_provider": "openai", "prompt_tokens": 100, "completion_tokens": 10}
    early |= {"cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "spend": 0.00035}
    early |= {"api_requests": 1, "successful_requests": 1, "failed_requests": 0}
    later = early | {"prompt_tokens": 300, "completion_tokens": 30, "spend": 0.00105, "api_requests": 3}
    write(tmp_path / "a" / "team_daily.csv", _csv(team, [early]))
    write(tmp_path / "b" / "team_daily.csv", _csv(team, [later]))
    tags = ["date", "tag", "api_key", "model", "prompt_tokens", "completion_tokens", "spend", "api_requests"]
    tags += ["successful_requests", "failed_requests"]
    tag_row = {"date": "2025-11-03", "tag": "search", "api_key": "k1", "model": "gpt-4o", "prompt_tokens": 5}
    tag_row |= {"completion_tokens": 1, "spend": 0.0, "api_requests": 1, "successful_requests": 0}
    tag_row |= {"failed_requests": 1}
    write(tmp_path / "c" / "tag_daily.csv", _csv(tags, [tag_row]))
    result = read_logs(tmp_path)
    assert set(result.files.values()) == {"litellm_daily_spend_csv"} and result.rejects.height == 0
    # the day exported twice (in progress, then complete) keeps its larger copy
    assert (result.rows_read, result.calls.height, result.collapsed) == (3, 2, 1)
    team_row = result.calls.filter(project_id="team-a").row(0, named=True)
    assert (team_row["request_count"], team_row["input_total_tokens"], team_row["feature"]) == (3, 300, None)
    tagged = result.calls.filter(feature="search").row(0, named=True)
    assert (tagged["project_id"], tagged["provider"], tagged["cache_read_tokens"]) == (None, None, None)


def test_other_csvs_are_not_taken(tmp_path):
    # a generic CSV with some of the same names is still generic
    generic = write(
        tmp_path / "a" / "usage.csv",
        "date,model,prompt_tokens,completion_tokens,spend,api_requests\n2025-11-03,gpt-4o,10,2,0.1,1\n",
    )
    assert read_logs(generic).files[str(generic.resolve())] == "generic_csv"
    # the OpenAI dashboard download keeps its reader
    usage = write(
        tmp_path / "b" / "completions_usage.csv",
        "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,model,input_tokens,"
        "output_tokens\n1762128000,1762214400,2025-11-03T00:00:00+00:00,2025-11-04T00:00:00+00:00,,2.0,gpt-4o,"
        "100.0,10.0\n",
    )
    assert read_logs(usage).files[str(usage.resolve())] == "openai_usage_csv"
