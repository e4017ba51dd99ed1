"""The benchmark's stress variants (`bench/variants.py`): each changes one thing of the generated file."""

from __future__ import annotations

import json

from conftest import bench_generator, bench_script

from llmaudit.analysis import analyze
from llmaudit.ingest import read_logs


def test_each_variant_changes_one_thing_of_the_benchmark_file(tmp_path, monkeypatch):
    variants = bench_script("variants")
    monkeypatch.setattr(variants, "_EVERY", 100)  # 10 of the 1,000 lines
    source = tmp_path / "b.jsonl"
    bench_generator().write("openai", 1_000, 2, source)
    base = [json.loads(line) for line in source.read_text().splitlines()]
    made = {kind: variants.write_variant(kind, source, tmp_path / "v") for kind in variants.KINDS}
    users = [json.loads(line) for line in made["users"].read_text().splitlines()]
    assert [u["metadata"]["user"] for u in users] == [f"u-{i}" for i in range(len(base))]
    assert [{**u, "metadata": b["metadata"]} for u, b in zip(users, base, strict=True)] == base
    models = [json.loads(line)["model"] for line in made["models"].read_text().splitlines()]
    assert models == [f"ft:{b['model']}:acme:x{i}" for i, b in enumerate(base)]
    calls = read_logs(made["models"]).calls
    assert calls.height == len(base) and calls["model_raw"].n_unique() == len(base)
    report = analyze(made["rejects"]).data["coverage"]
    assert (report["calls"], report["rejected"]) == (300, len(base) - 300)
    dirty = made["dirty"].read_text().splitlines()
    cut = [
        i
        for i, (line, whole) in enumerate(zip(dirty, source.read_text().splitlines(), strict=True))
        if line != whole
    ]
    assert cut == list(range(99, len(base), 100))
    report = analyze(made["dirty"]).data["coverage"]
    assert (report["calls"], report["rejected"]) == (len(base) - 10, 10)
    blanks = made["blanks"].read_text().splitlines()
    assert [n for n, line in enumerate(blanks) if not line] == [100 + 101 * n for n in range(10)]
    assert [line for line in blanks if line] == source.read_text().splitlines()
    report = analyze(made["blanks"]).data["coverage"]
    assert (report["calls"], report["rejected"]) == (len(base), 0)
    repeated = [json.loads(line) for line in made["repeated"].read_text().splitlines()]
    assert repeated[: len(base)] == base and len(repeated) == 2 * len(base)
    later = repeated[len(base) :]
    assert [r["id"] for r in later] == [f"b-{b['id']}" for b in base]
    assert {r["created"] - b["created"] for r, b in zip(later, base, strict=True)} == {30 * 86_400}
    dup = analyze(made["repeated"]).data["duplicates"]
    # every request of the file is sent again a month later
    assert dup["repeat_calls"] == len(base) + analyze(source).data["duplicates"]["repeat_calls"]
    files = sorted(made["files"].iterdir())
    assert [f.name for f in files] == [f"part-{n:06d}.jsonl" for n in range(10)]
    assert [len(f.read_text().splitlines()) for f in files] == [100] * 10
    assert "".join(f.read_text() for f in files) == source.read_text()
    report = analyze(made["files"]).data
    assert report["coverage"]["calls"] == len(base) and report["totals"] == analyze(source).data["totals"]
