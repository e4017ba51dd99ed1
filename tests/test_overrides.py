"""A user's overrides file: deployment-name and ARN aliases, negotiated discounts, validated like the rest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import TEST_CATALOG, UTC, calls_frame, write

from llmaudit.catalog import load_catalog
from llmaudit.errors import CatalogError
from llmaudit.pricing import price

ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
OVERRIDES = f"""schema_version: 1
overrides:
  aliases:
    prod-gpt4o-eastus: openai/gpt-4o
    "{ARN}": anthropic/claude-sonnet-4-5
  discounts:
    - {{provider: openai, multiplier: 0.8, effective_from: 2025-11-15}}
    - {{model: anthropic/claude-haiku-4-5, multiplier: 0.5}}
"""


def _cost(catalog, model, ts=dt.datetime(2025, 11, 1, tzinfo=UTC)):
    frame = calls_frame(
        model_raw=[model],
        ts=[ts],
        input_uncached_tokens=[1_000_000],
        input_total_tokens=[1_000_000],
        output_tokens=[0],
    )
    return price(frame, catalog).row(0, named=True)


@pytest.fixture
def layered(tmp_path):
    write(tmp_path / "mine" / "overrides.yaml", OVERRIDES)
    return load_catalog(TEST_CATALOG, tmp_path / "mine", include_bundled=False)


def test_aliases_map_deployment_names_and_arns(layered):
    assert _cost(layered, "prod-gpt4o-eastus")["price_model"] == "gpt-4o"
    row = _cost(layered, ARN.upper())
    assert (row["price_model"], row["cost_usd"]) == ("claude-sonnet-4-5", Decimal("6"))  # 1M > 200K tier


def test_discounts_apply_from_their_date_and_say_so(layered):
    before = _cost(layered, "gpt-4o-mini", ts=dt.datetime(2025, 11, 14, tzinfo=UTC))
    after = _cost(layered, "gpt-4o-mini", ts=dt.datetime(2025, 11, 15, tzinfo=UTC))
    assert before["cost_usd"] == Decimal("0.15") and after["cost_usd"] == Decimal("0.12")
    assert after["price_version"] == dt.date(2025, 11, 15)
    assert _cost(layered, "claude-haiku-4-5-20251001")["cost_usd"] == Decimal("0.5")
    model = layered.get("anthropic/claude-haiku-4-5")
    assert "negotiated discount x0.5" in model.versions[0].note and "overrides.yaml" in model.versions[0].note


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("overrides:\n  aliases: {x: openai/nope}\n", "points to 'openai/nope', which is not in the catalog"),
        ("overrides:\n  aliases: {x: gpt-4o}\n", "target must be provider/model"),
        ("overrides:\n  discounts: [{provider: openai, multiplier: -1}]\n", "between 0 and 10"),
        ("overrides:\n  discounts: [{multiplier: 0.5}]\n", "needs `multiplier` and `provider` or `model`"),
        ("overrides:\n  discounts: [{provider: acme, multiplier: 0.5}]\n", "discount matches no model"),
        ("overrides:\n  rebates: {}\n", "`overrides` is a mapping with `aliases` and/or `discounts`"),
    ],
)
def test_bad_overrides_are_catalog_errors_with_file_and_line(tmp_path, body, expected):
    write(tmp_path / "mine" / "o.yaml", "schema_version: 1\n" + body)
    with pytest.raises(CatalogError) as info:
        load_catalog(TEST_CATALOG, tmp_path / "mine", include_bundled=False)
    assert any(expected in p and "o.yaml:" in p for p in info.value.problems), info.value.problems


def test_pricing_check_validates_overrides_on_the_bundled_catalog(tmp_path):
    from typer.testing import CliRunner

    from llmaudit.cli import app

    good = write(
        tmp_path / "good" / "o.yaml", "schema_version: 1\noverrides:\n  aliases: {my-dep: openai/gpt-4o}\n"
    )
    bad = write(
        tmp_path / "bad" / "o.yaml", "schema_version: 1\noverrides:\n  aliases: {my-dep: openai/gpt-9}\n"
    )
    runner = CliRunner()
    assert runner.invoke(app, ["pricing", "check", str(good.parent), "--with-bundled"]).exit_code == 0
    result = runner.invoke(app, ["pricing", "check", str(bad.parent), "--with-bundled"])
    assert result.exit_code == 1 and "o.yaml:3" in result.stdout and "not in the catalog" in result.stdout
