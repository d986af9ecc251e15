"""FilterCriteria on a Kinesis mapping, driven with the real AWS CLI (filtering.md §6,
data-plane.md §3.9): records are matched on their base64-decoded `data` parsed as JSON; records
that match no filter are skipped and checkpointed, never counted as failures; a batch is built
only from matching records; and clearing the filter lets every later record through."""
import base64
import json
import subprocess
import time
import unittest

from kinesis_poller_support import KinesisTestCase, data_of


def cli_major_version():
    out = subprocess.run(["aws", "--version"], capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip()
    return int(text.split("/")[1].split(".")[0]) if text.startswith("aws-cli/") else 1


def criteria(*patterns):
    return json.dumps({"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})


class KinesisFilterCliTest(KinesisTestCase):
    transition_delay_ms = 0

    def cli(self, *args):
        rc, out, err = self.esmd.aws(*args)
        self.assertEqual(rc, 0, err)
        return out

    def cli_put(self, stream, payload, key="k"):
        # CLI v1 base64-encodes a blob argument itself; v2 takes it already in base64.
        data = base64.b64encode(payload.encode()).decode() if cli_major_version() >= 2 else payload
        return self.cli("kinesis", "put-record", "--stream-name", stream, "--partition-key", key, "--data", data)

    def cli_mapping(self, arn, *args):
        out = self.cli("lambda", "create-event-source-mapping", "--function-name", self.function,
                       "--event-source-arn", arn, "--starting-position", "TRIM_HORIZON", *args)
        self.mappings.append(out["UUID"])
        self.wait_state(out["UUID"], "Enabled")
        return out["UUID"]

    def test_only_records_whose_data_matches_reach_the_function(self):
        stream, arn = self.make_stream(2)
        self.cli_mapping(arn, "--batch-size", "100", "--filter-criteria", criteria(
            {"data": {"kind": ["order"], "total": [{"numeric": [">", 100]}]}},
            {"partitionKey": [{"prefix": "vip-"}]}))
        wanted = [json.dumps({"kind": "order", "total": 150, "n": 1}),
                  json.dumps({"kind": "order", "total": 100.5, "n": 2}),
                  "plain text from a vip"]
        skipped = [json.dumps({"kind": "order", "total": 100, "n": 3}),
                   json.dumps({"kind": "refund", "total": 500}),
                   json.dumps({"kind": ["order"], "total": "150"}),
                   "kind=order total=150",
                   json.dumps({"data": {"kind": "order", "total": 150}})]
        for p in wanted[:2] + skipped:
            self.cli_put(stream, p)
        self.cli_put(stream, wanted[2], key="vip-7")
        self.wait_delivered(set(wanted))
        # Every skipped record was read before the last wanted one; give a stray delivery a
        # moment to show, then check that none came.
        time.sleep(0.3)
        self.assertEqual(sorted(self.delivered()), sorted(wanted))
        for call in self.fn.calls():
            self.assertTrue(call.records, "no invocation without records")

    def test_clearing_the_filter_with_an_empty_list_lets_later_records_through(self):
        stream, arn = self.make_stream(1)
        uuid = self.cli_mapping(arn, "--filter-criteria", criteria({"data": {"keep": [True]}}))
        self.cli_put(stream, json.dumps({"keep": True, "n": 1}))
        self.cli_put(stream, json.dumps({"keep": False, "n": 2}))
        self.wait_delivered({json.dumps({"keep": True, "n": 1})})
        out = self.cli("lambda", "update-event-source-mapping", "--uuid", uuid,
                       "--filter-criteria", json.dumps({"Filters": []}))
        self.assertNotIn("FilterCriteria", {k: v for k, v in out.items() if v})
        self.wait_stable(uuid)
        self.cli_put(stream, json.dumps({"keep": False, "n": 3}))
        self.wait_delivered({json.dumps({"keep": False, "n": 3})})
        # The record filtered out before the update was checkpointed, not delivered later.
        self.assertNotIn(json.dumps({"keep": False, "n": 2}), self.delivered())
        self.assertEqual([data_of(r) for r in self.fn.records()],
                         [json.dumps({"keep": True, "n": 1}), json.dumps({"keep": False, "n": 3})])

    def test_an_invalid_pattern_is_refused_with_lambdas_message(self):
        _, arn = self.make_stream(1)
        rc, out, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", self.function,
                                     "--event-source-arn", arn, "--starting-position", "LATEST",
                                     "--filter-criteria", json.dumps({"Filters": [{"Pattern": '{"data": {"n": 1}}'}]}))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("InvalidParameterValueException", err)
        self.assertIn("Invalid filter pattern definition.", err)


if __name__ == "__main__":
    unittest.main()
