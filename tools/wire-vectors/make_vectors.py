#!/usr/bin/env python3
"""Wire vectors from the design's own Python envelope.

The dataclass and enums below are copied from the design (section 1, woodwork/core/message_bus.py)
without change, so what this program writes is what a Python woodwork process writes, and what it
reads back is what such a process would make of a TypeScript message.

Modes (stdlib only):
  make_vectors.py [vectors]   print the vectors as JSON: envelopes (to_dict()) and dead-letter
                              records in the design's Redis form (_move_to_dead_letter). Ids and
                              timestamps are fixed so the output is the same on every run; the
                              checked-in copy is packages/bus-core/test/vectors/python-envelopes.json.
  make_vectors.py roundtrip   read a JSON list of envelope dicts on stdin, run each through
                              from_dict() and to_dict(), print a JSON list of
                              {"envelope": dict} or {"error": exception type, "message": text}.
  make_vectors.py dead-letters
                              read a JSON list of dead-letter records on stdin and parse each the
                              way get_dead_letter_messages() does (envelope as a JSON string),
                              printing the same result list as roundtrip.
"""
import json
import sys
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Optional


# --- copied from the design, unchanged ---------------------------------------------------------

class MessageDeliveryMode(Enum):
    AT_MOST_ONCE = "at_most_once"      # Fire and forget
    AT_LEAST_ONCE = "at_least_once"    # Guaranteed delivery
    EXACTLY_ONCE = "exactly_once"      # Deduplicated delivery (future)

class MessagePattern(Enum):
    PUB_SUB = "pub_sub"                # One-to-many (hooks)
    POINT_TO_POINT = "point_to_point"  # One-to-one (component chain)
    STREAM = "stream"                  # Ordered stream data

@dataclass
class MessageEnvelope:
    """Standard message wrapper for all message bus implementations"""
    message_id: str
    session_id: str
    event_type: str
    component_source: str
    component_target: Optional[str] = None
    timestamp: float = None
    delivery_mode: MessageDeliveryMode = MessageDeliveryMode.AT_LEAST_ONCE
    pattern: MessagePattern = MessagePattern.POINT_TO_POINT
    payload: Dict[str, Any] = None
    metadata: Dict[str, Any] = None
    retry_count: int = 0
    max_retries: int = 3

    def __post_init__(self):
        if self.timestamp is None:
            self.timestamp = time.time()
        if self.payload is None:
            self.payload = {}
        if self.metadata is None:
            self.metadata = {}

    def to_dict(self) -> Dict[str, Any]:
        return {
            "message_id": self.message_id,
            "session_id": self.session_id,
            "event_type": self.event_type,
            "component_source": self.component_source,
            "component_target": self.component_target,
            "timestamp": self.timestamp,
            "delivery_mode": self.delivery_mode.value,
            "pattern": self.pattern.value,
            "payload": self.payload,
            "metadata": self.metadata,
            "retry_count": self.retry_count,
            "max_retries": self.max_retries
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'MessageEnvelope':
        return cls(
            message_id=data["message_id"],
            session_id=data["session_id"],
            event_type=data["event_type"],
            component_source=data["component_source"],
            component_target=data.get("component_target"),
            timestamp=data.get("timestamp", time.time()),
            delivery_mode=MessageDeliveryMode(data.get("delivery_mode", "at_least_once")),
            pattern=MessagePattern(data.get("pattern", "point_to_point")),
            payload=data.get("payload", {}),
            metadata=data.get("metadata", {}),
            retry_count=data.get("retry_count", 0),
            max_retries=data.get("max_retries", 3)
        )

# --- end of the design's code ------------------------------------------------------------------


BASE_TIME = 1700000000.25  # fixed, so the vectors do not change between runs


def fixed_id(n: int) -> str:
    # The adapter's form, f"msg-{uuid4()}", with a fixed uuid.
    return f"msg-00000000-0000-4000-8000-{n:012d}"


def dead_letter_record(stream: str, message_id: str, envelope: MessageEnvelope, error: Exception, failed_at: float) -> Dict[str, Any]:
    """The fields _move_to_dead_letter() adds to the dead-letter stream (time fixed)."""
    return {
        "original_stream": stream,
        "original_message_id": message_id,
        "envelope": json.dumps(envelope.to_dict()),
        "error": str(error),
        "failed_at": failed_at,
    }


def envelopes():
    """(name, MessageEnvelope) pairs covering every enum value and the payload shapes that differ
    between languages (unicode, escapes, numbers, numeric-looking keys, nulls, nesting)."""
    n = 0

    def make(name, **kwargs):
        nonlocal n
        n += 1
        kwargs.setdefault("timestamp", BASE_TIME + n)
        return name, MessageEnvelope(message_id=fixed_id(n), **kwargs)

    out = [make("defaults only", session_id="session-1", event_type="agent.input", component_source="input")]
    for mode in MessageDeliveryMode:
        for pattern in MessagePattern:
            target = None if pattern is MessagePattern.PUB_SUB else "agent"
            out.append(make(
                f"{mode.value} {pattern.value}",
                session_id="session-modes",
                event_type="mode.check",
                component_source="input",
                component_target=target,
                delivery_mode=mode,
                pattern=pattern,
                payload={"mode": mode.value, "pattern": pattern.value},
            ))
    out += [
        make("targeted component chain", session_id="s-42", event_type="agent.output",
             component_source="agent", component_target="output", pattern=MessagePattern.POINT_TO_POINT,
             payload={"text": "hello", "tokens": 12}, metadata={"trace_id": "abc123"}),
        make("stream chunk", session_id="s-42", event_type="stream.chunk", component_source="llm",
             component_target="console", pattern=MessagePattern.STREAM,
             payload={"stream_id": "st-1", "index": 7, "data": "partial ", "final": False}),
        make("hook broadcast", session_id="s-42", event_type="hook.tool_call", component_source="agent",
             pattern=MessagePattern.PUB_SUB, delivery_mode=MessageDeliveryMode.AT_MOST_ONCE,
             payload={"tool": "search", "args": {"q": "weather", "limit": 3}}),
        make("unicode and escapes", session_id="s_unicode", event_type="text.message", component_source="input",
             payload={"emoji": "\U0001F680 rocket", "cjk": "\u6f22\u5b57", "accent": "e\u0301 \u00e9",
                      "quotes": "she said \"hi\"", "backslash": "C:\\path\\to", "newline": "a\nb\tc",
                      "nul": "x\u0000y", "rtl": "\u05e9\u05dc\u05d5\u05dd", "surrogate_pair": "\U0001D11E"}),
        make("numbers", session_id="s-num", event_type="numbers.check", component_source="calc",
             payload={"zero": 0, "int": 42, "negative": -17, "float": 0.1, "small": 1e-07, "large": 1.5e+300,
                      "max_safe": 9007199254740991, "min_safe": -9007199254740991, "half": 0.5,
                      "third": 1 / 3, "float_whole": 2.0}),
        make("nesting, nulls, empties", session_id="s-nest", event_type="nested.check", component_source="input",
             payload={"list": [1, "two", None, True, False, [], {}], "null": None, "empty_string": "",
                      "deep": {"a": {"b": {"c": {"d": [{"e": "f"}]}}}}},
             metadata={"tags": [], "owner": None}),
        make("numeric-looking keys", session_id="s-keys", event_type="keys.check", component_source="input",
             payload={"2": "b", "1": "a", "b": 2, "a": 1, "10": "ten", "": "empty key"}),
        make("retries counted", session_id="s-retry", event_type="agent.input", component_source="input",
             component_target="agent", retry_count=2, max_retries=5),
        make("no retries", session_id="s-retry", event_type="agent.input", component_source="input",
             max_retries=0, delivery_mode=MessageDeliveryMode.AT_MOST_ONCE),
        make("microsecond timestamp", session_id="s-time", event_type="time.check", component_source="clock",
             timestamp=1700000123.123456),
        make("whole-second timestamp", session_id="s-time", event_type="time.check", component_source="clock",
             timestamp=1700000000),
        make("exactly once with a caller id", session_id="s-dedupe", event_type="billing.charge",
             component_source="billing", component_target="ledger", delivery_mode=MessageDeliveryMode.EXACTLY_ONCE,
             payload={"amount_cents": 1999, "currency": "EUR"}),
    ]
    return out


def vectors() -> Dict[str, Any]:
    pairs = envelopes()
    failed = pairs[1][1]
    chain = next(env for name, env in pairs if name == "targeted component chain")
    return {
        "generator": "tools/wire-vectors/make_vectors.py",
        "envelopes": [{"name": name, "wire": env.to_dict()} for name, env in pairs],
        "dead_letters": [
            {"name": "handler error", "redis_entry_id": "1700000100000-0",
             "record": dead_letter_record("woodwork:session:session-modes:mode.check", "1700000001000-0",
                                          failed, ValueError("handler failed: boom"), BASE_TIME + 100)},
            {"name": "component chain timeout", "redis_entry_id": "1700000200000-3",
             "record": dead_letter_record("woodwork:session:s-42:agent.output", "1700000002000-1",
                                          chain, TimeoutError("took too long"), BASE_TIME + 200.5)},
        ],
    }


def result_of(parse) -> Dict[str, Any]:
    try:
        return {"envelope": parse().to_dict()}
    except Exception as e:  # the design raises KeyError / ValueError / TypeError on bad input
        return {"error": type(e).__name__, "message": str(e)}


def roundtrip(items) -> list:
    return [result_of(lambda item=item: MessageEnvelope.from_dict(item)) for item in items]


def dead_letters(records) -> list:
    # get_dead_letter_messages(): json.loads(fields[b'envelope']) then from_dict().
    return [result_of(lambda r=r: MessageEnvelope.from_dict(json.loads(r["envelope"]))) for r in records]


def main(argv) -> int:
    mode = argv[1] if len(argv) > 1 else "vectors"
    if mode == "vectors":
        out = vectors()
    elif mode == "roundtrip":
        out = roundtrip(json.load(sys.stdin))
    elif mode == "dead-letters":
        out = dead_letters(json.load(sys.stdin))
    else:
        print(f"unknown mode {mode!r}; use vectors, roundtrip or dead-letters", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
