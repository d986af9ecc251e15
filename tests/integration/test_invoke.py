"""Function invocation (issue 3 §2): http targets speaking the Invoke API in the Lambda and RIE
dialects, exec: and builtin: targets, the outcome classification of data-plane.md §5.4, RIE
serialisation, and GET/DELETE /_esmd/invocations."""
import json
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from esmd_harness import ACCOUNT, Esmd, free_port
from invoke_function_server import FunctionServer


def arn(name, qualifier=None):
    base = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


class InvokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd("--allow-api-exec", in_memory=True).start()
        cls.lambda_api = FunctionServer("lambda-api").start()
        cls.rie = FunctionServer("rie").start()

    @classmethod
    def tearDownClass(cls):
        cls.lambda_api.stop()
        cls.rie.stop()
        cls.esmd.cleanup()

    # -- helpers ---------------------------------------------------------------------------
    def register(self, name, target, timeout=None, concurrency=None):
        body = {"Target": target}
        if timeout is not None:
            body["Timeout"] = timeout
        if concurrency is not None:
            body["Concurrency"] = concurrency
        status, _, out = self.esmd.http("PUT", f"/_esmd/functions/{name}", json.dumps(body))
        self.assertEqual(status, 200, out)

    def invoke(self, name, event, qualifier=None):
        path = f"/_esmd/functions/{name}/invoke"
        if qualifier:
            path += f"?Qualifier={qualifier}"
        data = event if isinstance(event, (str, bytes)) else json.dumps(event)
        status, _, out = self.esmd.http("POST", path, data)
        self.assertEqual(status, 200, out)
        return json.loads(out)

    def invocations(self, expect_status=200, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        status, _, out = self.esmd.http("GET", "/_esmd/invocations" + (f"?{query}" if query else ""))
        self.assertEqual(status, expect_status, out)
        return json.loads(out)

    def last_seq(self):
        return self.invocations(limit=1)["LastSeq"]

    # -- lambda-api dialect ------------------------------------------------------------------
    def test_lambda_api_success_posts_the_event_with_invoke_headers(self):
        self.register("la-ok", self.lambda_api.url("la-ok"))
        out = self.invoke("la-ok", {"n": 1})
        self.assertEqual(out["Outcome"], "Success")
        self.assertEqual(out["StatusCode"], 200)
        self.assertIsNone(out["FunctionError"])
        self.assertEqual(json.loads(out["Payload"]), {"echo": {"n": 1}})
        self.assertEqual(out["ExecutedVersion"], "$LATEST")
        req = [r for r in self.lambda_api.requests if r["path"].startswith("/2015-03-31/functions/la-ok/")][-1]
        self.assertEqual(req["path"], "/2015-03-31/functions/la-ok/invocations")
        self.assertEqual(req["headers"]["x-amz-invocation-type"], "RequestResponse")
        self.assertEqual(req["headers"]["content-type"], "application/json")
        self.assertEqual(req["event"], {"n": 1})

    def test_request_id_comes_from_the_response_or_is_generated(self):
        self.register("la-rid", self.lambda_api.url("la-rid"))
        out = self.invoke("la-rid", {})
        self.assertTrue(out["RequestId"].startswith("fs-"), out)
        self.register("bi-rid", "builtin:ok")
        self.assertRegex(self.invoke("bi-rid", {})["RequestId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-")

    def test_lambda_api_function_error_header_is_a_function_error(self):
        self.register("la-fail", self.lambda_api.url("la-fail"))
        out = self.invoke("la-fail", {"fail": "boom"})
        self.assertEqual(out["Outcome"], "FunctionError")
        self.assertEqual(out["FunctionError"], "Unhandled")
        self.assertEqual(out["StatusCode"], 200)
        self.assertEqual(json.loads(out["Payload"])["errorMessage"], "boom")

    def test_lambda_api_service_errors_are_invoke_errors(self):
        self.register("la-status", self.lambda_api.url("la-status"))
        for status in (404, 413, 429, 500):
            with self.subTest(status=status):
                out = self.invoke("la-status", {"status": status})
                self.assertEqual(out["Outcome"], "InvokeError")
                self.assertEqual(out["StatusCode"], status)
                self.assertIn(f"HTTP {status}", out["Detail"])
                self.assertIn("TestError", out["Detail"])

    def test_qualifier_is_passed_as_query_parameter_and_kept_in_the_arn(self):
        self.register("la-q", self.lambda_api.url("la-q"))
        out = self.invoke("la-q", {"q": 1}, qualifier="prod")
        self.assertEqual(out["Outcome"], "Success")
        paths = [r["path"] for r in self.lambda_api.requests if "/la-q/" in r["path"]]
        self.assertEqual(paths[-1], "/2015-03-31/functions/la-q/invocations?Qualifier=prod")
        entry = self.invocations(function="la-q:prod")["Invocations"][-1]
        self.assertEqual(entry["FunctionArn"], arn("la-q", "prod"))

    def test_connections_to_a_target_are_reused(self):
        with FunctionServer("lambda-api") as server:
            self.register("la-keepalive", server.url("la-keepalive"))
            for i in range(5):
                self.assertEqual(self.invoke("la-keepalive", {"i": i})["Outcome"], "Success")
            self.assertEqual(server.connections, 1)

    def test_a_refused_connection_is_an_invoke_error(self):
        self.register("la-refused", f"http://127.0.0.1:{free_port()}/2015-03-31/functions/x/invocations")
        out = self.invoke("la-refused", {})
        self.assertEqual(out["Outcome"], "InvokeError")
        self.assertIn("connect", out["Detail"])

    def test_a_stopped_target_is_an_invoke_error_not_a_dropped_pooled_connection(self):
        server = FunctionServer("lambda-api").start()
        self.register("la-stopped", server.url("la-stopped"))
        self.assertEqual(self.invoke("la-stopped", {})["Outcome"], "Success")
        server.stop()
        out = self.invoke("la-stopped", {})
        self.assertEqual(out["Outcome"], "InvokeError", out)

    # -- RIE dialect -----------------------------------------------------------------------
    def test_rie_error_body_timeout_text_and_502_are_unhandled_function_errors(self):
        self.register("rie-errors", self.rie.url())
        for event in ({"fail": "kaput"}, {"timeout": True}, {"crash": True}):
            with self.subTest(event=event):
                out = self.invoke("rie-errors", event)
                self.assertEqual(out["Outcome"], "FunctionError")
                self.assertEqual(out["FunctionError"], "Unhandled")
                self.assertEqual(out["StatusCode"], 200)
        self.assertEqual(self.invoke("rie-errors", {"fine": 1})["Outcome"], "Success")

    def test_rie_with_concurrency_1_never_sees_two_requests_at_once(self):
        with FunctionServer("rie") as rie:
            self.register("rie-serial", rie.url())
            self.register("rie-serial-2", rie.url())  # a second function on the same RIE
            with ThreadPoolExecutor(max_workers=8) as pool:
                outs = list(pool.map(lambda i: self.invoke("rie-serial" if i % 2 else "rie-serial-2",
                                                           {"i": i, "hold_ms": 30}), range(12)))
            self.assertTrue(all(o["Outcome"] == "Success" for o in outs), outs)
            self.assertEqual(len(rie.requests), 12)
            self.assertFalse(rie.overlapped, f"max in flight {rie.max_in_flight}")

    def test_concurrency_3_lets_three_requests_run_at_once(self):
        with FunctionServer("rie") as rie:
            rie.barrier = threading.Barrier(3, timeout=10)
            self.register("rie-three", rie.url(), concurrency=3)
            with ThreadPoolExecutor(max_workers=6) as pool:
                outs = list(pool.map(lambda i: self.invoke("rie-three", {"i": i}), range(6)))
            self.assertTrue(all(o["Outcome"] == "Success" for o in outs), outs)
            self.assertEqual(rie.max_in_flight, 3)

    # -- timeouts --------------------------------------------------------------------------
    def test_a_function_that_does_not_answer_by_timeout_plus_5s_is_an_unhandled_error(self):
        with FunctionServer("slow") as slow:
            self.register("slow-fn", slow.url(), timeout=0.5)
            started = time.monotonic()
            out = self.invoke("slow-fn", {})
            took = time.monotonic() - started
            slow.release()
            self.assertEqual(out["Outcome"], "FunctionError")
            self.assertEqual(out["FunctionError"], "Unhandled")
            self.assertIn("5500 ms", out["Detail"])
            # The message names the function's timeout, not the deadline with its grace.
            self.assertEqual(json.loads(out["Payload"])["errorMessage"], "Task timed out after 0.50 seconds")
            self.assertGreaterEqual(took, 5.0)
            self.assertLess(took, 30.0)

    # -- exec: and builtin: ----------------------------------------------------------------
    def test_exec_and_builtin_targets(self):
        self.register("ex-cat", "exec:cat")
        self.register("ex-fail", "exec:echo nope >&2; exit 3")
        self.register("ex-slow", "exec:sleep 10", timeout=0.3)
        self.register("bi-fail", "builtin:fail")
        out = self.invoke("ex-cat", {"k": "v"})
        self.assertEqual((out["Outcome"], json.loads(out["Payload"])), ("Success", {"k": "v"}))
        out = self.invoke("ex-fail", {})
        self.assertEqual((out["Outcome"], out["FunctionError"]), ("FunctionError", "Unhandled"))
        self.assertEqual(json.loads(out["Payload"]), {"errorMessage": "nope", "errorType": "Runtime.ExitError"})
        out = self.invoke("ex-slow", {})
        self.assertEqual(out["Outcome"], "FunctionError")
        self.assertIn("Task timed out after 0.30 seconds", out["Payload"])
        out = self.invoke("fn", {})  # builtin:ok, from the command line
        self.assertEqual((out["Outcome"], out["Payload"]), ("Success", "{}"))
        out = self.invoke("bi-fail", {})
        self.assertEqual((out["Outcome"], out["FunctionError"]), ("FunctionError", "Unhandled"))

    def test_invoking_an_unknown_function_answers_404(self):
        status, _, out = self.esmd.http("POST", "/_esmd/functions/nobody/invoke", "{}")
        self.assertEqual(status, 404, out)

    # -- the invocation log ----------------------------------------------------------------
    def test_invocations_show_event_outcome_and_response_newest_last(self):
        self.register("log-a", "builtin:ok")
        self.register("log-b", "builtin:fail")
        since = self.last_seq()
        self.invoke("log-a", {"a": 1})
        self.invoke("log-b", {"b": [1, 2]})
        self.invoke("log-a", "not json")
        doc = self.invocations(since=since)
        entries = doc["Invocations"]
        self.assertEqual(len(entries), 3)
        self.assertEqual([e["Seq"] for e in entries], [since + 1, since + 2, since + 3])
        self.assertEqual(doc["LastSeq"], since + 3)
        a, b, c = entries
        self.assertEqual(a["FunctionArn"], arn("log-a"))
        self.assertIsNone(a["MappingUuid"])
        self.assertEqual(a["Event"], {"a": 1})
        self.assertEqual(a["Outcome"], "Success")
        self.assertEqual(a["Response"], "{}")
        self.assertIsInstance(a["Time"], int)
        self.assertIsInstance(a["DurationMs"], int)
        self.assertEqual(b["Event"], {"b": [1, 2]})
        self.assertEqual((b["Outcome"], b["FunctionError"]), ("FunctionError", "Unhandled"))
        self.assertEqual(json.loads(b["Response"]), {"errorMessage": "builtin:fail", "errorType": "Error"})
        self.assertEqual(c["Event"], "not json")

    def test_invocations_filter_by_function_mapping_limit_and_since(self):
        self.register("flt-a", "builtin:ok")
        self.register("flt-b", "builtin:ok")
        since = self.last_seq()
        for i in range(4):
            self.invoke("flt-a", {"i": i})
        self.invoke("flt-b", {"i": 99})
        by_name = self.invocations(function="flt-a", since=since)["Invocations"]
        self.assertEqual([e["Event"]["i"] for e in by_name], [0, 1, 2, 3])
        by_arn = self.invocations(function=arn("flt-b"), since=since)["Invocations"]
        self.assertEqual([e["Event"]["i"] for e in by_arn], [99])
        newest = self.invocations(function="flt-a", limit=2)["Invocations"]
        self.assertEqual([e["Event"]["i"] for e in newest], [2, 3])
        first = self.invocations(function="flt-a", since=since, limit=2)["Invocations"]
        self.assertEqual([e["Event"]["i"] for e in first], [0, 1])
        after = self.invocations(function="flt-a", since=first[-1]["Seq"])["Invocations"]
        self.assertEqual([e["Event"]["i"] for e in after], [2, 3])
        self.assertEqual(self.invocations(mapping="aaaaaaaa-0000-4000-8000-000000000000")["Invocations"], [])

    def test_invocation_query_parameters_are_validated(self):
        for bad in ({"limit": 0}, {"limit": 10001}, {"limit": "x"}, {"since": "-1"}):
            with self.subTest(bad=bad):
                doc = self.invocations(expect_status=400, **bad)
                self.assertIn("message", {k.lower() for k in doc})


class InvocationLogClearTest(unittest.TestCase):
    """DELETE empties the log; in its own esmd so that it cannot disturb the tests above."""

    def test_delete_clears_the_log_and_seq_keeps_counting(self):
        with Esmd(in_memory=True) as esmd:
            esmd.http("POST", "/_esmd/functions/fn/invoke", "{}")
            esmd.http("POST", "/_esmd/functions/fn/invoke", "{}")
            status, _, _ = esmd.http("DELETE", "/_esmd/invocations")
            self.assertEqual(status, 204)
            doc = json.loads(esmd.http("GET", "/_esmd/invocations")[2])
            self.assertEqual(doc["Invocations"], [])
            esmd.http("POST", "/_esmd/functions/fn/invoke", "{}")
            doc = json.loads(esmd.http("GET", "/_esmd/invocations")[2])
            self.assertEqual([e["Seq"] for e in doc["Invocations"]], [3])


if __name__ == "__main__":
    unittest.main()
