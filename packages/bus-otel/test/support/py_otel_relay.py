"""A Python woodwork process with OpenTelemetry in the middle of a trace, for python-otel.test.ts.

`relay <host> <port> <prefix> <group> <event_type> <reply_event_type>` consumes one message of
`event_type` over Redis with bus-redis's PROTOCOL.md client (test/support/py_client.py), continues
its trace with opentelemetry-api's global propagator (W3C `traceparent` / `tracestate` read from the
envelope's metadata by `opentelemetry.propagate.extract`), and publishes a reply whose metadata
carries the continued context (`opentelemetry.propagate.inject`): a TypeScript consumer of the reply
then sits in the same trace, under this process's span.

Only opentelemetry-api is used: its propagators are what a Python woodwork process needs to read and
write the context. The span this process adds is made with the API's NonRecordingSpan around a new
span id (the SDK would record it; its dependency opentelemetry-semantic-conventions is not on this
machine's package mirror). Prints `{"ready": ...}`, then `{"continued": ...}`."""
import contextlib, io, json, os, random, sys, time, uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bus-redis", "test", "support"))
import py_client  # noqa: E402

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext
except ImportError as error:
    print(f"python3 has no opentelemetry-api ({error}): pip install opentelemetry-api", file=sys.stderr)
    sys.exit(3)


class ForwardReady(io.TextIOBase):
    """py_client.consume prints its ready line and then the envelope: pass the first on, keep the rest."""

    def __init__(self):
        self.kept = ""

    def write(self, text):
        if '"ready"' in text:
            sys.__stdout__.write(text)
            sys.__stdout__.flush()
        else:
            self.kept += text
        return len(text)


def publish_reply(host, port, prefix, session, event_type, metadata):
    conn = py_client.Conn(host, port)
    partitions, base = py_client.layout(conn, prefix)
    n = py_client.fnv1a32(session) % partitions
    envelope = {
        "message_id": "msg-" + str(uuid.uuid4()),
        "session_id": session,
        "event_type": event_type,
        "component_source": "python",
        "component_target": None,
        "timestamp": time.time(),
        "delivery_mode": "at_least_once",
        "pattern": "pub_sub",
        "payload": {"from": "python"},
        "metadata": metadata,
        "retry_count": 0,
        "max_retries": 3,
    }
    token = uuid.uuid4().hex
    keys = [f"{base(n)}:events", f"{base(n)}:token:{token}", f"{base(n)}:dedupe:{envelope['message_id']}", f"{base(n)}:targets", f"{base(n)}:subscribed"]
    conn.call("EVAL", py_client.PUBLISH, 5, *keys, json.dumps(envelope), 60000, 0, "", "")
    return envelope["message_id"]


def relay(host, port, prefix, group, event_type, reply_event_type):
    captured = ForwardReady()
    with contextlib.redirect_stdout(captured):
        py_client.consume(host, port, prefix, group, event_type)
    envelope = json.loads(captured.kept.strip().splitlines()[-1])["consumed"]

    upstream = propagate.extract(envelope["metadata"])
    parent = trace.get_current_span(upstream).get_span_context()
    if not parent.is_valid:
        print(f"no valid trace context in the metadata: {envelope['metadata']!r}", file=sys.stderr)
        sys.exit(4)
    mine = SpanContext(trace_id=parent.trace_id, span_id=random.getrandbits(64) or 1, is_remote=False, trace_flags=parent.trace_flags, trace_state=parent.trace_state)
    current = trace.set_span_in_context(NonRecordingSpan(mine), upstream)
    metadata = {}
    propagate.inject(metadata, context=current)
    reply = publish_reply(host, port, prefix, envelope["session_id"], reply_event_type, metadata)
    print(json.dumps({
        "continued": {
            "received_metadata": envelope["metadata"],
            "trace_id": format(parent.trace_id, "032x"),
            "parent_span_id": format(parent.span_id, "016x"),
            "span_id": format(mine.span_id, "016x"),
            "reply_metadata": metadata,
            "reply": reply,
        }
    }), flush=True)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"relay": relay}[command](*args)
