"""Catalog loading, validation messages (file:line: reason), id normalization and dated versions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import TEST_CATALOG, write

from llmaudit.catalog import load_catalog, normalize_model_id
from llmaudit.errors import CatalogError

GOOD_HEAD = "schema_version: 1\nprovider: acme\nmodels:\n"


def _load_broken(tmp_path: Path, body: str) -> list[str]:
    write(tmp_path / "cat" / "acme.yaml", GOOD_HEAD + body)
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "cat", include_bundled=False)
    return info.value.problems


def test_rates_are_exact_decimals_from_the_yaml_text(catalog):
    version = catalog.get("openai/gpt-4o-mini").versions[0]
    assert version.rates["cache_read"] == Decimal("0.075")
    assert str(version.rates["input"]) == "0.15"


def test_version_in_force_changes_on_the_effective_date(catalog):
    o3 = catalog.get("openai/o3")
    before = o3.version_at(dt.datetime(2025, 6, 9, 23, 59, 59, tzinfo=dt.UTC))
    after = o3.version_at(dt.datetime(2025, 6, 10, tzinfo=dt.UTC))
    assert before.rates["input"] == 10 and after.rates["input"] == 2
    assert o3.version_at(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) is None


@pytest.mark.parametrize(
    ("raw", "normalized", "region"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", "us"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", "global"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307", None),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929", None),
        ("claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5-20250929", None),
        ("models/gemini-2.5-pro", "gemini-2.5-pro", None),
        ("publishers/google/models/gemini-2.5-flash", "gemini-2.5-flash", None),
        ("openai/GPT-4o", "gpt-4o", None),
        ("bedrock/us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1-20250805", "us"),
        ("<synthetic>", None, None),
        # prefixes stacked by gateways, stripped however many there are
        ("openrouter/openai/gpt-4o", "gpt-4o", None),
        (
            "litellm_proxy/bedrock/us.anthropic.claude-opus-4-1-20250805-v1:0",
            "claude-opus-4-1-20250805",
            "us",
        ),
        ("vertex_ai_beta/gemini-2.5-pro", "gemini-2.5-pro", None),
    ],
)
def test_model_ids_are_normalized(raw, normalized, region):
    assert normalize_model_id(raw) == (normalized, region)


def test_resolution_uses_aliases_and_prefix_rules(tmp_path):
    write(
        tmp_path / "cat" / "acme.yaml",
        GOOD_HEAD
        + """
  widget:
    aliases: [widget-2025]
    match: [{prefix: widget-pro}, {regex: "^wdg-[0-9]+$"}]
    versions: [{effective_from: 2025-01-01, rates: {input: 1, output: 2}}]
  widget-pro-max:
    versions: [{effective_from: 2025-01-01, rates: {input: 5, output: 9}}]
""",
    )
    cat = load_catalog(tmp_path / "cat", include_bundled=False)
    assert cat.resolve("WIDGET-2025").id == "widget"
    assert cat.resolve("widget-pro-2").id == "widget"
    assert cat.resolve("widget-pro-max").id == "widget-pro-max"  # exact id beats a shorter prefix
    assert cat.resolve("wdg-7").id == "widget"
    assert cat.resolve("gadget") is None


def _candidates_one_by_one(index, normalized: str) -> list:
    """What the index answers, the slow way: exact id, the longest prefix, else every regex in order."""
    if normalized in index.exact:
        return index.exact[normalized]
    for prefix, _model in index.prefixed:
        if normalized.startswith(prefix):
            return [m for p, m in index.prefixed if p == prefix]
    return [m for r, m in index.regexed if r.search(normalized)]


def test_resolution_answers_as_trying_each_rule_in_turn(catalog, tmp_path):
    """The index tries the prefixes and the anchored regexes as one alternation each (554k distinct ids:
    a Python loop per rule per id was ~20 us an id): the same models, in the same order, for every
    bundled id and alias and variants that miss, hit a prefix or a regex."""
    import random

    bundled = load_catalog()
    # nested prefixes (the longest wins), a regex with a top-level alternation (anchored on one side only),
    # one with a backreference, and unanchored ones
    write(
        tmp_path / "cat" / "acme.yaml",
        GOOD_HEAD
        + """
  wid:
    match: [{prefix: wid-}, {regex: "^wx-(a|b)-[0-9]+$"}, {regex: "^q([a-z])\\\\1$"}]
    versions: [{effective_from: 2025-01-01, rates: {input: 1, output: 2}}]
  wid-pro:
    match: [{prefix: wid-pro-}, {regex: "^wy-[0-9]+|zeta"}, {regex: "mid-[0-9]"}]
    versions: [{effective_from: 2025-01-01, rates: {input: 5, output: 9}}]
""",
    )
    acme = load_catalog(tmp_path / "cat", include_bundled=False)
    for raw, expected in [("wid-pro-1", "wid-pro"), ("wid-1", "wid"), ("wx-b-7", "wid"), ("qaa", "wid"),
                          ("qab", None), ("a-zeta", "wid-pro"), ("a-wy-1", None), ("x-mid-7", "wid-pro")]:  # fmt: skip
        assert getattr(acme.resolve(raw), "id", None) == expected, raw
    ids = {name for m in bundled.models for name in (m.id, *m.aliases)}
    ids |= {p for p, _m in bundled.index.prefixed} | {f"{p}x-1" for p, _m in bundled.index.prefixed}
    rng = random.Random(0)
    variants = set()
    for name in sorted(ids):
        variants |= {
            f"ft:{name}:acme:x1",
            f"{name}-2026-01-01",
            f"{name}-v9",
            name[: rng.randint(1, len(name))],
        }
        variants |= {f"xx-{name}", name.upper(), f"{name}-{rng.randint(0, 99999999):08d}"}
    variants |= {"claude-opus-5-20260101", "llama3-1-70b-instruct-v1", "google.gemma-3-12b-it", "nova-pro"}
    hits = {"exact": 0, "prefix": 0, "regex": 0, "none": 0}
    for index in (bundled.index, bundled.index.provider_index("aws-bedrock"), catalog.index):
        for raw in sorted(ids | variants):
            normalized, _ = normalize_model_id(raw)
            if normalized is None:
                continue
            expected = _candidates_one_by_one(index, normalized)
            assert index.candidates(normalized) == expected, raw
            kind = "exact" if normalized in index.exact else "none" if not expected else "rule"
            if kind == "rule":
                kind = "prefix" if any(normalized.startswith(p) for p, _m in index.prefixed) else "regex"
            hits[kind] += 1
    assert min(hits.values()) > 50, hits  # every path taken, many times


def test_user_catalog_layer_replaces_a_model(tmp_path):
    write(
        tmp_path / "over" / "openai.yaml",
        """schema_version: 1
provider: openai
models:
  gpt-4o-mini:
    versions: [{effective_from: 2024-07-18, rates: {input: 0.10, output: 0.40}}]
""",
    )
    base = load_catalog(TEST_CATALOG, include_bundled=False)
    layered = load_catalog(TEST_CATALOG, tmp_path / "over", include_bundled=False)
    assert base.get("openai/gpt-4o-mini").versions[0].rates["input"] == Decimal("0.15")
    assert layered.get("openai/gpt-4o-mini").versions[0].rates["input"] == Decimal("0.10")
    assert layered.catalog_id != base.catalog_id
    assert len(layered.models) == len(base.models)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {input: -1}}]\n",
            "acme.yaml:5: acme/m.versions[0].rates.input: rate must be a non-negative number, got -1",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {inptu: 1}}]\n",
            "acme.yaml:5: acme/m.versions[0].rates: unknown unit 'inptu'",
        ),
        (
            "  m:\n    versions:\n      - {effective_from: 2025-02-01, rates: {input: 1}}\n"
            "      - {effective_from: 2025-01-01, rates: {input: 2}}\n",
            "acme.yaml:7: acme/m: versions must be in ascending effective_from order",
        ),
        (
            "  m:\n    versions:\n      - effective_from: 2025-01-01\n        rates: {input: 1}\n"
            "        tiers: [{above: 200000, rates: {input: 2}}, {above: 100000, rates: {input: 3}}]\n",
            "tiers must be ascending (100000 after 200000)",
        ),
        (
            "  m:\n    versions: [{effective_from: soon, rates: {input: 1}}]\n",
            "effective_from must be a date",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}, modes: {turbo: {multiplier: 2}}}]\n",
            "unknown mode 'turbo'",
        ),
        (
            "  m:\n    aliases: [x]\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}}]\n"
            "  n:\n    aliases: [x]\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}}]\n",
            "acme/n: id or alias 'x' also names acme/m",
        ),
        (
            "  M:\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}}]\n",
            "model ids are lower case",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {input: 0.0000000001}}]\n",
            "at most 9 decimal places",
        ),
    ],
)
def test_catalog_problems_name_file_line_and_reason(tmp_path, body, expected):
    problems = _load_broken(tmp_path, body)
    assert any(expected in p for p in problems), problems


def test_invalid_yaml_reports_the_line(tmp_path):
    write(tmp_path / "cat" / "acme.yaml", GOOD_HEAD + "  m:\n    versions: [\n  broken: : :\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "cat", include_bundled=False)
    assert "acme.yaml:" in str(info.value) and "invalid YAML" in str(info.value)


def test_missing_catalog_directory_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="no such catalog"):
        load_catalog(tmp_path / "nope", include_bundled=False)


def test_price_table_has_a_row_per_version_mode_and_tier(catalog):
    table = catalog.table.filter(table_key := (catalog.table["price_key"] == "openai/gpt-5"))
    assert table_key.sum() == 8  # 1 version x 4 modes x (base + >272000)
    priority_tier = table.filter((table["mode"] == "priority") & (table["price_tier"] == ">272000"))
    assert priority_tier["rate_output"][0] == Decimal("0.00003")
    batch_tier = table.filter((table["mode"] == "batch") & (table["price_tier"] == ">272000"))
    assert batch_tier["rate_input"][0] == Decimal("0.00000125")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}, windows: [{hours_utc: '25:00-01:00', "
            "rates: {input: 0.5}}]}]\n",
            "hours_utc must look like",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}, windows: ["
            "{hours_utc: '16:00-02:00', rates: {input: 0.5}}, {hours_utc: '01:00-03:00', multiplier: 0.5}]}]\n",
            "overlaps another window",
        ),
        (
            "  m:\n    versions: [{effective_from: 2025-01-01, rates: {input: 1}, regions: {us: -1}}]\n",
            "regions.us: multiplier must be a non-negative number",
        ),
    ],
)
def test_window_and_region_problems(tmp_path, body, expected):
    problems = _load_broken(tmp_path, body)
    assert any(expected in p for p in problems), problems


def test_windows_split_the_day_into_priced_segments(tmp_path):
    write(
        tmp_path / "cat" / "acme.yaml",
        GOOD_HEAD
        + """
  m:
    versions:
      - effective_from: 2025-01-01
        rates: {input: 1, output: 2}
        windows: [{hours_utc: "22:00-02:00", multiplier: 0.5}]
""",
    )
    table = load_catalog(tmp_path / "cat", include_bundled=False).table.filter(mode="standard")
    spans = sorted(zip(table["win_lo"], table["win_hi"], table["rate_input"], strict=True))
    assert spans == [
        (0, 120, Decimal("0.0000005")),
        (120, 1320, Decimal("0.000001")),
        (1320, 1440, Decimal("0.0000005")),
    ]
