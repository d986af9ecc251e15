"""What the Kafka integration tests share: the clients' names for one record, runners for kcat
and the kafkajs driver, consumers with deadlines, and a raw Kafka wire connection (for bad
input and for looking at the record batches esmd stores).

These tests run under Debian's /usr/bin/python3: python3-kafka (kafka-python 2.0.2) and
python3-confluent-kafka (1.7.0) import only there. Every wait has a deadline.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_DIR = os.path.join(HERE, ".node")
KAFKAJS_DRIVER = os.path.join(HERE, "kafkajs_driver.js")

# Record batch attribute bits 0-2 (reference §A.4.3).
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# One record as every client sees it: bytes or None for key and value, headers as a list of
# (str, bytes) pairs in order, timestamp in ms. Comparing these tuples compares byte for byte.


def record(offset, key, value, headers, timestamp, partition=0):
    return {"partition": partition, "offset": offset, "key": key, "value": value,
            "headers": [(k, v) for k, v in (headers or [])], "timestamp": timestamp}


def b64(data):
    return None if data is None else base64.b64encode(data).decode()


def unb64(text):
    return None if text is None else base64.b64decode(text)


# ---------------------------------------------------------------------------------------------
# kcat


def kcat(bootstrap, *args, input=None, timeout=60, check=True):
    """Runs `kcat -b BOOTSTRAP ARGS`; returns the CompletedProcess (bytes)."""
    p = subprocess.run(["kcat", "-b", bootstrap, *args], input=input, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"kcat {' '.join(args)} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


# ---------------------------------------------------------------------------------------------
# confluent-kafka (librdkafka 2.0.2)


def confluent_consume(bootstrap, topic, count, partition=0, offset=0, timeout=30.0, **conf):
    """The `count` records of topic/partition from `offset` on, read by an assigned (group-less)
    confluent-kafka consumer; fails at the deadline or on a consumer error."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("reader"), "enable.auto.commit": False,
                  "enable.partition.eof": False, **conf})
    out = []
    try:
        c.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout
        while len(out) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} of {count} records of {topic}/{partition} in {timeout}s")
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                raise AssertionError(f"consumer error on {topic}: {m.error()}")
            out.append(record(m.offset(), m.key(), m.value(), m.headers(), m.timestamp()[1], m.partition()))
    finally:
        c.close()
    return out


def confluent_producer(bootstrap, **conf):
    from confluent_kafka import Producer
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})


def confluent_produce(bootstrap, topic, records, timeout=30.0, **conf):
    """Produces records (dicts with key, value, headers, timestamp) to partition 0 and waits for
    every delivery report; returns the offsets, in order. Fails on any delivery error."""
    p = confluent_producer(bootstrap, **conf)
    reports = {}

    def on_delivery(i):
        return lambda err, msg: reports.__setitem__(i, (err, msg.offset() if msg is not None else None))

    for i, r in enumerate(records):
        kwargs = {"key": r["key"], "value": r["value"], "partition": r.get("partition", 0),
                  "on_delivery": on_delivery(i)}
        if r.get("headers"):
            kwargs["headers"] = list(r["headers"])
        if r.get("timestamp"):
            kwargs["timestamp"] = r["timestamp"]
        p.produce(topic, **kwargs)
    left = p.flush(timeout)
    if left:
        raise AssertionError(f"{left} records to {topic} were not delivered in {timeout}s")
    errors = {i: e for i, (e, _) in reports.items() if e is not None}
    if errors:
        raise AssertionError(f"delivery errors to {topic}: {errors}")
    return [reports[i][1] for i in range(len(records))]


# ---------------------------------------------------------------------------------------------
# kafka-python 2.0.2


def kafka_python_consume(bootstrap, topic, count, partition=0, offset=0, timeout=30.0, **conf):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **conf)
    out = []
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while len(out) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"kafka-python read {len(out)} of {count} records of {topic} in {timeout}s")
            for msgs in c.poll(timeout_ms=200).values():
                for m in msgs:
                    out.append(record(m.offset, m.key, m.value, m.headers, m.timestamp, m.partition))
    finally:
        c.close()
    return out[:count]


# ---------------------------------------------------------------------------------------------
# kafkajs 2.2.4 (node), driven by kafkajs_driver.js: one JSON command on stdin, one JSON
# result on stdout.


def kafkajs_available():
    """Installs kafkajs into tests/integration/.node when it is missing (the issue asks the test
    scripts to install it); False when there is no node or npm to do it."""
    if not shutil.which("node"):
        return False
    if not os.path.exists(os.path.join(NODE_DIR, "node_modules", "kafkajs", "package.json")):
        p = subprocess.run([os.path.join(ROOT, "scripts", "install-node-clients.sh")], capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"installing kafkajs failed: {p.stderr}")
    return True


def kafkajs(bootstrap, command, timeout=90):
    """Runs one kafkajs_driver.js command; returns its JSON result, or fails with its stderr."""
    env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
    p = subprocess.run(["node", KAFKAJS_DRIVER, bootstrap], input=json.dumps(command), capture_output=True,
                       text=True, timeout=timeout, env=env)
    if p.returncode != 0:
        raise AssertionError(f"kafkajs {command.get('op')} exited {p.returncode}:\n{p.stderr[-4000:]}\n"
                             f"{p.stdout[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def records_from_js(rows, partition=0):
    return [record(int(r["offset"]), unb64(r["key"]), unb64(r["value"]),
                   [(k, unb64(v)) for k, v in r["headers"]], int(r["timestamp"]), r.get("partition", partition))
            for r in rows]


def records_to_js(records):
    return [{"key": b64(r["key"]), "value": b64(r["value"]), "headers": [[k, b64(v)] for k, v in r["headers"]],
             "timestamp": str(r["timestamp"]) if r.get("timestamp") else None,
             "partition": r.get("partition", 0)} for r in records]


# ---------------------------------------------------------------------------------------------
# The raw wire: frames, ApiVersions, Fetch v4 to look at stored batches, CRC-32C.


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def kstring(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request(api_key, version, correlation_id, body=b"", client_id="esmd-test"):
    """One framed request with header v1 (every non-flexible version)."""
    msg = struct.pack(">hhi", api_key, version, correlation_id) + kstring(client_id) + body
    return struct.pack(">i", len(msg)) + msg


class RawConnection:
    """A plain TCP connection to the Kafka port that sends bytes and reads whole frames."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def read_frame(self):
        """The next response frame (without its size), or None when esmd closed the connection.
        socket.timeout (an AssertionError for the caller) when neither happens in time."""
        try:
            head = self._read_exact(4)
            if head is None:
                return None
            (size,) = struct.unpack(">i", head)
            if size < 0 or size > 64 << 20:
                raise AssertionError(f"esmd sent a frame size of {size}")
            return self._read_exact(size)
        except ConnectionResetError:
            return None

    def closed_by_peer(self, deadline_s=5.0):
        """True when esmd closes the connection (EOF or reset) before the deadline; what it sent
        before closing is ignored. False when it stays open."""
        self.sock.settimeout(0.2)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False


def api_versions(port, version=0):
    """{api_key: (min, max)} from an ApiVersions request (v0-v2)."""
    with RawConnection(port) as c:
        c.send(request(18, version, 7))
        frame = c.read_frame()
    assert frame is not None, "esmd closed the connection on ApiVersions"
    corr, err, n = struct.unpack(">ihi", frame[:10])
    assert corr == 7 and err == 0, (corr, err)
    out = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", frame[10 + 6 * i:16 + 6 * i])
        out[k] = (lo, hi)
    return out


def fetch_batches(port, topic, partition=0, offset=0, max_bytes=8 << 20):
    """The record batches (magic 2) stored from offset on, as Fetch v4 returns them, up to the
    high watermark: dicts with base_offset, attributes, codec, crc, crc_ok (CRC-32C recomputed
    here), records_count, timestamps, producer id, epoch and base sequence; with the partition's
    error code and high watermark."""
    out = {"error": 0, "high_watermark": None, "batches": []}
    with RawConnection(port, timeout=10) as c:
        for attempt in range(10000):
            error, hw, batches = _fetch_once(c, topic, partition, offset, max_bytes, attempt)
            out["error"], out["high_watermark"] = error, hw
            out["batches"] += batches
            if error or not batches:
                return out
            offset = batches[-1]["base_offset"] + batches[-1]["last_offset_delta"] + 1
            if offset >= hw:
                return out
    raise AssertionError(f"fetching {topic}/{partition} never reached its high watermark")


def _fetch_once(c, topic, partition, offset, max_bytes, correlation_id):
    c.send(fetch_request(topic, correlation_id, partition, offset, max_wait_ms=0, max_bytes=max_bytes))
    frame = c.read_frame()
    assert frame is not None, "esmd closed the connection on Fetch v4"
    return parse_fetch(frame, correlation_id)


def fetch_request(topic, correlation_id, partition=0, offset=0, max_wait_ms=0, max_bytes=8 << 20):
    """Fetch v4 (read_uncommitted, min_bytes 1) of one partition."""
    body = struct.pack(">iiiib", -1, max_wait_ms, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + kstring(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", partition, offset, max_bytes)
    return request(1, 4, correlation_id, body)


def parse_fetch(frame, correlation_id):
    """(error code, high watermark, batches) of the one partition of a Fetch v4 response."""
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, frame, pos)
        pos += struct.calcsize(fmt)
        return vals

    corr, _throttle, ntopics = take(">iii")
    assert corr == correlation_id and ntopics == 1, (corr, ntopics)
    (tlen,) = take(">h")
    pos += tlen
    (nparts,) = take(">i")
    assert nparts == 1
    _p, error, hw, _lso = take(">ihqq")
    (naborted,) = take(">i")
    pos += max(0, naborted) * 16
    (rsize,) = take(">i")
    records = frame[pos:pos + max(0, rsize)]
    batches = []
    at = 0
    while at + 61 <= len(records):
        base_offset, length = struct.unpack_from(">qi", records, at)
        if at + 12 + length > len(records):
            break  # a partial batch at the end of a size-limited fetch
        _ple, magic, crc = struct.unpack_from(">ibI", records, at + 12)
        attrs, last_delta, first_ts, max_ts, pid, epoch, base_seq, count = struct.unpack_from(
            ">hiqqqhii", records, at + 21)
        batches.append({"base_offset": base_offset, "magic": magic, "attributes": attrs, "codec": attrs & 7,
                        "crc": crc, "crc_ok": crc32c(records[at + 21:at + 12 + length]) == crc,
                        "last_offset_delta": last_delta, "records_count": count, "first_timestamp": first_ts,
                        "max_timestamp": max_ts, "producer_id": pid, "producer_epoch": epoch,
                        "base_sequence": base_seq})
        at += 12 + length
    return error, hw, batches


def varint(n):
    """Kafka's zig-zag varint."""
    z = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def encode_batch(values, base_timestamp=1_700_000_000_000, crc=None):
    """An uncompressed magic-2 record batch of records with these values (no key, no headers);
    crc overrides the computed CRC-32C."""
    records = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, base_timestamp, base_timestamp, -1, -1, -1,
                            len(values)) + records
    head = struct.pack(">ib", -1, 2) + struct.pack(">I", crc32c(after_crc) if crc is None else crc)
    return struct.pack(">qi", 0, len(head) + len(after_crc)) + head + after_crc


def produce_request(topic, batch, correlation_id, partition=0, acks=-1):
    """Produce v7 of one batch to topic/partition."""
    body = kstring(None) + struct.pack(">hi", acks, 5000) + struct.pack(">i", 1) + kstring(topic)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(batch)) + batch
    return request(0, 7, correlation_id, body)


def produce_response(frame, topic):
    """(error code, base offset) of the one partition in a Produce v7 response."""
    at = 4 + 4 + 2 + len(topic.encode()) + 4 + 4
    return struct.unpack_from(">hq", frame, at)


def esmd_fd_count(esmd):
    return len(os.listdir(f"/proc/{esmd.proc.pid}/fd"))


def esmd_rss_kib(esmd):
    with open(f"/proc/{esmd.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

