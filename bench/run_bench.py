"""Time `llmaudit analyze` on N synthetic calls, optionally against a bare DuckDB baseline and peer libraries.

Each tool runs as a child process reaped with `os.wait4` (by a small launcher, see _LAUNCHER), so wall time,
CPU time (user + sys) and peak RSS are the child's own figures, not this script's. The input is generated once
per (n, seed, format, gz) into bench/out/ and reused while the generator and polars version are unchanged.

With `--peers PYTHON`, bench/peers.py runs in that (separate) interpreter to time the genai-prices and litellm
per-call loops on the first `--peer-n` records, and llmaudit is timed on a file of exactly those records.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402  (sibling script, not a package)

# Approximate list prices, USD per 1M tokens (input, cached input, output): only for the baseline's timing,
# never a reference for llmaudit's figures. Unknown models come out as unpriced rows, not as $0.
BASELINE_PRICES: dict[str, tuple[str, str, str]] = {
    "gpt-4o-mini-2024-07-18": ("0.15", "0.075", "0.60"),
    "gpt-4.1-mini-2025-04-14": ("0.40", "0.10", "1.60"),
    "gpt-4o-2024-08-06": ("2.50", "1.25", "10.00"),
    "gpt-4.1-2025-04-14": ("2.00", "0.50", "8.00"),
    "gpt-5-2025-08-07": ("1.25", "0.125", "10.00"),
    "gpt-5-mini-2025-08-07": ("0.25", "0.025", "2.00"),
    "o3-2025-04-16": ("2.00", "0.50", "8.00"),
    "o4-mini-2025-04-16": ("1.10", "0.275", "4.40"),
    "claude-sonnet-4-5-20250929": ("3.00", "0.30", "15.00"),
    "claude-haiku-4-5-20251001": ("1.00", "0.10", "5.00"),
    "claude-sonnet-4-20250514": ("3.00", "0.30", "15.00"),
    "claude-opus-4-1-20250805": ("15.00", "1.50", "75.00"),
    "claude-3-5-haiku-20241022": ("0.80", "0.08", "4.00"),
}

# Per format: the source and the columns (model, uncached input, cached input, output) the baseline prices.
_JSON = "read_json({path}, format='newline_delimited', columns={columns})"
_SOURCES = {
    "openai": (
        _JSON,
        "{model: 'VARCHAR', usage: 'STRUCT(prompt_tokens BIGINT, completion_tokens BIGINT, "
        "prompt_tokens_details STRUCT(cached_tokens BIGINT))'}",
        "model, usage.prompt_tokens - usage.prompt_tokens_details.cached_tokens, "
        "usage.prompt_tokens_details.cached_tokens, usage.completion_tokens",
    ),
    "anthropic": (
        _JSON,
        "{model: 'VARCHAR', usage: 'STRUCT(input_tokens BIGINT, cache_read_input_tokens BIGINT, "
        "cache_creation_input_tokens BIGINT, output_tokens BIGINT)'}",
        "model, usage.input_tokens + usage.cache_creation_input_tokens, usage.cache_read_input_tokens, "
        "usage.output_tokens",
    ),
    "csv": (
        "read_csv({path}, header=true, columns={columns})",
        "{timestamp: 'VARCHAR', model: 'VARCHAR', input_tokens: 'BIGINT', cached_tokens: 'BIGINT', "
        "output_tokens: 'BIGINT', user: 'VARCHAR', feature: 'VARCHAR'}",
        "model, input_tokens - cached_tokens, cached_tokens, output_tokens",
    ),
}
# The child only imports duckdb: the baseline shares no code with llmaudit.
_BASELINE_CHILD = (
    "import duckdb, json, sys; con = duckdb.connect(); con.execute('SET enable_progress_bar = false'); "
    "print(json.dumps(con.sql(sys.argv[1]).fetchall(), default=str))"
)


@dataclass
class Run:
    """One child process: its exit code, the resources it used, and its output."""

    rc: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    stdout: bytes
    stderr: bytes


# Linux copies the parent's *peak* RSS into a child's ru_maxrss at exec (fork and vfork alike), so a child
# spawned from this process (polars imported, maybe a fresh 1M-record generation behind it) would report at
# least our peak. A tiny stdlib-only launcher (~10 MiB) spawns the measured command and reaps it instead.
_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL)
_, status, ru = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": proc.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss}, fh)
"""


def measure(cmd: list[str]) -> Run:
    """Run cmd under the launcher, which times it and reaps it with wait4 (that child's own CPU and max RSS)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "rusage.json"
        launcher = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report), *cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        if not report.exists():  # the launcher itself failed, e.g. the command could not be started
            return Run(launcher.returncode or 1, 0.0, 0.0, 0.0, out.read(), err.read())
        r = json.loads(report.read_text())
        # ru_maxrss is KiB on Linux, bytes on macOS.
        rss_mib = r["maxrss"] / (1024 * 1024 if sys.platform == "darwin" else 1024)
        return Run(r["rc"], r["wall"], r["cpu"], rss_mib, out.read(), err.read())


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def baseline_sql(files: list[tuple[str, Path]]) -> str:
    """Read the file(s), join a tiny inline price table by model, and sum cost per model: no tiers or modes."""
    parts = []
    for fmt, path in files:
        source, columns, select = _SOURCES[fmt]
        parts.append(f"SELECT {select} FROM {source.format(path=_sql_str(str(path)), columns=columns)}")
    calls = "\nUNION ALL\n".join(parts)
    prices = ",\n    ".join(
        f"({_sql_str(m)}, {i}::DECIMAL(12,6), {c}::DECIMAL(12,6), {o}::DECIMAL(12,6))"
        for m, (i, c, o) in BASELINE_PRICES.items()
    )
    return f"""
WITH calls(model, uncached, cached, output) AS (
{calls}
),
prices(model, r_in, r_cached, r_out) AS (VALUES
    {prices}
)
SELECT c.model, count(*) AS calls, count(p.model) AS priced,
       sum(c.uncached * p.r_in + c.cached * p.r_cached + c.output * p.r_out) / 1000000 AS cost_usd
FROM calls c LEFT JOIN prices p ON c.model = p.model
GROUP BY c.model ORDER BY cost_usd DESC NULLS LAST
"""


def _key(
    files: list[tuple[str, Path]], n: int, seed: int, fmt: str, period: tuple[date, int] | None = None
) -> dict[str, object]:
    """What a cached input file depends on: its parameters (the period when not the generator's default
    month), the generator source and the polars version."""
    src = hashlib.sha256((HERE / "generate.py").read_bytes()).hexdigest()[:16]
    key: dict[str, object] = {
        "n": n,
        "seed": seed,
        "format": fmt,
        "files": [str(p) for _, p in files],
        "generator": src,
        "polars": pl.__version__,
    }
    if period is not None:
        key["period"] = [period[0].isoformat(), period[1]]
    return key


def next_day() -> tuple[date, int]:
    """The day after the generator's default month: what `--append-day` adds to a store of the month."""
    return (generate.START + timedelta(days=generate.DAYS), 1)


def ensure_input(
    out_dir: Path,
    n: int,
    seed: int,
    fmt: str,
    gz: bool,
    regenerate: bool,
    period: tuple[date, int] | None = None,
) -> list[tuple[str, Path]]:
    """Generate the input file(s) unless an identical set is already in out_dir (the sidecar is written last).
    `period`: (first day, days) instead of the generator's default month."""
    stem = f"{fmt}_n{n}_s{seed}" + (f"_{period[0].isoformat()}_d{period[1]}" if period else "")
    ext = {"openai": ".jsonl", "anthropic": ".jsonl", "csv": ".csv", "mixed": ""}[fmt] + (".gz" if gz else "")
    out = out_dir / (stem + ext)
    files = generate.mixed_paths(out) if fmt == "mixed" else [(fmt, out)]
    meta = out_dir / f"{stem}{'.gz' if gz else ''}.meta.json"
    key = _key(files, n, seed, fmt, period)
    if not regenerate and meta.exists() and all(p.exists() for _, p in files):
        try:
            if json.loads(meta.read_text()) == key:
                print(f"reusing {', '.join(str(p) for _, p in files)}")
                return files
        except json.JSONDecodeError:
            pass
    meta.unlink(missing_ok=True)
    t0 = time.perf_counter()
    files = generate.generate(fmt, n, seed, out, *(period or ()))
    print(f"generated {', '.join(str(p) for _, p in files)} in {time.perf_counter() - t0:.1f} s")
    meta.write_text(json.dumps(key))
    return files


def timed(
    label: str,
    cmd: list[str],
    repeat: int,
    n: int,
    size: int,
    before: Callable[[], None] | None = None,
    check: Callable[[Run], str | None] | None = None,
) -> Run:
    """Run cmd `repeat` times and keep the median-wall run; exit 1 with its stderr if any run fails, or
    with what `check` says is wrong with a run's output. `before` runs (untimed) before each run."""
    runs = []
    for k in range(repeat):
        if before is not None:
            before()
        run = measure(cmd)
        if run.rc != 0:
            tail = run.stderr.decode(errors="replace")[-3000:]
            print(f"{label} failed (exit {run.rc}) on run {k + 1}:\n{tail}", file=sys.stderr)
            sys.exit(1)
        wrong = check(run) if check is not None else None
        if wrong is not None:
            print(f"{label}: run {k + 1}: {wrong}", file=sys.stderr)
            sys.exit(1)
        runs.append(run)
    runs.sort(key=lambda r: r.wall_s)
    run = runs[(len(runs) - 1) // 2]
    if repeat > 1:
        walls = ", ".join(f"{r.wall_s:.2f}" for r in runs)
        print(
            f"{label}: {repeat} runs, wall s {walls} (median {statistics.median(r.wall_s for r in runs):.2f})"
        )
    print(
        f"{label}: wall {run.wall_s:.2f} s | cpu {run.cpu_s:.2f} s | {n / run.wall_s:,.0f} calls/s | "
        f"{size / 1e6 / run.wall_s:,.1f} MB/s | peak RSS {run.peak_rss_mib:,.0f} MiB"
    )
    return run


def report_check(n: int) -> Callable[[Run], str | None]:
    """What every `analyze --format json` run over the n generated calls must say: all of them read and
    priced or accounted for, none rejected or collapsed, and the same report as the first run (a run that
    differs from another is a bug, not noise: a race once read one block in another's place)."""
    first: list[dict] = []

    def check(run: Run) -> str | None:
        try:
            report = json.loads(run.stdout)
        except json.JSONDecodeError as exc:
            return f"stdout is not one JSON document ({exc})"
        coverage = report["coverage"]
        said = (coverage["rows_read"], coverage["calls"], coverage["rejected"], coverage["collapsed"])
        if said != (n, n, 0, 0) or not coverage["reconciles"]:
            return (
                f"{coverage['rows_read']:,} rows read, {coverage['calls']:,} calls, {coverage['rejected']:,} "
                f"rejected, {coverage['collapsed']:,} collapsed, for {n:,} generated calls"
            )
        if not first:
            first.append(report)
        elif report != first[0]:
            differ = sorted(
                key for key in report.keys() | first[0].keys() if report.get(key) != first[0].get(key)
            )
            return f"the report differs from the first run's ({', '.join(differ)})"
        return None

    return check


def _figures(run: Run, n: int, size: int, prefix: str = "") -> str:
    return (
        f"{prefix}wall_s={run.wall_s:.3f} {prefix}cpu_s={run.cpu_s:.3f} {prefix}calls_per_s={n / run.wall_s:.0f} "
        f"{prefix}mb_per_s={size / 1e6 / run.wall_s:.2f} {prefix}peak_rss_mib={run.peak_rss_mib:.1f}"
    )


def ensure_sample(source: Path, source_key: dict[str, object], n: int) -> Path:
    """Write the first n records of source to a plain JSONL beside it, once (reused while source is unchanged)."""
    stem = source.name.removesuffix(".gz").removesuffix(".jsonl")
    sample = source.parent / f"{stem}.head{n}.jsonl"
    meta = source.parent / f"{stem}.head{n}.meta.json"
    key = {"source": source_key, "n": n}
    if sample.exists() and meta.exists():
        try:
            if json.loads(meta.read_text()) == key:
                print(f"reusing {sample}")
                return sample
        except json.JSONDecodeError:
            pass
    meta.unlink(missing_ok=True)
    opener = gzip.open if source.suffix == ".gz" else open
    tmp = sample.with_suffix(".tmp")
    written = 0
    with opener(source, "rb") as src, tmp.open("wb") as dst:
        for line in itertools.islice(src, n):
            dst.write(line)
            written += 1
    if written != n:
        tmp.unlink()
        raise SystemExit(f"run_bench: {source} has {written} records, fewer than --peer-n {n}")
    tmp.replace(sample)
    meta.write_text(json.dumps(key))
    print(f"wrote {sample} ({sample.stat().st_size / 1e6:,.1f} MB, first {n:,} records)")
    return sample


@dataclass
class PeerRun:
    """One peer's pricing loop (timed inside its process) and the whole peer process around it."""

    name: str
    figures: dict[str, Any]
    process: Run


def run_peer(python: str, name: str, source: Path, n: int, repeat: int) -> PeerRun | None:
    """Run peers.py for one peer `repeat` times and keep the median loop-CPU run; None if it cannot import."""
    cmd = [python, str(HERE / "peers.py"), str(source), "--n", str(n), "--peer", name]
    runs = []
    for k in range(repeat):
        proc = measure(cmd)
        if proc.rc != 0:
            tail = proc.stderr.decode(errors="replace")[-3000:]
            print(f"peer {name} failed (exit {proc.rc}) on run {k + 1}:\n{tail}", file=sys.stderr)
            sys.exit(1)
        # The JSON is the last line: a library may print banners of its own before it.
        figures = json.loads(proc.stdout.decode().strip().splitlines()[-1])["peers"][name]
        if "error" in figures:
            print(f"peer {name}: skipped, {figures['error']}", file=sys.stderr)
            return None
        runs.append(PeerRun(name, figures, proc))
    runs.sort(key=lambda r: r.figures["cpu_s"])
    return runs[(len(runs) - 1) // 2]


def ensure_store(exe: str, files: list[tuple[str, Path]], key: dict[str, object]) -> Path:
    """A history store of the input, built once by `llmaudit analyze FILES --db` (not timed) and reused while
    the input is the same."""
    first = files[0][1]
    store = first.with_name(first.name.split(".")[0] + ".store.duckdb")
    sidecar = store.with_suffix(".meta.json")
    if store.exists() and sidecar.exists() and json.loads(sidecar.read_text()) == key:
        return store
    store.unlink(missing_ok=True)
    print(f"store: building {store.name} with llmaudit analyze --db (not timed)")
    run = measure([exe, "analyze", *(str(p) for _, p in files), "--db", str(store), "--format", "json"])
    if run.rc != 0:
        print(
            f"store: build failed (exit {run.rc}):\n{run.stderr.decode(errors='replace')[-3000:]}",
            file=sys.stderr,
        )
        sys.exit(1)
    sidecar.write_text(json.dumps(key))
    return store


def time_store(
    exe: str,
    files: list[tuple[str, Path]],
    key: dict[str, object],
    n: int,
    repeat: int,
    peer_rates: dict[str, float],
) -> str:
    """Time a re-analysis of the input's history store (no parsing); the `bench:` figures. `peer_rates`: the
    peers' calls per CPU-s (their loops exclude parsing too), to compare repricing with repricing."""
    store = ensure_store(exe, files, key)
    run = timed(
        "llmaudit re-analysis (store)",
        [exe, "analyze", "--db", str(store), "--format", "json"],
        repeat,
        n,
        store.stat().st_size,
    )
    said = json.loads(run.stdout).get("store_rollup") or {}
    if not said.get("used"):  # a per-call re-analysis is a different measurement: say so
        print(f"store: the rollup was not used ({said.get('why_not')}); delete {store} to rebuild it")
        sys.exit(1)
    out = f" store_wall_s={run.wall_s:.3f} store_cpu_s={run.cpu_s:.3f} store_peak_rss_mib={run.peak_rss_mib:.1f}"
    for name, rate in peer_rates.items():
        ratio = n / run.cpu_s / rate
        print(
            f"ratio llmaudit re-analysis/{name} (calls per CPU-s, neither parses; llmaudit's start-up, "
            f"summary and duplicates included): {ratio:.1f}x"
        )
        out += f" ratio_store_vs_{name}_cpu={ratio:.3f}"
    return out


def _stored_calls(store: Path) -> int:
    import duckdb  # the benchmark's environment has it (the baseline child uses it)

    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute("SELECT count(*) FROM calls").fetchone()[0]


def time_append(
    exe: str, files: list[tuple[str, Path]], key: dict[str, object], args: argparse.Namespace
) -> str:
    """Time adding the next day of calls (`--day-n` records, default N/30, its own seed and ids) to a fresh
    copy of the input's history store, `llmaudit analyze DAY --db COPY` (the day's report, the append and the
    rollup), against `llmaudit analyze DAY --no-store`; the difference is what the store costs, which should
    follow the day and not the history: compare one `--day-n` at two N. The `bench:` figures."""
    store = ensure_store(exe, files, key)
    day_n = args.day_n or max(1, round(args.n / generate.DAYS))
    day = ensure_input(args.out_dir, day_n, args.seed + 1, args.format, args.gz, args.regenerate, next_day())
    size = sum(p.stat().st_size for _, p in day)
    paths = [str(p) for _, p in day]
    alone = timed(
        "next day alone (--no-store)",
        [exe, "analyze", *paths, "--no-store", "--format", "json"],
        args.repeat,
        day_n,
        size,
    )
    copy = store.with_name(store.name.removesuffix(".duckdb") + ".append.duckdb")

    def fresh_copy() -> None:
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
        shutil.copyfile(store, copy)

    try:
        run = timed(
            f"next day into the {args.n:,}-call store",
            [exe, "analyze", *paths, "--db", str(copy), "--format", "json"],
            args.repeat,
            day_n,
            size,
            before=fresh_copy,
        )
        held = [_stored_calls(path) for path in (store, copy)]  # the last run's copy
    finally:
        copy.unlink(missing_ok=True)
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
    said = run.stderr.decode(errors="replace")
    # a day the store had already, or a store without the month, would not measure this append
    if f": {day_n:,} new calls" not in said or held[1] != held[0] + day_n:
        print(
            f"append: expected {held[0]:,} + {day_n:,} calls, found {held[1]:,}; llmaudit said:\n{said[-2000:]}",
            file=sys.stderr,
        )
        sys.exit(1)
    print(
        f"append: the store's part {run.wall_s - alone.wall_s:.2f} s wall ({day_n:,} calls into {args.n:,})"
    )
    return (
        f" day_n={day_n} day_wall_s={alone.wall_s:.3f} append_wall_s={run.wall_s:.3f} "
        f"append_cpu_s={run.cpu_s:.3f} append_peak_rss_mib={run.peak_rss_mib:.1f} "
        f"append_store_s={run.wall_s - alone.wall_s:.3f}"
    )


def _parquet_rows(directory: Path) -> int:
    import duckdb  # the benchmark's environment has it (the baseline child uses it)

    with duckdb.connect() as con:
        glob = str(directory / "**" / "*.parquet").replace("'", "''")
        return con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata('{glob}')").fetchone()[0] or 0


def time_export(exe: str, files: list[tuple[str, Path]], key: dict[str, object], n: int, repeat: int) -> str:
    """Time the path past one machine on the input's history store: `llmaudit export --parquet DIR --db STORE`
    (every call repriced, hive-partitioned by month) and `llmaudit analyze DIR` reading that export back;
    check that the export holds every call and that its analysis prices them as the store's re-analysis
    does. The `bench:` figures."""
    store = ensure_store(exe, files, key)
    export = store.with_name(store.name.removesuffix(".store.duckdb") + ".export")

    def empty() -> None:  # each export writes new files: start each run from nothing
        shutil.rmtree(export, ignore_errors=True)

    try:
        written = timed(
            "export --parquet (from the store)",
            [exe, "export", "--parquet", str(export), "--db", str(store)],
            repeat,
            n,
            store.stat().st_size,
            before=empty,
        )
        size = sum(p.stat().st_size for p in export.rglob("*.parquet"))
        rows = _parquet_rows(export)
        read = timed(
            "analyze of the export",
            [exe, "analyze", str(export), "--no-store", "--format", "json"],
            repeat,
            n,
            size,
        )
        stored = timed(
            "re-analysis (store)", [exe, "analyze", "--db", str(store), "--format", "json"], 1, n, size
        )
    finally:
        empty()
    said = written.stderr.decode(errors="replace")
    report, expected = json.loads(read.stdout), json.loads(stored.stdout)
    if f"wrote {n:,} calls" not in said or rows != n or report["totals"] != expected["totals"]:
        print(
            f"export: expected {n:,} calls priced as the store's, found {rows:,} rows; llmaudit said:\n"
            f"{said[-2000:]}",
            file=sys.stderr,
        )
        sys.exit(1)
    print(f"export: {n:,} calls, {size / 1e6:,.1f} MB of Parquet")
    return (
        f" export_wall_s={written.wall_s:.3f} export_cpu_s={written.cpu_s:.3f} "
        f"export_peak_rss_mib={written.peak_rss_mib:.1f} export_mb={size / 1e6:.1f} "
        f"export_analyze_wall_s={read.wall_s:.3f} export_analyze_cpu_s={read.cpu_s:.3f} "
        f"export_analyze_peak_rss_mib={read.peak_rss_mib:.1f}"
    )


# llmaudit's library on records parsed beforehand, as the peers' loops get theirs: `price()` (every price
# column: tier, mode, provenance, notes) and `price_columns(..., ["cost_usd"])` (the cost alone, as the peers
# compute it), best CPU of `repeat` runs each, in a child so its imports and parsing are not timed
_LIBRARY_TIMING = """
import json, sys, time
from llmaudit import load_catalog, price
from llmaudit.ingest import read_logs
from llmaudit.pricing import price_columns
path, repeat = sys.argv[1], int(sys.argv[2])
catalog = load_catalog()
calls = read_logs(path).calls
def best(run):
    run()  # warm: the catalog's tables, DuckDB's first query
    cpu = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        cpu.append(time.process_time() - start)
    return min(cpu)
full = best(lambda: price(calls, catalog))
cost = best(lambda: price_columns(calls, catalog, ["cost_usd"]))
total = price_columns(calls, catalog, ["cost_usd"])["cost_usd"].sum()
print(json.dumps({"calls": calls.height, "price_cpu_s": full, "cost_cpu_s": cost, "cost_usd": float(total)}))
"""


def time_library(sample: Path, repeat: int, peer_rates: dict[str, float]) -> str:
    """Time llmaudit's pricing functions on the sample's parsed calls (parsing untimed, as for the peers);
    the `bench:` figures, with the ratios to each peer loop's calls per CPU-s."""
    run = subprocess.run(
        [sys.executable, "-c", _LIBRARY_TIMING, str(sample), str(max(repeat, 3))],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        print(f"llmaudit library timing failed:\n{run.stderr}")
        sys.exit(1)
    got = json.loads(run.stdout)
    n = got["calls"]
    print(
        f"llmaudit library, records parsed beforehand: price() {got['price_cpu_s']:.3f} CPU-s "
        f"({n / got['price_cpu_s']:,.0f} calls per CPU-s), cost alone {got['cost_cpu_s']:.3f} CPU-s "
        f"({n / got['cost_cpu_s']:,.0f} calls per CPU-s), ${got['cost_usd']:,.2f}"
    )
    out = f" library_price_cpu_s={got['price_cpu_s']:.3f} library_cost_cpu_s={got['cost_cpu_s']:.3f}"
    for name, rate in peer_rates.items():
        full, cost = n / got["price_cpu_s"] / rate, n / got["cost_cpu_s"] / rate
        print(
            f"ratio llmaudit library/{name} (calls per CPU-s, neither parses): price() {full:.1f}x, cost alone {cost:.1f}x"
        )
        out += f" ratio_price_vs_{name}_cpu={full:.3f} ratio_cost_vs_{name}_cpu={cost:.3f}"
    return out


def compare_peers(
    exe: str,
    python: str,
    source: Path,
    source_key: dict[str, object],
    n: int,
    repeat: int,
) -> tuple[str, dict[str, float]]:
    """Time llmaudit on the first n records and each peer's loop on the same records: the `bench:` figures,
    and each peer loop's calls per CPU-s.

    Ratios are throughputs, llmaudit / peer: >1 means llmaudit prices more calls per CPU-second. llmaudit's CPU
    includes start-up, parsing and the report; the peers' loops exclude all of that, which favours the peers.
    """
    sample = ensure_sample(source, source_key, n)
    print(
        f"peers: {n:,} records; llmaudit is timed as a whole process (start-up, parsing, pricing, report), the "
        "peers' loops exclude start-up and parsing (this favours the peers)"
    )
    cmd = [exe, "analyze", str(sample), "--format", "json", "--no-store"]
    tool = timed("llmaudit (peer sample)", cmd, repeat, n, sample.stat().st_size)
    report = json.loads(tool.stdout)
    calls, cost = report["coverage"]["calls"], float(report["totals"]["cost_usd"])
    print(f"llmaudit (peer sample): {calls:,} calls, {n / tool.cpu_s:,.0f} calls per CPU-s, ${cost:,.2f}")
    out = (
        f"peer_n={n} sample_wall_s={tool.wall_s:.3f} sample_cpu_s={tool.cpu_s:.3f} "
        f"sample_calls_per_s={n / tool.wall_s:.0f} sample_calls_per_cpu_s={n / tool.cpu_s:.0f}"
    )
    rates: dict[str, float] = {}
    for name in ("genai_prices", "litellm"):
        peer = run_peer(python, name, source, n, repeat)
        if peer is None:
            continue
        f = peer.figures
        rates[name] = n / f["cpu_s"]
        ratio_cpu, ratio_wall = f["cpu_s"] / tool.cpu_s, f["wall_s"] / tool.wall_s
        print(
            f"{name} {f['version']}: loop cpu {f['cpu_s']:.2f} s | wall {f['wall_s']:.2f} s | "
            f"{n / f['wall_s']:,.0f} calls/s | {n / f['cpu_s']:,.0f} calls per CPU-s | "
            f"{f['priced']:,} priced, ${f['total_cost_usd']:,.2f} | whole process cpu {peer.process.cpu_s:.2f} s"
        )
        if f["errors"]:
            print(f"{name}: failed calls: {json.dumps(f['errors'])}")
        print(f"ratio llmaudit/{name} (calls per CPU-s): {ratio_cpu:.2f}x | wall {ratio_wall:.2f}x")
        out += (
            f" {name}_cpu_s={f['cpu_s']:.3f} {name}_wall_s={f['wall_s']:.3f}"
            f" {name}_calls_per_s={n / f['wall_s']:.0f} {name}_calls_per_cpu_s={n / f['cpu_s']:.0f}"
            f" {name}_process_cpu_s={peer.process.cpu_s:.3f}"
            f" ratio_vs_{name}_cpu={ratio_cpu:.3f} ratio_vs_{name}_wall={ratio_wall:.3f}"
        )
    if rates:
        out += time_library(sample, repeat, rates)
    return out, rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="number of calls (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=generate.FORMATS, default="openai")
    ap.add_argument("--gz", action="store_true", help="benchmark gzip-compressed input")
    ap.add_argument("--llmaudit", help="path to the llmaudit executable (default: llmaudit on PATH)")
    ap.add_argument("--baseline", action="store_true", help="also time a bare DuckDB read+join+group-by")
    ap.add_argument("--baseline-only", action="store_true", help="time only the DuckDB baseline")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the median-wall run is reported")
    ap.add_argument(
        "--out-dir", type=Path, default=HERE / "out", help="where inputs are generated and reused"
    )
    ap.add_argument(
        "--regenerate", action="store_true", help="generate the input even if a cached copy exists"
    )
    ap.add_argument(
        "--peers",
        metavar="PYTHON",
        help="python of an environment with genai-prices and litellm: also time their per-call loops",
    )
    ap.add_argument(
        "--peer-n", type=int, default=100_000, help="records for the peer comparison (default 100,000)"
    )
    ap.add_argument(
        "--store",
        action="store_true",
        help="also time a re-analysis from a history store of the input (built once, untimed, and reused)",
    )
    ap.add_argument(
        "--append-day",
        action="store_true",
        help="also time adding the next day (N/30 calls) to a copy of that store, against the day alone",
    )
    ap.add_argument(
        "--export",
        action="store_true",
        help="also time `export --parquet` of that store and `analyze` of the export (the path past one machine)",
    )
    ap.add_argument(
        "--day-n", type=int, help="calls in the day --append-day adds (default N/30: a day of the month)"
    )
    args = ap.parse_args(argv)
    if args.n < 1 or args.repeat < 1 or (args.day_n is not None and args.day_n < 1):
        ap.error("--n, --repeat and --day-n must be at least 1")
    if args.peers:
        if args.baseline_only or args.format != "openai":
            ap.error("--peers needs llmaudit (not --baseline-only) and --format openai")
        if not 1 <= args.peer_n <= args.n:
            ap.error("--peer-n must be between 1 and --n")
        if not (Path(args.peers).is_file() and os.access(args.peers, os.X_OK)):
            print(f"run_bench: no python executable at {args.peers} (--peers)", file=sys.stderr)
            return 2

    exe = None
    if not args.baseline_only:
        exe = args.llmaudit or shutil.which("llmaudit")
        if not exe or not (Path(exe).is_file() and os.access(exe, os.X_OK)):
            where = f"at {args.llmaudit}" if args.llmaudit else "on PATH"
            print(
                f"run_bench: no llmaudit executable {where}. Install the package (pip install -e .) or pass "
                "--llmaudit PATH; --baseline-only times the DuckDB baseline alone.",
                file=sys.stderr,
            )
            return 2

    files = ensure_input(args.out_dir, args.n, args.seed, args.format, args.gz, args.regenerate)
    size = sum(p.stat().st_size for _, p in files)
    print(f"input: {args.n:,} calls, {size / 1e6:,.1f} MB, format={args.format}, {os.cpu_count()} CPUs")
    head = f"bench: n={args.n} format={args.format}{' gz=1' if args.gz else ''}"

    tool = None
    if exe:
        cmd = [exe, "analyze", *(str(p) for _, p in files), "--format", "json", "--no-store"]
        tool = timed("llmaudit", cmd, args.repeat, args.n, size, check=report_check(args.n))

    base = None
    if args.baseline or args.baseline_only:
        cmd = [sys.executable, "-c", _BASELINE_CHILD, baseline_sql(files)]
        base = timed("baseline (duckdb)", cmd, args.repeat, args.n, size)
        rows = json.loads(base.stdout)
        total = sum(float(r[3]) for r in rows if r[3] is not None)
        unpriced = sum(r[1] - r[2] for r in rows)
        calls = sum(r[1] for r in rows)
        print(
            f"baseline: {calls:,} calls, {len(rows)} models, ~${total:,.2f} (list prices), {unpriced} unpriced"
        )
        if calls != args.n:
            print(f"baseline: read {calls} calls, expected {args.n}", file=sys.stderr)
            return 1

    peers = ""
    peer_rates: dict[str, float] = {}
    key = _key(files, args.n, args.seed, args.format)
    if exe and args.peers:
        figures, peer_rates = compare_peers(exe, args.peers, files[0][1], key, args.peer_n, args.repeat)
        peers = " " + figures
    if exe and args.store:
        peers += time_store(exe, files, key, args.n, args.repeat, peer_rates)
    if exe and args.append_day:
        peers += time_append(exe, files, key, args)
    if exe and args.export:
        peers += time_export(exe, files, key, args.n, args.repeat)

    if tool and base:
        print(
            f"ratio llmaudit/baseline: wall {tool.wall_s / base.wall_s:.2f}x | cpu {tool.cpu_s / base.cpu_s:.2f}x | "
            f"peak RSS {tool.peak_rss_mib / base.peak_rss_mib:.2f}x"
        )
        ratios = (
            f"ratio_wall={tool.wall_s / base.wall_s:.3f} ratio_cpu={tool.cpu_s / base.cpu_s:.3f} "
            f"ratio_rss={tool.peak_rss_mib / base.peak_rss_mib:.3f}"
        )
        print(
            f"{head} {_figures(tool, args.n, size)} {_figures(base, args.n, size, 'baseline_')} {ratios}{peers}"
        )
    elif tool:
        print(f"{head} {_figures(tool, args.n, size)}{peers}")
    elif base:
        print(f"{head} tool=baseline {_figures(base, args.n, size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
