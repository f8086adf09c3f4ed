"""A minimal woodwork Redis client written from PROTOCOL.md alone: RESP over a socket, no library.
`publish <host> <port> <prefix> <session> <event_type>` publishes one envelope (the publish script)
and prints its entry id; `consume <host> <port> <prefix> <group> <event_type>` creates the group,
takes the leases of every partition, reads until one message of its event type arrives, acknowledges
it (fenced by the lease), prints its wire envelope, then releases the leases and leaves."""
import hashlib, json, os, socket, sys, time, uuid

PUBLISH = """
local prior = redis.call('GET', KEYS[2])
if prior then return prior end
if ARGV[3] ~= '0' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
    redis.call('SET', KEYS[2], 'dup', 'PX', ARGV[2])
    return 'dup'
  end
end
local id
if ARGV[5] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'envelope', ARGV[1], 'group', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], '*', 'envelope', ARGV[1])
end
if ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[5], ARGV[4]) == 0 then
  redis.call('HSETNX', KEYS[4], ARGV[4], id)
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
"""

LEASE = """
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == 'release' then
  if cur == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if ARGV[3] == 'acquire' and not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""

ACK = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 3))
"""


class RedisError(Exception):
    pass


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, int(port)))
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(b), b)
        self.sock.sendall(out)
        reply = self.read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RedisError("bad reply " + repr(line))


def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def layout(conn, prefix):
    partitions = int(conn.call("HGET", f"{prefix}:{{{prefix}}}:meta", "partitions"))
    return partitions, lambda n: f"{prefix}:{{{prefix}/{n}}}"


def publish(host, port, prefix, session, event_type):
    conn = Conn(host, port)
    partitions, base = layout(conn, prefix)
    n = fnv1a32(session) % partitions
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
        "metadata": {},
        "retry_count": 0,
        "max_retries": 3,
    }
    token = uuid.uuid4().hex
    keys = [f"{base(n)}:events", f"{base(n)}:token:{token}", f"{base(n)}:dedupe:{envelope['message_id']}", f"{base(n)}:targets", f"{base(n)}:subscribed"]
    entry = conn.call("EVAL", PUBLISH, 5, *keys, json.dumps(envelope), 60000, 0, "", "")
    # The same call again (a resend after a lost reply) stores nothing new.
    again = conn.call("EVAL", PUBLISH, 5, *keys, json.dumps(envelope), 60000, 0, "", "")
    print(json.dumps({"published": envelope["message_id"], "entry": entry, "resent": again, "partition": n}))


def consume(host, port, prefix, group, event_type):
    conn = Conn(host, port)
    partitions, base = layout(conn, prefix)
    consumer = f"py-{os.getpid()}"
    lease_ms = 10000
    events = [f"{base(n)}:events" for n in range(partitions)]
    if conn.call("HGET", f"{prefix}:{{{prefix}}}:groups", group) is None:
        since = []
        for key in events:
            try:
                conn.call("XGROUP", "CREATE", key, group, "$", "MKSTREAM")
            except RedisError as e:
                if "BUSYGROUP" not in str(e):
                    raise
            info = conn.call("XINFO", "STREAM", key)
            since.append(info[info.index("last-generated-id") + 1])
        spec = {"woodwork": 1, "key": group, "group": group, "eventPattern": event_type, "componentId": None, "sessionId": None,
                "targetedOnly": False, "observer": False, "durable": True, "since": since}
        conn.call("HSETNX", f"{prefix}:{{{prefix}}}:groups", group, json.dumps(spec))
    now = int(conn.call("TIME")[0]) * 1000
    conn.call("ZADD", f"{prefix}:{{{prefix}}}:members:{group}", now + lease_ms, consumer)
    conn.call("ZADD", f"{prefix}:{{{prefix}}}:group-active", now, group)
    leases = {}
    for n in range(partitions):
        value = f"{consumer}#{n}"
        if conn.call("EVAL", LEASE, 1, f"{base(n)}:lease:{group}", value, lease_ms, "acquire") == 1:
            leases[n] = value
    print(json.dumps({"ready": True, "leases": len(leases)}), flush=True)
    deadline = time.time() + 30
    consumed = None
    while consumed is None and time.time() < deadline:
        owned = sorted(leases)
        reply = conn.call("XREADGROUP", "GROUP", group, consumer, "COUNT", 10, "BLOCK", 500, "STREAMS", *[events[n] for n in owned], *[">"] * len(owned))
        for key, entries in reply or []:
            n = events.index(key)
            for entry_id, fields in entries:
                data = dict(zip(fields[0::2], fields[1::2]))
                envelope = json.loads(data["envelope"])
                if consumed is None and envelope["event_type"] == event_type and data.get("group") in (None, group):
                    consumed = envelope
                acked = conn.call("EVAL", ACK, 2, key, f"{base(n)}:lease:{group}", group, leases[n], entry_id)
                assert acked == 1, acked
    for n, value in leases.items():
        conn.call("EVAL", LEASE, 1, f"{base(n)}:lease:{group}", value, lease_ms, "release")
    conn.call("ZREM", f"{prefix}:{{{prefix}}}:members:{group}", consumer)
    if consumed is None:
        print("no message within 30 s", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"consumed": consumed}), flush=True)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"publish": publish, "consume": consume}[command](*args)
