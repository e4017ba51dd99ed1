"""Seeded generator of synthetic LLM API call logs, for benchmarking `llmaudit analyze` at scale.

Every column is built vectorized with polars (no Python loop per record) so that a million records take
seconds, not minutes. Randomness comes from seeded hashes of the row index (`Expr.hash(seed)`), so a given
(`--n`, `--seed`, `--format`) gives the same file on the same polars version; polars does not promise hash
stability across versions, so files may differ after a polars upgrade (the benchmark only needs the mix).

Formats:
  openai     one OpenAI chat.completion object per line (+ a `metadata` envelope for attribution)
  anthropic  one Anthropic Messages object per line (+ `created_at` and `metadata` envelope fields)
  csv        generic CSV: timestamp,model,input_tokens,cached_tokens,output_tokens,user,feature
  mixed      three files from one `--out` stem: <stem>.openai.jsonl, <stem>.anthropic.jsonl, <stem>.csv
             (N split 50/30/20, `.gz` kept when `--out` ends in .gz)

The mix: ~25% of records repeat an earlier request (same model, request messages, token counts and metadata,
new id, later timestamp); JSON records carry the request (`request.messages`, as gateways log it); ~3% of calls have more than 200,000 input tokens (long-context tier, only on models with
a context window that large); ~40% read from the prompt cache; timestamps spread over 30 days of March 2026
(`--start DATE --days D` for another period: `--n 33333 --seed 1 --start 2026-03-31 --days 1` is a next day of
a 1M-call month, with its own ids, to append to a history store); ~1% of calls in a non-standard service tier
(OpenAI flex/priority, Anthropic batch/priority).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

START = date(2026, 3, 1)  # the first day of the calls (UTC) ...
DAYS = 30  # ... and how many days they spread over
REPEAT_SHARE = 0.25
LONG_SHARE = 0.03
CACHE_READ_SHARE = 0.40
CACHE_WRITE_SHARE = 0.15  # Anthropic only: share of calls that write to the cache
ODD_TIER_SHARE = 0.01
N_USERS = 250
FEATURES = {"chat": 0.35, "search": 0.20, "summarize": 0.15, "extract": 0.12, "classify": 0.10, "agent": 0.08}
# request bodies: a system prompt per feature and a user turn of 60-300 characters
LOREM = (
    "Please look at the account history below and tell me what changed since last week, which charges "
    "look unusual, and what I should ask the support team. Keep the answer short, list the three most "
    "important points first, and quote the exact amounts and dates you rely on. If something is missing, say so."
)
FORMATS = ("openai", "anthropic", "csv", "mixed")
MIXED_SPLIT = (("openai", 0.5), ("anthropic", 0.3), ("csv", 0.2))


@dataclass(frozen=True)
class Mix:
    """Which models a provider's log contains, and which of them can take >200k input or reason."""

    models: dict[str, float]
    long_context: tuple[str, ...]
    reasoning: tuple[str, ...]
    flex: tuple[str, ...] = ()


OPENAI = Mix(
    models={
        "gpt-4o-mini-2024-07-18": 0.28,
        "gpt-4.1-mini-2025-04-14": 0.12,
        "gpt-4o-2024-08-06": 0.10,
        "gpt-4.1-2025-04-14": 0.12,
        "gpt-5-2025-08-07": 0.12,
        "gpt-5-mini-2025-08-07": 0.12,
        "o3-2025-04-16": 0.07,
        "o4-mini-2025-04-16": 0.07,
    },
    long_context=("gpt-4.1-2025-04-14", "gpt-5-2025-08-07"),
    reasoning=("gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "o3-2025-04-16", "o4-mini-2025-04-16"),
    flex=("gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "o3-2025-04-16", "o4-mini-2025-04-16"),
)
ANTHROPIC = Mix(
    models={
        "claude-sonnet-4-5-20250929": 0.40,
        "claude-haiku-4-5-20251001": 0.28,
        "claude-sonnet-4-20250514": 0.12,
        "claude-opus-4-1-20250805": 0.08,
        "claude-3-5-haiku-20241022": 0.12,
    },
    long_context=("claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514"),
    reasoning=(),
)
# A gateway export: both providers' models in one generic CSV.
GENERIC = Mix(
    models={
        **{k: v * 0.6 for k, v in OPENAI.models.items()},
        **{k: v * 0.4 for k, v in ANTHROPIC.models.items()},
    },
    long_context=OPENAI.long_context + ANTHROPIC.long_context,
    reasoning=OPENAI.reasoning,
)
MIXES = {"openai": OPENAI, "anthropic": ANTHROPIC, "csv": GENERIC}


def _stream_seed(seed: int, stream: int) -> int:
    """A distinct 64-bit hash seed per (seed, stream) so the random columns are independent."""
    return (seed * 0x9E3779B97F4A7C15 + (stream + 1) * 0xBF58476D1CE4E5B9) % 2**64


def _uniform(seed: int, stream: int) -> pl.Expr:
    """Uniform floats in (0, 1): 53 bits of a seeded hash of the row index."""
    h = pl.col("i").hash(seed=_stream_seed(seed, stream))
    return ((h // 2048).cast(pl.Float64) + 0.5) * 2.0**-53


def _normal(seed: int, stream: int) -> pl.Expr:
    """Standard normal via Box-Muller on two uniform streams."""
    u1, u2 = _uniform(seed, stream), _uniform(seed, stream + 1000)
    return (-2.0 * u1.log()).sqrt() * (2.0 * math.pi * u2).cos()


def _lognormal_int(seed: int, stream: int, median: float, sigma: float, lo: int, hi: int) -> pl.Expr:
    """Heavy-tailed token counts, as real prompt and completion sizes are."""
    x = (math.log(median) + sigma * _normal(seed, stream)).exp()
    return x.round(0).clip(lo, hi).cast(pl.Int64)


def _choose(u: pl.Expr, weights: dict[str, float]) -> pl.Expr:
    """Weighted categorical choice from a uniform column (a short when/then chain on cumulative weights)."""
    total = sum(weights.values())
    names = list(weights)
    expr: pl.Expr | pl.When | pl.Then | None = None
    acc = 0.0
    for name in names[:-1]:
        acc += weights[name] / total
        expr = pl.when(u < acc).then(pl.lit(name)) if expr is None else expr.when(u < acc).then(pl.lit(name))
    last = pl.lit(names[-1])
    return last if expr is None else expr.otherwise(last)  # type: ignore[union-attr]


def _epoch(day: date) -> int:
    """Unix seconds at the start of a UTC day."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _core(n: int, seed: int, mix: Mix, provider: str, start: date, days: int) -> pl.DataFrame:
    """Provider-neutral columns: time (within `days` from `start`), model, token counts and attribution,
    with repeats folded in."""
    s = seed
    df = pl.DataFrame({"i": pl.int_range(0, n, dtype=pl.UInt64, eager=True)})
    long_u = _uniform(s, 1)
    is_long = long_u < LONG_SHARE
    reasoning = pl.lit(list(mix.reasoning), dtype=pl.List(pl.String))
    long_models = {m: mix.models[m] for m in mix.long_context}
    df = df.with_columns(
        ts=(pl.lit(_epoch(start)) + (_uniform(s, 2) * (days * 86_400)).floor().cast(pl.Int64)).sort(),
        model=pl.when(is_long)
        .then(_choose(_uniform(s, 3), long_models))
        .otherwise(_choose(_uniform(s, 4), mix.models)),
        prompt=pl.when(is_long)
        .then(200_001 + (_uniform(s, 5).pow(2) * 60_000).floor().cast(pl.Int64))
        .otherwise(_lognormal_int(s, 6, 1800, 1.1, 20, 120_000)),
        visible_out=_lognormal_int(s, 7, 250, 1.0, 1, 8_000),
        think=_lognormal_int(s, 8, 600, 1.0, 0, 30_000),
        cache_read_frac=pl.when(_uniform(s, 9) < CACHE_READ_SHARE)
        .then(0.2 + 0.75 * _uniform(s, 10))
        .otherwise(0.0),
        cache_write_frac=pl.when(_uniform(s, 11) < CACHE_WRITE_SHARE)
        .then(0.3 + 0.6 * _uniform(s, 12))
        .otherwise(0.0),
        ttl_u=_uniform(s, 13),
        user=pl.format("u-{}", (_uniform(s, 14).pow(2.5) * N_USERS).floor().cast(pl.Int64) + 1),
        feature=_choose(_uniform(s, 15), FEATURES),
        tier_u=_uniform(s, 16),
        rep_u=_uniform(s, 17),
        src_u=_uniform(s, 18),
        hash_tag=pl.col("i").hash(seed=_stream_seed(s, 19)).cast(pl.String).str.zfill(20).str.slice(-8),
        # the request's own words: a ticket number and a variable-length body, copied by repeats
        ticket=pl.col("i").hash(seed=_stream_seed(s, 20)).cast(pl.String).str.slice(0, 10),
        body_len=(60 + _uniform(s, 21) * (len(LOREM) - 60)).floor().cast(pl.Int64),
    )
    df = df.with_columns(
        reasoning_tokens=pl.when(pl.col("model").is_in(reasoning)).then(pl.col("think")).otherwise(0),
        cache_read=(pl.col("prompt") * pl.col("cache_read_frac")).floor().cast(pl.Int64),
    ).with_columns(
        output=pl.col("visible_out") + pl.col("reasoning_tokens"),
        cache_write=((pl.col("prompt") - pl.col("cache_read")) * pl.col("cache_write_frac"))
        .floor()
        .cast(pl.Int64),
    )
    # Repeats: a repeat row copies the content of a uniformly chosen *original* row before it, so a repeat
    # is never a copy of another repeat and every repeated pair really is identical.
    is_orig = (pl.col("rep_u") >= REPEAT_SHARE) | (pl.col("i") == 0)
    n_orig_before = is_orig.cast(pl.Int64).cum_sum()
    pick = (pl.col("src_u") * n_orig_before).floor().cast(pl.Int64).clip(0, None)
    df = df.with_columns(
        src=pl.when(~is_orig & (n_orig_before > 0))
        .then(pl.col("i").filter(is_orig).gather(pick))
        .otherwise(pl.col("i"))
    )
    content = [
        "model",
        "prompt",
        "output",
        "reasoning_tokens",
        "cache_read",
        "cache_write",
        "ttl_u",
        "user",
        "feature",
        "ticket",
        "body_len",
    ]
    df = df.with_columns(pl.col(content).gather(pl.col("src")), src_ts=pl.col("ts").gather(pl.col("src")))
    # A repeat landing in the same second as its original is pushed one second later.
    df = df.with_columns(
        ts=pl.when((pl.col("src") != pl.col("i")) & (pl.col("ts") <= pl.col("src_ts")))
        .then(pl.col("src_ts") + 1)
        .otherwise(pl.col("ts"))
    )
    tag = f"{seed % 0xFFFF:04x}{provider[0]}"
    return df.with_columns(
        uid=pl.format(f"{tag}{{}}{{}}", "hash_tag", pl.col("i").cast(pl.String).str.zfill(9))
    )


def _system_text() -> pl.Expr:
    return pl.format("You are the {} assistant of Example Corp. Answer in English.", "feature")


def _user_text() -> pl.Expr:
    return pl.format("Ticket {}: {}", "ticket", pl.lit(LOREM).str.slice(0, pl.col("body_len")))


def _openai_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Core rows -> OpenAI chat.completion objects (row by row: any slice of the core renders the same
    rows)."""
    flex = pl.lit(list(OPENAI.flex), dtype=pl.List(pl.String))
    odd = pl.col("tier_u") < ODD_TIER_SHARE
    tier = (
        pl.when(odd & (pl.col("tier_u") < ODD_TIER_SHARE / 2) & pl.col("model").is_in(flex))
        .then(pl.lit("flex"))
        .when(odd)
        .then(pl.lit("priority"))
        .otherwise(pl.lit("default"))
    )
    return df.select(
        id=pl.format("chatcmpl-{}", "uid"),
        object=pl.lit("chat.completion"),
        created=pl.col("ts"),
        model="model",
        service_tier=tier,
        usage=pl.struct(
            prompt_tokens="prompt",
            completion_tokens="output",
            total_tokens=pl.col("prompt") + pl.col("output"),
            prompt_tokens_details=pl.struct(cached_tokens="cache_read"),
            completion_tokens_details=pl.struct(reasoning_tokens="reasoning_tokens"),
        ),
        metadata=pl.struct(user="user", feature="feature"),
        request=pl.struct(
            messages=pl.concat_list(
                pl.struct(role=pl.lit("system"), content=_system_text()),
                pl.struct(role=pl.lit("user"), content=_user_text()),
            )
        ),
    )


def _anthropic_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Core rows -> Anthropic Messages objects; `input_tokens` excludes cache reads and writes, as the API
    reports it."""
    cw, u = pl.col("cache_write"), pl.col("ttl_u")
    # Cache writes: 70% all 5-minute TTL, 20% all 1-hour, 10% split between the two.
    five_m = pl.when(u < 0.7).then(cw).when(u < 0.9).then(0).otherwise(cw // 2)
    odd = pl.col("tier_u") < ODD_TIER_SHARE
    tier = (
        pl.when(odd & (pl.col("tier_u") < ODD_TIER_SHARE * 0.6))
        .then(pl.lit("batch"))
        .when(odd)
        .then(pl.lit("priority"))
        .otherwise(pl.lit("standard"))
    )
    return df.with_columns(five_m=five_m).select(
        id=pl.format("msg_01{}", "uid"),
        type=pl.lit("message"),
        role=pl.lit("assistant"),
        model="model",
        stop_reason=pl.lit("end_turn"),
        usage=pl.struct(
            input_tokens=pl.col("prompt") - pl.col("cache_read") - pl.col("cache_write"),
            cache_read_input_tokens="cache_read",
            cache_creation_input_tokens="cache_write",
            cache_creation=pl.struct(
                ephemeral_5m_input_tokens="five_m",
                ephemeral_1h_input_tokens=pl.col("cache_write") - pl.col("five_m"),
            ),
            output_tokens="output",
            service_tier=tier,
        ),
        created_at=_iso(pl.col("ts")),
        metadata=pl.struct(user_id="user", feature="feature"),
        request=pl.struct(
            system=_system_text(),
            messages=pl.concat_list(pl.struct(role=pl.lit("user"), content=_user_text())),
        ),
    )


def _csv_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Core rows -> generic gateway CSV rows; input_tokens includes cached_tokens."""
    return df.select(
        timestamp=_iso(pl.col("ts")),
        model="model",
        input_tokens="prompt",
        cached_tokens="cache_read",
        output_tokens="output",
        user="user",
        feature="feature",
    )


def _iso(unix_s: pl.Expr) -> pl.Expr:
    """ISO 8601 UTC text with a Z, e.g. 2026-03-04T12:00:01Z."""
    return pl.from_epoch(unix_s, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# format -> (model mix, provider tag, core rows -> output rows)
RENDER = {
    "openai": (OPENAI, "openai", _openai_rows),
    "anthropic": (ANTHROPIC, "anthropic", _anthropic_rows),
    "csv": (GENERIC, "csv", _csv_rows),
}
# rows rendered to text at a time: the numeric core of 10M calls fits in memory, their text (7 GB) does not
WRITE_SLICE = 500_000


def write(fmt: str, n: int, seed: int, out: Path, start: date = START, days: int = DAYS) -> None:
    """Write one single-format file of calls timed within `days` from `start`; gzip when the name ends in
    .gz. The core columns are built for all rows at once (repeats copy earlier rows, timestamps are sorted),
    the text slice by slice."""
    mix, provider, render = RENDER[fmt]
    core = _core(n, seed, mix, provider, start, days)
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out.name.endswith(".gz") else open
    with opener(out, "wb") as fh:  # type: ignore[operator]
        for start in range(0, max(n, 1), WRITE_SLICE):
            rows = render(core.slice(start, WRITE_SLICE))
            if fmt == "csv":
                rows.write_csv(fh, include_header=start == 0)
            else:
                rows.write_ndjson(fh)


def mixed_paths(out: Path) -> list[tuple[str, Path]]:
    """The three files `--format mixed` writes for one `--out` stem."""
    name = out.name
    gz = name.endswith(".gz")
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".csv"):
        name = name.removesuffix(suffix)
    ext = {"openai": ".openai.jsonl", "anthropic": ".anthropic.jsonl", "csv": ".csv"}
    return [(fmt, out.with_name(name + ext[fmt] + (".gz" if gz else ""))) for fmt, _ in MIXED_SPLIT]


def generate(
    fmt: str, n: int, seed: int, out: Path, start: date = START, days: int = DAYS
) -> list[tuple[str, Path]]:
    """Write the file(s) for one format and return (format, path) for each."""
    if fmt != "mixed":
        write(fmt, n, seed, out, start, days)
        return [(fmt, out)]
    paths = mixed_paths(out)
    counts = [int(n * share) for _, share in MIXED_SPLIT]
    counts[-1] = n - sum(counts[:-1])
    for k, ((sub_fmt, path), count) in enumerate(zip(paths, counts, strict=True)):
        write(sub_fmt, count, seed * 31 + k + 1, path, start, days)
    return paths


def _lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        yield from fh


def check(path: Path, fmt: str, start: date = START, days: int = DAYS) -> dict[str, float]:
    """Slow, per-line validation of a generated file (JSON parses, token invariants hold, times fall in the
    period; a repeat may land a second past its end); returns the mix."""
    first = _epoch(start)
    end = first + days * 86_400 + 60

    def in_period(moment: datetime) -> bool:
        return first <= moment.timestamp() < end

    n = long_ctx = cached = odd_tier = 0
    seen: set[tuple[object, ...]] = set()
    repeats = 0
    ids: set[str] = set()
    if fmt == "csv":
        lines = _lines(path)
        assert next(lines).strip() == "timestamp,model,input_tokens,cached_tokens,output_tokens,user,feature"
        for line in lines:
            ts, model, inp, cache, out, user, feature = line.rstrip("\n").split(",")
            p, k, o = int(inp), int(cache), int(out)
            assert ts.endswith("Z") and in_period(datetime.fromisoformat(ts)), line
            assert 0 <= k <= p and p > 0 and o > 0, line
            n, long_ctx, cached = n + 1, long_ctx + (p > 200_000), cached + (k > 0)
            key = (model, p, k, o, user, feature)
            repeats += key in seen
            seen.add(key)
    else:
        for line in _lines(path):
            rec = json.loads(line)
            u = rec["usage"]
            assert rec["id"] not in ids, rec["id"]
            ids.add(rec["id"])
            if rec.get("object") == "chat.completion":
                p, c = u["prompt_tokens"], u["completion_tokens"]
                k, r = (
                    u["prompt_tokens_details"]["cached_tokens"],
                    u["completion_tokens_details"]["reasoning_tokens"],
                )
                assert 0 <= k <= p and 0 <= r <= c and u["total_tokens"] == p + c and p > 0, line
                assert first <= rec["created"] < end, line
                odd_tier += rec["service_tier"] != "default"
                total, meta = p, rec["metadata"]
                key = (rec["model"], p, k, c, r, meta["user"], meta["feature"])
            else:
                assert rec["type"] == "message", line
                i, cr, cw, o = (
                    u[f]
                    for f in (
                        "input_tokens",
                        "cache_read_input_tokens",
                        "cache_creation_input_tokens",
                        "output_tokens",
                    )
                )
                cc = u["cache_creation"]
                assert min(i, cr, cw, o) >= 0 and o > 0, line
                assert cc["ephemeral_5m_input_tokens"] + cc["ephemeral_1h_input_tokens"] == cw, line
                assert min(cc.values()) >= 0, line
                assert in_period(datetime.fromisoformat(rec["created_at"])), line
                odd_tier += u["service_tier"] != "standard"
                total, k, meta = i + cr + cw, cr, rec["metadata"]
                key = (rec["model"], i, cr, cw, o, meta["user_id"], meta["feature"])
            n, long_ctx, cached = n + 1, long_ctx + (total > 200_000), cached + (k > 0)
            repeats += key in seen
            seen.add(key)
    return {
        "records": n,
        "repeat_share": round(repeats / n, 4),
        "long_context_share": round(long_ctx / n, 4),
        "cache_read_share": round(cached / n, 4),
        "odd_tier_share": round(odd_tier / n, 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="number of call records (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--format", choices=FORMATS, default="openai")
    ap.add_argument("--out", type=Path, required=True, help="output file (.gz = gzip); a stem for mixed")
    ap.add_argument(
        "--start",
        type=date.fromisoformat,
        default=START,
        help=f"first day of the period, UTC (default {START})",
    )
    ap.add_argument("--days", type=int, default=DAYS, help=f"days the calls spread over (default {DAYS})")
    ap.add_argument(
        "--check", action="store_true", help="re-read the output line by line and validate it (slow)"
    )
    args = ap.parse_args(argv)
    if args.n < 1 or args.days < 1:
        ap.error("--n and --days must be at least 1")
    t0 = time.perf_counter()
    paths = generate(args.format, args.n, args.seed, args.out, args.start, args.days)
    elapsed = time.perf_counter() - t0
    for _, path in paths:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    print(f"generated n={args.n} format={args.format} seed={args.seed} in {elapsed:.2f}s", file=sys.stderr)
    if args.check:
        for fmt, path in paths:
            print(f"check {path}: {json.dumps(check(path, fmt, args.start, args.days))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
