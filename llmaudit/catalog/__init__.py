"""Load, validate and resolve the effective-dated pricing catalog (YAML under pricing/)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from llmaudit.catalog import cache
from llmaudit.catalog.match import ModelIndex, normalize_model_id
from llmaudit.catalog.model import MODES, UNITS, Model, Problems, Version, parse_provider_file
from llmaudit.catalog.overrides import Overrides, apply_overrides, is_overrides_file, parse_overrides
from llmaudit.catalog.table import price_table, region_table
from llmaudit.catalog.yamlio import load_yaml
from llmaudit.errors import CatalogError

__all__ = [
    "MODES",
    "UNITS",
    "Catalog",
    "Model",
    "Version",
    "bundled_catalog_dir",
    "load_catalog",
    "normalize_model_id",
]


def bundled_catalog_dir() -> Path:
    """The catalog shipped in the wheel (llmaudit/_pricing), or pricing/ in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_pricing", here.parent / "pricing"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise CatalogError([f"{here}: the bundled pricing catalog is missing (reinstall llmaudit)"])


@dataclass
class Catalog:
    """Every model of every provider file, with an id that changes whenever any price changes."""

    models: list[Model]
    catalog_id: str
    files: list[Path] = field(default_factory=list)
    user_aliases: dict[str, Model] = field(default_factory=dict)  # deployment names, ARNs (overrides files)

    @cached_property
    def index(self) -> ModelIndex:
        return ModelIndex(self.models)

    @cached_property
    def table(self) -> pl.DataFrame:
        """One row per (model, version, mode, tier) with per-token Decimal rates."""
        return price_table(self.models, self.catalog_id)

    def table_for(self, keys: Iterable[str | None]) -> pl.DataFrame:
        """`table` restricted to these model keys, built only for them (pricing needs a handful of models)."""
        wanted = set(keys)
        return price_table([m for m in self.models if m.key in wanted], self.catalog_id)

    def regions_for(self, keys: Iterable[str | None]) -> pl.DataFrame:
        """Regional multipliers of these models' versions (see `table.region_table`)."""
        wanted = set(keys)
        return region_table([m for m in self.models if m.key in wanted])

    def resolve(
        self, model_raw: str | None, provider: str | None = None, normalized: str | None = None
    ) -> Model | None:
        """The model a logged id names (`normalized`: its `normalize_model_id`, when the caller has it)."""
        if model_raw is not None and self.user_aliases:
            aliased = self.user_aliases.get(model_raw.strip().lower())
            if aliased is not None:
                return aliased
        return self.index.resolve(model_raw, provider, normalized)

    def get(self, key: str) -> Model | None:
        return next((m for m in self.models if m.key == key or m.id == key), None)


def _yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    raise CatalogError([f"{path}: no such catalog file or directory"])


def _check_aliases(models: list[Model], problems: Problems) -> None:
    owner: dict[str, Model] = {}
    for model in models:
        for name in dict.fromkeys((model.id, *model.aliases)):
            other = owner.get(name)
            if other is not None and other.provider == model.provider:
                problems.add(
                    model.file,
                    None,
                    f"{model.key}: id or alias {name!r} also names {other.key} ({other.file}:{other.line})",
                    line=model.line,
                )
            owner.setdefault(name, model)


def load_catalog(*paths: str | Path, include_bundled: bool = True) -> Catalog:
    """Load the bundled catalog and layer user files or directories on top.

    A user model with the same provider and id replaces the bundled one. Problems in any file raise
    CatalogError listing every `file:line: reason`.
    """
    layers: list[Path] = []
    if include_bundled:
        layers.append(bundled_catalog_dir())
    env = os.environ.get("LLMAUDIT_CATALOG")
    if env and not paths:
        paths = (env,)
    layers.extend(Path(p) for p in paths)
    layer_files = [(layer, _yaml_files(layer)) for layer in layers]
    entry = cache.key(layer_files)
    cached = cache.load(entry)
    if isinstance(cached, Catalog):
        return cached
    catalog = _parse(layer_files, include_bundled)
    catalog.index  # noqa: B018 - built before it is stored: every command resolves model ids
    cache.save(entry, catalog)
    return catalog


def _parse(layer_files: list[tuple[Path, list[Path]]], include_bundled: bool) -> Catalog:
    """Parse and check every file of every layer; later layers replace earlier models of the same key."""
    problems = Problems()
    overrides = Overrides()
    by_key: dict[str, Model] = {}
    files: list[Path] = []
    digest = hashlib.sha256()
    for layer, files_of_layer in layer_files:
        if not files_of_layer:
            problems.append(f"{layer}: no .yaml files in this catalog directory")
        layer_models: list[Model] = []
        for file in files_of_layer:
            try:
                doc = load_yaml(file)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            digest.update(file.read_bytes())
            files.append(file)
            if is_overrides_file(doc):
                parse_overrides(doc, str(file), problems, overrides)
            else:
                layer_models.extend(parse_provider_file(doc, file, problems))
        _check_aliases(layer_models, problems)
        by_key.update({m.key: m for m in layer_models})
    by_key = apply_overrides(by_key, overrides, problems)
    if problems:
        raise CatalogError(list(problems))
    models = list(by_key.values())
    name = "bundled" if include_bundled and len(layer_files) == 1 else "custom"
    user_aliases = {logged: by_key[target] for logged, (target, _) in overrides.aliases.items()}
    return Catalog(
        models=models, catalog_id=f"{name}@{digest.hexdigest()[:12]}", files=files, user_aliases=user_aliases
    )
