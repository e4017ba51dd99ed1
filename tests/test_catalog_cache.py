"""The parsed-catalog cache: a hit is the catalog the YAML gives, and any change to what it is made of
(a price, a file, the parser) parses again; a broken or unwritable cache only costs the parse."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import TEST_CATALOG, write

import llmaudit.catalog as catalog_module
from llmaudit.catalog import cache, load_catalog
from llmaudit.errors import CatalogError


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLMAUDIT_CACHE_DIR", str(folder))
    return folder


def _copy_catalog(folder):
    for file in TEST_CATALOG.glob("*.yaml"):
        write(folder / file.name, file.read_text())
    return folder


def _rate(catalog, key: str, unit: str = "input") -> Decimal:
    return catalog.get(key).versions[-1].rates[unit]


def test_a_second_load_is_the_first_without_parsing(cache_dir, monkeypatch):
    first = load_catalog(TEST_CATALOG, include_bundled=False)
    assert len(list(cache_dir.glob("catalog-*.pickle"))) == 1

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(catalog_module, "_parse", no_parse)
    second = load_catalog(TEST_CATALOG, include_bundled=False)
    assert second.catalog_id == first.catalog_id and second.files == first.files
    assert [m.key for m in second.models] == [m.key for m in first.models]
    assert _rate(second, "openai/gpt-4o") == _rate(first, "openai/gpt-4o") == Decimal("2.50")
    assert second.resolve("gpt-4o-2024-08-06").key == "openai/gpt-4o"


def test_a_changed_price_or_file_is_parsed_again(cache_dir, tmp_path):
    folder = _copy_catalog(tmp_path / "cat")
    before = load_catalog(folder, include_bundled=False)
    openai = folder / "openai.yaml"
    openai.write_text(openai.read_text().replace("rates: {input: 2.50,", "rates: {input: 2.40,"))
    after = load_catalog(folder, include_bundled=False)
    assert _rate(before, "openai/gpt-4o") == Decimal("2.50") and _rate(after, "openai/gpt-4o") == Decimal(
        "2.40"
    )
    assert after.catalog_id != before.catalog_id
    (folder / "deepseek.yaml").unlink()
    assert load_catalog(folder, include_bundled=False).get("deepseek/deepseek-chat") is None


def test_a_broken_entry_is_parsed_again_and_rewritten(cache_dir):
    first = load_catalog(TEST_CATALOG, include_bundled=False)
    (entry,) = cache_dir.glob("catalog-*.pickle")
    entry.write_bytes(b"not a pickle")
    again = load_catalog(TEST_CATALOG, include_bundled=False)
    assert again.catalog_id == first.catalog_id and entry.read_bytes() != b"not a pickle"


def test_no_cache_when_off_or_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMAUDIT_CACHE_DIR", "off")
    assert load_catalog(TEST_CATALOG, include_bundled=False).models
    blocker = write(tmp_path / "file", "not a folder")
    monkeypatch.setenv("LLMAUDIT_CACHE_DIR", str(blocker / "cache"))
    assert load_catalog(TEST_CATALOG, include_bundled=False).models
    assert not list(tmp_path.rglob("catalog-*.pickle"))


def test_a_catalog_with_problems_is_never_cached(cache_dir, tmp_path):
    folder = _copy_catalog(tmp_path / "cat")
    openai = folder / "openai.yaml"
    openai.write_text(openai.read_text().replace("rates: {input: 2.50,", "rates: {input: -1,"))
    for _ in range(2):
        with pytest.raises(CatalogError, match="non-negative"):
            load_catalog(folder, include_bundled=False)
    assert not list(cache_dir.glob("catalog-*.pickle"))


def test_old_entries_are_pruned(cache_dir):
    for n in range(cache.KEEP + 3):
        cache.save(f"{n:032x}", {"n": n})
    assert len(list(cache_dir.glob("catalog-*.pickle"))) == cache.KEEP
    assert not list(cache_dir.glob("*.tmp"))


def test_a_changed_parser_makes_a_new_key(tmp_path, monkeypatch):
    """A cached catalog from older parsing code is never a hit: the key covers this package's sources."""
    sources = tmp_path / "catalog_pkg"
    for source in cache._SOURCES.glob("*.py"):
        write(sources / source.name, source.read_text())
    monkeypatch.setattr(cache, "_SOURCES", sources)
    layers = [(TEST_CATALOG, sorted(TEST_CATALOG.glob("*.yaml")))]
    before = cache.key(layers)
    model = sources / "model.py"
    model.write_text(model.read_text() + "\n# a parser change\n")
    assert cache.key(layers) != before
    assert cache.key([(TEST_CATALOG, [TEST_CATALOG / "missing.yaml"])]) is None  # unreadable: no caching
