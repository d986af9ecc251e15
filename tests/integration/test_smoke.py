"""The basics every other test relies on: esmd starts, answers health, and the AWS CLI can
create and read a mapping."""
import json
import unittest

from esmd_harness import Esmd


class SmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def test_health_answers_200_with_status_and_version(self):
        status, headers, body = self.esmd.http("GET", "/_esmd/health")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["status"], "ok")
        self.assertIn("version", doc)

    def test_cli_creates_and_gets_an_sqs_mapping(self):
        # esmd serves SQS itself, and a mapping needs its queue to exist (control-plane.md §5.2).
        rc, _, err = self.esmd.aws("sqs", "create-queue", "--queue-name", "smoke")
        self.assertEqual(rc, 0, err)
        rc, created, err = self.esmd.aws(
            "lambda", "create-event-source-mapping", "--function-name", "fn",
            "--event-source-arn", "arn:aws:sqs:us-east-1:000000000000:smoke")
        self.assertEqual(rc, 0, err)
        self.assertEqual(created["State"], "Creating")
        rc, got, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", created["UUID"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(got["UUID"], created["UUID"])
        self.assertEqual(got["BatchSize"], 10)


if __name__ == "__main__":
    unittest.main()
