"""JSON nested a million levels deep, in every request body esmd parses, gets the protocol's
ordinary "not valid JSON" error and leaves esmd running: a recursive parse or re-serialisation
of such a body would overflow a thread's stack and kill the process."""
import json
import unittest

from esmd_harness import Esmd
from lambda_support import sqs_arn

DEEP = b"[" * 1000000
DEEP_OBJECT = b'{"a":' * 200000


class DeepJsonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.stop()

    def post(self, path, body, headers=None):
        return self.esmd.http("POST", path, body, headers or {"Content-Type": "application/json"})

    def assert_alive(self):
        status, _, _ = self.esmd.http("GET", "/_esmd/health")
        self.assertEqual(status, 200)

    def test_lambda_create_update_and_tags_answer_400(self):
        for body in (DEEP, DEEP_OBJECT):
            status, headers, out = self.post("/2015-03-31/event-source-mappings/", body)
            self.assertEqual(status, 400, out[:200])
            self.assertEqual(json.loads(out)["Type"], "User")
            self.assertIn("InvalidParameterValueException", str(headers) + out.decode())
            self.assert_alive()
        status, _, out = self.esmd.http("PUT", "/2015-03-31/event-source-mappings/00000000-0000-0000-0000-000000000000",
                                        DEEP, {"Content-Type": "application/json"})
        self.assertIn(status, (400, 404), out[:200])
        self.assert_alive()
        arn = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:00000000-0000-0000-0000-000000000000"
        status, _, out = self.post("/2017-03-31/tags/" + arn, DEEP)
        self.assertEqual(status, 400, out[:200])
        self.assert_alive()

    def test_a_deep_member_inside_a_valid_create_answers_400(self):
        body = (b'{"FunctionName": "fn", "EventSourceArn": "' + sqs_arn("q").encode() +
                b'", "SelfManagedKafkaEventSourceConfig": ' + b'{"a":' * 100000 + b'1' + b'}' * 100000 + b'}')
        status, _, out = self.post("/2015-03-31/event-source-mappings/", body)
        self.assertEqual(status, 400, out[:200])
        self.assert_alive()

    def test_sqs_json_protocol_answers_400(self):
        status, _, out = self.post("/", DEEP, {"Content-Type": "application/x-amz-json-1.0",
                                                "X-Amz-Target": "AmazonSQS.ListQueues"})
        self.assertEqual(status, 400, out[:200])
        self.assertIn("not a valid JSON object", out.decode())
        self.assert_alive()

    def test_admin_function_registration_answers_400(self):
        status, _, out = self.esmd.http("PUT", "/_esmd/functions/deep", DEEP, {"Content-Type": "application/json"})
        self.assertEqual(status, 400, out[:200])
        self.assert_alive()


if __name__ == "__main__":
    unittest.main()
