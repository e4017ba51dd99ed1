"""Bad input never crashes and never disappears: every row is a call, a skip, a collapse or a reject."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write

from llmaudit.analysis import analyze
from llmaudit.errors import InputError
from llmaudit.ingest import read_logs
from llmaudit.pricing import price

GOOD = (
    '{"object": "chat.completion", "id": "c%d", "created": 1750000000, "model": "gpt-4o-mini", '
    '"usage": {"prompt_tokens": 10, "completion_tokens": 2}}'
)


def test_each_bad_line_gets_file_line_and_reason(tmp_path, catalog):
    lines = [
        GOOD % 1,
        "{not json",
        "[1, 2]",
        "42",
        '{"object": "chat.completion", "id": "c5", "model": "gpt-4o-mini", "usage": {"prompt_tokens": -3}}',
        '{"object": "chat.completion", "id": "c6", "model": "gpt-4o-mini", "usage": {"prompt_tokens": "many"}}',
        '{"object": "chat.completion", "id": "c7", "model": "gpt-4o-mini", "created": "yesterday-ish", '
        '"usage": {"prompt_tokens": 1}}',
        '{"object": "chat.completion", "id": "c8", "created": 1750000000, "model": "gpt-4o-mini"}',
        '{"object": "chat.completion", "id": "c9", "model": "gpt-4o-mini", "usage": {"prompt_tokens": 5, '
        '"prompt_tokens_details": {"cached_tokens": 9}}}',
        "",
        GOOD % 11,
        '{"object": "chat.completion", "id": "c12", "model": "gpt-4o-m',
    ]
    path = write(tmp_path / "bad.jsonl", "\n".join(lines))  # no newline at the end: torn last line
    result = read_logs(path)
    reasons = {row["line"]: row["reason"] for row in result.rejects.to_dicts()}
    assert reasons == {
        2: "malformed JSON",
        3: "not a JSON object (a JSON array)",
        4: "not a JSON object (a JSON number)",
        5: "input tokens is not a non-negative whole number: -3",
        6: "input tokens is not a non-negative whole number: many",
        7: "unparseable timestamp: yesterday-ish",
        9: "cached tokens (9) exceed input tokens (5)",
        12: "truncated last line (file does not end with a newline)",
    }
    assert set(result.rejects["file"]) == {str(path.resolve())}
    assert result.calls["source_line"].sort().to_list() == [1, 8, 11]
    assert result.rows_read == 11 and result.reconciles  # the blank line is not a row
    priced = price(result.calls, catalog)
    missing = priced.filter(priced["source_line"] == 8).row(0, named=True)
    assert (missing["priced"], missing["unpriced_reason"]) == (False, "missing usage")


def test_empty_directory_is_an_input_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no log files found"):
        read_logs(tmp_path / "empty")


def test_file_of_unknown_format_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown log format"):
        read_logs(write(tmp_path / "notes.jsonl", '{"hello": "world"}\n{"foo": 1}\n'))


def test_unknown_file_beside_good_ones_is_listed_not_counted(tmp_path):
    write(tmp_path / "logs" / "a.jsonl", GOOD % 1 + "\n")
    write(tmp_path / "logs" / "b.jsonl", '{"hello": "world"}\n \t\n\n{"hello": "again"}\n')
    result = read_logs(tmp_path / "logs")
    assert result.calls.height == 1
    # its rows are counted, blank lines not
    assert result.unknown_files == {str((tmp_path / "logs" / "b.jsonl").resolve()): 2}


def test_reading_the_same_calls_twice_collapses_by_source_key(tmp_path):
    write(tmp_path / "a" / "x.jsonl", GOOD % 1 + "\n")
    write(tmp_path / "b" / "x.jsonl", GOOD % 1 + "\n" + GOOD % 2 + "\n")
    result = read_logs([tmp_path / "a", tmp_path / "b"])
    assert (result.rows_read, result.calls.height, result.collapsed) == (3, 2, 1)


def test_copies_keep_the_largest_usage_then_the_latest_line_then_the_first_read(tmp_path):
    """The workspace (SQL) and the in-memory reader keep the same copy of each call."""
    copy = (
        '{"object": "chat.completion", "id": "c%d", "created": 1750000000, "model": "gpt-4o-mini", '
        '"usage": {"prompt_tokens": %d, "completion_tokens": 2}}'
    )
    # c1: the larger usage wins wherever it is; c2: equal usage, the later line; c3: equal usage and
    # line, the copy read first (a before b)
    write(tmp_path / "a" / "x.jsonl", "\n".join([copy % (1, 50), copy % (2, 10), copy % (3, 10)]) + "\n")
    b = [copy % (1, 10), copy % (4, 10), copy % (3, 10), copy % (2, 10)]
    write(tmp_path / "b" / "x.jsonl", "\n".join(b) + "\n")
    paths = [tmp_path / "a", tmp_path / "b"]
    kept = {"c1": ("a", 1), "c2": ("b", 4), "c3": ("a", 3), "c4": ("b", 2)}
    report = analyze(paths)
    for calls in (read_logs(paths).calls, report.calls):
        got = {
            r["response_id"]: (Path(r["source_file"]).parent.name, r["source_line"])
            for r in calls.iter_rows(named=True)
        }
        assert got == kept
    assert report.data["coverage"]["collapsed"] == 3


def test_unknown_forced_format_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown input format"):
        read_logs(write(tmp_path / "a.jsonl", GOOD % 1 + "\n"), format="nope")


@pytest.mark.parametrize("block_bytes, chunk_lines", [(64, 2), (200, 3), (1 << 20, 50_000)])
@pytest.mark.parametrize("compress", [False, True])
def test_streamed_blocks_keep_line_numbers_and_the_torn_last_line(
    tmp_path, monkeypatch, block_bytes, chunk_lines, compress
):
    """Files are read in blocks cut at line breaks (bounded memory): numbering, blank lines, CRLF and the
    torn last line must not depend on where the blocks and batches fall, nor on compression."""
    import gzip

    import llmaudit.ingest as ingest
    import llmaudit.ingest.files as files

    monkeypatch.setattr(files, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(ingest, "CHUNK_LINES", chunk_lines)
    lines = [GOOD % n if n % 4 else "" for n in range(1, 30)] + ["{not json", GOOD % 99, '{"id": "c10']
    text = "\r\n".join(lines)  # CRLF line breaks, no break after the torn last line
    path = tmp_path / ("log.jsonl.gz" if compress else "log.jsonl")
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    result = read_logs(path)
    expected_calls = [n for n in range(1, 30) if n % 4] + [31]
    assert result.calls["source_line"].sort().to_list() == expected_calls
    assert result.rejects.select("line", "reason").rows() == [
        (30, "malformed JSON"),
        (32, "truncated last line (file does not end with a newline)"),
    ]
    assert result.rows_read == len(expected_calls) + 2 and result.reconciles


def test_corrupt_gzip_is_an_input_error_naming_the_file(tmp_path):
    path = tmp_path / "log.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    with pytest.raises(InputError, match="log.jsonl.gz: cannot decompress"):
        read_logs(path)
