"""Small JSONL files are joined into blocks parsed by DuckDB's JSON reader; every row must come out exactly
as the numbered-lines path gives it (same ids, files, lines, values, rejects)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import write
from test_block_read import GOOD, SAMPLE_LOGS, _read, _same, _spy_block_jobs

import llmaudit.ingest as ingest
from llmaudit.ingest import read_logs


@pytest.mark.parametrize("block_bytes", [300, 1 << 20])
def test_sample_logs_in_joined_blocks_equal_numbered_lines(monkeypatch, block_bytes):
    lines = _read(SAMPLE_LOGS, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    joined = _read(SAMPLE_LOGS, monkeypatch, blocks=False, bundles=True, block_bytes=block_bytes)
    assert seen["bundles"] > 0 and seen["parsed"] == 0  # small files were joined, none read alone
    _same(joined, lines)


def test_anchor_logs_in_joined_blocks_equal_numbered_lines(anchors, monkeypatch):
    logs = anchors / "logs"
    lines = _read(logs, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    joined = _read(logs, monkeypatch, blocks=False, bundles=True, block_bytes=4096)
    assert seen["bundles"] > 0
    _same(joined, lines)


def _awkward_logs(root: Path) -> Path:
    """Small OpenAI logs with what a join must not blur: a byte-order mark and CRLF, torn last lines (one
    a record, one cut short, one ending with a lone CR, one after a lone CR), bad lines in the middle, a
    blank line, an empty file, a file of blanks, a gzipped file. Each file has ids of its own (copies of a call would collapse)."""

    def good(file: int, count: int) -> list[str]:
        return [GOOD % (100 * file + n) for n in range(count)]

    (root / "a.jsonl").write_bytes(("\ufeff" + "\r\n".join(good(1, 7))).encode())  # torn, a whole record
    b = good(2, 3)
    write(root / "b.jsonl", "\n".join([b[0], "{broken", "[1]", "null", b[1], b[2]]) + "\n")
    write(root / "c.jsonl", "\n".join(good(3, 3)) + '\n{"id": "c9", "mod')  # torn and cut short
    d = good(4, 2)
    write(root / "d.jsonl", "\n".join([d[0], "", d[1]]) + "\n")  # a blank line: numbered lines
    write(root / "e.jsonl", "")
    (root / "f.jsonl.gz").write_bytes(gzip.compress(("\n".join(good(6, 3)) + "\n").encode()))
    g = good(7, 3)
    write(root / "g.jsonl", "\n".join([g[0], "\ufeff" + g[1], "\f" + g[2] + "\v"]) + "\n")
    (root / "h.jsonl").write_bytes(("\n".join(good(8, 2)) + "\r").encode())  # ends with a lone CR
    write(root / "i.jsonl", " \t")  # blanks, no line break
    j = good(9, 3)  # a lone CR (a line break for Arrow) before a torn last line cut short
    (root / "j.jsonl").write_bytes(f'{j[0]}\n{j[1]}\r{j[2]}\n{{"id": "c9'.encode())
    return root


@pytest.mark.parametrize("block_bytes", [400, 1 << 20])
def test_joined_small_files_keep_their_files_lines_and_rejects(tmp_path, monkeypatch, block_bytes):
    logs = _awkward_logs(tmp_path)
    lines = _read(logs, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    joined = _read(logs, monkeypatch, blocks=False, bundles=True, block_bytes=block_bytes)
    _same(joined, lines)
    assert seen["bundles"] >= (3 if block_bytes == 400 else 1)
    # read as numbered lines: the lines DuckDB's reader cannot take (b's three, c's torn one, g's BOM-led
    # one) alone, and d.jsonl (its blank line) and j.jsonl (its lone CR) whole; h.jsonl's last line ends
    # with a lone CR, which the line break added to a torn line makes a CRLF: read alike; e.jsonl and
    # i.jsonl hold no record, so no format: they are not read
    assert seen["fallback_lines"] == 3 + 1 + 1 + 3 + 4
    assert sorted(Path(f).name for f in joined.unknown_files) == ["e.jsonl", "i.jsonl"]
    rejects = {(Path(f).name, line, reason) for f, line, reason, _ in joined.rejects.rows()}
    assert rejects == {
        ("b.jsonl", 2, "malformed JSON"),
        ("b.jsonl", 3, "not a JSON object (a JSON array)"),
        ("b.jsonl", 4, "not a JSON object (a JSON null)"),
        ("c.jsonl", 4, "truncated last line (file does not end with a newline)"),
        ("j.jsonl", 4, "truncated last line (file does not end with a newline)"),
    }
    per_file = joined.calls.group_by("source_file").len()
    assert {Path(f).name: n for f, n in per_file.rows()} == {
        "a.jsonl": 7, "b.jsonl": 3, "c.jsonl": 3, "d.jsonl": 2, "f.jsonl.gz": 3, "g.jsonl": 3, "h.jsonl": 2,
        "j.jsonl": 3,
    }  # fmt: skip
    assert joined.reconciles


def test_joined_records_without_a_source_key_fall_back_for_their_text(tmp_path, monkeypatch):
    """Keyless records are identified by file, line and text: a joined block has no text, so its files are
    read as numbered lines, with the ids that path gives."""
    record = {
        "timestamp": "2026-03-01T00:00:00Z",
        "model": "gpt-4o-mini",
        "input_tokens": 5,
        "output_tokens": 1,
    }
    for name in ("x.jsonl", "y.jsonl"):
        write(tmp_path / name, "\n".join(json.dumps(record) for _ in range(20)) + "\n")
    lines = _read(tmp_path, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    joined = _read(tmp_path, monkeypatch, blocks=False, bundles=True)
    _same(joined, lines)
    assert seen["bundles"] == 1 and seen["fallback_lines"] == 40
    assert joined.calls["record_id"].n_unique() == 40


def test_bundle_numbers_give_each_line_its_file_and_line():
    table = ingest._bundle_numbers([(3, 2), (7, 3), (4, 1)], [f"f{n}" for n in range(8)])
    assert table.column("_i").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert table.column("line").to_pylist() == [1, 2, 1, 2, 3, 1]
    assert table.column("file_no").to_pylist() == [3, 3, 7, 7, 7, 4]
    assert table.column("source_file").to_pylist() == ["f3", "f3", "f7", "f7", "f7", "f4"]


def test_small_csv_files_share_a_query_and_keep_their_files_lines_and_ids(tmp_path, monkeypatch):
    """Generic CSVs wait for one query (CHUNK_LINES rows at a time): each row keeps its file, line and id
    (file + line + text where no request id), as when the file is read alone."""
    header = "timestamp,model,input_tokens,output_tokens"
    for n in range(5):
        rows = [f"2026-03-0{n + 1}T00:00:0{k}Z,gpt-4o-mini,{10 * n + k},{k}" for k in range(4)]
        if n == 2:  # request ids: the source key
            rows = [f"{row},req-{k}" for k, row in enumerate(rows)]
        if n == 0:  # two calls logged alike: told apart by their lines
            rows[1] = rows[0]
        write(
            tmp_path / f"export-{n}.csv",
            "\n".join([header + (",request_id" if n == 2 else "")] + rows) + "\n",
        )
    runs = []
    real = ingest._Chunker._run
    monkeypatch.setattr(ingest._Chunker, "_run", lambda self, *a: runs.append(1) or real(self, *a))
    together = read_logs(tmp_path)
    assert len(runs) == 1 and together.calls.height == 20 and together.collapsed == 0
    monkeypatch.setattr(ingest, "CHUNK_LINES", 6)  # a query every two files
    _same(read_logs(tmp_path), together)
    assert len(runs) == 1 + 3
    alone = pl.concat([read_logs(path).calls for path in sorted(tmp_path.glob("*.csv"))])
    key = ["source_file", "source_line"]
    assert (
        together.calls.sort(key).select(*key, "record_id").equals(alone.sort(key).select(*key, "record_id"))
    )
    assert sorted(set(together.calls["source_file"])) == sorted(str(p) for p in tmp_path.glob("*.csv"))
