"""Regenerate the shipped sample logs (deterministic). Run: python sample_logs/make_samples.py"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
rng = random.Random(7)
FEATURES = ["support-bot", "search", "summarize", "classify"]
USERS = [f"user-{i}" for i in range(1, 9)]


def _ts(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def openai_app() -> list[str]:
    """An app's own request log: {request, response, metadata} envelopes around Chat Completions."""
    lines = []
    for i in range(120):
        feature = rng.choice(FEATURES)
        model = {
            "support-bot": "gpt-4o-2024-08-06",
            "search": "gpt-4.1-mini-2025-04-14",
            "summarize": "gpt-5-2025-08-07",
            "classify": "gpt-4o-2024-08-06",
        }[feature]
        prompt = rng.randint(800, 6000)
        cached = rng.choice([0, 0, prompt // 2, prompt - 200]) if prompt > 1200 else 0
        completion = rng.randint(20, 900) if feature != "classify" else rng.randint(1, 5)
        reasoning = completion // 2 if model.startswith("gpt-5") else 0
        tier = "flex" if feature == "summarize" and i % 3 == 0 else "default"
        when = _ts(i * 2.7)
        lines.append(
            json.dumps(
                {
                    "timestamp": when.isoformat().replace("+00:00", "Z"),
                    "request_id": f"req_{i:04d}",
                    "request": {
                        "model": model.rsplit("-2", 1)[0],
                        "messages": [{"role": "user", "content": f"{feature} #{i}"}],
                    },
                    "response": {
                        "id": f"chatcmpl-{i:04d}",
                        "object": "chat.completion",
                        "created": int(when.timestamp()),
                        "model": model,
                        "service_tier": tier,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "..."},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                            "prompt_tokens_details": {"cached_tokens": cached},
                            "completion_tokens_details": {"reasoning_tokens": reasoning},
                        },
                    },
                    "metadata": {
                        "user": rng.choice(USERS),
                        "feature": feature,
                        "project": "web-app",
                        "latency_ms": rng.randint(300, 9000),
                    },
                }
            )
        )
    # exact repeats a response cache would have served: one FAQ request four times in an afternoon, and
    # once more two days later (outside a 24 h cache TTL)
    for k, hours in enumerate((30.0, 30.5, 31.25, 33.0, 80.0)):
        when = _ts(hours)
        lines.append(
            json.dumps(
                {
                    "timestamp": when.isoformat().replace("+00:00", "Z"),
                    "request_id": f"req_faq_{k}",
                    "request": {
                        "model": "gpt-4o",
                        "messages": [
                            {"role": "system", "content": "You are Acme's support assistant."},
                            {"role": "user", "content": "How do I reset my password?"},
                        ],
                    },
                    "response": {
                        "id": f"chatcmpl-faq-{k}",
                        "object": "chat.completion",
                        "created": int(when.timestamp()),
                        "model": "gpt-4o-2024-08-06",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "..."},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1800, "completion_tokens": 240, "total_tokens": 2040},
                    },
                    "metadata": {
                        "user": USERS[k % len(USERS)],
                        "feature": "support-bot",
                        "project": "web-app",
                    },
                }
            )
        )
    # a retry storm: the same classify request failing with 429s, then a model nobody priced
    for k in range(6):
        lines.append(
            json.dumps(
                {
                    "timestamp": _ts(100 + k / 60).isoformat().replace("+00:00", "Z"),
                    "request_id": f"req_429_{k}",
                    "status_code": 429,
                    "error": {"type": "rate_limit_error", "message": "Rate limit reached"},
                    "response": {"object": "chat.completion", "model": "gpt-4o-2024-08-06"},
                    "metadata": {"feature": "classify", "user": "user-3"},
                }
            )
        )
    lines.append(
        json.dumps(
            {
                "timestamp": _ts(101).isoformat().replace("+00:00", "Z"),
                "request_id": "req_ft",
                "response": {
                    "id": "chatcmpl-ft",
                    "object": "chat.completion",
                    "model": "ft:gpt-4o-mini:acme::B3xk9",
                    "usage": {"prompt_tokens": 900, "completion_tokens": 40},
                },
                "metadata": {"feature": "classify"},
            }
        )
    )
    lines.insert(40, '{"timestamp": "2026-03-06T10:00:00Z", "response": {"object": "chat.completion", "mod')
    return lines


def anthropic_messages() -> list[str]:
    """Anthropic Messages responses with prompt caching (5m and 1h writes) and a long-context call."""
    lines = []
    for i in range(60):
        model = "claude-sonnet-4-5-20250929" if i % 4 else "claude-haiku-4-5-20251001"
        system = 12000 if i % 5 else 60000
        first = i % 10 == 0
        long_ctx = i == 33
        usage = {
            "input_tokens": rng.randint(50, 3000) + (195000 if long_ctx else 0),
            "cache_read_input_tokens": 0 if first else system,
            "cache_creation_input_tokens": system if first else 0,
            "cache_creation": {
                "ephemeral_5m_input_tokens": system if first and i % 20 else 0,
                "ephemeral_1h_input_tokens": system if first and not i % 20 else 0,
            },
            "output_tokens": rng.randint(100, 2500),
            "service_tier": "standard",
        }
        lines.append(
            json.dumps(
                {
                    "timestamp": _ts(i * 5.1 + 0.5).isoformat().replace("+00:00", "Z"),
                    "response": {
                        "id": f"msg_{i:04d}",
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [{"type": "text", "text": "..."}],
                        "stop_reason": "end_turn",
                        "usage": usage,
                    },
                    "metadata": {
                        "user_id": rng.choice(USERS),
                        "feature": "agent" if i % 3 else "report-writer",
                    },
                }
            )
        )
    return lines


def claude_code_session() -> list[str]:
    """A Claude Code transcript: streaming copies share message.id + requestId; one 429 API error."""
    lines = []
    for turn in range(8):
        when = _ts(30 + turn * 0.05)
        lines.append(
            json.dumps(
                {
                    "type": "user",
                    "timestamp": when.isoformat().replace("+00:00", "Z"),
                    "sessionId": "sess-1",
                    "uuid": f"u{turn}",
                    "message": {"role": "user", "content": "next step"},
                }
            )
        )
        for output in (1, 80 + turn * 37):
            lines.append(
                json.dumps(
                    {
                        "type": "assistant",
                        "timestamp": (when + dt.timedelta(seconds=4)).isoformat().replace("+00:00", "Z"),
                        "sessionId": "sess-1",
                        "requestId": f"req_cc{turn}",
                        "uuid": f"a{turn}-{output}",
                        "message": {
                            "id": f"msg_cc{turn}",
                            "model": "claude-opus-4-1-20250805",
                            "role": "assistant",
                            "content": [{"type": "text", "text": "..."}],
                            "usage": {
                                "input_tokens": 4,
                                "cache_read_input_tokens": 20000 + turn * 900,
                                "cache_creation_input_tokens": 900,
                                "cache_creation": {
                                    "ephemeral_5m_input_tokens": 900,
                                    "ephemeral_1h_input_tokens": 0,
                                },
                                "output_tokens": output,
                            },
                        },
                    }
                )
            )
    lines.append(
        json.dumps(
            {
                "type": "assistant",
                "timestamp": _ts(31).isoformat().replace("+00:00", "Z"),
                "sessionId": "sess-1",
                "uuid": "err1",
                "isApiErrorMessage": True,
                "error": "rate_limit",
                "apiErrorStatus": 429,
                "message": {
                    "model": "<synthetic>",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "API Error: 429"}],
                },
            }
        )
    )
    return lines


def openai_batch_output() -> list[str]:
    lines = []
    for i in range(20):
        when = _ts(200 + i / 100)
        body = {
            "id": f"chatcmpl-b{i}",
            "object": "chat.completion",
            "created": int(when.timestamp()),
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "label"}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": 1500 + i * 10,
                "completion_tokens": 3,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        }
        lines.append(
            json.dumps(
                {
                    "id": f"batch_req_{i}",
                    "custom_id": f"row-{i}",
                    "response": {"status_code": 200, "request_id": f"br{i}", "body": body},
                    "error": None,
                }
            )
        )
    return lines


def usage_csv() -> list[str]:
    rows = ["timestamp,model,input_tokens,cached_tokens,output_tokens,user,feature,cost_usd"]
    for i in range(30):
        when = _ts(i * 11).isoformat().replace("+00:00", "Z")
        rows.append(
            f"{when},gemini-2.5-flash,{4000 + i * 50},{1000 if i % 2 else 0},{300 + i},user-{i % 4},"
            f"extract,0.0021"
        )
    return rows


def main() -> None:
    files = {
        "openai_app.jsonl": openai_app(),
        "anthropic_messages.jsonl": anthropic_messages(),
        "claude_code/session-1.jsonl": claude_code_session(),
        "openai_batch_output.jsonl": openai_batch_output(),
        "usage_export.csv": usage_csv(),
    }
    for name, lines in files.items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
