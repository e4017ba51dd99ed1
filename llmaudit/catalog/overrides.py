"""A user's own pricing facts layered on the catalog: aliases for deployment names and ARNs, and negotiated
discounts. Kept apart from provider files so a user never copies a whole model entry to change one thing.

    schema_version: 1
    overrides:
      aliases:                       # logged id -> catalog model (provider/id)
        my-gpt4o-prod: openai/gpt-4o                       # an Azure deployment name
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc": anthropic/claude-sonnet-4-5
      discounts:                     # negotiated: multiplier on every token rate, optionally from a date
        - {provider: openai, multiplier: 0.85, effective_from: 2026-01-01}
        - {model: anthropic/claude-sonnet-4-5, multiplier: 0.8}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from llmaudit.catalog.model import PER_CALL_UNITS, Model, Problems, Version, _as_datetime
from llmaudit.catalog.yamlio import line_of


@dataclass(frozen=True)
class Discount:
    multiplier: Decimal
    provider: str | None = None
    model: str | None = None
    effective_from: dt.datetime | None = None
    where: str = ""

    def applies_to(self, model: Model) -> bool:
        return model.key == self.model or (self.model is None and model.provider == self.provider)


@dataclass
class Overrides:
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # logged id -> (model key, file:line)
    discounts: list[Discount] = field(default_factory=list)


def is_overrides_file(doc: Any) -> bool:
    return isinstance(doc, dict) and "overrides" in doc and "provider" not in doc


def parse_overrides(doc: dict, file: str, problems: Problems, into: Overrides) -> None:
    body = doc.get("overrides")
    if not isinstance(body, dict) or not set(body) <= {"aliases", "discounts"}:
        problems.add(file, doc, "`overrides` is a mapping with `aliases` and/or `discounts`")
        return
    aliases = body.get("aliases") or {}
    if not isinstance(aliases, dict):
        problems.add(file, body, "overrides.aliases must map a logged model id to provider/model")
        aliases = {}
    for logged, target in aliases.items():
        if not isinstance(target, str) or "/" not in target:
            problems.add(
                file, aliases, f"overrides.aliases.{logged}: target must be provider/model, got {target!r}"
            )
            continue
        into.aliases[str(logged).strip().lower()] = (target.lower(), f"{file}:{line_of(aliases)}")
    for item in body.get("discounts") or []:
        node = item if isinstance(item, dict) else body
        if not isinstance(item, dict) or not ({"provider", "model"} & set(item)) or "multiplier" not in item:
            problems.add(file, node, "a discount needs `multiplier` and `provider` or `model`")
            continue
        multiplier = item["multiplier"]
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, int | Decimal)
            or not 0 <= multiplier <= 10
        ):
            problems.add(
                file, node, f"discount multiplier must be a number between 0 and 10, got {multiplier!r}"
            )
            continue
        effective = _as_datetime(item["effective_from"]) if "effective_from" in item else None
        if "effective_from" in item and effective is None:
            problems.add(
                file, node, f"discount effective_from must be a date, got {item['effective_from']!r}"
            )
            continue
        into.discounts.append(
            Discount(
                multiplier=Decimal(multiplier),
                provider=item.get("provider"),
                model=str(item["model"]).lower() if item.get("model") else None,
                effective_from=effective,
                where=f"{file}:{line_of(node)}",
            )
        )


def _scale(rates: dict[str, Decimal], m: Decimal) -> dict[str, Decimal]:
    return {u: r if u in PER_CALL_UNITS else r * m for u, r in rates.items()}


def _discounted_version(version: Version, discount: Discount, start: dt.datetime | None = None) -> Version:
    m = discount.multiplier
    note = f"negotiated discount x{m} ({discount.where})"
    return replace(
        version,
        effective_from=start or version.effective_from,
        rates=_scale(version.rates, m),
        tiers=tuple(replace(t, rates=_scale(t.rates, m)) for t in version.tiers),
        modes={
            k: replace(
                mode,
                rates=_scale(mode.rates, m),
                tiers=None
                if mode.tiers is None
                else tuple(replace(t, rates=_scale(t.rates, m)) for t in mode.tiers),
            )
            for k, mode in version.modes.items()
        },
        windows=tuple(replace(w, rates=_scale(w.rates, m)) for w in version.windows),
        note="; ".join(filter(None, [version.note, note])),
    )


def apply_discount(model: Model, discount: Discount) -> Model:
    """Versions from the discount's date on are scaled; a version in force at that date is split there."""
    start = discount.effective_from
    versions: list[Version] = []
    for index, version in enumerate(model.versions):
        ends = model.versions[index + 1].effective_from if index + 1 < len(model.versions) else None
        if start is None or version.effective_from >= start:
            versions.append(_discounted_version(version, discount))
        elif ends is None or ends > start:
            versions += [version, _discounted_version(version, discount, start)]
        else:
            versions.append(version)
    return replace(model, versions=tuple(versions))


def apply_overrides(models: dict[str, Model], overrides: Overrides, problems: Problems) -> dict[str, Model]:
    for logged, (target, where) in overrides.aliases.items():
        if target not in models:
            problems.append(f"{where}: alias {logged!r} points to {target!r}, which is not in the catalog")
    for discount in overrides.discounts:
        matched = [key for key, model in models.items() if discount.applies_to(model)]
        if not matched:
            problems.append(
                f"{discount.where}: discount matches no model "
                f"({discount.model or 'provider ' + str(discount.provider)})"
            )
        for key in matched:
            models[key] = apply_discount(models[key], discount)
    return models
