"""`pricing import`: genai-prices and LiteLLM data converted into our schema, priced by hand-checkable numbers;
curated files are never overwritten; the bundled catalog's breadth and first-party resolution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ANCHORS, UTC, calls_frame, write
from typer.testing import CliRunner

from llmaudit.catalog import bundled_catalog_dir, load_catalog
from llmaudit.catalog.check import check_catalog
from llmaudit.catalog.importers import (
    CURATED_PROVIDERS,
    GENERATED_MARK,
    clean_provider_file,
    curated_models,
    import_litellm,
    per_million,
    render_provider_file,
)
from llmaudit.cli import app
from llmaudit.pricing import price

D = Decimal
M = 1_000_000
runner = CliRunner()
GENAI = ANCHORS / "pricing" / "genai-prices" / "providers"
LITELLM = ANCHORS / "pricing" / "litellm" / "model_prices_and_context_window.json"
# The options the bundled generated files were made with (see test_bundled_files_are_reproducible).
BUNDLED_SOURCE_VERSION = "git 47df840a5ab10bbcffb8e5ac01b9899032245d1b, 2026-08-21"
REGENERATE = (
    "regenerate with: llmaudit pricing import genai-prices ../shared/anchors/pricing/genai-prices/providers "
    f"--out pricing --exclude openai --exclude anthropic --exclude google --source-version '{BUNDLED_SOURCE_VERSION}'"
)


@pytest.fixture
def genai() -> Path:
    if not GENAI.is_dir():
        pytest.skip("../shared/anchors/pricing/genai-prices is not present")
    return GENAI


@pytest.fixture
def litellm_json() -> Path:
    if not LITELLM.is_file():
        pytest.skip("../shared/anchors/pricing/litellm is not present")
    return LITELLM


def _import(source: str, path: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["pricing", "import", source, str(path), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return load_catalog(out, include_bundled=False)


def _cost(catalog, model, *, inp=0, cached=0, out=0, ts=None, provider=None, batch=False, tier=None):
    frame = calls_frame(
        model_raw=[model],
        provider=[provider],
        ts=[ts or dt.datetime(2025, 11, 1, tzinfo=UTC)],
        input_uncached_tokens=[inp],
        cache_read_tokens=[cached],
        input_total_tokens=[inp + cached],
        output_tokens=[out],
        is_batch=[batch],
        service_tier=[tier],
    )
    row = price(frame, catalog).row(0, named=True)
    assert row["priced"], (model, row["unpriced_reason"])
    return row["cost_usd"]


# ------------------------------------------------------------------------------------------- genai-prices


def test_genai_prices_dated_versions_price_o3_by_call_date(genai, tmp_path):
    catalog = _import("genai-prices", genai / "openai.yml", tmp_path / "out")
    o3 = catalog.resolve("o3-2025-04-16")
    assert o3.id == "o3" and [v.effective_from.date() for v in o3.versions] == [
        dt.date(2023, 1, 1),
        dt.date(2025, 6, 10),
    ]
    assert "(inferred)" in o3.versions[0].note
    before = _cost(catalog, "o3", inp=M, out=M, ts=dt.datetime(2025, 5, 1, tzinfo=UTC))
    after = _cost(catalog, "o3", inp=M, out=M, ts=dt.datetime(2025, 7, 1, tzinfo=UTC))
    assert (before, after) == (D(50), D(10))


def test_genai_prices_time_of_day_prices_become_windows(genai, tmp_path):
    catalog = _import("genai-prices", genai / "deepseek.yml", tmp_path / "out")
    version = catalog.resolve("deepseek-chat").versions[-1]
    assert version.rates == {"input": D("0.27"), "cache_read": D("0.07"), "output": D("1.1")}
    (window,) = version.windows
    assert window.label == "16:30-00:30" and window.rates["input"] == D("0.135")
    day, night = dt.datetime(2025, 11, 1, 3, tzinfo=UTC), dt.datetime(2025, 11, 1, 18, tzinfo=UTC)
    assert _cost(catalog, "deepseek-chat", inp=M, out=M, provider="deepseek", ts=day) == D("1.37")
    assert _cost(catalog, "deepseek-chat", inp=M, out=M, provider="deepseek", ts=night) == D("0.685")
    assert catalog.resolve("deepseek-r1-0528").id == "deepseek-reasoner"  # equals -> alias
    assert catalog.resolve("deepseek-chat-v3-x").id == "deepseek-chat"  # starts_with -> prefix


def test_genai_prices_tiered_prices_become_cliff_tiers(genai, tmp_path):
    catalog = _import("genai-prices", genai / "minimax.yml", tmp_path / "out")
    m3 = catalog.resolve("minimax-m3").versions[-1]
    assert [(t.above, t.rates["input"], t.rates["output"]) for t in m3.tiers] == [
        (512000, D("0.6"), D("2.4"))
    ]
    assert _cost(catalog, "minimax-m3", inp=500_000) == D("0.15")  # 500K * 0.30
    assert _cost(catalog, "minimax-m3", inp=600_000) == D("0.36")  # > 512K: all 600K at 0.60
    sonnet = _import("genai-prices", genai / "anthropic.yml", tmp_path / "a").resolve("claude-sonnet-4-5")
    tier = sonnet.versions[-1].tiers[0]
    assert tier.above == 200000 and tier.rates["input"] == 6 and tier.rates["cache_write_1h"] == 12


def test_genai_prices_bedrock_ids_are_normalized_and_region_prefixes_match(genai, tmp_path):
    catalog = _import("genai-prices", genai / "aws.yml", tmp_path / "out")
    assert {m.provider for m in catalog.models} == {"aws-bedrock"}
    assert catalog.resolve("us.amazon.nova-pro-v1:0").id == "nova-pro"
    assert _cost(catalog, "amazon.nova-micro-v1:0", inp=M, out=M) == D("0.175")
    # Claude on Bedrock duplicates the curated anthropic models: dropped, and listed in the header
    assert catalog.resolve("us.anthropic.claude-sonnet-4-5-20250929-v1:0") is None
    assert (
        "duplicates curated anthropic/claude-sonnet-4-5"
        in (tmp_path / "out" / "aws-bedrock.yaml").read_text()
    )


SYNTHETIC = """\
id: acme
name: Acme
pricing_urls: [https://acme.example/pricing]
models:
  - id: Acme-Large
    name: Acme Large
    match:
      or:
        - equals: acme/Acme-Large-2025
        - starts_with: acme-large-
        - contains: us.acme.acme-large
        - ends_with: -large-beta
        - and:
            - starts_with: acme-
            - contains: turbo
    prices:
      input_mtok: {base: 1, tiers: [{start: 32000, price: 2}, {start: 128000, price: 3}]}
      output_mtok: {base: 4, tiers: [{start: 128000, price: 8}]}
      cache_read_mtok: 0.1
      output_image_mtok: 30
    price_variants:
      - when: {processing: batch}
        prices: {input_mtok: 0.5, output_mtok: 2}
        constraint: {start_date: 2026-10-14}
      - when: {service_tier: flex}
        prices: {input_mtok: 0.5, output_mtok: 2}
      - when: {service_tier: fast}
        prices: {input_mtok: 9, output_mtok: 9}
      - when: {service_tier: priority}
        prices: {input_mtok: 2, output_mtok: 8}
      - when: {speed: fast}
        prices: {input_mtok: 6, output_mtok: 24}
  - id: acme-small
    match: {equals: acme-small}
    prices: {input_mtok: 0.123456789123, output_mtok: 1, cache_read_mtok: 2}
  - id: ACME-SMALL
    match: {equals: acme-small-2}
    prices: {input_mtok: 5}
"""


def test_genai_prices_synthetic_file_covers_variants_rules_and_cleanup(tmp_path):
    source = write(tmp_path / "providers" / "acme.yml", SYNTHETIC)
    catalog = _import("genai-prices", source, tmp_path / "out")
    text = (tmp_path / "out" / "acme.yaml").read_text()
    assert text.startswith(f"{GENERATED_MARK} genai-prices acme.yml; edit the importer")
    large = catalog.resolve("acme-large")
    assert large.aliases == ("acme/acme-large-2025",) and large.prefixes == ("acme-large-",)
    patterns = [r.pattern for r in large.regexes]
    # contains `us.acme.acme-large`: the region prefix is stripped like a logged id's, so the rest is anchored
    assert patterns[:2] == ["^acme\\.acme\\-large", "\\-large\\-beta$"] and len(patterns) == 3
    for logged in ("us.acme.acme-large-v2", "x-large-beta", "acme-turbo-1", "ACME-LARGE-2"):
        assert catalog.resolve(logged) is large, logged
    version = large.versions[-1]
    # per-unit tiers merged into cliff tiers: units not at their base rate are listed at each threshold
    assert [(t.above, t.rates) for t in version.tiers] == [
        (32000, {"input": D(2)}),
        (128000, {"input": D(3), "output": D(8)}),
    ]
    assert version.modes["batch"].rates == {"input": D("0.5"), "output": D(2)}
    assert version.modes["batch"].tiers == ()  # flat variant prices hold above every threshold
    assert version.modes["priority"].rates == {"input": D(2), "output": D(8)}  # priority beats `fast`
    assert "output_image_mtok" in version.note and "speed=fast" in text
    small = catalog.resolve("acme-small").versions[-1]
    assert small.rates == {"input": D("0.123456789"), "output": D(1)}  # 9 dp; cache_read > input dropped
    assert "rounded" in small.note and "above input" in small.note
    assert "'acme-small' already names another model" in text  # ACME-SMALL: same id once lower-cased
    assert not [f for f in check_catalog(tmp_path / "out") if f.severity == "error"]


# ----------------------------------------------------------------------------------------------- LiteLLM


def test_litellm_per_token_costs_become_exact_per_million_rates():
    assert per_million(2.5e-06) == D("2.5")
    assert per_million(1.875e-07) == D("0.1875")
    assert per_million(3e-09) == D("0.003")
    assert per_million(1.23456789012e-07) == D("0.123456789")  # at most 9 decimal places
    assert per_million(0) == 0 and per_million(-1) is None and per_million("x") is None


def test_litellm_import_rates_tiers_and_modes(litellm_json, tmp_path):
    out = tmp_path / "out"
    catalog = _import("litellm", litellm_json, out, "--only", "openai", "--only", "gemini")
    assert {m.provider for m in catalog.models} == {"openai", "google"}
    gpt4o = catalog.get("openai/gpt-4o").versions[-1]
    assert (gpt4o.rates["input"], gpt4o.rates["output"], gpt4o.rates["cache_read"]) == (
        D("2.5"),
        10,
        D("1.25"),
    )
    assert gpt4o.source == "https://developers.openai.com/api/docs/pricing" and "(inferred)" in gpt4o.note
    assert _cost(catalog, "gpt-4o", inp=M, out=M, provider="openai") == D("12.5")
    assert _cost(catalog, "gpt-4o", inp=M, out=M, provider="openai", batch=True) == D("6.25")  # _batches
    assert _cost(catalog, "gpt-4o", inp=M, out=M, provider="openai", tier="priority") == D("21.25")
    pro = catalog.resolve("gemini/gemini-2.5-pro", "google").versions[-1]  # _above_200k_tokens -> tier
    assert pro.tiers[0].above == 200000 and pro.tiers[0].rates["input"] == D("2.5")
    assert _cost(catalog, "gemini-2.5-pro", inp=250_000, out=10_000, provider="google") == D("0.775")
    assert pro.modes["priority"].tiers[0].rates["output"] == 27  # _above_200k_tokens_priority
    assert not [f for f in check_catalog(out) if f.severity == "error"]


def test_litellm_whole_file_imports_cleanly(litellm_json, tmp_path):
    curated = curated_models(bundled_catalog_dir())
    files = [clean_provider_file(pf, curated) for pf in import_litellm(litellm_json)]
    for pf in files:
        if pf.models:
            write(tmp_path / pf.filename, render_provider_file(pf, "litellm"))
    catalog = load_catalog(tmp_path, include_bundled=False)
    assert len(catalog.models) > 2000
    assert {"aws-bedrock", "azure", "together", "fireworks", "xai", "deepseek"} <= {
        m.provider for m in catalog.models
    }
    # only chat/completion/embedding: image and audio models are skipped
    assert catalog.get("openai/dall-e-3") is None and catalog.get("openai/whisper-1") is None
    assert not [f for f in check_catalog(tmp_path) if f.severity == "error"]


# -------------------------------------------------------------------------------------- curated data safe


def test_import_refuses_to_overwrite_curated_files(genai, tmp_path):
    out = tmp_path / "out"
    curated = (bundled_catalog_dir() / "openai.yaml").read_text()
    write(out / "openai.yaml", curated)
    result = runner.invoke(app, ["pricing", "import", "genai-prices", str(genai), "--out", str(out)])
    assert result.exit_code == 2
    assert "openai.yaml: provider 'openai' is curated; not overwritten" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["openai.yaml"]  # nothing written at all
    assert (out / "openai.yaml").read_text() == curated
    _import("genai-prices", genai, out, "--exclude", "openai", "--only", "deepseek", "--only", "openai")
    assert (out / "openai.yaml").read_text() == curated and (out / "deepseek.yaml").is_file()
    _import("genai-prices", genai / "openai.yml", out, "--force")
    assert (out / "openai.yaml").read_text().startswith(GENERATED_MARK)


def test_import_refuses_hand_written_files_but_regenerates_its_own(genai, tmp_path):
    out = tmp_path / "out"
    write(out / "deepseek.yaml", "schema_version: 1\nprovider: deepseek\nmodels: {}\n")
    result = runner.invoke(
        app, ["pricing", "import", "genai-prices", str(genai / "deepseek.yml"), "--out", str(out)]
    )
    assert result.exit_code == 2 and "not written by `pricing import`" in result.output
    (out / "deepseek.yaml").unlink()
    _import("genai-prices", genai / "deepseek.yml", out)
    first = (out / "deepseek.yaml").read_bytes()
    _import("genai-prices", genai / "deepseek.yml", out)  # its own output is regenerated, byte for byte
    assert (out / "deepseek.yaml").read_bytes() == first


# ----------------------------------------------------------------------------------------- bundled catalog


@pytest.fixture(scope="module")
def bundled():
    return load_catalog()


def test_bundled_catalog_breadth_and_check(bundled):
    providers = {m.provider for m in bundled.models}
    assert len(bundled.models) >= 400 and len(providers) >= 15
    assert {"deepseek", "mistral", "xai", "groq", "together", "aws-bedrock", "azure"} <= providers
    assert not [f for f in check_catalog() if f.severity == "error"]


def test_bundled_generated_files_name_source_and_license():
    for file in sorted(bundled_catalog_dir().glob("*.yaml")):
        text = file.read_text()
        if file.stem in CURATED_PROVIDERS:
            assert not text.startswith(GENERATED_MARK), file
        else:
            assert text.startswith(GENERATED_MARK), file
            assert "MIT License" in text, file
            assert ("pydantic/genai-prices" in text and "47df840a" in text) or (
                "BerriAI/litellm" in text and "litellm 1.109.1" in text
            ), file


def test_bundled_generated_files_are_reproducible(genai, litellm_json, tmp_path):
    """The generated files are exactly what the importer makes from the anchors (edit the importer, not them):
    genai-prices for every non-curated provider, plus DashScope (Qwen, input-length tiers) from LiteLLM."""
    out = tmp_path / "out"
    args = ["--source-version", BUNDLED_SOURCE_VERSION]
    _import("genai-prices", genai, out, *args, *(f"--exclude={p}" for p in CURATED_PROVIDERS))
    _import("litellm", litellm_json, out, "--only", "dashscope", "--source-version", "litellm 1.109.1 wheel")
    bundled_generated = sorted(
        p.name for p in bundled_catalog_dir().glob("*.yaml") if p.stem not in CURATED_PROVIDERS
    )
    assert sorted(p.name for p in out.glob("*.yaml")) == bundled_generated, REGENERATE
    for name in bundled_generated:
        assert (out / name).read_text() == (bundled_catalog_dir() / name).read_text(), f"{name}: {REGENERATE}"


def test_curated_ids_and_aliases_resolve_to_the_curated_entry(bundled):
    curated = [m for m in bundled.models if m.provider in CURATED_PROVIDERS]
    assert len(curated) > 90
    hints = [None, *sorted({m.provider for m in bundled.models})]  # the call's provider, whichever it is
    wrong = [
        (name, hint, got.key if got else None)
        for model in curated
        for name in (model.id, *model.aliases)
        for hint in hints
        if (got := bundled.resolve(name, hint)) is not model
    ]
    assert wrong == []
    # the way gateways log them, too
    assert (
        bundled.resolve("openrouter/anthropic/claude-sonnet-4.5", "openrouter").key
        == "anthropic/claude-sonnet-4-5"
    )
    assert (
        bundled.resolve("us.anthropic.claude-opus-4-1-20250805-v1:0", "aws-bedrock").key
        == "anthropic/claude-opus-4-1"
    )
    assert bundled.resolve("azure/gpt-4o", "azure").key == "openai/gpt-4o"
    # an undated snapshot id: the curated prefix rule, not another provider's rule
    assert bundled.resolve("claude-sonnet-4-5-20990101").key == "anthropic/claude-sonnet-4-5"


def test_the_calls_provider_is_searched_first(bundled):
    # the same open model at several hosts: the serving provider's own price list wins
    assert bundled.resolve("gpt-oss-120b", "groq").provider == "groq"
    assert bundled.resolve("gpt-oss-120b", "cerebras").provider == "cerebras"
    assert bundled.resolve("minimax-m3", "minimax").provider == "minimax"
    # a hint with no match of its own falls back to every provider
    assert bundled.resolve("deepseek-chat", "anthropic").key == "deepseek/deepseek-chat"
    # without a hint the result is deterministic (the first file that defines the id)
    assert bundled.resolve("gpt-oss-120b").provider == bundled.index.exact["gpt-oss-120b"][0].provider


def test_import_to_a_url_is_refused_not_written_locally(tmp_path, monkeypatch):
    """`--out s3://…` was folded into a local s3:/… folder; it is refused before the source is read."""
    monkeypatch.chdir(tmp_path)
    source = write(tmp_path / "prices.json", "{}")
    result = runner.invoke(app, ["pricing", "import", "litellm", str(source), "--out", "s3://bucket/prices"])
    assert result.exit_code == 2, result.output
    assert "s3://bucket/prices: llmaudit writes local files and directories" in result.output
    assert not (tmp_path / "s3:").exists()
