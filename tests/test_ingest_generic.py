"""Generic JSONL and CSV logs, and a user's YAML column mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from conftest import write

from llmaudit.ingest import read_logs
from llmaudit.pricing import price


def test_generic_jsonl_with_common_field_names(tmp_path, catalog):
    text = (
        '{"timestamp": "2025-11-03 10:00:00", "model": "gpt-4o-mini", "prompt_tokens": 1000, "cached_tokens": 400,'
        ' "completion_tokens": 100, "user": "u1", "feature": "chat", "cost_usd": 0.0001}\n'
        '{"ts": 1762164000, "model": "claude-haiku-4-5", "input_uncached_tokens": 50, "output_tokens": 5}\n'
    )
    result = read_logs(write(tmp_path / "app.jsonl", text))
    calls = result.calls.sort("source_line")
    assert calls["source_format"].to_list() == ["generic_jsonl"] * 2
    first, second = calls.row(0, named=True), calls.row(1, named=True)
    assert (first["input_uncached_tokens"], first["cache_read_tokens"], first["output_tokens"]) == (
        600,
        400,
        100,
    )
    assert first["tz_assumed"] and first["ts"] == dt.datetime(2025, 11, 3, 10, tzinfo=dt.UTC)
    assert second["input_uncached_tokens"] == 50 and not second["tz_assumed"]
    assert first["cost_reported"] == Decimal("0.0001")
    priced = price(calls, catalog)
    assert priced["cost_usd"][0] == Decimal("0.00018")  # 600*0.15 + 400*0.075 + 100*0.60 per 1M


def test_generic_csv_with_bom_and_crlf(tmp_path, catalog):
    text = (
        "\ufefftimestamp,model,input_tokens,cached_tokens,output_tokens,user,feature\r\n"
        "2025-11-03T10:00:00Z,gpt-4o-mini,1000,400,100,u1,chat\r\n"
        "2025-11-03T11:00:00Z,gpt-4o-mini,2000,,200,u2,search\r\n"
    )
    result = read_logs(write(tmp_path / "usage.csv", text))
    calls = result.calls.sort("source_line")
    assert calls["source_line"].to_list() == [2, 3]
    assert calls["input_uncached_tokens"].to_list() == [600, 2000]
    assert calls["feature"].to_list() == ["chat", "search"]
    assert price(calls, catalog)["cost_usd"].sum() == Decimal("0.00018") + Decimal("0.00042")


def test_mapping_file_names_a_users_own_columns(tmp_path, catalog):
    mapping = write(
        tmp_path / "map.yaml",
        """
input_includes_cache: false
columns:
  timestamp: When
  model: Engine
  input_tokens: Fresh In
  cached_tokens: Cached In
  output_tokens: Out
  feature: Team Feature
""",
    )
    csv = write(
        tmp_path / "custom.csv",
        "When,Engine,Fresh In,Cached In,Out,Team Feature\n2025-11-03,gpt-4o-mini,600,400,100,billing\n",
    )
    calls = read_logs(csv, mapping=mapping).calls
    row = calls.row(0, named=True)
    assert (row["input_uncached_tokens"], row["cache_read_tokens"], row["feature"]) == (600, 400, "billing")
    assert price(calls, catalog)["cost_usd"][0] == Decimal("0.00018")


def test_mapping_with_unknown_field_is_a_clear_error(tmp_path):
    import pytest

    from llmaudit.errors import InputError

    mapping = write(tmp_path / "map.yaml", "columns:\n  modle: Engine\n")
    with pytest.raises(InputError, match="map.yaml:2: unknown field"):
        read_logs(write(tmp_path / "a.csv", "model,input_tokens\nx,1\n"), mapping=mapping)


def test_gzip_input(tmp_path):
    import gzip

    path = tmp_path / "logs.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"model": "gpt-4o-mini", "input_tokens": 5, "output_tokens": 1}\n'))
    result = read_logs(tmp_path)
    assert result.calls.height == 1 and result.calls["input_uncached_tokens"][0] == 5


def test_every_reader_yields_exactly_the_calls_schema(tmp_path):
    from llmaudit.schema import CALL_SCHEMA, validate

    write(tmp_path / "a.jsonl", '{"model": "gpt-4o-mini", "input_tokens": 5, "output_tokens": 1}\n')
    write(tmp_path / "b.csv", "model,input_tokens,output_tokens\ngpt-4o-mini,5,1\n")
    calls = read_logs(tmp_path).calls
    assert validate(calls) == [] and calls.columns == list(CALL_SCHEMA)
    assert validate(calls.drop("ts")) == ["missing column ts"]


def test_zstd_input(tmp_path):
    import zstandard

    path = tmp_path / "logs.jsonl.zst"
    line = b'{"model": "gpt-4o-mini", "input_tokens": 7, "output_tokens": 1}\n'
    path.write_bytes(zstandard.ZstdCompressor().compress(line * 3))
    result = read_logs(path)
    assert result.calls.height == 3 and result.calls["input_uncached_tokens"].to_list() == [7, 7, 7]


def test_record_ids_are_the_md5s_a_history_store_holds(tmp_path):
    """A row's id is md5('format|source key'), else md5('file|line|md5(line text)'), in JSONL and CSV alike:
    a history store compares the ids of calls appended years apart, so the definition must not drift."""
    import hashlib

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    keyed = '{"object": "chat.completion", "id": "chatcmpl-1", "created": 1750000000, "model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}'
    unkeyed = (
        '{"model": "gpt-4o", "input_tokens": 5, "output_tokens": 1, "timestamp": "2026-03-01T00:00:00Z"}'
    )
    for name, line, expected in [
        ("a.jsonl", keyed, lambda r: md5("openai_chat|chatcmpl-1")),
        ("b.jsonl", unkeyed, lambda r: md5(f"{r['source_file']}|1|{md5(unkeyed)}")),
    ]:
        row = read_logs(write(tmp_path / name, line + "\n")).calls.row(0, named=True)
        assert row["record_id"] == expected(row), name
    csv = "timestamp,model,input_tokens,output_tokens,request_id\n2026-03-01T00:00:00Z,gpt-4o,10,2,r1\n"
    row = read_logs(write(tmp_path / "c.csv", csv)).calls.row(0, named=True)
    assert row["record_id"] == md5(f"{row['source_format']}|r1")
