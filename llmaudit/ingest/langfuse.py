"""Langfuse trace exports (`{"trace": {...}, "observations": [...]}`) and bare observation objects.

Each GENERATION (or EMBEDDING) observation is one call; SPAN, TOOL, AGENT, CHAIN, EVENT... are read and
skipped (they carry no billed usage). A trace export is exploded into its observations: every observation
is one row whose line is the trace's record number, whose key is the observation id; the trace gives the
attribution (`userId`, `sessionId`, first of `tags` as feature, else `metadata.feature`).

Times: `startTime` / `endTime` (ISO, `Z`); latency is the observation `latency`, in **milliseconds** (the
trace-level `latency` is in seconds and is not used). Cost: `costDetails.total` (Langfuse's own estimate).
Status: `level` ERROR is an error row (an HTTP status is taken from `statusMessage` "Error code: 429 ...").
Langfuse does not record the serving provider; it is taken from the integration's metadata when present
(`llm.provider`, `gen_ai.system`, `ls_provider`).

Token semantics. `usageDetails` is a free-form map and two families of keys occur, with opposite meanings:

- Langfuse's own keys (`input_cache_read`, `input_cached_tokens`, `input_cache_creation[_5m|_1h]`,
  `input_audio`, `output_reasoning`, `output_audio`, ...) are *additive* components: Langfuse prices a
  generation as the sum of key x price, and its SDKs and ingestion API subtract every `input_*` / `output_*`
  detail from `input` / `output` (LangChain handler: `usage_model["input"] = max(0, input - value)` for each
  `input_token_details` entry; the OpenAI usage schema is converted the same way). So `input` EXCLUDES cache
  reads/writes and audio, and `output` EXCLUDES reasoning.
- OpenInference keys passed through from OpenTelemetry (`prompt_details.cache_read`, `prompt_details.audio`,
  `completion_details.reasoning`, ...) are *subsets*: `input` / `output` INCLUDE them. The real Gemini sample
  shows it: `input 6 + output 2055 = total 2061` while `completion_details.reasoning = 1104`, and Langfuse
  charged all 2055 output tokens at the output rate (0.0051375 = 2055 x $2.50/M).

The five real samples cannot separate the two readings for cache tokens (every cache count in them is 0), and
an integration may pass its own convention through (pydantic-ai's `input_tokens` include cache reads). So each
record decides from its own `total` when it has one: with d = total - input - output, d equal to the input
details plus the output details means both are additive, d equal to one side's details means that side is
additive and the other included, d = 0 means both are included. Without `total` (or when nothing matches)
the key family decides as above. Input uncached = input (additive) or input - reads - writes (included);
audio stays inside the uncached input, reasoning and audio inside the output, as CALL_SCHEMA wants.
"""

from __future__ import annotations

from typing import Any

from llmaudit.ingest.spec import JsonReader, provider_sql

CALL_TYPES = ("GENERATION", "EMBEDDING")

# usageDetails keys by meaning: Langfuse's additive keys first, OpenInference subset keys second
_READ = (
    ("input_cache_read", "input_cached_tokens", "cache_read_input_tokens"),
    ("prompt_details.cache_read",),
)
_WRITE = (("input_cache_creation", "cache_creation_input_tokens"), ("prompt_details.cache_write",))
_WRITE_5M = ("input_cache_creation_5m", "input_ephemeral_5m_input_tokens")
_WRITE_1H = ("input_cache_creation_1h", "input_ephemeral_1h_input_tokens")
_AUDIO_IN = (("input_audio", "input_audio_tokens"), ("prompt_details.audio",))
_REASONING = (("output_reasoning", "output_reasoning_tokens"), ("completion_details.reasoning",))
_AUDIO_OUT = (("output_audio", "output_audio_tokens"), ("completion_details.audio",))
_PREDICTION = ("output_accepted_prediction_tokens", "output_rejected_prediction_tokens")  # billed as output


def _key(key: str) -> str:
    return "{usageDetails." + (f'"{key}"' if "." in key else key) + "}"


def _first(keys: tuple[str, ...]) -> str:
    return "coalesce(" + ", ".join(_key(k) for k in keys) + ")" if len(keys) > 1 else _key(keys[0])


def _either(family: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    return _first(family[0] + family[1])


def _n(expr: str) -> str:
    return f"try_cast({expr} AS BIGINT)"


def _z(expr: str) -> str:
    return f"coalesce({_n(expr)}, 0)"


def _usage_exprs() -> dict[str, str]:
    total_in = "coalesce({usageDetails.input}, {inputUsage}, {usage.input}, {promptTokens})"
    total_out = "coalesce({usageDetails.output}, {outputUsage}, {usage.output}, {completionTokens})"
    total = "coalesce({usageDetails.total}, {totalUsage}, {usage.total}, {totalTokens})"
    read, write, audio_in = _either(_READ), _either(_WRITE), _either(_AUDIO_IN)
    reasoning, audio_out = _either(_REASONING), _either(_AUDIO_OUT)
    writes = f"coalesce({_n(write)}, {_z(_first(_WRITE_5M))} + {_z(_first(_WRITE_1H))})"
    in_extra = f"({_z(read)} + {writes} + {_z(audio_in)})"
    out_extra = f"({_z(reasoning)} + {_z(audio_out)} + {' + '.join(_z(_key(k)) for k in _PREDICTION)})"
    gap = f"({_n(total)} - {_n(total_in)} - {_n(total_out)})"

    def default_additive(native: tuple[str, ...], subset: tuple[str, ...]) -> str:
        return f"NOT (coalesce({', '.join(map(_key, native))}) IS NULL AND {_first(subset)} IS NOT NULL)"

    in_default = default_additive(
        _READ[0] + _WRITE[0] + _WRITE_5M + _WRITE_1H + _AUDIO_IN[0], _READ[1] + _WRITE[1] + _AUDIO_IN[1]
    )
    out_default = default_additive(_REASONING[0] + _AUDIO_OUT[0] + _PREDICTION, _REASONING[1] + _AUDIO_OUT[1])
    both = f"{in_extra} + {out_extra}"
    in_additive = (
        f"(CASE WHEN {gap} IS NULL THEN {in_default} WHEN {gap} = {both} THEN true "
        f"WHEN {gap} = {in_extra} THEN true WHEN {gap} = {out_extra} OR {gap} = 0 THEN false "
        f"ELSE {in_default} END)"
    )
    out_additive = (
        f"(CASE WHEN {gap} IS NULL THEN {out_default} WHEN {gap} = {both} THEN true "
        f"WHEN {gap} = {in_extra} THEN false WHEN {gap} = {out_extra} THEN true WHEN {gap} = 0 THEN false "
        f"ELSE {out_default} END)"
    )
    return {
        "input_includes_cache": f"CASE WHEN {in_additive} THEN 'false' ELSE 'true' END",
        "tok_input": f"CASE WHEN {in_additive} AND {_z(audio_in)} > 0 "
        f"THEN ({_n(total_in)} + {_z(audio_in)})::VARCHAR ELSE {total_in} END",
        "tok_output": f"CASE WHEN {out_additive} AND {out_extra} > 0 "
        f"THEN ({_n(total_out)} + {out_extra})::VARCHAR ELSE {total_out} END",
        "tok_cache_read": read,
        "tok_cache_write": write,
        "tok_cache_write_5m": _first(_WRITE_5M),
        "tok_cache_write_1h": _first(_WRITE_1H),
        "tok_reasoning": reasoning,
        "tok_input_audio": audio_in,
        "tok_output_audio": audio_out,
    }


def _observation_reader(name: str, description: str, sniff, trace: str | None, explode: str | None):
    """Fields of one observation; `trace` is the path prefix of its trace (None for bare observations)."""

    def from_trace(field: str) -> str:
        return f"{{{trace}{field}}}" if trace else "NULL"

    first_tag = f"nullif(try(json_extract_string({from_trace('tags')}, '$[0]')), '')" if trace else "NULL"
    trace_feature = f"try(json_extract_string({from_trace('metadata')}, '$.feature'))" if trace else "NULL"
    attributes = "metadata.attributes."
    provider = (
        f'coalesce({{{attributes}"llm.provider"}}, {{{attributes}"gen_ai.system"}}, '
        f'{{{attributes}"llm.system"}}, {{metadata.ls_provider}})'
    )
    is_error = "upper(coalesce({level}, '')) = 'ERROR'"
    return JsonReader(
        name=name,
        description=description,
        sniff=sniff,
        explode=explode,
        paths={
            "ts_end": ("endTime",),
            "model_raw": ("model",),
            "request_id": ("id",),
            "cost_reported": ("costDetails.total", "totalCost", "calculatedTotalCost"),
            "request_text": ("input",),
            "response_text": ("output",),
        },
        exprs={
            **_usage_exprs(),
            "source_key": "{id}",
            "gateway": "'langfuse'",
            "provider": provider_sql(provider),
            "ts": f"coalesce({{startTime}}, {from_trace('timestamp')})",
            "trace_id": f"coalesce({{traceId}}, {from_trace('id')})",
            "session_id": from_trace("sessionId"),
            "user_id": from_trace("userId"),
            "project_id": f"coalesce({{projectId}}, {from_trace('projectId')})",
            "feature": f"coalesce({first_tag}, nullif({trace_feature}, ''))",
            "latency_ms": "coalesce(try_cast({latency} AS DOUBLE), (epoch_us(try_cast({endTime} AS TIMESTAMPTZ)) "
            "- epoch_us(try_cast({startTime} AS TIMESTAMPTZ))) / 1000.0)",
            "status": f"CASE WHEN {is_error} THEN 'error' ELSE 'ok' END",
            "http_status": f"CASE WHEN {is_error} THEN nullif(regexp_extract({{statusMessage}}, "
            r"'(?i)(?:error code|status(?: code)?)\W+(\d\d\d)', 1), '') END",
            "skip_reason": "CASE WHEN {id} IS NULL AND {type} IS NULL THEN 'no observations in the trace' "
            f"WHEN upper({{type}}) IN ({', '.join(repr(t) for t in CALL_TYPES)}) THEN NULL "
            "ELSE 'not a call (' || coalesce({type}, 'untyped') || ' observation)' END",
        },
    )


def _sniff_trace(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("trace"), dict) and isinstance(obj.get("observations"), list)


def _sniff_observation(obj: dict[str, Any]) -> bool:
    return (
        "traceId" in obj
        and isinstance(obj.get("type"), str)
        and bool({"usageDetails", "costDetails", "usage"} & set(obj))
        and "startTime" in obj
    )


TRACE = _observation_reader(
    "langfuse",
    "Langfuse trace exports {trace, observations}: one call per GENERATION observation",
    _sniff_trace,
    trace="_parent.trace.",
    explode="observations",
)
OBSERVATION = _observation_reader(
    "langfuse_observation",
    "Langfuse observation objects (public API / JSONL dumps): one call per GENERATION",
    _sniff_observation,
    trace=None,
    explode=None,
)

READERS = (TRACE, OBSERVATION)
