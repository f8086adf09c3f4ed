"""A minimal woodwork NATS client written from PROTOCOL.md alone: the NATS text protocol over a
socket, no library. `publish <host> <port> <prefix> <session> <event_type>` publishes one envelope
and prints the PubAck; `consume <host> <port> <prefix> <group> <event_type>` creates the group's
consumer, pulls one message of its own, acks it and prints its wire envelope."""
import json, socket, sys, time, uuid

class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, int(port)))
        self.buf = b""
        self.readline()  # INFO
        self.send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1}\r\nPING\r\n')
        self.expect_pong()
        self.inbox = "_INBOX.py." + uuid.uuid4().hex
        self.send(f"SUB {self.inbox}.* 1\r\n".encode())

    def send(self, data):
        self.sock.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def readn(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def expect_pong(self):
        while self.readline() != "PONG":
            pass

    def next_msg(self):
        """Returns (subject, reply, headers, body) of the next MSG/HMSG, answering PINGs."""
        while True:
            line = self.readline()
            if line == "PING":
                self.send(b"PONG\r\n")
                continue
            parts = line.split(" ")
            if parts[0] == "MSG":
                reply = parts[3] if len(parts) == 5 else None
                return parts[1], reply, "", self.readn(int(parts[-1]))
            if parts[0] == "HMSG":
                reply = parts[3] if len(parts) == 6 else None
                hdr_len, total = int(parts[-2]), int(parts[-1])
                data = self.readn(total)
                return parts[1], reply, data[:hdr_len].decode(), data[hdr_len:]

    def request(self, subject, body, headers=None):
        reply = f"{self.inbox}.{uuid.uuid4().hex}"
        if headers:
            hdr = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            self.send(f"HPUB {subject} {reply} {len(hdr)} {len(hdr) + len(body)}\r\n".encode() + hdr.encode() + body + b"\r\n")
        else:
            self.send(f"PUB {subject} {reply} {len(body)}\r\n".encode() + body + b"\r\n")
        while True:
            subj, _, _, data = self.next_msg()
            if subj == reply:
                return data

def partitions_of(conn, prefix):
    """The prefix's partition count, from the events stream's description."""
    info = json.loads(conn.request(f"$JS.API.STREAM.INFO.{prefix}~EVENTS", b""))
    return json.loads(info["config"]["description"])["partitions"]

def partition(session, partitions):
    """32-bit FNV-1a of the session id's UTF-8 bytes, mod the partition count."""
    h = 0x811C9DC5
    for byte in session.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h % partitions

def publish(conn, prefix, session, event_type):
    envelope = {"message_id": "msg-py-" + uuid.uuid4().hex, "session_id": session, "event_type": event_type,
                "component_source": "python", "component_target": None, "timestamp": time.time(),
                "delivery_mode": "at_least_once", "pattern": "pub_sub", "payload": {"from": "python"},
                "metadata": {}, "retry_count": 0, "max_retries": 3}
    p = partition(session, partitions_of(conn, prefix))
    ack = conn.request(f"{prefix}.m.{p}.{session}.~.{event_type}", json.dumps(envelope).encode(), {"Nats-Msg-Id": "pub-" + uuid.uuid4().hex})
    print(json.dumps({"published": envelope["message_id"], "ack": json.loads(ack)}))

def consume(conn, prefix, group, event_type):
    stream, consumer = f"{prefix}~EVENTS", f"{prefix}~{group}"
    info = json.loads(conn.request(f"$JS.API.STREAM.INFO.{stream}", b""))
    since = info["state"]["last_seq"] + 1
    # The single-consumer form of a group (one reader): partition null, every partition in its filter.
    spec = {"woodwork": 2, "group": group, "eventPattern": event_type, "componentId": None, "sessionId": None,
            "targetedOnly": False, "observer": False, "durable": True, "since": since, "partition": None}
    config = {"durable_name": consumer, "description": json.dumps(spec), "ack_policy": "explicit", "max_deliver": -1,
              "ack_wait": 30_000_000_000, "deliver_policy": "by_start_sequence", "opt_start_seq": since,
              "filter_subject": f"{prefix}.m.*.*.*.{event_type}"}
    created = json.loads(conn.request(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{consumer}", json.dumps({"stream_name": stream, "config": config}).encode()))
    if "error" in created:
        raise SystemExit(f"consumer create failed: {created['error']}")
    print(json.dumps({"ready": consumer}), flush=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        reply = f"{conn.inbox}.pull"
        conn.send(f"PUB $JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer} {reply} 36\r\n".encode() + b'{"batch":1,"expires":2000000000}    ' + b"\r\n")
        subject, ack_subject, headers, body = conn.next_msg()
        if not ack_subject or not ack_subject.startswith("$JS.ACK."):
            continue  # a status (timeout, no messages)
        to = subject[len(prefix) + 3:].split(".")[2]
        if to != "~" and to != f"={consumer}":
            conn.send(f"PUB {ack_subject} 4\r\n+ACK\r\n".encode())
            continue
        envelope = json.loads(body)
        conn.send(f"PUB {ack_subject} 4\r\n+ACK\r\nPING\r\n".encode())
        conn.expect_pong()
        print(json.dumps({"consumed": envelope}), flush=True)
        return
    raise SystemExit("no message within 30 s")

if __name__ == "__main__":
    mode, host, port, prefix = sys.argv[1:5]
    conn = Conn(host, port)
    if mode == "publish":
        publish(conn, prefix, sys.argv[5], sys.argv[6])
    else:
        consume(conn, prefix, sys.argv[5], sys.argv[6])
