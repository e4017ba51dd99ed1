"""Model-id normalization and matching: the step peers get wrong (Bedrock prefixes, Vertex @dates -> $0)."""

from __future__ import annotations

import re

from llmaudit.catalog.model import Model

_PROVIDER_PREFIXES = (
    "publishers/google/models/",
    "publishers/anthropic/models/",
    "models/",
    "openai/",
    "anthropic/",
    "google/",
    "gemini/",
    "vertex_ai/",
    "vertex_ai_beta/",
    "bedrock/",
    "bedrock_converse/",
    "azure/",
    "azure_ai/",
    "openrouter/",
    "litellm_proxy/",
)
# every leading provider prefix at once (no two of them match at the same place, so the order is moot)
_LEADING_PREFIXES = re.compile("^(?:" + "|".join(re.escape(p) for p in _PROVIDER_PREFIXES) + ")+")
_BEDROCK_REGION = re.compile(r"^(us-gov|us|eu|apac|au|jp|ca|global)\.(?=[a-z]+\.)")
_BEDROCK_VENDOR = re.compile(r"^(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|qwen|openai|writer)\.")
_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$")
_VERTEX_DATE = re.compile(r"@(\d{8})$")
_CONTEXT_SUFFIX = re.compile(r"\[\d+[km]\]$")
_CLAUDE_VERSION_FIRST = re.compile(
    r"^claude-([4-9](?:[.-]\d+)?)-(opus|sonnet|haiku)\b"
)  # 3.x ids are version-first


def normalize_model_id(raw: str | None) -> tuple[str | None, str | None]:
    """(normalized id, region) for a logged model id; region is the Bedrock geo prefix when present."""
    if raw is None:
        return None, None
    model = raw.strip().lower()
    if not model or model in {"<synthetic>", "unknown", "none", "null"}:
        return None, None
    region = None
    if (m := _LEADING_PREFIXES.match(model)) is not None:
        model = model[m.end() :]
    if (m := _BEDROCK_REGION.match(model)) is not None:
        region = m.group(1)
        model = model[m.end() :]
    if _BEDROCK_VENDOR.match(model):
        model = _BEDROCK_VENDOR.sub("", model, count=1)
        model = _BEDROCK_VERSION.sub("", model)
    model = _VERTEX_DATE.sub(r"-\1", model)
    model = _CONTEXT_SUFFIX.sub("", model)
    if model.startswith("claude-"):
        # OpenRouter-style claude-4.5-sonnet -> claude-sonnet-4-5; dotted versions -> dashes
        model = _CLAUDE_VERSION_FIRST.sub(lambda m: f"claude-{m.group(2)}-{m.group(1)}", model)
        model = re.sub(r"(?<=\d)\.(?=\d)", "-", model)
    return model, region


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def _anchored_body(pattern: str) -> str | None:
    """`pattern` without its leading `^` when it has one and no `|` outside groups and classes (so the
    anchor applies to all of it) and no backreference (whose group numbers an alternation would shift);
    None otherwise."""
    if not pattern.startswith("^") or pattern.startswith("^*") or _BACKREFERENCE.search(pattern):
        return None
    depth, in_class, escaped = 0, False, False
    for char in pattern[1:]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
    return pattern[1:]


def _alternation(patterns: list[str], flags: int) -> re.Pattern[str] | None:
    """One regex matching where any of `patterns` does (None for none); each kept in its own group-free
    wrapper, in order."""
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), flags)
    except re.error:  # e.g. two patterns naming a group alike: each is tried alone instead
        return None


class ModelIndex:
    """Exact ids and aliases first, then the longest prefix, then regexes (searched).

    With a provider hint (the call's serving provider), that provider's own models are searched first, at
    every level: a Groq call to `llama-3.3-70b-versatile` is priced by Groq's entry even when another
    provider lists the id too, and a Bedrock call by a Bedrock regex even when another provider has the
    exact id. Without a hint, or when the hinted provider has no match, all providers are searched and
    ties at the winning level go to the model loaded first (curated first-party files win the ids they
    define because the importer drops other providers' duplicates of them; see llmaudit/catalog/importers.py).
    """

    def __init__(self, models: list[Model]):
        self.models = models
        self.exact: dict[str, list[Model]] = {}
        for model in models:
            for name in (model.id, *model.aliases):
                self.exact.setdefault(name, []).append(model)
        # a catalog name is matched like a logged id: alias `claude-opus-5.0` is found as `claude-opus-5-0`
        for model in models:
            for name in (model.id, *model.aliases):
                normalized, _ = normalize_model_id(name)
                if normalized and normalized != name and model not in self.exact.get(normalized, ()):
                    self.exact.setdefault(normalized, []).append(model)
        self.prefixed = sorted(
            ((p, m) for m in models for p in m.prefixes), key=lambda pm: len(pm[0]), reverse=True
        )
        self.regexed = [(r, m) for m in models for r in m.regexes]
        self._by_provider: dict[str, ModelIndex] = {}
        # one C-level search each instead of a Python loop over every prefix and regex per id (554k
        # distinct unknown ids: ~20 us each): the longest prefix comes first in the alternation, and any
        # regex matching sends the id to the loop, which keeps the catalog's order
        self._by_prefix: dict[str, list[Model]] = {}
        for prefix, model in self.prefixed:
            self._by_prefix.setdefault(prefix, []).append(model)
        self._prefix_re = _alternation([re.escape(p) for p in self._by_prefix], 0)
        # the regexes anchored at the start, tried at the start only (a Python alternation is tried at
        # every position otherwise: slower than the loop); the others one by one
        anchored = [r for r, _m in self.regexed if _anchored_body(r.pattern) is not None]
        flags = {r.flags for r in anchored}
        self._anchored = (
            _alternation([_anchored_body(r.pattern) for r in anchored], flags.pop())
            if len(flags) == 1
            else None
        )
        self._unanchored = [r for r, _m in self.regexed if self._anchored is None or r not in anchored]

    def candidates(self, normalized: str) -> list[Model]:
        if normalized in self.exact:
            return self.exact[normalized]
        if self._prefix_re is not None and (m := self._prefix_re.match(normalized)) is not None:
            return self._by_prefix[m.group(0)]
        # a regex matches only if one of the anchored ones matches here or an unanchored one anywhere
        if (self._anchored is None or self._anchored.match(normalized) is None) and not any(
            r.search(normalized) for r in self._unanchored
        ):
            return []
        return [m for r, m in self.regexed if r.search(normalized)]

    def provider_index(self, provider: str) -> ModelIndex:
        """The index of one provider's models (built on first use)."""
        index = self._by_provider.get(provider)
        if index is None:
            index = ModelIndex([m for m in self.models if m.provider == provider])
            self._by_provider[provider] = index
        return index

    def resolve(
        self, raw: str | None, provider_hint: str | None = None, normalized: str | None = None
    ) -> Model | None:
        """The model `raw` names (`normalized`: its `normalize_model_id`, when the caller has it)."""
        if normalized is None:
            normalized, _ = normalize_model_id(raw)
        if normalized is None:
            return None
        if provider_hint:
            own = self.provider_index(provider_hint).candidates(normalized)
            if own:
                return own[0]
        found = self.candidates(normalized)
        return found[0] if found else None


BEDROCK_VENDOR = (
    _BEDROCK_VENDOR  # public: pricing tells Bedrock ids (same-region inference) from first-party ones
)
