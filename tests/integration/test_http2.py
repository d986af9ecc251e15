"""HTTP/2 with prior knowledge (h2c) on esmd's HTTP port, next to HTTP/1.1: what the AWS SDK for
JavaScript v3's Kinesis client speaks by default. Driven by curl --http2-prior-knowledge, by
Node's http2 client (several streams at once on one connection; Debian's curl 7.88.1 cannot
reuse a prior-knowledge connection) and by raw bytes for the protocol errors."""
import json
import os
import shutil
import socket
import subprocess
import unittest

from esmd_harness import Esmd
from sqs_poller_support import unique

HERE = os.path.dirname(os.path.abspath(__file__))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, GOAWAY = 4, 7


def curl_has_http2():
    if not shutil.which("curl"):
        return False
    return "HTTP2" in subprocess.run(["curl", "-V"], capture_output=True, text=True).stdout


def h2_curl(esmd, path, *args, body=None):
    """One request with curl --http2-prior-knowledge: (HTTP version, status, body)."""
    cmd = ["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version} %{http_code}",
           *args, esmd.url + path]
    if body is not None:
        cmd[1:1] = ["--data-binary", "@-"]
    p = subprocess.run(cmd, input=body, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"curl failed ({p.returncode}): {p.stderr.decode()}")
    out, _, tail = p.stdout.rpartition(b"\n")
    version, status = tail.decode().split()
    return version, int(status), out.decode()


def h2_node(esmd, requests):
    p = subprocess.run(["node", os.path.join(HERE, "http2_driver.js")],
                       input=json.dumps({"url": esmd.url, "requests": requests}),
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"http2_driver exited {p.returncode}: {p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])["results"]


def frames(data):
    """(type, stream id, payload) of each whole HTTP/2 frame in data."""
    out = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        if len(data) < 9 + length:
            break
        out.append((data[3], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF, data[9:9 + length]))
        data = data[9 + length:]
    return out


def read_until_closed(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)  # a timeout raises: esmd did not close the connection
        if not chunk:
            return data
        data += chunk


KINESIS = {"Content-Type": "application/x-amz-json-1.1"}


def kinesis_headers(op):
    return dict(KINESIS, **{"X-Amz-Target": f"Kinesis_20131202.{op}"})


@unittest.skipUnless(curl_has_http2(), "curl without HTTP/2")
class Http2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(in_memory=True, transition_delay_ms=50).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def test_health_and_a_kinesis_call_are_answered_over_http2(self):
        version, status, body = h2_curl(self.esmd, "/_esmd/health")
        self.assertEqual((version, status), ("2", 200))
        self.assertEqual(json.loads(body)["status"], "ok")
        stream = unique("h2-s")
        args = [a for k, v in kinesis_headers("CreateStream").items() for a in ("-H", f"{k}: {v}")]
        version, status, body = h2_curl(self.esmd, "/", *args,
                                        body=json.dumps({"StreamName": stream, "ShardCount": 1}).encode())
        self.assertEqual((version, status), ("2", 200), body)
        args = [a for k, v in kinesis_headers("DescribeStreamSummary").items() for a in ("-H", f"{k}: {v}")]
        version, status, body = h2_curl(self.esmd, "/", *args, body=json.dumps({"StreamName": stream}).encode())
        self.assertEqual((version, status), ("2", 200), body)
        self.assertEqual(json.loads(body)["StreamDescriptionSummary"]["StreamName"], stream)
        # Kinesis' errors keep their shape.
        version, status, body = h2_curl(self.esmd, "/", *args, body=b'{"StreamName": "h2-none"}')
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["__type"], "ResourceNotFoundException")

    def test_an_oversized_body_gets_413_in_lambdas_shape(self):
        big = b"a" * (6 * 1024 * 1024 + 512 * 1024 + 1)
        version, status, body = h2_curl(self.esmd, "/2015-03-31/event-source-mappings/",
                                        "-H", "Content-Type: application/json", body=big)
        self.assertEqual((version, status), ("2", 413))
        self.assertIn("Request must be smaller than", json.loads(body)["message"])
        # Kinesis may carry more: the same body is read (and refused as JSON, not as too large).
        args = [a for k, v in kinesis_headers("PutRecord").items() for a in ("-H", f"{k}: {v}")]
        self.assertEqual(h2_curl(self.esmd, "/", *args, body=big)[1], 400)
        # The connection-level state is intact: the next request on a new connection works.
        self.assertEqual(h2_curl(self.esmd, "/_esmd/health")[1], 200)

    @unittest.skipUnless(shutil.which("node"), "node is not installed")
    def test_several_streams_at_once_on_one_connection(self):
        queue = self.esmd.client("sqs").create_queue(QueueName=unique("h2-q"))["QueueUrl"]
        long_poll = {"method": "POST", "path": "/", "headers": {
            "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.ReceiveMessage"},
            "body": json.dumps({"QueueUrl": queue, "WaitTimeSeconds": 2})}
        health = {"path": "/_esmd/health"}
        results = h2_node(self.esmd, [long_poll] + [health] * 5 + [
            {"method": "POST", "path": "/", "headers": {k.lower(): v for k, v in kinesis_headers("ListStreams").items()},
             "body": "{}"}])
        self.assertEqual([r["stream"] for r in results], [1, 3, 5, 7, 9, 11, 13])  # one connection
        self.assertEqual([r["status"] for r in results], [200] * 7, results)
        self.assertEqual(results[0]["body"], "{}")  # the long poll found nothing
        self.assertIn("StreamNames", json.loads(results[6]["body"]))
        for r in results:
            self.assertTrue(r["headers"]["x-amzn-requestid"])
        # The long poll held up none of the others.
        self.assertGreaterEqual(results[0]["ms"], 1500)
        self.assertTrue(all(r["ms"] < results[0]["ms"] for r in results[1:]), results)
        self.assertIn("GET /_esmd/health -> 200 (", self.esmd.log())
        self.assertIn("us, HTTP/2)", self.esmd.log())  # the debug line of each request

    def test_the_host_guard_sees_the_authority(self):
        self.assertEqual(h2_curl(self.esmd, "/_esmd/health", "-H", "Host: attacker.example")[1], 403)
        self.assertEqual(h2_curl(self.esmd, "/_esmd/health", "-H", f"Host: localhost:{self.esmd.port}")[1], 200)

    def test_garbage_after_the_preface_closes_that_connection_only(self):
        cases = {
            "a frame that is not SETTINGS first": PREFACE + b"\x00\x00\x04\x07\x00\x00\x00\x00\x00garbage!" * 8,
            "a broken preface": b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\nmore bytes",
            "random bytes": PREFACE + bytes(range(256)) * 4,
        }
        for name, data in cases.items():
            with self.subTest(name), socket.create_connection(("127.0.0.1", self.esmd.port)) as s:
                s.sendall(data)
                got = frames(read_until_closed(s))
                self.assertEqual(got[0][0], SETTINGS, got)  # the server's preface
                self.assertEqual(got[-1][0], GOAWAY, got)
                self.assertNotEqual(int.from_bytes(got[-1][2][4:8], "big"), 0, got)  # an error code
        # A client that leaves in the middle of a frame harms nothing either.
        with socket.create_connection(("127.0.0.1", self.esmd.port)) as s:
            s.sendall(PREFACE + b"\x00\x00\x10\x04\x00\x00\x00")
        status, _, _ = self.esmd.http("GET", "/_esmd/health")  # HTTP/1.1
        self.assertEqual(status, 200)
        self.assertEqual(h2_curl(self.esmd, "/_esmd/health")[1], 200)


if __name__ == "__main__":
    unittest.main()
