"""Big JSONL files are read block by block by DuckDB's own JSON reader; every row must come out exactly as
the numbered-lines path gives it (same ids, lines, values, rejects), whatever the blocks hold."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from conftest import write

import llmaudit.ingest as ingest
import llmaudit.ingest.files as files
import llmaudit.ingest.keyscan as keyscan
from llmaudit.ingest import read_logs
from llmaudit.ingest.files import Block, iter_blocks
from llmaudit.ingest.sqlbuild import pruned_shape

SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"
_BUNDLED = ingest._bundled


def _read(paths, monkeypatch, *, blocks: bool, block_bytes: int = 1 << 20, bundles: bool = False):
    """read_logs with block reading forced on (every JSONL file, blocks of `block_bytes`) or off; off, small
    files are joined in blocks of `block_bytes` with `bundles`, else read as numbered lines."""
    monkeypatch.setattr(ingest, "BLOCK_READ_MIN_BYTES", 0 if blocks else 1 << 62)
    monkeypatch.setattr(files, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(ingest, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(ingest, "_bundled", _BUNDLED if bundles else lambda reader: False)
    return read_logs(paths)


def _spy_block_jobs(monkeypatch) -> dict[str, int]:
    """Counts blocks parsed by DuckDB's reader, and the chunks and lines read as numbered lines instead."""
    seen = {"parsed": 0, "bundles": 0, "fallback": 0, "fallback_lines": 0}
    job, bundle, lines = ingest._Chunker._block_job, ingest._Chunker._bundle_job, ingest._Chunker._lines_job

    def block_job(self, *args):
        seen["parsed"] += 1
        return job(self, *args)

    def bundle_job(self, *args):
        seen["bundles"] += 1
        return bundle(self, *args)

    def lines_job(self, reader, table):
        seen["fallback"] += 1
        seen["fallback_lines"] += table.num_rows
        return lines(self, reader, table)

    monkeypatch.setattr(ingest._Chunker, "_block_job", block_job)
    monkeypatch.setattr(ingest._Chunker, "_bundle_job", bundle_job)
    monkeypatch.setattr(ingest._Chunker, "_lines_job", lines_job)
    return seen


def _same(a, b) -> None:
    assert a.calls.sort("record_id").equals(b.calls.sort("record_id"))
    assert a.rejects.equals(b.rejects) and a.skipped.equals(b.skipped)
    assert (a.rows_read, a.collapsed, a.files) == (b.rows_read, b.collapsed, b.files)


@pytest.mark.parametrize("block_bytes", [300, 1 << 20])
def test_sample_logs_read_by_blocks_equal_numbered_lines(monkeypatch, block_bytes):
    lines = _read(SAMPLE_LOGS, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    blocks = _read(SAMPLE_LOGS, monkeypatch, blocks=True, block_bytes=block_bytes)
    assert seen["parsed"] > 0  # the block path really ran
    _same(blocks, lines)


def test_anchor_logs_read_by_blocks_equal_numbered_lines(anchors, monkeypatch):
    logs = anchors / "logs"
    lines = _read(logs, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    blocks = _read(logs, monkeypatch, blocks=True, block_bytes=4096)
    assert seen["parsed"] > 0
    _same(blocks, lines)


GOOD = '{"id": "c%d", "object": "chat.completion", "created": 1741000000, "model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}'


@pytest.mark.parametrize(
    "bad, reason, read_as_lines",
    [
        # a blank line: read_json skips it, and the block's rows are numbered by its other lines
        ("", None, 0),
        ("  \t", None, 0),
        # a lone CR: a line break for the numbered-lines path, not for read_json: the whole block is read
        # as numbered lines (None)
        ("x\ry", "malformed JSON", None),
        # a line DuckDB's reader cannot take as a record is read as a numbered line alone
        ("{not json", "malformed JSON", 1),
        ('{"id": "x", "model": "gpt-4o-mini", "usage": {"prompt_tokens": 1', "malformed JSON", 1),
        ("[1, 2]", "not a JSON object (a JSON array)", 1),
        ("null", "not a JSON object (a JSON null)", 1),
        ('"text"', "not a JSON object (a JSON string)", 1),
        ("{}", "not a openai_chat record: no model and no usage", 1),
        # invalid UTF-8 in a string: the numbered-lines path reads it with the bytes replaced
        (b'{"id": "u", "object": "chat.completion", "model": "gpt-4o-mini\xff", "usage": {}}', None, 1),
        # a bad value parses: the normalization rejects it, in the block
        (
            '{"id": "x", "usage": {"prompt_tokens": "abc"}, "model": "gpt-4o-mini", "object": "chat.completion"}',
            "input tokens is not a non-negative whole number: abc",
            0,
        ),
        # a value of the wrong type reads as null, as json_transform makes it
        (
            '{"id": "x", "usage": 5, "model": "gpt-4o-mini", "object": "chat.completion"}',
            None,
            0,
        ),
        # an object indented by a tab is an object on both paths
        ("\t" + GOOD % 500, None, 0),
        # a form feed or vertical tab around a record: DuckDB's reader skips them, and so do numbered lines
        ("\f " + GOOD % 500 + "\v", None, 0),
        # a byte-order mark opening a line (files concatenated): the reader cannot take it, numbered lines do
        ("\ufeff" + GOOD % 500, None, 1),
        # inside a record a form feed is no whitespace, on either path
        ((GOOD % 500).replace(', "model"', ',\f"model"'), "malformed JSON", 1),
    ],
)
def test_a_dirty_block_reads_only_its_bad_lines_as_numbered_lines(
    tmp_path, monkeypatch, bad, reason, read_as_lines
):
    lines = [(GOOD % n).encode() for n in range(1, 40)]
    lines[20] = bad if isinstance(bad, bytes) else bad.encode()
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = _read(path, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    got = _read(path, monkeypatch, blocks=True, block_bytes=1000)
    _same(got, expected)
    assert seen["parsed"] > 1
    if read_as_lines is None:  # one block, of several lines
        assert seen["fallback"] == 1 and seen["fallback_lines"] > 1
    else:
        assert seen["fallback_lines"] == read_as_lines
    if reason is not None:
        lines_of_bad = 2 if b"\r" in lines[20] else 1  # Arrow breaks the line at the lone CR
        assert got.rejects.select("line", "reason").rows() == [(21 + n, reason) for n in range(lines_of_bad)]
    else:
        assert got.rejects.height == 0


def test_bad_lines_of_a_block_are_read_alone_and_keep_their_places(tmp_path, monkeypatch):
    """Several bad lines in one block, at its first and last line too: only they take the slow path, and
    every row keeps its line number, as the numbered-lines path gives them."""
    lines = [GOOD % n for n in range(1, 120)]
    for at in (0, 7, 8, 50, 118):
        lines[at] = "{broken" if at % 2 else "[]"
    path = write(tmp_path / "log.jsonl", "\n".join(lines) + "\n")
    expected = _read(path, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    got = _read(path, monkeypatch, blocks=True, block_bytes=1 << 20)
    _same(got, expected)
    assert (seen["parsed"], seen["fallback_lines"]) == (1, 5)
    assert got.rejects["line"].to_list() == [1, 8, 9, 51, 119]
    assert sorted(got.calls["source_line"]) == [n for n in range(1, 120) if n not in (1, 8, 9, 51, 119)]


def test_records_without_a_source_key_fall_back_for_their_text(tmp_path, monkeypatch):
    """Keyless records are identified by file, line and text: a parsed block has no text, so it is read as
    numbered lines, and ids equal those of the numbered-lines path."""
    record = {
        "timestamp": "2026-03-01T00:00:00Z",
        "model": "gpt-4o-mini",
        "input_tokens": 5,
        "output_tokens": 1,
    }
    path = write(tmp_path / "generic.jsonl", "\n".join(json.dumps(record) for _ in range(30)) + "\n")
    expected = _read(path, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    got = _read(path, monkeypatch, blocks=True, block_bytes=500)
    _same(got, expected)
    assert got.calls["record_id"].n_unique() == 30 and seen["fallback"] == seen["parsed"]


@pytest.mark.parametrize("compress", [False, True])
def test_blocks_keep_line_numbers_crlf_bom_and_the_torn_last_line(tmp_path, monkeypatch, compress):
    lines = [GOOD % n for n in range(1, 60)] + ["{not json", GOOD % 99, '{"id": "c10']
    text = "\ufeff" + "\r\n".join(lines)  # BOM, CRLF, no break after the torn last line
    path = tmp_path / ("log.jsonl.gz" if compress else "log.jsonl")
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    got = _read(path, monkeypatch, blocks=True, block_bytes=700)
    assert got.calls["source_line"].sort().to_list() == [*range(1, 60), 61]
    assert got.rejects.select("line", "reason").rows() == [
        (60, "malformed JSON"),
        (62, "truncated last line (file does not end with a newline)"),
    ]
    _same(got, _read(path, monkeypatch, blocks=False))


def test_block_counts_lines_as_arrow_numbers_them():
    data = b'{"a":1}\r\n{"a":2}\r{"a":3}\n\n{"a":4}'  # CRLF, a lone CR, a blank line, no final break
    (block,) = iter_blocks(iter([data]))
    assert (block.first_line, block.lines, block.last, block.torn_line) == (1, 5, True, 5)
    assert block.line_batch().lines.num_rows == 5 and not block.is_clean()


@pytest.mark.parametrize(
    "data, clean",
    [
        (b'{"a":1}\n{"a":2}\n', True),
        (b'{"a":1}\r\n{"a":2}', True),
        (b'\xef\xbb\xbf{"a":1}\n', True),
        (b'{"a":1}\n\n{"a":2}\n', False),
        (b'\n{"a":1}\n', False),
        (b'\xef\xbb\xbf\n{"a":1}\n', False),
        (b'{"a":1}\n \f\n', False),
        (b'{"a":1}\n  ', False),
        (b'{"a":1}\r{"a":2}\n', False),
    ],
)
def test_a_block_is_clean_when_every_line_is_a_candidate_record(data, clean):
    assert Block(data, 1, data.count(b"\n") + 1, True).is_clean() is clean


def test_block_ids_do_not_depend_on_block_size(tmp_path, monkeypatch):
    path = write(tmp_path / "log.jsonl", "\n".join(GOOD % n for n in range(1, 200)) + "\n")
    small = _read(path, monkeypatch, blocks=True, block_bytes=600)
    large = _read(path, monkeypatch, blocks=True, block_bytes=1 << 20)
    _same(small, large)
    assert sorted(small.calls["source_line"].to_list()) == list(range(1, 200))


def _lines_with_a_torn_end(tmp_path: Path) -> tuple[bytes, Path, Path]:
    """Lines of 0-129 bytes and a last line without a break, as a plain and a gzip file."""
    data = b"\n".join(b"x" * (n * 37 % 130) for n in range(200)) + b"\n" + b'{"torn": 1}'
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    return data, plain, packed


def _assert_rejoin(pieces: list[bytes], data: bytes) -> None:
    """The pieces are the file, each ending at a line break but the torn last line, which is its own."""
    assert b"".join(pieces) == data
    assert all(piece.endswith(b"\n") for piece in pieces[:-1]) and pieces[-1] == b'{"torn": 1}'


@pytest.mark.parametrize("block_bytes", [7, 50, 64, 1 << 20])
def test_plain_file_blocks_end_at_line_breaks_and_rejoin(tmp_path, monkeypatch, block_bytes):
    """A plain file's blocks are cut before they are read (a short read of each block's tail finds the
    break); lines longer than a block, a last line without a break and a gzip copy all rejoin exactly."""
    monkeypatch.setattr(files, "BLOCK_BYTES", block_bytes)
    cut_first = []
    plain_blocks = files._cut_first
    monkeypatch.setattr(
        files, "_cut_first", lambda handle: (cut_first.append(b) or b for b in plain_blocks(handle))
    )
    data, plain, packed = _lines_with_a_torn_end(tmp_path)
    for path in (plain, packed):
        _assert_rejoin(list(files.open_source(path).blocks()), data)
    # blocks smaller than the plain file were cut before reading (a file within one block is just read)
    assert bool(cut_first) == (block_bytes < len(data))


@pytest.mark.parametrize("piece_bytes", [5, 64, 1 << 18])
@pytest.mark.parametrize("block_bytes", [7, 64, 400, 1 << 20])
def test_block_views_reuse_one_buffer_and_rejoin(tmp_path, monkeypatch, block_bytes, piece_bytes):
    """`views` of a plain or gzipped file are cuts of one reused buffer (valid until the next is read;
    a compressed stream is decompressed into it a piece at a time): copied as they come, they rejoin to
    the file, every one but the last ending at a line break."""
    monkeypatch.setattr(files, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(files, "_PIECE_BYTES", piece_bytes)
    data, plain, packed = _lines_with_a_torn_end(tmp_path)
    for path in (plain, packed):
        _assert_rejoin([bytes(view) for view in files.open_source(path).views()], data)
    if block_bytes == 400:  # lines fit in a block, the file does not: its cuts share one buffer
        for path in (plain, packed):
            first, second = itertools.islice(files.open_source(path).views(), 2)
            assert first.obj is second.obj


_IN_MEMORY = [pytest.param(True, marks=pytest.mark.skipif(not files._MEMFD, reason="no memfd")), False]


def _scratch(tmp_path: Path, in_memory: bool) -> files.Scratch:
    folder = tmp_path / "scratch"
    return files.Scratch(lambda: folder.mkdir() or folder, in_memory=in_memory)


@pytest.mark.parametrize("in_memory", _IN_MEMORY)
@pytest.mark.parametrize("block_bytes", [40, 1 << 20])
def test_spooled_blocks_number_and_judge_as_blocks_in_memory_do(
    tmp_path, monkeypatch, block_bytes, in_memory
):
    """Blocks copied to scratch files get the lines, last/torn and cleanliness the in-memory blocks get,
    and their files hold the block's bytes (BOM, CRLF, a lone CR, a blank line, a torn last line)."""
    monkeypatch.setattr(files, "BLOCK_BYTES", block_bytes)
    data = b'\xef\xbb\xbf{"a":1}\r\n{"a":2}\n' + b'{"b":3}\n' * 9 + b'{"a":3}\r{"a":4}\n\n{"c":5}\n{"torn"'
    path = tmp_path / "a.jsonl"
    path.write_bytes(data)
    source = files.open_source(path)
    scratch = _scratch(tmp_path, in_memory)
    spooled = list(files.spool_blocks(source.views(), scratch))
    blocks = list(iter_blocks(source.blocks()))
    assert len(spooled) == len(blocks) > 1
    for a, b in zip(spooled, blocks, strict=True):
        assert (a.first_line, a.lines, a.last, a.torn_line, a.clean) == (
            b.first_line,
            b.lines,
            b.last,
            b.torn_line,
            b.is_clean(),
        )
        read_back = pa.concat_tables(x.lines for x in a.line_batches(1 << 30))
        assert a.path.read_bytes() == b.data and read_back.equals(b.line_batch().lines)
    assert {b.clean for b in spooled} == {True, False} and spooled[-1].torn_line == blocks[-1].torn_line
    scratch.close()


def _envelope(n: int, **metadata) -> str:
    """An OpenAI chat completion in the {request, response, metadata} envelope (keys a bare log lacks)."""
    return json.dumps(
        {
            "request": {"messages": [{"role": "user", "content": f"q{n}"}]},
            "response": {
                "id": f"e{n}",
                "object": "chat.completion",
                "created": 1741000000,
                "model": "gpt-4o-mini",
                "service_tier": "flex",
                "usage": {
                    "prompt_tokens": 100,
                    "completion_tokens": 7,
                    "prompt_tokens_details": {"cached_tokens": 40},
                },
            },
            "metadata": metadata,
        }
    )


def test_blocks_read_only_the_keys_they_hold_and_lose_none(tmp_path, monkeypatch):
    """Blocks are parsed into a STRUCT without the keys no line of theirs spells out; keys first met deep
    in the file (an enveloped record after bare ones, a key written with a \\u escape) are still read."""
    bare = [GOOD % n for n in range(1, 80)]
    late = [_envelope(n, feature="search", user_id=f"u{n}") for n in range(80, 90)]
    # `session_id` appears only here, escaped: a JSON reader decodes it, a byte search does not see it
    escaped = _envelope(90, feature="search").replace(
        '"metadata": {', '"metadata": {"sessi\\u006fn_id": "s1", '
    )
    path = write(tmp_path / "log.jsonl", "\n".join([*bare, *late, escaped, *bare[:5]]) + "\n")
    monkeypatch.setattr(ingest.KeyScan, "__call__", _recording(ingest.KeyScan.__call__, given := []))
    got = _read(path, monkeypatch, blocks=True, block_bytes=2000)
    _same(got, _read(path, monkeypatch, blocks=False))
    narrowed = [keys for keys in given if keys is not None]
    assert narrowed and "response" not in narrowed[0]  # the first blocks (bare records) were narrowed
    assert any("response" in keys for keys in narrowed)  # and learned the envelope's keys when it came
    assert None in given  # the block with the escaped key was read with every key
    enveloped = got.calls.filter(pl.col("feature").is_not_null())
    assert enveloped.height == 11 and set(enveloped["service_tier"]) == {"flex"}
    assert enveloped["cache_read_tokens"].to_list() == [40] * 11
    assert got.calls.filter(pl.col("session_id") == "s1").height == 1


def _recording(method, into: list):
    def call(self, data):
        result = method(self, data)
        into.append(result)
        return result

    return call


def test_key_scan_counts_a_key_wherever_it_is_spelled_and_distrusts_escapes():
    scan = keyscan.KeyScan(frozenset({"model", "usage", "error", "a/b"}))
    first = scan(memoryview(b'{"model": "m", "usage": {}}\n{"x": "error"}\n'))
    assert first == {"model", "usage", "error"}  # "error" as a value counts: conservative
    assert scan(memoryview(b'{"model": "m"}\n')) == {"model", "usage", "error"}  # what was seen stays
    assert scan(memoryview(b'{"a/b": 1}\n')) == {"model", "usage", "error", "a/b"}
    fresh = keyscan.KeyScan(frozenset({"model", "a/b"}))
    assert fresh(memoryview(b'{"mod\\u0065l": "m"}\n')) is None
    assert fresh(memoryview(b'{"mod\\u0045l": "m"}\n')) == set()  # \u0045 is "E": no key of ours
    assert fresh(memoryview(b'{"a\\/b": 1}\n')) is None
    assert fresh(memoryview(b'{"x": "\\u003c"}\n')) == set()  # < escaped, as Go encoders write it
    # a key JSON writes escaped (here with a quote in it) is never spelled out as such: always kept
    assert keyscan.KeyScan(frozenset({'say"hi', "model"}))(memoryview(b"{}\n")) == {'say"hi'}


def test_pruned_shape_keeps_a_struct_whose_fields_are_all_absent():
    shape = {
        "usage": {"prompt_tokens": "VARCHAR", "cost": "VARCHAR"},
        "choices": [{"text": "VARCHAR"}],
        "id": "VARCHAR",
    }
    assert pruned_shape(shape, frozenset({"usage", "cost", "id"})) == {
        "usage": {"cost": "VARCHAR"},
        "id": "VARCHAR",
    }
    assert pruned_shape(shape, frozenset({"usage", "choices"})) == {
        "usage": {"prompt_tokens": "VARCHAR", "cost": "VARCHAR"},
        "choices": [{"text": "VARCHAR"}],
    }


def test_a_file_of_mostly_bad_lines_is_read_as_numbered_lines_after_its_first_blocks(tmp_path, monkeypatch):
    """Once a block was mostly lines DuckDB's reader could not take, the file's next blocks skip it (they
    would be parsed twice), with the same rows; a file with a rare bad line keeps the fast path."""
    broken = [("x" + GOOD % n) if n % 10 else GOOD % n for n in range(1, 2000)]
    path = write(tmp_path / "broken.jsonl", "\n".join(broken) + "\n")
    expected = _read(path, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    got = _read(path, monkeypatch, blocks=True, block_bytes=2000)
    _same(got, expected)
    # ~150 blocks: only those submitted before the first one was judged were parsed (at most 4 workers,
    # each with a block in hand and one waiting)
    assert seen["parsed"] <= 10 and seen["fallback"] > 100
    assert got.rejects.height == 1800
    rare = [GOOD % n if n % 10 else "x" for n in range(1, 200)]
    path = write(tmp_path / "rare.jsonl", "\n".join(rare) + "\n")
    seen = _spy_block_jobs(monkeypatch)
    got = _read(path, monkeypatch, blocks=True, block_bytes=2000)
    assert seen["parsed"] == seen["fallback"] > 2 and seen["fallback_lines"] == 19 == got.rejects.height


@pytest.mark.parametrize("in_memory", _IN_MEMORY)
def test_scratch_files_are_read_by_duckdb_and_freed(tmp_path, in_memory):
    """A scratch file is a path DuckDB's reader opens (an in-memory file through /proc too); `release`
    frees one, `close` the rest and the folder, and nothing stays behind either way."""
    scratch = _scratch(tmp_path, in_memory)
    written = [scratch.write(memoryview(b'{"a": %d}\n' % n * 3), f"b{n}") for n in range(3)]
    con = duckdb.connect()
    assert con.sql(f"SELECT sum(a) FROM read_json('{written[1].path}')").fetchall() == [(3,)]
    assert written[0].path.read_bytes() == b'{"a": 0}\n' * 3
    scratch.release(written[0])
    scratch.release(written[0])  # twice is harmless
    assert _memfds() == ({"b1", "b2"} if in_memory else set())
    assert written[0].path.exists() is False or in_memory  # a /proc path may name a reused descriptor
    folder = tmp_path / "scratch"
    assert folder.exists() != in_memory  # the folder is only made for files on disk
    scratch.close()
    assert not folder.exists() and _memfds() == set()


def _memfds() -> set[str]:
    """The names of this process's open in-memory files."""
    names = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("/memfd:"):
            names.add(target.removeprefix("/memfd:").removesuffix(" (deleted)"))
    return names


@pytest.mark.skipif(not files._MEMFD, reason="no memfd")
def test_no_block_copy_outlives_the_read_even_when_it_fails(tmp_path, monkeypatch):
    path = write(tmp_path / "log.jsonl", "\n".join(GOOD % n for n in range(1, 400)) + "\n")
    _read(path, monkeypatch, blocks=True, block_bytes=1000)
    assert _memfds() == set()
    chunks = []

    def failing_sink(con, sql, shape=None):
        chunks.append(sql)
        if len(chunks) == 3:
            raise RuntimeError("disk full")
        return con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]

    with pytest.raises(RuntimeError, match="disk full"):
        ingest.stream_logs([path], failing_sink)
    assert _memfds() == set()


@pytest.mark.parametrize("max_bytes", [1, 7, 30, 64, 1 << 20])
def test_line_batches_are_the_block_s_lines_in_pieces(tmp_path, max_bytes):
    """A block read line by line in pieces gives the lines and numbers of reading it whole: CRLF, a lone
    CR, blank lines, a line longer than a piece, a byte-order mark opening a line inside the block, and a
    last line without a break."""
    data = (
        b'{"a":1}\r\n{"a":2}\r{"a":3}\n\n\n'
        + b'{"long": "'
        + b"x" * 100
        + b'"}\n'
        + b'\xef\xbb\xbf{"bom": 1}\n'
        + b'{"a":4}\n' * 5
        + b'{"torn"'
    )
    path = tmp_path / "block.jsonl"
    path.write_bytes(data)
    (whole,) = iter_blocks(iter([data]))
    block = files.SpooledBlock(files.ScratchFile(path), 7, whole.lines, True, False, True)
    pieces = list(block.line_batches(max_bytes))
    assert len(pieces) > 1 or max_bytes >= len(data)
    joined = pa.concat_tables([p.lines for p in pieces])
    expected = Block(data, 7, whole.lines, True).line_batch().lines
    assert joined.equals(expected) and joined.num_rows == whole.lines
    assert {p.torn_line for p in pieces} == {block.torn_line}


@pytest.mark.parametrize("bad", ["x\ry", "{broken"])
def test_a_block_read_line_by_line_in_pieces_gives_the_same_rows(tmp_path, monkeypatch, bad):
    """Blocks read as numbered lines (a lone CR), and bad lines read alone, go in jobs of a bounded size:
    the rows are those of reading each block whole."""
    lines = [GOOD % n for n in range(1, 300)]
    for at in (3, 150, 298):
        lines[at] = bad
    path = write(tmp_path / "log.jsonl", "\n".join(lines) + "\n")
    whole = _read(path, monkeypatch, blocks=True, block_bytes=1 << 20)
    monkeypatch.setattr(ingest, "LINES_JOB_BYTES", 2000)
    seen = _spy_block_jobs(monkeypatch)
    pieces = _read(path, monkeypatch, blocks=True, block_bytes=1 << 20)
    _same(pieces, whole)
    # one block: read whole as lines (a lone CR) in ~25 jobs, or its 3 bad lines in 3
    assert seen["fallback"] == (3 if bad == "{broken" else pytest.approx(25, abs=5))


@pytest.mark.parametrize("block_bytes", [700, 1 << 20])
def test_blocks_with_blank_lines_are_parsed_and_keep_their_line_numbers(tmp_path, monkeypatch, block_bytes):
    """Blank lines (first, consecutive, CRLF, of spaces, tabs, \\f and \\v, the file's last) give no row on
    either path; DuckDB's reader skips them and the block's rows are numbered by the lines that are not
    blank, bad lines among them still read alone."""
    lines = [GOOD % n for n in range(1, 60)]
    lines[0] = ""
    lines[10] = lines[11] = "  "
    lines[20] = "\t\f\v"
    lines[30] = "{broken"
    lines[31] = ""
    text = "\r\n".join(lines[:15]) + "\r\n" + "\n".join(lines[15:]) + "\n \n"
    path = write(tmp_path / "log.jsonl", text)
    expected = _read(path, monkeypatch, blocks=False)
    seen = _spy_block_jobs(monkeypatch)
    got = _read(path, monkeypatch, blocks=True, block_bytes=block_bytes)
    _same(got, expected)
    assert seen["parsed"] >= 1 and seen["fallback_lines"] == 1  # only the broken line
    blank = {1, 11, 12, 21, 32, 60}
    assert sorted(got.calls["source_line"]) == [n for n in range(1, 61) if n not in blank | {31}]
    assert got.rejects.select("line", "reason").rows() == [(31, "malformed JSON")]


@pytest.mark.skipif(not files._MEMFD, reason="no memfd")
def test_a_stale_release_does_not_free_the_file_that_reused_its_descriptor(tmp_path):
    """An in-memory file's /proc path names whichever file next gets its descriptor number: releasing a
    file again after the reading thread made the next block must leave that block readable (a block job
    that released its block twice made a 10M-call run fail with "No files found" at a block's query)."""
    scratch = _scratch(tmp_path, in_memory=True)
    first = scratch.write(memoryview(b'{"a": 1}\n'), "first")
    scratch.release(first)
    second = scratch.write(memoryview(b'{"a": 2}\n'), "second")
    assert second.path == first.path  # the lowest free descriptor: the one just closed
    scratch.release(first)  # stale: must not close `second`
    assert second.path.read_bytes() == b'{"a": 2}\n' and _memfds() == {"second"}
    scratch.release(second)
    assert _memfds() == set()
    scratch.close()


def test_blocks_are_their_own_when_the_next_block_reuses_a_freed_descriptor(tmp_path, monkeypatch):
    """While a block job releases its copy, the reading thread makes the next blocks, whose in-memory files
    may get the freed descriptor number, so their /proc path. Each release here waits for that to happen:
    every block must still be read, once, as itself (a job released its block twice, by path, and the
    second release closed the next block's copy, which was then missing or read in another block's place:
    a 10M-call run failed with "No files found", 256 KiB blocks with "371 rows for 370 lines")."""
    release = files.Scratch.release

    def release_then_wait(self, file):
        release(self, file)
        time.sleep(0.01)  # the reading thread makes the next block, maybe on the freed descriptor

    monkeypatch.setattr(files.Scratch, "release", release_then_wait)
    path = write(tmp_path / "log.jsonl", "\n".join(GOOD % n for n in range(1, 1201)) + "\n")
    result = _read(path, monkeypatch, blocks=True, block_bytes=4000)
    ids = result.calls.get_column("response_id")
    assert ids.len() == ids.n_unique() == 1200 and result.rejects.is_empty()
    assert result.calls.get_column("source_line").sort().to_list() == list(range(1, 1201))
