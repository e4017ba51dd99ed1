"""`llmaudit pricing ...`: keep the catalog (and a user's own prices) honest in CI."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path

import typer

from llmaudit.cli.errors import exits_cleanly

app = typer.Typer(help="Check, show, diff and import the pricing catalog.", no_args_is_help=True)


class FailOn(StrEnum):
    warning = "warning"
    error = "error"
    never = "never"


class Fmt(StrEnum):
    table = "table"
    json = "json"
    md = "md"


def _console():
    from rich.console import Console

    return Console(soft_wrap=False)


def _catalog_arg(value: str):
    """'bundled' or a directory/file; a user directory is checked on its own (not layered)."""
    from llmaudit.catalog import load_catalog

    return load_catalog() if value == "bundled" else load_catalog(value, include_bundled=False)


@app.command("check")
@exits_cleanly
def check_command(
    paths: list[Path] = typer.Argument(
        None, help="Catalog directories or files (default: the bundled catalog)."
    ),
    reference: Path = typer.Option(
        None, help="Reference catalog to compare against (LiteLLM JSON or our YAML)."
    ),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on", help="Exit 1 on errors, warnings, or never."),
    stale_days: int = typer.Option(
        365, help="Warn when the latest version was checked longer ago than this."
    ),
    output_format: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table or json."),
    with_bundled: bool = typer.Option(
        False, "--with-bundled", help="Check DIR layered on the bundled catalog (overrides, partial files)."
    ),
) -> None:
    """Validate pricing YAML: schema, ordering, aliases, rates, tiers, modes, factor-10 jumps, stale dates."""
    from llmaudit.catalog.check import check_catalog

    findings = check_catalog(
        *(paths or []), include_bundled=with_bundled, reference=reference, stale_days=stale_days
    )
    if output_format == Fmt.json:
        from llmaudit.report.jsonout import render_json

        errors = sum(1 for f in findings if f.severity == "error")
        sys.stdout.write(
            render_json(
                "llmaudit.pricing-check/v1",
                {
                    "errors": errors,
                    "warnings": len(findings) - errors,
                    "findings": [f.as_dict() for f in findings],
                },
            )
            + "\n"
        )
    else:
        from llmaudit.report.pricing import render_check

        render_check(findings, _console(), github=os.environ.get("GITHUB_ACTIONS") == "true")
    severities = {f.severity for f in findings}
    if (fail_on == FailOn.error and "error" in severities) or (fail_on == FailOn.warning and severities):
        raise typer.Exit(1)


@app.command("show")
@exits_cleanly
def show_command(
    model: str = typer.Argument(..., help="Model id as it appears in logs (aliases and prefixes resolve)."),
    at: str = typer.Option(None, help="UTC date or time (default: now)."),
    catalog: list[Path] = typer.Option(
        None, "--catalog", help="Extra pricing YAML layered on the bundled one."
    ),
    output_format: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table or json."),
) -> None:
    """The price of MODEL in force at --at: every tier and mode, and where the number comes from."""
    from llmaudit.catalog import load_catalog
    from llmaudit.catalog.show import show

    data = show(load_catalog(*(catalog or [])), model, at)
    if output_format == Fmt.json:
        from llmaudit.report.jsonout import render_json

        sys.stdout.write(render_json("llmaudit.pricing-show/v1", data) + "\n")
    else:
        from llmaudit.report.pricing import render_show

        render_show(data, _console())


@app.command("diff")
@exits_cleanly
def diff_command(
    old: str = typer.Argument(..., help="Old catalog: a directory or file, or 'bundled'."),
    new: str = typer.Argument(..., help="New catalog: a directory or file, or 'bundled'."),
    logs: list[Path] = typer.Option(None, "--logs", help="Logs to reprice (default: the history store)."),
    db: str = typer.Option(None, "--db", help="History store used when --logs is not given."),
    fail_above: str = typer.Option(
        None, "--fail-above", help="Exit 1 when |change| exceeds e.g. 5% or 100USD."
    ),
    output_format: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table, json or md."),
) -> None:
    """What changed between two catalogs and its dollar impact on recorded calls."""
    from llmaudit.errors import InputError
    from llmaudit.ingest import stream_logs
    from llmaudit.pricediff import diff, diff_relation, exceeds, parse_threshold
    from llmaudit.store import HistoryStore
    from llmaudit.workspace import Workspace

    threshold = parse_threshold(fail_above) if fail_above else None
    old_catalog, new_catalog = _catalog_arg(old), _catalog_arg(new)
    # the calls go to a DuckDB workspace and both catalogs price them there: any history size fits
    workspace = Workspace()
    store = None  # the attached history store, when the calls are all of it
    if logs:
        stream_logs(logs, workspace.add_chunk)
        workspace.collapse()
    else:
        try:
            workspace.use_relation(HistoryStore(db).select_sql(workspace.con))
            store = "history_store"
        except InputError:
            if db is not None:
                raise
            typer.echo("llmaudit: no --logs and no history store: showing model changes only", err=True)
            workspace = None
    if workspace is None:
        data = diff(old_catalog, new_catalog)
    else:
        data = diff_relation(old_catalog, new_catalog, workspace.con, "calls", store)
    if output_format == Fmt.json:
        from llmaudit.report.jsonout import render_json

        sys.stdout.write(render_json("llmaudit.pricing-diff/v1", data) + "\n")
    elif output_format == Fmt.md:
        from llmaudit.report.pricing import render_diff_markdown

        sys.stdout.write(render_diff_markdown(data))
    else:
        from llmaudit.report.pricing import render_diff

        render_diff(data, _console())
    if threshold is not None and exceeds(data, threshold):
        typer.echo(f"llmaudit: cost change exceeds --fail-above {fail_above}", err=True)
        raise typer.Exit(1)


class ImportSource(StrEnum):
    genai_prices = "genai-prices"
    litellm = "litellm"


@app.command("import")
@exits_cleanly
def import_command(
    source: ImportSource = typer.Argument(..., help="genai-prices or litellm."),
    path: Path = typer.Argument(
        ...,
        help="genai-prices: a prices/providers directory or one provider .yml; "
        "litellm: model_prices_and_context_window.json.",
    ),
    out: str = typer.Option(  # text: a Path folds the // of a URL, which is refused, not written locally
        ..., "--out", help="Directory to write one <provider>.yaml per provider into."
    ),
    only: list[str] = typer.Option(None, "--only", help="Import only this provider (repeatable)."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Skip this provider (repeatable)."),
    force: bool = typer.Option(
        False, "--force", help="Overwrite curated (openai, anthropic, google) or hand-written files."
    ),
    keep_duplicates: bool = typer.Option(
        False,
        "--keep-duplicates",
        help="Keep models that duplicate a curated first-party model under another provider.",
    ),
    effective_from: str = typer.Option(
        "2023-01-01", help="Date given to prices the source does not date (marked inferred)."
    ),
    source_version: str = typer.Option(
        None, help="Source commit or version named in each file's notes (default: the file's sha256)."
    ),
) -> None:
    """Convert genai-prices or LiteLLM pricing data into catalog YAML (never overwrites curated files)."""
    import datetime as dt

    from llmaudit.catalog import bundled_catalog_dir, load_catalog
    from llmaudit.catalog.importers import (
        clean_provider_file,
        curated_models,
        import_genai_prices,
        import_litellm,
        select,
        write_provider_files,
    )
    from llmaudit.errors import UsageError
    from llmaudit.local_paths import local_output

    target = local_output(out)
    try:
        since = dt.date.fromisoformat(effective_from)
    except ValueError:
        raise UsageError(f"--effective-from {effective_from!r}: use YYYY-MM-DD") from None
    convert = import_genai_prices if source == ImportSource.genai_prices else import_litellm
    files = select(
        convert(path, effective_from=since, source_version=source_version), only or [], exclude or []
    )
    curated = [] if keep_duplicates else curated_models(target, bundled_catalog_dir())
    files = [clean_provider_file(pf, curated) for pf in files]
    empty = [pf for pf in files if not pf.models]
    files = [pf for pf in files if pf.models]
    if not files:
        raise UsageError(f"{path}: nothing to import (check --only/--exclude)")
    written = write_provider_files(files, target, f"{source.value}", force=force)
    load_catalog(*written, include_bundled=False)  # what we wrote must load (raises CatalogError otherwise)
    for pf, file in zip(files, written, strict=True):
        typer.echo(
            f"{file}: {len(pf.models)} models" + (f", {len(pf.skipped)} not imported" if pf.skipped else "")
        )
    for pf in empty:
        typer.echo(f"{pf.provider}: nothing importable ({'; '.join(pf.skipped[:3])})", err=True)
    models = sum(len(pf.models) for pf in files)
    typer.echo(
        f"{models} models in {len(files)} files; what was not imported is listed in each file's header",
        err=True,
    )
