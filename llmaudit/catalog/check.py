"""`pricing check`: the catalog's schema plus the invariants that catch real pricing mistakes.

Errors fail CI by default; warnings are for a person to look at (stale verification, suspicious jumps).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from llmaudit.catalog import Catalog, load_catalog
from llmaudit.catalog.match import normalize_model_id
from llmaudit.catalog.model import Model, Version
from llmaudit.errors import CatalogError

JUMP_FACTOR = Decimal(10)  # an "extra zero": a rate 10x off its previous version or the reference
OUTPUT_FLOOR = Decimal(
    10
)  # output cheaper than input by more than this factor is implausible for chat models
_PROBLEM = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<reason>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    severity: str  # error | warning
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message} [{self.rule}]"

    def as_dict(self) -> dict:
        return asdict(self)


def _from_problem(problem: str) -> Finding:
    match = _PROBLEM.match(problem)
    if match is None:
        return Finding(problem.split(":")[0], 0, "error", "schema", problem)
    return Finding(match["file"], int(match["line"]), "error", "schema", match["reason"])


def _ratio(a: Decimal, b: Decimal) -> Decimal | None:
    if a <= 0 or b <= 0:
        return None
    return max(a, b) / min(a, b)


def _version_findings(
    model: Model, index: int, version: Version, today: dt.date, stale_days: int
) -> list[Finding]:
    out: list[Finding] = []

    def add(severity: str, rule: str, message: str) -> None:
        out.append(
            Finding(
                model.file,
                version.line or model.line,
                severity,
                rule,
                f"{model.key} {version.effective_from.date()}: {message}",
            )
        )

    rates = version.rates
    if "cache_read" in rates and "input" in rates and rates["cache_read"] > rates["input"]:
        add(
            "error",
            "cache-read-above-input",
            f"cache_read {rates['cache_read']} is above input {rates['input']}",
        )
    if (
        rates.get("output", Decimal(0)) > 0
        and rates.get("input", Decimal(0)) > rates["output"] * OUTPUT_FLOOR
    ):
        add(
            "warning",
            "output-implausibly-cheap",
            f"output {rates['output']} is over {OUTPUT_FLOOR}x cheaper than input {rates['input']}",
        )
    for tier in version.tiers:
        cheaper = [u for u, r in tier.rates.items() if u in rates and r < rates[u]]
        if cheaper:
            add(
                "warning",
                "tier-cheaper-than-base",
                f"tier >{tier.above} is cheaper than base for {', '.join(cheaper)}",
            )
    if index > 0:
        previous = model.versions[index - 1]
        for unit, rate in rates.items():
            ratio = _ratio(rate, previous.rates.get(unit, Decimal(0)))
            if ratio is not None and ratio >= JUMP_FACTOR:
                add(
                    "warning",
                    "factor-10-jump",
                    f"{unit} {previous.rates[unit]} -> {rate} since "
                    f"{previous.effective_from.date()} ({ratio:.0f}x: an extra zero?)",
                )
    if not version.source:
        add("warning", "no-source", "no source URL")
    if version.checked is None:
        add("warning", "not-checked", "no `checked` date")
    elif (today - version.checked).days > stale_days and index == len(model.versions) - 1:
        add(
            "warning",
            "stale-checked",
            f"last checked {version.checked} ({(today - version.checked).days} days ago)",
        )
    return out


def _ambiguity(catalog: Catalog) -> list[Finding]:
    """Two models of one provider that one logged id could match (shared prefixes, regexes hitting ids)."""
    out: list[Finding] = []
    by_provider: dict[str, list[Model]] = {}
    for model in catalog.models:
        by_provider.setdefault(model.provider, []).append(model)
    for models in by_provider.values():
        owners: dict[str, Model] = {}
        for model in models:

            def ambiguous(message: str, model: Model = model) -> None:
                out.append(
                    Finding(model.file, model.line, "error", "ambiguous-match", f"{model.key}: {message}")
                )

            for prefix in model.prefixes:
                other = owners.setdefault(prefix, model)
                if other is not model:
                    ambiguous(f"prefix {prefix!r} also matches for {other.key}")
            for regex in model.regexes:
                for other in models:
                    if other is not model and any(regex.search(n) for n in (other.id, *other.aliases)):
                        ambiguous(f"regex {regex.pattern!r} matches {other.key}'s id")
    return out


def _reference_rates(path: Path) -> dict[str, dict[str, Decimal]]:
    """Per-1M rates by normalized model id from a LiteLLM JSON file or an llmaudit catalog directory."""
    if path.is_dir() or path.suffix in (".yaml", ".yml"):
        ref = load_catalog(path, include_bundled=False)
        return {m.id: dict(m.versions[-1].rates) for m in ref.models}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError([f"{path}:1: cannot read reference catalog: {exc}"]) from None
    rates: dict[str, dict[str, Decimal]] = {}
    keys = {
        "input_cost_per_token": "input",
        "output_cost_per_token": "output",
        "cache_read_input_token_cost": "cache_read",
    }
    for name, entry in doc.items() if isinstance(doc, dict) else []:
        if not isinstance(entry, dict):
            continue
        normalized, _ = normalize_model_id(name.split("/")[-1])
        found = {
            ours: Decimal(str(entry[k])) * 1_000_000
            for k, ours in keys.items()
            if isinstance(entry.get(k), int | float)
        }
        if normalized and found:
            rates.setdefault(normalized, found)
    return rates


def _reference_findings(catalog: Catalog, reference: dict[str, dict[str, Decimal]]) -> list[Finding]:
    out = []
    for model in catalog.models:
        theirs = next((reference[n] for n in (model.id, *model.aliases) if n in reference), None)
        if theirs is None:
            continue
        ours = model.versions[-1]
        for unit, rate in ours.rates.items():
            ratio = _ratio(rate, theirs.get(unit, Decimal(0)))
            if ratio is not None and ratio >= JUMP_FACTOR:
                out.append(
                    Finding(
                        model.file,
                        ours.line or model.line,
                        "error",
                        "reference-factor-10",
                        f"{model.key}: {unit} {rate} vs reference {theirs[unit].normalize()} "
                        f"({ratio:.0f}x off: an extra zero?)",
                    )
                )
    return out


def check_catalog(
    *paths: str | Path,
    include_bundled: bool = False,
    reference: str | Path | None = None,
    today: dt.date | None = None,
    stale_days: int = 365,
) -> list[Finding]:
    """Every problem in the catalog(s) at `paths` (the bundled catalog when none), errors first."""
    today = today or dt.date.today()
    try:
        catalog = load_catalog(*paths, include_bundled=include_bundled or not paths)
    except CatalogError as exc:
        return [_from_problem(p) for p in exc.problems]
    findings = _ambiguity(catalog)
    for model in catalog.models:
        for index, version in enumerate(model.versions):
            findings.extend(_version_findings(model, index, version, today, stale_days))
    if reference is not None:
        findings.extend(_reference_findings(catalog, _reference_rates(Path(reference))))
    return sorted(findings, key=lambda f: (f.severity != "error", f.file, f.line, f.rule))
