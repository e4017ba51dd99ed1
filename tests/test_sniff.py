"""Format sniffing: the reader that matches most of a file's first objects (ties to the earlier reader),
whichever reader is tried first, and a folder of many small logs read file by file."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import ANCHORS, write

from llmaudit.analysis import analyze
from llmaudit.ingest import registry
from llmaudit.ingest.files import discover
from llmaudit.ingest.generic import Mapping

SAMPLES = Path(__file__).parent.parent / "sample_logs"


def _full_vote(objects: list, readers: list) -> object:
    """Every reader on every object, the most hits winning, ties to the earlier reader."""
    best, best_hits = None, 0
    for reader in readers:
        hits = sum(1 for obj in objects if isinstance(obj, dict) and reader.sniff(obj))
        if hits > best_hits:
            best, best_hits = reader, hits
    return best


def _objects(path: Path) -> list:
    texts = [t for t in path.read_text(encoding="utf-8", errors="replace").splitlines() if t.strip()]
    out = []
    for text in texts[: registry.SNIFF_SAMPLE]:
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return out


def _samples(extra: Path | None) -> list[list]:
    roots = [SAMPLES] + ([extra] if extra is not None and extra.exists() else [])
    files = [p for p in discover(roots) if p.suffix == ".jsonl"]
    samples = [_objects(p) for p in files]
    # mixtures, where the vote is close: two files' objects interleaved
    samples += [[o for pair in itertools.zip_longest(a, b) for o in pair if o is not None]
                for a, b in itertools.pairwise(samples)]  # fmt: skip
    return [s for s in samples if s]


def test_any_reader_tried_first_gives_the_full_votes_answer():
    readers = registry.json_readers(Mapping())
    samples = _samples(ANCHORS / "logs")  # the anchors, when present, add formats
    assert len(samples) > 10
    winners = set()
    for objects in samples:
        expected = _full_vote(objects, readers)
        winners.add(getattr(expected, "name", None))
        for hint in [None, *readers]:
            assert registry.sniff_objects(objects, readers, hint) is expected
    assert len(winners) > 3  # the samples exercise several formats


def test_a_folder_of_small_logs_of_two_formats(tmp_path):
    openai = '{"object": "chat.completion", "id": "c%d", "created": 1750000000, "model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}'
    anthropic = '{"type": "message", "id": "m%d", "model": "claude-3-5-haiku-20241022", "usage": {"input_tokens": 10, "output_tokens": 2}}'
    for i in range(30):  # the formats alternate in runs, so the previous file's reader is often wrong
        line = openai if (i // 3) % 2 == 0 else anthropic
        write(tmp_path / "logs" / f"{i:03d}.jsonl", "\n".join(line % (100 * i + k) for k in range(4)) + "\n")
    report = analyze(tmp_path / "logs")
    assert report.data["coverage"]["formats"] == {"openai": 15, "anthropic_messages": 15}
    assert report.data["coverage"]["calls"] == 120 and report.data["coverage"]["priced"] == 120


def test_sample_lines_decode_as_the_stdlibs_json_does():
    """orjson decodes the sample; what it refuses and the stdlib reads (NaN, Infinity, lone surrogates) is
    still read, and what both refuse is still left out of the vote."""
    files = [p for p in discover([SAMPLES]) if p.suffix == ".jsonl"]
    texts = [t for p in files for t in p.read_text(encoding="utf-8").splitlines() if t.strip()]
    edge = [
        '{"cost": NaN}',
        '{"cost": Infinity, "x": -Infinity}',
        '{"text": "\\ud800"}',
        '{"a": 1',
        "[1,]",
        "1 2",
    ]
    assert len(texts) > 100
    for text in texts + edge:
        try:
            expected = json.loads(text)
        except json.JSONDecodeError:
            with pytest.raises(json.JSONDecodeError):
                registry._decode(text)
            continue
        # compared as text: NaN is not equal to itself
        assert json.dumps(registry._decode(text), sort_keys=True) == json.dumps(expected, sort_keys=True), (
            text
        )


def test_a_log_written_with_nan_values_is_still_sniffed(tmp_path):
    """Python's json.dumps writes a float NaN as `NaN`: every line of such a log must still vote."""
    line = '{"object": "chat.completion", "id": "c%d", "created": 1750000000, "model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}, "metadata": {"score": NaN}}'
    write(tmp_path / "nan.jsonl", "\n".join(line % k for k in range(5)) + "\n")
    report = analyze(tmp_path / "nan.jsonl")
    assert report.data["coverage"]["formats"] == {"openai": 1}  # files
    assert report.data["coverage"]["calls"] == 5 and report.data["coverage"]["priced"] == 5
