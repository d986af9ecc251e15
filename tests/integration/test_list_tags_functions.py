"""ListEventSourceMappings over 250 mappings (pages, markers, filters), tags on mapping and
function ARNs, esmd's function registry with GetFunction/ListFunctions, and the ways esmd is
configured: flags, --functions-file, --invoke-endpoint, ESMD_* variables, --help, --version."""
import json
import os
import subprocess
import tempfile
import unittest
import urllib.parse

from esmd_harness import ACCOUNT, ESMD_BIN, Esmd, free_port, wait_until
from lambda_support import (MAPPINGS, ErrorAssertions, call, create_mapping, create_queue, create_stream, function_arn,
                            mapping_arn, settle, sqs_arn, unique)


def uuids(page):
    return [m["UUID"] for m in page["EventSourceMappings"]]


class ListTest(ErrorAssertions, unittest.TestCase):
    COUNT = 250

    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=0, functions=("fn=builtin:ok", "fn2=builtin:ok")).start()
        cls.lam = cls.esmd.client("lambda")
        cls.queue = create_queue(cls.esmd, "bulk")
        # One queue, 250 distinct function ARNs: qualifiers make each mapping a new pair.
        cls.created = [cls.lam.create_event_source_mapping(FunctionName=f"fn:v{i}", EventSourceArn=cls.queue)["UUID"]
                       for i in range(cls.COUNT)]

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def pages(self, **kwargs):
        out, marker = [], None
        while True:
            args = dict(kwargs, **({"Marker": marker} if marker else {}))
            page = self.lam.list_event_source_mappings(**args)
            out.append(page)
            marker = page.get("NextMarker")
            if not marker:
                return out

    def test_250_mappings_come_in_pages_of_100_in_creation_order_without_a_marker_on_the_last(self):
        pages = self.pages(EventSourceArn=self.queue)
        self.assertEqual([len(p["EventSourceMappings"]) for p in pages], [100, 100, 50])
        self.assertNotIn("NextMarker", pages[-1])
        self.assertEqual(sum((uuids(p) for p in pages), []), self.created)

    def test_max_items_sets_the_page_size_up_to_100(self):
        pages = self.pages(EventSourceArn=self.queue, MaxItems=30)
        self.assertEqual([len(p["EventSourceMappings"]) for p in pages], [30] * 8 + [10])
        self.assertEqual(sum((uuids(p) for p in pages), []), self.created)
        self.assertEqual(len(self.lam.list_event_source_mappings(MaxItems=1000)["EventSourceMappings"]), 100)
        self.assertEqual(len(self.lam.list_event_source_mappings(MaxItems=10000)["EventSourceMappings"]), 100)

    def test_the_order_is_stable_across_updates_and_repeated_listings(self):
        first = sum((uuids(p) for p in self.pages(EventSourceArn=self.queue)), [])
        self.lam.update_event_source_mapping(UUID=self.created[5], BatchSize=3)
        second = sum((uuids(p) for p in self.pages(EventSourceArn=self.queue)), [])
        self.assertEqual(first, second)

    def test_the_cli_pages_through_all_250_with_its_own_paginator(self):
        rc, out, err = self.esmd.aws("lambda", "list-event-source-mappings", "--event-source-arn", self.queue,
                                     "--page-size", "60")
        self.assertEqual(rc, 0, err)
        self.assertEqual(uuids(out), self.created)
        rc, out, err = self.esmd.aws("lambda", "list-event-source-mappings", "--event-source-arn", self.queue,
                                     "--max-items", "70", "--page-size", "25")
        self.assertEqual(rc, 0, err)
        self.assertEqual(uuids(out), self.created[:70])
        self.assertIn("NextToken", out)

    def test_an_undecodable_marker_is_refused(self):
        for marker in ("garbage", "esm1.zz", "esm1.-5"):
            with self.subTest(marker=marker):
                self.assert_client_error(self.lam.list_event_source_mappings, "InvalidParameterValueException",
                                         f"Invalid Marker: {marker}", Marker=marker)

    def test_a_stale_marker_continues_from_the_next_surviving_mapping(self):
        queue = create_queue(self.esmd, unique("stale"))
        ids = [self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=queue)["UUID"]]
        ids += [self.lam.create_event_source_mapping(FunctionName=f"fn:{i}", EventSourceArn=queue)["UUID"]
                for i in range(4)]
        page = self.lam.list_event_source_mappings(EventSourceArn=queue, MaxItems=2)
        self.assertEqual(uuids(page), ids[:2])
        for uuid in ids[1:3]:
            settle(self.lam, uuid)
            self.lam.delete_event_source_mapping(UUID=uuid)
        wait_until(lambda: len(uuids(self.lam.list_event_source_mappings(EventSourceArn=queue))) == 3,
                   message="deleted mappings removed")
        rest = self.lam.list_event_source_mappings(EventSourceArn=queue, Marker=page["NextMarker"])
        self.assertEqual(uuids(rest), ids[3:])

    def test_function_name_matches_the_normalised_arn_exactly(self):
        queue = create_queue(self.esmd, unique("filters"))
        other = create_queue(self.esmd, unique("filters"))
        a = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=queue)["UUID"]
        b = self.lam.create_event_source_mapping(FunctionName="fn2", EventSourceArn=queue)["UUID"]
        c = self.lam.create_event_source_mapping(FunctionName="fn:1", EventSourceArn=queue)["UUID"]
        d = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=other)["UUID"]

        def listed(**kwargs):
            found = uuids(self.lam.list_event_source_mappings(**kwargs))
            return [u for u in found if u in (a, b, c, d)]

        self.assertEqual(listed(FunctionName="fn"), [a, d])
        self.assertEqual(listed(FunctionName=function_arn("fn")), [a, d])
        self.assertEqual(listed(FunctionName=f"{ACCOUNT}:function:fn"), [a, d])
        self.assertEqual(listed(FunctionName="fn2"), [b])
        self.assertEqual(listed(FunctionName="fn:1"), [c])
        self.assertEqual(listed(EventSourceArn=queue), [a, b, c])
        self.assertEqual(listed(EventSourceArn=queue, FunctionName="fn"), [a])
        for nothing in ({"FunctionName": "f"}, {"FunctionName": "doesnotexist"}, {"FunctionName": "fn:alias"},
                        {"FunctionName": function_arn("fn", region="eu-west-1")},
                        {"EventSourceArn": sqs_arn("missing")}):
            with self.subTest(**nothing):
                self.assertEqual(self.lam.list_event_source_mappings(**nothing)["EventSourceMappings"], [])
        status, _, body = call(self.esmd, "GET", f"{MAPPINGS}?FunctionName=doesnotexist")
        self.assertEqual((status, body), (200, {"EventSourceMappings": []}))

    def test_list_refuses_a_function_name_or_source_arn_that_breaks_the_model_pattern(self):
        for query, member in (("FunctionName=bad%20name", "functionName"), ("EventSourceArn=queue", "eventSourceArn")):
            with self.subTest(query=query):
                message = self.assert_error(call(self.esmd, "GET", f"{MAPPINGS}?{query}"), "ValidationException")
                self.assertIn(f"at '{member}' failed to satisfy constraint: Member must satisfy regular expression "
                              "pattern: ", message)


class TagsTest(ErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=0, functions=("fn=builtin:ok",)).start()
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def mapping(self, **kwargs):
        """A new mapping, created with boto3 (raw REST-JSON when its model lacks Tags on create or
        EventSourceMappingArn in the answer, as botocore < 1.35 does)."""
        return create_mapping(self.esmd, self.lam, reads=["EventSourceMappingArn"], FunctionName="fn",
                              EventSourceArn=create_stream(self.esmd, unique("s")), StartingPosition="LATEST", **kwargs)

    def test_tags_given_on_create_are_listed_by_the_cli(self):
        arn = self.mapping(Tags={"team": "payments", "env": "dev"})["EventSourceMappingArn"]
        rc, out, err = self.esmd.aws("lambda", "list-tags", "--resource", arn)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, {"Tags": {"team": "payments", "env": "dev"}})

    def test_the_cli_tags_and_untags_a_mapping(self):
        arn = self.mapping()["EventSourceMappingArn"]
        rc, _, err = self.esmd.aws("lambda", "tag-resource", "--resource", arn, "--tags", "a=1,b=2,c=3")
        self.assertEqual(rc, 0, err)
        rc, _, err = self.esmd.aws("lambda", "untag-resource", "--resource", arn, "--tag-keys", "a", "c", "zz")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {"b": "2"})

    def test_boto3_tag_untag_and_list_with_204_and_200(self):
        arn = self.mapping()["EventSourceMappingArn"]
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {})
        r = self.lam.tag_resource(Resource=arn, Tags={"k": "v", "k2": "v2"})
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.lam.tag_resource(Resource=arn, Tags={"k": "changed"})
        r = self.lam.untag_resource(Resource=arn, TagKeys=["k2"])
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 204)
        r = self.lam.list_tags(Resource=arn)
        self.assertEqual((r["ResponseMetadata"]["HTTPStatusCode"], r["Tags"]), (200, {"k": "changed"}))

    def test_a_percent_encoded_arn_in_the_path_is_decoded(self):
        arn = self.mapping(Tags={"x": "y"})["EventSourceMappingArn"]
        encoded = urllib.parse.quote(arn, safe="")
        self.assertIn("%3A", encoded)
        status, _, body = call(self.esmd, "GET", f"/2017-03-31/tags/{encoded}")
        self.assertEqual((status, body), (200, {"Tags": {"x": "y"}}))
        status, _, _ = call(self.esmd, "DELETE", f"/2017-03-31/tags/{encoded}?tagKeys=x")
        self.assertEqual(status, 204)
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {})

    def test_tags_go_with_the_mapping_and_other_regions_cannot_see_them(self):
        created = self.mapping(Tags={"k": "v"})
        arn = created["EventSourceMappingArn"]
        west = self.esmd.client("lambda", region="eu-west-1")
        self.assert_client_error(west.list_tags, "ResourceNotFoundException", f"Event source mapping not found: {arn}",
                                 Resource=arn)
        self.lam.delete_event_source_mapping(UUID=created["UUID"])
        wait_until(lambda: call(self.esmd, "GET", f"/2017-03-31/tags/{arn}")[0] == 404, message="tags gone")
        self.assert_client_error(self.lam.list_tags, "ResourceNotFoundException", f"Event source mapping not found: {arn}",
                                 Resource=arn)

    def test_function_arns_are_taggable_too_and_not_taken_for_mappings(self):
        arn = function_arn("fn")
        self.lam.tag_resource(Resource=arn, Tags={"owner": "me"})
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {"owner": "me"})
        self.assert_client_error(self.lam.list_tags, "ResourceNotFoundException", Resource=function_arn("nope"))
        uuid = self.mapping()["UUID"]
        self.assertEqual(self.lam.list_tags(Resource=mapping_arn(uuid))["Tags"], {})


class FunctionsTest(ErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=0, functions=("fn=builtin:ok", "bad=builtin:fail")).start()
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def test_functions_registered_at_run_time_can_be_mapped_listed_and_deleted(self):
        name = unique("rt")
        status, _, body = call(self.esmd, "PUT", f"/_esmd/functions/{name}",
                               {"Target": "http://127.0.0.1:9/2015-03-31/functions/function/invocations",
                                "Timeout": 5, "Concurrency": 2})
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"Name": name, "Target": "http://127.0.0.1:9/2015-03-31/functions/function/invocations",
                                "Timeout": 5.0, "Concurrency": 2})
        self.assertEqual(call(self.esmd, "GET", f"/_esmd/functions/{name}")[2]["Name"], name)
        listed = [f["Name"] for f in call(self.esmd, "GET", "/_esmd/functions")[2]["Functions"]]
        self.assertIn(name, listed)
        self.assertIn("fn", listed)
        created = self.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=create_stream(self.esmd, unique("s")),
                                                       StartingPosition="LATEST")
        self.assertEqual(created["FunctionArn"], function_arn(name))
        self.assertEqual(self.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"], function_arn(name))
        status, _, _ = call(self.esmd, "DELETE", f"/_esmd/functions/{name}")
        self.assertEqual(status, 204)
        self.assertEqual(call(self.esmd, "GET", f"/_esmd/functions/{name}")[0], 404)
        self.assert_client_error(self.lam.create_event_source_mapping, "InvalidParameterValueException",
                                 "Function does not exist", FunctionName=name,
                                 EventSourceArn=create_stream(self.esmd, unique("s")), StartingPosition="LATEST")
        # A mapping survives the deletion of its function, as in AWS.
        self.assertEqual(self.lam.get_event_source_mapping(UUID=created["UUID"])["FunctionArn"], function_arn(name))

    def test_invalid_registrations_are_refused(self):
        for name, body in (("bad.name", {"Target": "builtin:ok"}), ("x", {"Target": "ftp://host"}), ("x", {}),
                           ("x", "not json"), ("x", {"Target": "builtin:ok", "Timeout": 0})):
            with self.subTest(name=name, body=body):
                self.assert_error(call(self.esmd, "PUT", f"/_esmd/functions/{name}", body),
                                  "InvalidParameterValueException")

    def test_get_function_and_list_functions_through_the_cli(self):
        rc, out, err = self.esmd.aws("lambda", "get-function", "--function-name", "bad")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Configuration"]["FunctionName"], "bad")
        self.assertEqual(out["Configuration"]["FunctionArn"], function_arn("bad"))
        rc, out, err = self.esmd.aws("lambda", "list-functions")
        self.assertEqual(rc, 0, err)
        self.assertTrue({"fn", "bad"} <= {f["FunctionName"] for f in out["Functions"]})
        rc, _, err = self.esmd.aws("lambda", "get-function", "--function-name", "nope")
        self.assertNotEqual(rc, 0)
        self.assertIn("(ResourceNotFoundException)", err)
        self.assertEqual(self.lam.get_function(FunctionName=function_arn("fn"))["Configuration"]["FunctionName"], "fn")


class ConfigurationTest(unittest.TestCase):
    def run_esmd(self, *args, env=None):
        return subprocess.run([ESMD_BIN, *args], capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, **(env or {})))

    def test_help_lists_every_flag_and_version_prints_the_version(self):
        r = self.run_esmd("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--host", "--port", "--data-dir", "--in-memory", "--region", "--account-id", "--log-level",
                     "--transition-delay-ms", "--function", "--functions-file", "--invoke-endpoint", "--help",
                     "--version", "ESMD_"):
            self.assertIn(flag, r.stdout)
        r = self.run_esmd("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^esmd \d+\.\d+\.\d+\n$")

    def test_bad_flags_and_bad_environment_values_exit_2_with_a_message(self):
        for args, env, text in ((("--bogus",), {}, "--bogus"), (("--port", "x"), {}, "--port"),
                                ((), {"ESMD_TRANSITION_DELAY_MS": "soon"}, "ESMD_TRANSITION_DELAY_MS"),
                                (("--functions-file", "/nonexistent/f.json"), {}, "/nonexistent/f.json"),
                                (("--function", "noequals"), {}, "NAME=TARGET")):
            with self.subTest(args=args, env=env):
                r = self.run_esmd(*args, env=env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(text, r.stderr)

    def test_every_setting_can_come_from_esmd_environment_variables(self):
        port = free_port()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"from-file": "builtin:ok"}, f)
        env = dict(os.environ, ESMD_HOST="127.0.0.1", ESMD_PORT=str(port), ESMD_IN_MEMORY="1",
                   ESMD_REGION="eu-west-2", ESMD_ACCOUNT_ID="123456789012", ESMD_TRANSITION_DELAY_MS="0",
                   ESMD_FUNCTION="env-a=builtin:ok\nenv-b=builtin:fail", ESMD_FUNCTIONS_FILE=f.name,
                   ESMD_LOG_LEVEL="warn")
        proc = subprocess.Popen([ESMD_BIN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            esmd = Esmd(in_memory=True)
            esmd.port = port
            wait_until(lambda: _healthy(esmd, proc), timeout=15, message="esmd from env")
            names = {x["Name"] for x in call(esmd, "GET", "/_esmd/functions")[2]["Functions"]}
            self.assertEqual(names, {"env-a", "env-b", "from-file"})
            # An unsigned request carries no credential scope: the region is the configured one,
            # for the stream as for the mapping.
            status, _, body = call(esmd, "POST", "/", {"StreamName": "s", "ShardCount": 1},
                                   {"X-Amz-Target": "Kinesis_20131202.CreateStream",
                                    "Content-Type": "application/x-amz-json-1.1"})
            self.assertEqual(status, 200, body)
            status, _, body = call(esmd, "POST", MAPPINGS, {
                "FunctionName": "env-a", "StartingPosition": "LATEST",
                "EventSourceArn": "arn:aws:kinesis:eu-west-2:123456789012:stream/s"})
            self.assertEqual(status, 202, body)
            self.assertEqual(body["FunctionArn"], "arn:aws:lambda:eu-west-2:123456789012:function:env-a")
            self.assertTrue(body["EventSourceMappingArn"].startswith(
                "arn:aws:lambda:eu-west-2:123456789012:event-source-mapping:"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            os.remove(f.name)

    def test_a_functions_file_registers_names_with_targets_timeouts_and_concurrency(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"plain": "builtin:ok",
                       "full": {"Target": "exec:cat", "Timeout": 10, "Concurrency": 3}}, f)
        try:
            with Esmd("--functions-file", f.name, functions=()) as esmd:
                specs = {x["Name"]: x for x in call(esmd, "GET", "/_esmd/functions")[2]["Functions"]}
                self.assertEqual(specs["plain"]["Target"], "builtin:ok")
                self.assertEqual((specs["full"]["Target"], specs["full"]["Timeout"], specs["full"]["Concurrency"]),
                                 ("exec:cat", 10.0, 3))
                names = {x["FunctionName"] for x in esmd.client("lambda").list_functions()["Functions"]}
                self.assertEqual(names, {"plain", "full"})
        finally:
            os.remove(f.name)

    def test_with_an_invoke_endpoint_any_function_name_is_accepted(self):
        with Esmd("--invoke-endpoint", "http://127.0.0.1:3001", functions=(), transition_delay_ms=0) as esmd:
            lam = esmd.client("lambda")
            created = lam.create_event_source_mapping(FunctionName="anything", StartingPosition="LATEST",
                                                      EventSourceArn=create_stream(esmd, "s"))
            self.assertEqual(created["FunctionArn"], function_arn("anything"))
            self.assertEqual(lam.get_function(FunctionName="anything")["Configuration"]["FunctionName"], "anything")
            self.assertEqual(lam.list_functions()["Functions"], [])

    def test_in_memory_keeps_nothing_across_a_restart(self):
        with Esmd(in_memory=True, transition_delay_ms=0) as esmd:
            lam = esmd.client("lambda")
            lam.create_event_source_mapping(FunctionName="fn", StartingPosition="LATEST", EventSourceArn=create_stream(esmd, "s"))
            self.assertEqual(len(lam.list_event_source_mappings()["EventSourceMappings"]), 1)
            esmd.restart()
            self.assertEqual(esmd.client("lambda").list_event_source_mappings()["EventSourceMappings"], [])


def _healthy(esmd, proc):
    if proc.poll() is not None:
        raise AssertionError(f"esmd exited with {proc.returncode}")
    try:
        return call(esmd, "GET", "/_esmd/health")[0] == 200
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
