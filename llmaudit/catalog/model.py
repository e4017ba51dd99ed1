"""Catalog data model, parsed and validated from the YAML files (schema in pricing/README.md)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmaudit.catalog.yamlio import line_of

# unit -> (calls column it bills, tokens per priced quantity). Token rates are per 1M, counts per 1K.
UNITS: dict[str, tuple[str, int]] = {
    "input": ("input_uncached_tokens", 1_000_000),
    "cache_read": ("cache_read_tokens", 1_000_000),
    "cache_write_5m": ("cache_write_5m_tokens", 1_000_000),
    "cache_write_1h": ("cache_write_1h_tokens", 1_000_000),
    "output": ("output_tokens", 1_000_000),
    "input_audio": ("input_audio_tokens", 1_000_000),
    "output_audio": ("output_audio_tokens", 1_000_000),
    "input_image": ("input_image_tokens", 1_000_000),
    "web_search": ("web_search_requests", 1_000),
    "request": ("request_count", 1_000),
    "cache_storage": (
        "cache_storage_token_hours",
        1_000_000,
    ),  # per 1M tokens per hour (Gemini explicit cache)
}
PER_CALL_UNITS = frozenset({"web_search", "request", "cache_storage"})
# A unit without a rate is billed like its parent (a cache read with no discount costs input).
RATE_FALLBACK: dict[str, str] = {
    "cache_read": "input",
    "cache_write_5m": "input",
    "cache_write_1h": "cache_write_5m",
    "input_audio": "input",
    "output_audio": "output",
    "input_image": "input",
}
MODES = ("standard", "batch", "flex", "priority")

_FILE_KEYS = {
    "schema_version",
    "provider",
    "name",
    "currency",
    "pricing_urls",
    "default_modes",
    "models",
    "notes",
}
_MODEL_KEYS = {"name", "aliases", "match", "retired", "versions", "context_window", "notes"}
_VERSION_KEYS = {
    "effective_from",
    "source",
    "checked",
    "note",
    "rates",
    "tiers",
    "modes",
    "windows",
    "regions",
}
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
DAY_MINUTES = 24 * 60
_MODE_KEYS = {"multiplier", "rates", "tiers"}


@dataclass(frozen=True)
class Tier:
    above: int
    rates: dict[str, Decimal]


@dataclass(frozen=True)
class Mode:
    multiplier: Decimal = Decimal(1)
    rates: dict[str, Decimal] = field(default_factory=dict)
    tiers: tuple[Tier, ...] | None = None


@dataclass(frozen=True)
class Window:
    """A UTC time-of-day span with its own rates (DeepSeek off-peak); end < start wraps past midnight."""

    start: int  # minute of the day, inclusive
    end: int  # minute of the day, exclusive
    label: str
    multiplier: Decimal = Decimal(1)
    rates: dict[str, Decimal] = field(default_factory=dict)

    def segments(self) -> list[tuple[int, int]]:
        if self.start < self.end:
            return [(self.start, self.end)]
        return [(self.start, DAY_MINUTES), (0, self.end)] if self.end else [(self.start, DAY_MINUTES)]


@dataclass(frozen=True)
class Version:
    effective_from: dt.datetime
    rates: dict[str, Decimal]
    tiers: tuple[Tier, ...] = ()
    modes: dict[str, Mode] = field(default_factory=dict)
    source: str | None = None
    checked: dt.date | None = None
    note: str | None = None
    line: int = 0
    windows: tuple[Window, ...] = ()
    regions: dict[str, Decimal] = field(default_factory=dict)  # region -> multiplier of token rates


@dataclass(frozen=True)
class Model:
    provider: str
    id: str
    versions: tuple[Version, ...]
    name: str | None = None
    aliases: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    retired: dt.date | None = None
    file: str = ""
    line: int = 0

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.id}"

    def version_at(self, when: dt.datetime | None) -> Version | None:
        """The version in force at `when` (UTC); the latest one when `when` is None."""
        if when is None:
            return self.versions[-1]
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        current = None
        for version in self.versions:
            if version.effective_from <= when:
                current = version
        return current


class Problems(list):
    """Collects `file:line: reason` messages while parsing continues."""

    def add(self, file: str, node: Any, reason: str, line: int | None = None) -> None:
        self.append(f"{file}:{line if line is not None else line_of(node)}: {reason}")


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            return _as_datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _rates(raw: Any, file: str, where: Any, problems: Problems, label: str) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(file, where, f"{label} must be a mapping of unit: rate")
        return {}
    rates: dict[str, Decimal] = {}
    for unit, value in raw.items():
        if unit not in UNITS:
            problems.add(file, raw, f"{label}: unknown unit {unit!r} (known: {', '.join(UNITS)})")
            continue
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            problems.add(file, raw, f"{label}.{unit}: rate must be a number, got {value!r}")
            continue
        rate = Decimal(value)
        if not rate.is_finite() or rate < 0:
            problems.add(file, raw, f"{label}.{unit}: rate must be a non-negative number, got {value}")
            continue
        if rate.as_tuple().exponent < -9:  # type: ignore[operator]
            problems.add(file, raw, f"{label}.{unit}: at most 9 decimal places, got {value}")
            continue
        rates[unit] = rate
    return rates


def _tiers(raw: Any, file: str, where: Any, problems: Problems, label: str) -> tuple[Tier, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(file, where, f"{label} must be a list")
        return ()
    tiers: list[Tier] = []
    for item in raw:
        if not isinstance(item, dict) or "above" not in item:
            problems.add(
                file,
                item if isinstance(item, dict) else where,
                f"{label}: each tier needs `above` and `rates`",
            )
            continue
        above = item["above"]
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            problems.add(
                file, item, f"{label}: `above` must be a non-negative whole number of tokens, got {above!r}"
            )
            continue
        if tiers and above <= tiers[-1].above:
            problems.add(file, item, f"{label}: tiers must be ascending ({above} after {tiers[-1].above})")
            continue
        tiers.append(
            Tier(above=above, rates=_rates(item.get("rates"), file, item, problems, f"{label}[>{above}]"))
        )
    return tuple(tiers)


def _modes(raw: Any, file: str, where: Any, problems: Problems, label: str) -> dict[str, Mode]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(file, where, f"{label} must be a mapping of mode: settings")
        return {}
    modes: dict[str, Mode] = {}
    for name, spec in raw.items():
        if name not in MODES or name == "standard":
            problems.add(file, raw, f"{label}: unknown mode {name!r} (known: batch, flex, priority)")
            continue
        if not isinstance(spec, dict) or not set(spec) <= _MODE_KEYS or not spec:
            problems.add(
                file,
                spec if isinstance(spec, dict) else raw,
                f"{label}.{name}: expected multiplier, rates and/or tiers",
            )
            continue
        multiplier = spec.get("multiplier", 1)
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, int | Decimal)
            or Decimal(multiplier) < 0
        ):
            problems.add(file, spec, f"{label}.{name}: multiplier must be a non-negative number")
            continue
        tiers = (
            _tiers(spec["tiers"], file, spec, problems, f"{label}.{name}.tiers") if "tiers" in spec else None
        )
        modes[name] = Mode(
            multiplier=Decimal(multiplier),
            rates=_rates(spec.get("rates"), file, spec, problems, f"{label}.{name}.rates"),
            tiers=tiers,
        )
    return modes


def _windows(raw: Any, file: str, where: Any, problems: Problems, label: str) -> tuple[Window, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(file, where, f"{label} must be a list")
        return ()
    windows: list[Window] = []
    taken: list[tuple[int, int]] = []
    for item in raw:
        node = item if isinstance(item, dict) else where
        hours = item.get("hours_utc") if isinstance(item, dict) else None
        match = _HOURS.match(str(hours or ""))
        if match is None:
            problems.add(file, node, f'{label}: hours_utc must look like "16:30-00:30" (UTC), got {hours!r}')
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, (h2 * 60 + m2) % DAY_MINUTES
        if start == end:
            problems.add(file, node, f"{label}: window {hours} is empty")
            continue
        multiplier = item.get("multiplier", 1)
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, int | Decimal)
            or Decimal(multiplier) < 0
        ):
            problems.add(file, node, f"{label}: multiplier must be a non-negative number")
            continue
        window = Window(
            start,
            end,
            str(hours),
            Decimal(multiplier),
            _rates(item.get("rates"), file, item, problems, f"{label}[{hours}].rates"),
        )
        for lo, hi in window.segments():
            if any(lo < b and a < hi for a, b in taken):
                problems.add(file, node, f"{label}: window {hours} overlaps another window")
            taken.append((lo, hi))
        windows.append(window)
    return tuple(windows)


def _regions(raw: Any, file: str, where: Any, problems: Problems, label: str) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(file, where, f"{label} must be a mapping of region: multiplier")
        return {}
    regions: dict[str, Decimal] = {}
    for region, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | Decimal) or Decimal(value) < 0:
            problems.add(
                file, raw, f"{label}.{region}: multiplier must be a non-negative number, got {value!r}"
            )
            continue
        regions[str(region).lower()] = Decimal(value)
    return regions


def _version(
    raw: Any, file: str, label: str, problems: Problems, default_modes: dict[str, Mode]
) -> Version | None:
    if not isinstance(raw, dict):
        problems.add(file, raw, f"{label}: a version must be a mapping", line=0)
        return None
    for key in set(raw) - _VERSION_KEYS:
        problems.add(file, raw, f"{label}: unknown key {key!r}")
    effective = _as_datetime(raw.get("effective_from"))
    if effective is None:
        problems.add(
            file,
            raw,
            f"{label}: effective_from must be a date (YYYY-MM-DD), got {raw.get('effective_from')!r}",
        )
        return None
    rates = _rates(raw.get("rates"), file, raw, problems, f"{label}.rates")
    if not rates:
        problems.add(file, raw, f"{label}: a version needs at least one rate")
    checked = raw.get("checked")
    return Version(
        effective_from=effective,
        rates=rates,
        tiers=_tiers(raw.get("tiers"), file, raw, problems, f"{label}.tiers"),
        modes={**default_modes, **_modes(raw.get("modes"), file, raw, problems, f"{label}.modes")},
        source=raw.get("source"),
        checked=checked if isinstance(checked, dt.date) else None,
        note=raw.get("note"),
        line=line_of(raw),
        windows=_windows(raw.get("windows"), file, raw, problems, f"{label}.windows"),
        regions=_regions(raw.get("regions"), file, raw, problems, f"{label}.regions"),
    )


def _match_rules(raw: Any, file: str, model_node: Any, label: str, problems: Problems):
    prefixes: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for rule in raw or []:
        if isinstance(rule, dict) and isinstance(rule.get("prefix"), str) and len(rule) == 1:
            prefixes.append(rule["prefix"].lower())
        elif isinstance(rule, dict) and isinstance(rule.get("regex"), str) and len(rule) == 1:
            try:
                regexes.append(re.compile(rule["regex"], re.IGNORECASE))
            except re.error as exc:
                problems.add(file, rule, f"{label}: bad regex: {exc}")
        else:
            problems.add(
                file,
                rule if isinstance(rule, dict) else model_node,
                f"{label}: a match rule is {{prefix: str}} or {{regex: str}}",
            )
    return tuple(prefixes), tuple(regexes)


def parse_provider_file(doc: Any, path: Path, problems: Problems) -> list[Model]:
    """Models of one provider file; problems are appended, bad parts skipped."""
    file = str(path)
    if not isinstance(doc, dict):
        problems.add(file, doc, "a catalog file must be a mapping with `provider` and `models`", line=1)
        return []
    for key in set(doc) - _FILE_KEYS:
        problems.add(file, doc, f"unknown top-level key {key!r}")
    if doc.get("schema_version") != 1:
        problems.add(file, doc, f"schema_version must be 1, got {doc.get('schema_version')!r}")
    provider = doc.get("provider")
    if not isinstance(provider, str) or not provider:
        problems.add(file, doc, "`provider` must be a non-empty string")
        return []
    if doc.get("currency", "USD") != "USD":
        problems.add(file, doc, f"currency {doc.get('currency')!r} is not supported yet (USD only)")
    default_modes = _modes(doc.get("default_modes"), file, doc, problems, "default_modes")
    models_raw = doc.get("models")
    if not isinstance(models_raw, dict):
        problems.add(file, doc, "`models` must be a mapping of model id: entry")
        return []
    models: list[Model] = []
    for model_id, entry in models_raw.items():
        label = f"{provider}/{model_id}"
        if not isinstance(entry, dict):
            problems.add(file, models_raw, f"{label}: entry must be a mapping")
            continue
        if not isinstance(model_id, str) or model_id != model_id.lower():
            problems.add(file, entry, f"{label}: model ids are lower case")
            continue
        for key in set(entry) - _MODEL_KEYS:
            problems.add(file, entry, f"{label}: unknown key {key!r}")
        versions_raw = entry.get("versions")
        if not isinstance(versions_raw, list) or not versions_raw:
            problems.add(file, entry, f"{label}: needs a non-empty `versions` list")
            continue
        versions = [
            v
            for i, raw in enumerate(versions_raw)
            if (v := _version(raw, file, f"{label}.versions[{i}]", problems, default_modes)) is not None
        ]
        for before, after in zip(versions, versions[1:], strict=False):
            if after.effective_from <= before.effective_from:
                problems.add(
                    file,
                    None,
                    f"{label}: versions must be in ascending effective_from order "
                    f"({after.effective_from.date()} after {before.effective_from.date()})",
                    line=after.line,
                )
        if not versions:
            continue
        aliases = entry.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            problems.add(file, entry, f"{label}: aliases must be a list of strings")
            aliases = []
        prefixes, regexes = _match_rules(entry.get("match"), file, entry, label, problems)
        retired = entry.get("retired")
        models.append(
            Model(
                provider=provider,
                id=model_id,
                versions=tuple(sorted(versions, key=lambda v: v.effective_from)),
                name=entry.get("name"),
                aliases=tuple(a.lower() for a in aliases),
                prefixes=prefixes,
                regexes=regexes,
                retired=retired if isinstance(retired, dt.date) else None,
                file=file,
                line=line_of(entry),
            )
        )
    return models
