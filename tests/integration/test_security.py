"""Security and start-up faults (issue 13): nobody who reaches the HTTP port can make esmd run a
command, a browser gets nothing from esmd unless allowed (Origin, and Host against DNS
rebinding), running out of file descriptors backs off instead of spinning, and a database file
that became empty is refused instead of silently starting afresh."""
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from esmd_harness import ESMD_BIN, Esmd, free_port, wait_until


def raw(esmd, method, path, body=None, headers=None):
    """One request with exactly the headers given (http.client adds Host only when asked)."""
    conn = http.client.HTTPConnection("127.0.0.1", esmd.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def put_function(esmd, name, target):
    return esmd.http("PUT", f"/_esmd/functions/{name}", json.dumps({"Target": target}),
                     {"Content-Type": "application/json"})


class ExecOverHttpTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="esmd-sec-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.marker = os.path.join(self.dir, "pwned")

    def test_an_exec_target_from_the_api_is_refused_and_nothing_runs(self):
        with Esmd(in_memory=True) as esmd:
            status, headers, body = put_function(esmd, "x", f"exec:touch {self.marker}")
            self.assertEqual(status, 403)
            self.assertEqual(headers["X-Amzn-Errortype"], "AccessDeniedException")
            message = json.loads(body)["Message"]
            self.assertIn("--allow-api-exec", message)
            status, _, _ = esmd.http("POST", "/_esmd/functions/x/invoke", "{}")
            self.assertEqual(status, 404)
            self.assertFalse(os.path.exists(self.marker))
            # http:// targets are still welcome.
            status, _, _ = put_function(esmd, "web", "http://127.0.0.1:9/2015-03-31/functions/web/invocations")
            self.assertEqual(status, 200)

    def test_the_operators_exec_function_still_runs_and_the_flag_allows_the_api(self):
        with Esmd("--function", f"op=exec:touch {self.marker}", in_memory=True) as esmd:
            status, _, body = esmd.http("POST", "/_esmd/functions/op/invoke", "{}")
            self.assertEqual((status, json.loads(body)["Outcome"]), (200, "Success"))
            self.assertTrue(os.path.exists(self.marker))
        os.remove(self.marker)
        with Esmd("--allow-api-exec", in_memory=True) as esmd:
            self.assertEqual(put_function(esmd, "x", f"exec:touch {self.marker}")[0], 200)
            self.assertEqual(esmd.http("POST", "/_esmd/functions/x/invoke", "{}")[0], 200)
            self.assertTrue(os.path.exists(self.marker))

    def test_an_exec_target_saved_over_http_is_not_loaded_without_the_flag(self):
        data = os.path.join(self.dir, "data")
        esmd = Esmd("--allow-api-exec", data_dir=data).start()
        try:
            self.assertEqual(put_function(esmd, "saved", f"exec:touch {self.marker}")[0], 200)
            self.assertEqual(put_function(esmd, "saved-web", "http://127.0.0.1:9/x")[0], 200)
            esmd.stop()
            esmd.args = []
            esmd.start(esmd.port)
            self.assertEqual(esmd.http("GET", "/_esmd/functions/saved")[0], 404)
            self.assertEqual(esmd.http("GET", "/_esmd/functions/saved-web")[0], 200)
            self.assertEqual(esmd.http("POST", "/_esmd/functions/saved/invoke", "{}")[0], 404)
            self.assertFalse(os.path.exists(self.marker))
            self.assertIn("function saved: its exec: target was registered over HTTP and is not loaded", esmd.log())
        finally:
            esmd.cleanup()


class BrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(in_memory=True).start()
        cls.cors = Esmd("--cors-origins", "http://localhost:3000", "--allowed-hosts", "esmd.test",
                        in_memory=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()
        cls.cors.cleanup()

    def test_a_rebound_host_name_is_refused_and_loopback_names_are_served(self):
        for host in ("attacker.example", "attacker.example:%d" % self.esmd.port, "127.0.0.1.nip.io"):
            status, headers, body = raw(self.esmd, "GET", "/_esmd/health", headers={"Host": host})
            self.assertEqual(status, 403, host)
            self.assertEqual(headers["x-amzn-errortype"], "AccessDeniedException")
            self.assertIn("refused", json.loads(body)["Message"])
        # Side effects too: a rebound page cannot create a queue.
        status, _, _ = raw(self.esmd, "POST", "/", "Action=CreateQueue&QueueName=rebound",
                           {"Host": "attacker.example", "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 403)
        self.assertNotIn("rebound", json.dumps(self.esmd.client("sqs").list_queues()))
        for host in ("localhost:%d" % self.esmd.port, "127.0.0.1:%d" % self.esmd.port, "[::1]", "app.localhost"):
            self.assertEqual(raw(self.esmd, "GET", "/_esmd/health", headers={"Host": host})[0], 200, host)
        self.assertEqual(raw(self.cors, "GET", "/_esmd/health", headers={"Host": "esmd.test:1"})[0], 200)

    def test_a_request_with_an_origin_is_refused_unless_allowed(self):
        # A "simple" cross-origin POST (no preflight) from any web page: refused, not run.
        status, headers, body = raw(self.esmd, "POST", "/_esmd/functions/fn/invoke", "{}",
                                    {"Host": "127.0.0.1", "Origin": "http://evil.example",
                                     "Content-Type": "text/plain"})
        self.assertEqual(status, 403)
        self.assertNotIn("access-control-allow-origin", headers)
        self.assertIn("--cors-origins", json.loads(body)["Message"])
        self.assertEqual(json.loads(self.esmd.http("GET", "/_esmd/invocations")[2])["Invocations"], [])
        self.assertEqual(raw(self.cors, "GET", "/_esmd/health",
                             headers={"Host": "localhost", "Origin": "http://localhost:3001"})[0], 403)

    def test_an_allowed_origin_gets_its_preflight_and_cors_headers(self):
        status, headers, body = raw(self.cors, "OPTIONS", "/2015-03-31/event-source-mappings/", headers={
            "Host": "localhost", "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,x-amz-date,amz-sdk-request"})
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["access-control-allow-origin"], "http://localhost:3000")
        self.assertEqual(headers["access-control-allow-headers"], "authorization,x-amz-date,amz-sdk-request")
        self.assertIn("GET", headers["access-control-allow-methods"])
        status, headers, body = raw(self.cors, "GET", "/2015-03-31/event-source-mappings/",
                                    headers={"Host": "localhost", "Origin": "http://localhost:3000"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["access-control-allow-origin"], "http://localhost:3000")
        self.assertIn("x-amzn-RequestId", headers["access-control-expose-headers"])
        self.assertEqual(json.loads(body)["EventSourceMappings"], [])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accept_failures_logged(esmd):
    with open(esmd.log_path, errors="replace") as f:
        return f.read().count("accept: ")


def limit_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


class OutOfDescriptorsTest(unittest.TestCase):
    def test_accept_backs_off_and_open_connections_are_served(self):
        esmd = Esmd(in_memory=True, preexec_fn=limit_files).start()
        held = []
        try:
            first = http.client.HTTPConnection("127.0.0.1", esmd.port, timeout=10)
            first.request("GET", "/_esmd/health")
            self.assertEqual(first.getresponse().read()[:15], b'{"status":"ok",')
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", esmd.port), timeout=5)
                held.append(s)
            wait_until(lambda: "accept: Too many open files" in esmd.log(), timeout=10, message="EMFILE")
            before = cpu_seconds(esmd.proc.pid)
            lines_before = accept_failures_logged(esmd)
            time.sleep(3)  # measuring what esmd does with its time: this wait is the measurement
            used = cpu_seconds(esmd.proc.pid) - before
            lines = accept_failures_logged(esmd) - lines_before
            self.assertLess(used, 0.5, f"esmd used {used:.2f} s of CPU in 3 s while out of descriptors")
            self.assertLessEqual(lines, 2, "the accept failure is logged at most once per 10 s")
            # The connection it holds is still served.
            first.request("GET", "/_esmd/health")
            self.assertEqual(first.getresponse().status, 200)
            # Descriptors come back: new connections are accepted again.
            for s in held:
                s.close()
            held.clear()
            wait_until(lambda: esmd.http("GET", "/_esmd/health")[0] == 200, timeout=10, message="accepting again")
            first.close()
        finally:
            for s in held:
                s.close()
            esmd.cleanup()


class EmptyDatabaseTest(unittest.TestCase):
    def test_a_truncated_database_is_refused_and_a_new_one_is_never_empty(self):
        data = tempfile.mkdtemp(prefix="esmd-empty-")
        self.addCleanup(shutil.rmtree, data, True)
        esmd = Esmd(data_dir=data).start()
        esmd.client("sqs").create_queue(QueueName="kept")
        esmd.stop()
        db = os.path.join(data, "esmd.sqlite3")
        self.assertGreater(os.path.getsize(db), 0)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        open(db, "w").close()  # truncated to 0 bytes
        p = subprocess.run([ESMD_BIN, "--port", str(free_port()), "--kafka-port", "off", "--data-dir", data],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"the database {db} is an empty (0-byte) file", p.stderr)
        self.assertEqual(os.path.getsize(db), 0, "the file is left as it was")

    def test_a_corrupt_or_unreadable_database_is_refused_with_a_message(self):
        data = tempfile.mkdtemp(prefix="esmd-corrupt-")
        self.addCleanup(shutil.rmtree, data, True)
        db = os.path.join(data, "esmd.sqlite3")
        with open(db, "wb") as f:
            f.write(b"this is not a database" * 500)
        p = subprocess.run([ESMD_BIN, "--port", str(free_port()), "--kafka-port", "off", "--data-dir", data],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot start", p.stderr)
        self.assertIn("not a database", p.stderr)
        os.chmod(db, 0)
        if os.geteuid() != 0:  # root reads it anyway
            p = subprocess.run([ESMD_BIN, "--port", str(free_port()), "--kafka-port", "off", "--data-dir", data],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
