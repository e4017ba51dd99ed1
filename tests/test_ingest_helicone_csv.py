"""Helicone CSV exports (`npx @helicone/export --format csv`): the tool's twelve columns, no cache columns.

Rows are written by us the way the export tool writes them (every cell quoted; JSON cells with their quotes
doubled twice by some versions of the tool, once by a correct CSV writer). Costs are hand-computed with the
test catalog (per 1M tokens).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

HEADER = (
    "response_id,response_created_at,response_status,request_created_at,request_body,request_properties,"
    "request_user_id,model,prompt_tokens,completion_tokens,latency,cost"
)
# the tool's double escaping: JSON quotes become `""""` in the file, `""` once the CSV is read
SEARCH = (
    '"resp-1","2025-11-03T10:00:01.250Z","200","2025-11-03T10:00:00.000Z",'
    '"{""""model"""":""""gpt-4o-mini"""",""""messages"""":[{""""role"""":""""user"""",""""content"""":""""find shoes""""}]}",'
    '"{""""feature"""":""""search"""",""""Helicone-Session-Id"""":""""sess-1"""",""""project"""":""""web""""}",'
    '"user-42","gpt-4o-mini","400","150","1250","0.000225"'
)
# a correctly escaped CSV (JSON quotes doubled once)
SUMMARY = (
    '"resp-2","2025-11-03T10:01:04.000Z","200","2025-11-03T10:01:00.000Z","",'
    '"{""Feature"":""Summarize""}","user-7","claude-sonnet-4-5-20250929","500","300","4000","0.008475"'
)
RATE_LIMITED = '"resp-3","2025-11-03T10:02:00.080Z","429","2025-11-03T10:02:00.000Z","","{}","","gpt-4o","0","0","80","0"'
# the tool leaves null cells unquoted; quoted empty cells (`""`) are read as absent too
NO_RESPONSE = '"resp-4",,"-1","2025-11-03T10:03:00.000Z",,,,"gpt-4o","","",,'


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def _by_id(result) -> dict[str, dict]:
    return {c["response_id"]: c for c in result.calls.to_dicts()}


def test_helicone_csv_is_sniffed_and_cache_tokens_are_unknown(tmp_path, catalog):
    path = write(tmp_path / "output.csv", _csv(SEARCH, SUMMARY))
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "helicone_csv" and result.rejects.height == 0
    calls = _by_id(result)
    search, summary = calls["resp-1"], calls["resp-2"]
    # prompt_tokens is Helicone's uncached prompt; the CSV has no cache or reasoning columns: unknown, not 0
    assert (
        search["input_uncached_tokens"],
        search["cache_read_tokens"],
        search["cache_write_5m_tokens"],
        search["output_tokens"],
        search["reasoning_tokens"],
    ) == (400, None, None, 150, None)
    assert (search["gateway"], search["provider"], search["model_raw"]) == ("helicone", None, "gpt-4o-mini")
    assert (search["user_id"], search["feature"], search["session_id"], search["project_id"]) == (
        "user-42",
        "search",
        "sess-1",
        "web",
    )
    assert search["ts"] == dt.datetime(2025, 11, 3, 10, tzinfo=dt.UTC) and search["latency_ms"] == 1250
    assert (
        search["request_text"].startswith('{"model":"gpt-4o-mini"') and "find shoes" in search["request_text"]
    )
    assert (summary["feature"], summary["user_id"], summary["request_text"]) == ("Summarize", "user-7", None)
    assert search["cost_reported"] == Decimal("0.000225")
    costs = {r["response_id"]: r["cost_usd"] for r in price(result.calls, catalog).to_dicts()}
    assert costs == {
        # the repriced cost misses the cache reads the CSV dropped (Helicone's own cost has them)
        "resp-1": Decimal("0.00015"),  # gpt-4o-mini: 400*0.15 + 150*0.60
        "resp-2": Decimal("0.006"),  # sonnet-4.5: 500*3 + 300*15
    }


def test_helicone_csv_errors_and_missing_responses(tmp_path):
    result = read_logs(write(tmp_path / "output.csv", _csv(RATE_LIMITED, NO_RESPONSE)))
    assert result.rejects.height == 0 and result.reconciles
    calls = _by_id(result)
    assert (calls["resp-3"]["status"], calls["resp-3"]["http_status"], calls["resp-3"]["latency_ms"]) == (
        "error",
        429,
        80,
    )
    assert (calls["resp-4"]["status"], calls["resp-4"]["http_status"], calls["resp-4"]["error_type"]) == (
        "error",
        None,
        "no_response",
    )
    assert calls["resp-4"]["input_total_tokens"] is None


def test_cost_usd_column_and_re_exports(tmp_path):
    header = HEADER.replace(",cost", ",cost_usd")
    write(tmp_path / "a" / "output.csv", _csv(SEARCH, header=header))
    write(tmp_path / "b" / "output.csv", _csv(SEARCH, SUMMARY))
    result = read_logs(tmp_path)
    assert set(result.files.values()) == {"helicone_csv"}
    assert (result.rows_read, result.calls.height, result.collapsed) == (3, 2, 1)
    assert _by_id(result)["resp-1"]["cost_reported"] == Decimal("0.000225")


def test_generic_csvs_are_not_taken(tmp_path):
    generic = write(
        tmp_path / "usage.csv",
        "timestamp,model,prompt_tokens,completion_tokens,response_id\n2025-11-03T10:00:00Z,gpt-4o,10,2,r1\n",
    )
    assert read_logs(generic).files[str(generic.resolve())] == "generic_csv"
