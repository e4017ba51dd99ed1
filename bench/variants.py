"""Variants of a benchmark file shaped like the logs that stress llmaudit's memory, and their timings.

The benchmark file (`generate.py`) has ~500 users, 8 models and clean lines. These variants change one
thing each, line by line as text (polars, no Python loop per record), and `--time` runs `llmaudit analyze`
on them (wall, CPU and peak RSS of the child, as `run_bench.py` measures them):

- `users`: every call its own user (`"user":"u-<row>"`): attribution lists of a million rows, and with
  `--by user --format csv` a breakdown of as many;
- `models`: fine-tuned ids `ft:<model>:acme:x<row % 100000>` (554,191 distinct ids in the 1M-call file), all
  unknown to the catalog: the model lists, the coverage's unknown ids, resolving every id;
- `rejects`: the first 300 lines kept, every other line broken (`x{...`): the JSON lists every rejected line;
- `dirty`: every 10,000th line cut short in the middle (a half-written line, as a crash leaves one): a few
  bad lines in every block of an otherwise clean file;
- `blanks`: a blank line after every 10,000th line (as concatenated or hand-edited logs have them);
- `repeated`: the file twice, the copy a month later with new ids: every request sent twice (2N calls, the
  exact duplicates' worst case);
- `files`: the same lines in a folder of files of 100 lines (10,000 files for 1M calls), as hourly or
  per-process logs come: small files, sniffed one by one and joined into blocks.

    python bench/variants.py --source bench/out/openai_n1000000_s0.jsonl --kinds users,models --time
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_bench  # noqa: E402  (sibling script, not a package)

KINDS = ("users", "models", "rejects", "dirty", "blanks", "repeated", "files")
_ROW = "@ROW@"  # stands for the row number in a replacement, then replaced by it
_MONTH_S = 30 * 86_400
_EVERY = 10_000  # one line in this many is cut short (`dirty`), or followed by a blank one (`blanks`)
_FILE_LINES = 100  # lines per file of `files`
# the reports each variant is timed with (beyond the default JSON analyze)
_RUNS = {
    "users": [["--format", "json"], ["--by", "user", "--format", "csv"]],
    "models": [["--format", "json"]],
    "rejects": [["--format", "json"]],
    "dirty": [["--format", "json"]],
    "blanks": [["--format", "json"]],
    "repeated": [["--format", "json"]],
    "files": [["--format", "json"]],
}


def _lines(source: Path) -> pl.LazyFrame:
    """The file's lines as one text column `line`, with their number `row` (JSON text never holds a raw
    0x1f, the separator, so every line is one cell)."""
    return pl.scan_csv(
        source,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        new_columns=["line"],
        schema_overrides=[pl.String],
    ).with_row_index("row")


def _numbered(line: pl.Expr, pattern: str, replacement: str, number: pl.Expr) -> pl.Expr:
    """`line` with the first match of `pattern` replaced (`${1}` groups allowed), `_ROW` in it by `number`."""
    return line.str.replace(pattern, replacement).str.replace(_ROW, number.cast(pl.String), literal=True)


def variant(kind: str, source: Path) -> pl.LazyFrame:
    """The lines of variant `kind` of `source`."""
    lines, line, row = _lines(source), pl.col("line"), pl.col("row")
    if kind == "users":
        return lines.select(_numbered(line, r'"user":"[^"]*"', f'"user":"u-{_ROW}"', row))
    if kind == "models":
        return lines.select(
            _numbered(line, r'"model":"([^"]*)"', f'"model":"ft:${{1}}:acme:x{_ROW}"', row % 100_000)
        )
    if kind == "rejects":
        return lines.select(pl.when(row < 300).then(line).otherwise(pl.lit("x") + line).alias("line"))
    if kind == "dirty":
        cut = line.str.slice(0, line.str.len_bytes() // 2)
        return lines.select(pl.when(row % _EVERY == _EVERY - 1).then(cut).otherwise(line).alias("line"))
    if kind == "blanks":
        every = row % _EVERY == _EVERY - 1
        return lines.select(pl.when(every).then(line + "\n").otherwise(line).alias("line"))
    if kind == "repeated":
        created = line.str.extract(r'"created":(\d+)', 1).cast(pl.Int64) + _MONTH_S
        later = _numbered(
            line.str.replace('"id":"', '"id":"b-', literal=True),
            r'"created":\d+',
            f'"created":{_ROW}',
            created,
        )
        return pl.concat([lines.select(line), lines.select(later.alias("line"))])
    if kind == "files":  # the lines as they are (`write_variant` cuts them into files)
        return lines.select(line)
    raise ValueError(f"unknown variant {kind!r} (known: {', '.join(KINDS)})")


def write_variant(kind: str, source: Path, out: Path) -> Path:
    """Write variant `kind` of `source` in `out` (reused when newer than the source): a file, or for
    `files` a folder of them."""
    target = out / f"{source.stem}.{kind}" if kind == "files" else out / f"{source.stem}.{kind}.jsonl"
    if target.exists() and target.stat().st_mtime > source.stat().st_mtime:
        return target
    out.mkdir(parents=True, exist_ok=True)
    if kind != "files":
        variant(kind, source).sink_csv(target, include_header=False, quote_style="never")
        return target
    # a loop per file, not per line, over the lines held at once (~0.7 GB for 1M calls): polars' partitioned
    # sinks would stream them, but are marked unstable and absent from older polars
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    lines = variant(kind, source).select("line").collect()
    for part, frame in enumerate(lines.iter_slices(_FILE_LINES)):
        frame.write_csv(target / f"part-{part:06d}.jsonl", include_header=False, quote_style="never")
    return target


def _files(path: Path) -> list[Path]:
    return sorted(path.iterdir()) if path.is_dir() else [path]


def _line_count(file: Path) -> int:
    """Lines of a variant file, streamed (a variant can be larger than memory), the file closed after."""
    with file.open("rb") as lines:
        return sum(1 for _ in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="a benchmark file of OpenAI chat objects")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of: {', '.join(KINDS)}")
    ap.add_argument(
        "--out", type=Path, default=HERE / "out", help="where the variants go (default bench/out)"
    )
    ap.add_argument("--time", action="store_true", help="time `llmaudit analyze --no-store` on each variant")
    ap.add_argument("--repeat", type=int, default=1, help="runs per timing; the median-wall run is reported")
    ap.add_argument("--llmaudit", default="llmaudit", help="the llmaudit executable (default: on PATH)")
    args = ap.parse_args(argv)
    figures = []
    for kind in args.kinds.split(","):
        path = write_variant(kind, args.source, args.out)
        lines = sum(_line_count(file) for file in _files(path))
        size = sum(file.stat().st_size for file in _files(path))
        print(f"{kind}: {path} ({lines:,} lines, {size / 1e6:,.1f} MB)")
        if not args.time:
            continue
        for options in _RUNS[kind]:
            label = f"{kind} {' '.join(options)}"
            cmd = [args.llmaudit, "analyze", str(path), "--no-store", *options]
            run = run_bench.timed(label, cmd, args.repeat, lines, size)
            name = "_".join(o.lstrip("-") for o in options)
            figures.append(
                f"{kind}_{name}_wall_s={run.wall_s:.2f} {kind}_{name}_rss_mib={run.peak_rss_mib:.0f}"
            )
    if figures:
        print("variants: " + " ".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
