"""FinOps FOCUS CSV input: LLM charges as aggregate rows (tokens where the unit counts tokens), every other
charge skipped with a reason, nothing dropped.

Test catalog, USD per 1M tokens: gpt-4o-mini 0.15 in / 0.075 cache read / 0.60 out; gpt-4o 2.50 / 10, batch
half price; claude-sonnet-4-5 1h cache write 6. The anchor tests read the FOCUS spec's 15 sample files
(SaaS examples, none of them LLM usage) and recount their rows with the csv module.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price

UTC = dt.UTC
COLUMNS = (
    "BilledCost,BillingCurrency,ChargeCategory,ChargeDescription,ChargePeriodEnd,ChargePeriodStart,"
    "ConsumedQuantity,ConsumedUnit,EffectiveCost,ListCost,PricingCurrency,ProviderName,PublisherName,RegionId,"
    "ServiceCategory,ServiceName,ServiceSubcategory,SkuId,SkuMeter,SubAccountId,Tags"
)
AI = "AI and Machine Learning"
GEN = "Generative AI"
ROWS = [
    # 2: 1,000,000 input tokens of gpt-4o-mini: 0.15
    f'"$0.15 ",USD,Usage,,11/2/25,11/1/25,"1,000,000",Tokens,"$0.15 ",,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},'
    'sku-1,gpt-4o-mini Input Tokens,proj_a,"{""feature"": ""chat""}"',
    # 3: 400 x 1K cached input tokens: 400000 * 0.075 = 0.03
    f"0.03,USD,Usage,,11/2/25,11/1/25,400,1K Tokens,0.03,,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},sku-2,"
    "gpt-4o-mini Cached Input Tokens,proj_a,",
    # 4: 200000 output tokens: 0.12 (ISO dates, as the spec wants them)
    f"0.12,USD,Usage,,2025-11-02T00:00:00Z,2025-11-01T00:00:00Z,200000,Tokens,0.12,,,OpenAI,OpenAI,,{AI},"
    f"OpenAI API,{GEN},sku-3,gpt-4o-mini Output Tokens,proj_a,",
    # 5: a batch meter: 100000 * 10 * 0.5 = 0.5
    f"0.5,USD,Usage,,11/2/25,11/1/25,100000,Tokens,0.5,,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},sku-4,"
    "gpt-4o Batch Output Tokens,proj_b,",
    # 6: 1h cache writes of claude-sonnet-4-5: 10000 * 6 = 0.06
    f"0.06,USD,Usage,,11/2/25,11/1/25,10000,Tokens,0.06,,,Anthropic,Anthropic,,{AI},Claude API,{GEN},sku-5,"
    "claude-sonnet-4-5 Cache Write Tokens (1h),proj_b,",
    # 7: not an LLM charge: skipped with its service named
    '"$25.00 ",USD,Usage,Monthly usage charge,11/2/25,11/1/25,10,Hours,"$25.00 ",,,Acme,Acme,,Databases,'
    "Managed Postgres,,db-1,,proj_a,",
    # 8: tax on the LLM bill: a cost line (no usage)
    f"0.08,USD,Tax,Sales tax,11/2/25,11/1/25,,,0.08,,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},,,proj_a,",
    # 9: a prepayment amortized elsewhere (EffectiveCost 0): a $0 cost line
    f'"$100.00 ",USD,Purchase,Prepaid credits,12/1/25,11/1/25,,,0,,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},,,,',
    # 10: a token meter that does not say input or output: a cost line naming its model
    f"0.04,USD,Usage,,11/2/25,11/1/25,5000,Tokens,0.04,,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},sku-6,"
    "gpt-4o Tokens,proj_b,",
    # 11: billed in EUR: skipped
    f"0.10,EUR,Usage,,11/2/25,11/1/25,1000,Tokens,0.10,,,OpenAI,OpenAI,,{AI},OpenAI API,{GEN},sku-1,"
    "gpt-4o-mini Input Tokens,proj_c,",
]


def _write_focus(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([COLUMNS, *ROWS]) + "\r\n").encode())
    return path


def test_focus_llm_charges_are_aggregates_and_the_rest_is_accounted_for(tmp_path, catalog):
    path = _write_focus(tmp_path / "focus.csv")
    result = read_logs(path)
    assert result.files[str(path.resolve())] == "focus"
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        10,
        8,
        2,
        0,
    )
    assert result.reconciles
    assert sorted(result.skipped.select("line", "reason").rows()) == [
        (7, "not an LLM charge (FOCUS service: Managed Postgres)"),
        (11, "cost in EUR: only USD costs are read"),
    ]
    calls = result.calls.sort("source_line")
    assert calls["source_line"].to_list() == [2, 3, 4, 5, 6, 8, 9, 10]
    assert set(calls["row_kind"]) == {"aggregate"} and calls["request_count"].null_count() == 8
    # M/D/YY and ISO dates alike, read as UTC (the spec's timezone), not flagged as assumed
    assert set(calls["ts"]) == {dt.datetime(2025, 11, 1, tzinfo=UTC)} and not calls["tz_assumed"].any()
    assert calls["ts_end"][0] == dt.datetime(2025, 11, 2, tzinfo=UTC)
    assert calls["model_raw"].to_list() == [
        "gpt-4o-mini",
        "gpt-4o-mini",
        "gpt-4o-mini",
        "gpt-4o",
        "claude-sonnet-4-5",
        None,
        None,
        "gpt-4o",
    ]
    assert calls["provider"].to_list() == ["openai"] * 4 + ["anthropic"] + ["openai"] * 3
    assert calls["input_uncached_tokens"].to_list() == [1_000_000, None, None, None, None, None, None, None]
    assert calls["cache_read_tokens"].to_list() == [None, 400_000, None, None, None, None, None, None]
    assert calls["output_tokens"].to_list() == [None, None, 200_000, 100_000, None, None, None, None]
    assert calls["cache_write_1h_tokens"].to_list() == [None, None, None, None, 10_000, None, None, None]
    assert calls["is_batch"].to_list() == [False, False, False, True, False, False, False, False]
    assert calls["project_id"][0] == "proj_a" and calls["feature"][0] == "chat"
    # money as the spec writes it ("$0.15 "); EffectiveCost wins (the $100 prepayment is amortized: $0)
    assert calls["cost_reported"].to_list() == [
        Decimal(x) for x in ("0.15", "0.03", "0.12", "0.5", "0.06", "0.08", "0", "0.04")
    ]
    priced = price(result.calls, catalog).sort("source_line")
    assert priced["priced"].to_list() == [True] * 5 + [False] * 3  # the cost lines have nothing to reprice
    assert priced["cost_usd"].to_list()[:5] == [Decimal(x) for x in ("0.15", "0.03", "0.12", "0.5", "0.06")]
    assert priced["price_mode"][3] == "batch"


def test_virtual_currency_tokens_are_not_llm_tokens(tmp_path):
    header = "BilledCost,ChargeCategory,ChargePeriodEnd,ChargePeriodStart,ConsumedQuantity,ConsumedUnit,EffectiveCost,PricingCurrency,ServiceName"
    text = f"{header}\n0.00,Usage,4/2/25,4/1/25,245,Tokens,490.00,Token,ACMECORP SERVICE\n"
    result = read_logs(write(tmp_path / "focus.csv", text))
    assert result.skipped["reason"].to_list() == ["not an LLM charge (FOCUS service: ACMECORP SERVICE)"]


def test_llmaudit_focus_export_reads_back(tmp_path, catalog):
    """Our own FOCUS export (`analyze --out x.focus.csv`) re-imports with the same tokens and costs."""
    pytest.importorskip("llmaudit.focus")
    export = pytest.importorskip("llmaudit.export")
    if not hasattr(export, "write_focus"):
        pytest.skip("no FOCUS export in this tree")
    logs = write(
        tmp_path / "logs" / "calls.jsonl",
        '{"timestamp": "2025-11-01T10:00:00Z", "model": "gpt-4o-mini", "input_tokens": 1000, '
        '"cached_tokens": 400, "output_tokens": 100, "feature": "chat", "user": "alice"}\n'
        '{"timestamp": "2025-11-01T11:00:00Z", "model": "gpt-4o", "input_tokens": 2000, "output_tokens": 200, '
        '"batch": true}\n',
    )
    priced = price(read_logs(logs).calls, catalog)
    out = tmp_path / "out" / "usage.focus.csv"
    out.parent.mkdir()
    export.write_focus(priced, out, catalog)
    back = read_logs(out)
    assert set(back.files.values()) == {"focus"} and back.rejects.height == 0 and back.skipped.height == 0
    assert back.calls["input_total_tokens"].sum() == priced["input_total_tokens"].sum()
    assert back.calls["output_tokens"].sum() == priced["output_tokens"].sum()
    assert back.calls["cost_reported"].sum() == priced["cost_usd"].sum()
    again = price(back.calls, catalog)
    assert again["priced"].all() and again["cost_usd"].sum() == priced["cost_usd"].sum()
    assert set(back.calls["feature"].drop_nulls()) == {"chat"} and set(
        back.calls["user_id"].drop_nulls()
    ) == {"alice"}


def _focus_rows(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.mark.anchors
def test_real_focus_samples_are_all_accounted_for(anchors):
    files = sorted((anchors / "logs/focus").glob("*.csv"))
    assert len(files) == 15
    result = read_logs(anchors / "logs/focus")
    assert set(result.files.values()) == {"focus"}
    rows = {str(f.resolve()): _focus_rows(f) for f in files}
    total = sum(len(r) for r in rows.values())
    # the spec's samples are SaaS charges (databases, licenses, a virtual "Token" currency): none is LLM usage
    assert (result.rows_read, result.calls.height, result.skipped.height, result.rejects.height) == (
        total,
        0,
        total,
        0,
    )
    assert total == 56
    for file, records in rows.items():
        skipped = result.skipped.filter(file=file).sort("line")
        assert skipped["line"].to_list() == list(range(2, len(records) + 2))
        assert skipped["reason"].to_list() == [
            f"not an LLM charge (FOCUS service: {r.get('ServiceName') or r.get('ServiceCategory') or r['ChargeCategory']})"
            for r in records
        ]


@pytest.mark.anchors
def test_real_focus_sample_read_as_llm_spend(anchors, tmp_path):
    """The same rows relabelled as an LLM service: every cost is recorded exactly, the M/D/YY dates parse,
    "$10,000.00 " amounts read, and the virtual "Token" currency never becomes LLM tokens."""
    expected_cost = Decimal(0)
    count = 0
    starts = set()
    for source in sorted((anchors / "logs/focus").glob("*.csv")):
        records = _focus_rows(source)
        for record in records:
            record["ServiceName"] = "OpenAI API"
            effective = (record.get("EffectiveCost") or "").strip() or record["BilledCost"]
            expected_cost += Decimal(effective.replace("$", "").replace(",", "").strip())
            starts.add(dt.datetime.strptime(record["ChargePeriodStart"], "%m/%d/%y").replace(tzinfo=UTC))
        count += len(records)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
        write(tmp_path / source.name, buffer.getvalue())
    result = read_logs(tmp_path)
    assert (result.calls.height, result.skipped.height, result.rejects.height) == (count, 0, 0)
    assert result.calls["cost_reported"].sum() == expected_cost
    assert result.calls["input_total_tokens"].null_count() == count and result.calls["ts"].null_count() == 0
    assert set(result.calls["ts"]) == starts
