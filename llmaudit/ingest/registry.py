"""Known JSON formats, in sniffing priority order, and the sniffer."""

from __future__ import annotations

import json

from llmaudit.ingest import (
    anthropic,
    anthropic_reports,
    bedrock,
    claude_code,
    codex,
    focus,
    gemini,
    helicone,
    helicone_csv,
    langfuse,
    litellm,
    litellm_csv,
    openai,
    openai_usage,
    openrouter,
    portkey,
)
from llmaudit.ingest.generic import Mapping, generic_json_reader
from llmaudit.ingest.spec import JsonReader

SNIFF_SAMPLE = 200


def json_readers(mapping: Mapping) -> list[JsonReader]:
    """Most specific first: wrappers (batch files, transcripts) before bare objects, generic last."""
    return [
        *claude_code.READERS,
        *codex.READERS,
        *litellm.READERS,
        *langfuse.READERS,
        *helicone.READERS,
        *openrouter.READERS,
        *portkey.READERS,
        *openai.READERS,
        *openai_usage.READERS,
        *anthropic.READERS,
        *anthropic_reports.READERS,
        *gemini.READERS,
        *bedrock.READERS,
        generic_json_reader(mapping),
    ]


def csv_readers() -> list[JsonReader]:
    """Readers of known CSV exports: each CSV row is read as a flat object keyed by the header's names.
    A CSV that none of them recognizes is read as generic_csv."""
    return [
        *openai_usage.CSV_READERS,
        *focus.CSV_READERS,
        *litellm_csv.CSV_READERS,
        *helicone_csv.CSV_READERS,
        *portkey.CSV_READERS,
    ]


def reader_names(mapping: Mapping | None = None) -> list[str]:
    return [r.name for r in json_readers(mapping or Mapping())] + [r.name for r in csv_readers()]


def sniff(texts: list[str], readers: list[JsonReader]) -> JsonReader | None:
    """The reader matching most of the first objects of a file (ties go to the earlier, more specific one)."""
    objects = []
    for text in texts[:SNIFF_SAMPLE]:
        try:
            objects.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return sniff_objects(objects, readers)


def sniff_objects(objects: list, readers: list[JsonReader]) -> JsonReader | None:
    """The reader matching most of these decoded objects (ties go to the earlier reader)."""
    best, best_hits = None, 0
    for reader in readers:
        hits = sum(1 for obj in objects if isinstance(obj, dict) and reader.sniff(obj))
        if hits > best_hits:
            best, best_hits = reader, hits
    return best
