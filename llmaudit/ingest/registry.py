"""Known JSON formats, in sniffing priority order, and the sniffer."""

from __future__ import annotations

import json

import orjson

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


def sniff(texts: list[str], readers: list[JsonReader], hint: JsonReader | None = None) -> JsonReader | None:
    """The reader matching most of the first objects of a file (ties go to the earlier, more specific one).
    `hint`: the reader likely to win (the previous file's), tried first: the same answer, sooner."""
    objects = []
    for text in texts[:SNIFF_SAMPLE]:
        try:
            objects.append(_decode(text))
        except json.JSONDecodeError:
            continue
    return sniff_objects(objects, readers, hint)


_strict_decode = json.JSONDecoder().decode


def _decode(text: str):
    """A sample line as Python objects: by orjson, 2.4x faster than the stdlib's decoder on log lines (a
    folder of 10,000 logs of 100 calls decodes all 1M of them: 3.4 of its ~9 s); a line orjson refuses
    (NaN and Infinity, which Python's `json.dumps` writes, and lone surrogates) by the stdlib's, as before,
    so the vote sees the same objects (but integers past 64 bits, which orjson reads as floats)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _strict_decode(text)


def sniff_objects(
    objects: list, readers: list[JsonReader], hint: JsonReader | None = None
) -> JsonReader | None:
    """The reader matching most of these decoded objects (ties go to the earlier reader).

    A reader stops being tried once it can no longer beat the best so far, so with the winner tried first
    (`hint`) every other reader usually stops at its first miss: a folder of 10,000 small logs of one
    format spent most of its time trying 20 readers on every sampled object."""
    candidates = [obj for obj in objects if isinstance(obj, dict)]
    rank = {id(reader): i for i, reader in enumerate(readers)}
    order = (
        readers if hint is None or id(hint) not in rank else [hint, *(r for r in readers if r is not hint)]
    )
    best: JsonReader | None = None
    best_hits = 0
    for reader in order:
        # hits it needs to win: more than the best, or as many when it comes earlier in `readers`
        need = best_hits + (0 if best is not None and rank[id(reader)] < rank[id(best)] else 1)
        if need > len(candidates):
            continue
        hits = 0
        for seen, obj in enumerate(candidates, 1):
            if reader.sniff(obj):
                hits += 1
            elif hits + len(candidates) - seen < need:
                break
        else:
            if hits >= need:
                best, best_hits = reader, hits
    return best
