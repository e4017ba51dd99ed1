"""Known JSON formats, in sniffing priority order, and the sniffer."""

from __future__ import annotations

import json

import polars as pl

from llmaudit.ingest import (
    anthropic,
    bedrock,
    claude_code,
    codex,
    gemini,
    helicone,
    langfuse,
    litellm,
    openai,
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
        *openai.READERS,
        *anthropic.READERS,
        *gemini.READERS,
        *bedrock.READERS,
        generic_json_reader(mapping),
    ]


def reader_names(mapping: Mapping | None = None) -> list[str]:
    return [r.name for r in json_readers(mapping or Mapping())]


def sniff(lines: pl.DataFrame, readers: list[JsonReader]) -> JsonReader | None:
    """The reader matching most of the first objects of a file (ties go to the earlier, more specific one)."""
    objects = []
    for text in lines["text"].head(SNIFF_SAMPLE).to_list():
        try:
            objects.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    best, best_hits = None, 0
    for reader in readers:
        hits = sum(1 for obj in objects if isinstance(obj, dict) and reader.sniff(obj))
        if hits > best_hits:
            best, best_hits = reader, hits
    return best
