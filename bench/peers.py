"""Time the per-call pricing loops of genai-prices and litellm on the first N records of a bench OpenAI log.

Run this with a SEPARATE Python environment that has `genai-prices` and `litellm` installed: they are peers we
compare against, never llmaudit dependencies (see bench/README.md). Only the stdlib is imported at module level,
so `--help` works anywhere.

Parsing the JSONL and building each peer's per-call arguments happen OUTSIDE the timed region: the figures are
for the pricing loop alone (time.process_time for CPU, time.perf_counter for wall). This favours the peers over
`llmaudit analyze`, whose figures include process start-up, file parsing and the report.

Prints one JSON object: {"n": ..., "file": ..., "peers": {name: {calls, priced, failed, cpu_s, wall_s,
calls_per_s, calls_per_cpu_s, total_cost_usd, version}}}; a peer that cannot be imported gets {"error": ...}.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.metadata
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PEERS = ("genai_prices", "litellm")


@dataclass(frozen=True)
class Call:
    """The fields of one OpenAI chat.completion record that the peers need (prompt includes cached)."""

    model: str
    prompt: int
    cached: int
    completion: int
    created: int


def read_calls(path: Path, n: int) -> list[Call]:
    """The first n records, parsed with the stdlib (untimed: it is not what we compare)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        calls = []
        for line in itertools.islice(fh, n):
            rec = json.loads(line)
            usage = rec["usage"]
            details = usage.get("prompt_tokens_details") or {}
            calls.append(
                Call(
                    rec["model"],
                    usage["prompt_tokens"],
                    details.get("cached_tokens") or 0,
                    usage["completion_tokens"],
                    rec["created"],
                )
            )
    return calls


def _timed_loop(items: list[Any], price_one: Callable[[Any], float | Decimal]) -> dict[str, Any]:
    """Call price_one per item in a plain loop; a call that raises counts as failed (unpriced), not as $0.

    The total is summed in the peer's own number type (Decimal or float), so no conversion is timed.
    """
    total: Any = 0  # Decimal or float: the peer's own type
    failed = 0
    errors: dict[str, int] = {}
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for item in items:
        try:
            total += price_one(item)
        except Exception as exc:  # an unknown model is a result here, not a crash
            failed += 1
            key = f"{type(exc).__name__}: {str(exc)[:120]}"
            errors[key] = errors.get(key, 0) + 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(items)
    return {
        "calls": n,
        "priced": n - failed,
        "failed": failed,
        "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5]),
        "cpu_s": cpu,
        "wall_s": wall,
        "calls_per_s": n / wall if wall else None,
        "calls_per_cpu_s": n / cpu if cpu else None,
        "total_cost_usd": round(float(total), 6),
    }


def bench_genai_prices(calls: list[Call]) -> dict[str, Any]:
    """genai_prices.calc_price per call, with Usage objects and timestamps built beforehand."""
    from genai_prices import Usage, calc_price

    # genai-prices' input_tokens is the whole prompt, cache reads included (as OpenAI's prompt_tokens).
    items = [
        (
            Usage(input_tokens=c.prompt, cache_read_tokens=c.cached, output_tokens=c.completion),
            c.model,
            datetime.fromtimestamp(c.created, UTC),
        )
        for c in calls
    ]

    def price_one(item: tuple[Any, str, datetime]) -> Decimal:
        usage, model, ts = item
        return calc_price(
            usage, model_ref=model, provider_id="openai", genai_request_timestamp=ts
        ).total_price

    calc_price(items[0][0], model_ref=items[0][1], provider_id="openai", genai_request_timestamp=items[0][2])
    return {"version": importlib.metadata.version("genai-prices"), **_timed_loop(items, price_one)}


def bench_litellm(calls: list[Call]) -> dict[str, Any]:
    """litellm.cost_per_token per call, using the cost map bundled with the package (no network)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before the import: it otherwise fetches the map
    import litellm

    litellm.suppress_debug_info = True  # keep its help banners off our stdout
    # litellm's prompt_tokens is the whole prompt too; cache_read_input_tokens is the cached part of it.
    items = [(c.model, c.prompt, c.completion, c.cached) for c in calls]

    def price_one(item: tuple[str, int, int, int]) -> float:
        model, prompt, completion, cached = item
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt, completion_tokens=completion, cache_read_input_tokens=cached
        )
        return prompt_cost + completion_cost

    litellm.cost_per_token(model=items[0][0], prompt_tokens=1, completion_tokens=1)  # warm lazy imports
    return {"version": importlib.metadata.version("litellm"), **_timed_loop(items, price_one)}


BENCHES: dict[str, Callable[[list[Call]], dict[str, Any]]] = {
    "genai_prices": bench_genai_prices,
    "litellm": bench_litellm,
}


def run(path: Path, n: int, peers: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each peer's figures; an import failure is reported for that peer and the others still run."""
    calls = read_calls(path, n)
    if len(calls) < n:
        raise SystemExit(f"peers: {path} has only {len(calls)} records, fewer than --n {n}")
    for name in peers:
        try:
            yield name, BENCHES[name](calls)
        except ImportError as exc:
            yield name, {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path, help="a bench OpenAI JSONL file (.gz allowed)")
    ap.add_argument("--n", type=int, default=100_000, help="records to price, from the top (default 100,000)")
    ap.add_argument("--peer", choices=(*PEERS, "all"), default="all", help="which loop(s) to time")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    peers = list(PEERS) if args.peer == "all" else [args.peer]
    results = dict(run(args.file, args.n, peers))
    print(
        json.dumps({"n": args.n, "file": str(args.file), "python": sys.version.split()[0], "peers": results})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
