"""FilterCriteria on an SQS mapping, driven with the real AWS CLI (filtering.md, data-plane.md
§2.6): create, update and clear the filters with `--filter-criteria`, the one error Lambda
answers for every invalid pattern, and delivery — only matching messages reach the function,
a batch holds only matching messages, and the others are deleted from the queue."""
import json
import unittest

from lambda_support import MAPPINGS, call
from sqs_poller_support import PollerTestCase

INVALID = "Invalid filter pattern definition."


def criteria(*patterns):
    """The --filter-criteria value for these patterns (each a dict, or a string sent as is)."""
    return json.dumps({"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]})


ORDERS = {"body": {"kind": ["order"]}}


class FilterCliTest(PollerTestCase):
    transition_delay_ms = 0

    # -- CLI helpers ------------------------------------------------------------------------
    def cli_create(self, arn, *args):
        rc, out, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", self.function,
                                     "--event-source-arn", arn, *args)
        self.assertEqual(rc, 0, err)
        self.mappings.append(out["UUID"])
        self.wait_state(out["UUID"], "Enabled")
        return out

    def cli_update(self, uuid, *args):
        rc, out, err = self.esmd.aws("lambda", "update-event-source-mapping", "--uuid", uuid, *args)
        self.assertEqual(rc, 0, err)
        self.wait_stable(uuid)
        return out

    def cli_get(self, uuid):
        rc, out, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", uuid)
        self.assertEqual(rc, 0, err)
        return out

    def assert_invalid(self, rc, out, err):
        self.assertNotEqual(rc, 0, out)
        self.assertIn("InvalidParameterValueException", err)
        self.assertIn(INVALID, err)

    def delivered_after(self, url, bodies, expected):
        """Sends `bodies`; waits until the queue is empty and `expected` was delivered; returns
        the bodies the function got."""
        self.send_batch(url, bodies)
        self.wait_empty(url)
        self.fn.wait_bodies(expected)
        return self.fn.bodies()

    # -- delivery ---------------------------------------------------------------------------
    def test_only_matching_messages_reach_the_function_and_the_rest_are_deleted(self):
        url, arn = self.make_queue()
        created = self.cli_create(arn, "--batch-size", "10", "--filter-criteria", criteria(ORDERS))
        self.assertEqual(json.loads(created["FilterCriteria"]["Filters"][0]["Pattern"]), ORDERS)
        matching = [json.dumps({"kind": "order", "id": i}) for i in range(5)]
        others = [json.dumps({"kind": "refund", "id": 1}), json.dumps({"id": 2}), "kind=order",
                  json.dumps({"kind": ["refund", "x"]}), json.dumps({"kind": "Order"}), '"order"', "",
                  json.dumps({"body": {"kind": "order"}})]
        others = [o for o in others if o]  # SQS refuses an empty body
        bodies = self.delivered_after(url, matching + others, matching)
        self.assertEqual(sorted(bodies), sorted(matching))
        # Gone for good: nothing is in flight or comes back after the visibility timeout.
        self.assertEqual(self.counts(url), (0, 0))
        for call in self.fn.calls():
            for rec in call.records:
                self.assertEqual(json.loads(rec["body"])["kind"], "order")

    def test_a_batch_holds_only_matching_messages(self):
        url, arn = self.make_queue()
        # A backlog of 40 in which every fourth message matches: each receive of 10 holds a few
        # matching ones, and no batch may carry the others along.
        bodies = [json.dumps({"n": i, "keep": i % 4 == 0}) for i in range(40)]
        keep = [b for b in bodies if json.loads(b)["keep"]]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=10,
                                  FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]})
        self.wait_empty(url)
        self.fn.wait_bodies(keep)
        self.assertEqual(sorted(self.fn.bodies()), sorted(keep))
        for call in self.fn.calls():
            self.assertTrue(call.records)
            self.assertTrue(all(json.loads(r["body"])["keep"] for r in call.records), call.bodies)

    def test_a_receive_that_is_all_filtered_out_invokes_nothing(self):
        url, arn = self.make_queue()
        uuid = self.cli_create(arn, "--filter-criteria", criteria(ORDERS))["UUID"]
        self.send_batch(url, [json.dumps({"kind": "noise", "i": i}) for i in range(25)])
        self.wait_empty(url)
        self.assertEqual(self.fn.calls(), [])
        self.assertEqual(self.invocations(uuid), [])

    def test_plain_string_bodies_match_string_patterns_and_never_object_patterns(self):
        url, arn = self.make_queue()
        self.cli_create(arn, "--filter-criteria",
                        criteria({"body": [{"prefix": "PING"}]}, {"body": {"ping": [{"exists": True}]}}))
        bodies = self.delivered_after(url, ["PING 1", "PONG 2", '{"msg": "PING"}', '{"ping": null}'],
                                      ["PING 1", '{"ping": null}'])
        self.assertEqual(sorted(bodies), sorted(["PING 1", '{"ping": null}']))

    def test_operators_and_metadata_keys_through_a_real_mapping(self):
        url, arn = self.make_queue()
        pattern = {
            "eventSource": ["aws:sqs"],
            "body": {
                "total": [{"numeric": [">", 100, "<=", 500]}],
                "region": [{"anything-but": {"prefix": "cn-"}}],
                "ip": [{"cidr": "10.0.0.0/8"}],
                "$or": [{"tags": ["vip"]}, {"customer": {"tier": [{"equals-ignore-case": "GOLD"}]}}],
            },
        }
        self.cli_create(arn, "--filter-criteria", criteria(pattern))
        good = [
            {"total": 150, "region": "eu-west-1", "ip": "10.1.2.3", "tags": ["x", "vip"]},
            {"total": 500.0, "region": "us-east-1", "ip": "10.255.0.1", "customer": {"tier": "gold"}},
        ]
        bad = [
            {"total": 50, "region": "eu-west-1", "ip": "10.1.2.3", "tags": ["vip"]},
            {"total": 150, "region": "cn-north-1", "ip": "10.1.2.3", "tags": ["vip"]},
            {"total": 150, "region": "eu-west-1", "ip": "11.1.2.3", "tags": ["vip"]},
            {"total": 150, "region": "eu-west-1", "ip": "10.1.2.3", "tags": ["std"]},
            {"total": "150", "region": "eu-west-1", "ip": "10.1.2.3", "tags": ["vip"]},
        ]
        good_bodies = [json.dumps(g) for g in good]
        bodies = self.delivered_after(url, good_bodies + [json.dumps(b) for b in bad], good_bodies)
        self.assertEqual(sorted(bodies), sorted(good_bodies))

    def test_nested_arrays_follow_event_ruler_same_element_rules(self):
        # exists: false on a field inside arrays (of arrays) of objects holds when the element the
        # earlier-sorted field matched in lacks it ("sku" < "wrap"), and a scalar array element is
        # not tied to its own index (aws/event-ruler's ACFinder and Event; filter_test.cc).
        url, arn = self.make_queue()
        gift_free = {"body": {"orders": {"sku": ["A-1"], "wrap": [{"exists": False}]}}}
        vip_level = {"body": {"tags": ["vip"], "tags.level": [{"numeric": [">", 2]}]}}
        self.cli_create(arn, "--batch-size", "10", "--filter-criteria", criteria(gift_free, vip_level))
        good = [
            {"orders": [{"sku": "A-1"}, {"sku": "B-2", "wrap": True}]},
            {"orders": [[{"sku": "A-1"}], [{"wrap": "yes"}]]},
            {"orders": [[{"sku": "A-1", "wrap": 1}, {"sku": "A-1"}]]},
            {"tags": [{"level": 3}, "vip"]},
        ]
        bad = [
            {"orders": [{"sku": "A-1", "wrap": 1}]},
            {"orders": [[{"sku": "A-1", "wrap": 1}]]},
            {"orders": [{"sku": "B-2"}, {"sku": "A-1", "wrap": [1]}]},
            {"tags": [[{"level": 3}], ["vip"]]},
            {"tags": [{"level": 1}, "vip"]},
        ]
        good_bodies = [json.dumps(g) for g in good]
        bodies = self.delivered_after(url, good_bodies + [json.dumps(b) for b in bad], good_bodies)
        self.assertEqual(sorted(bodies), sorted(good_bodies))
        self.assertEqual(self.counts(url), (0, 0))

    def test_numbers_longer_than_a_64_bit_significand_keep_their_value(self):
        # Digits beginning 18446744073709551615 then a digit from 5 wrapped RapidJSON 1.1.0's
        # full-precision significand to zero: such a number in a pattern or a body took an
        # arbitrary value (-2.5e255 for 18446744073709551615.9). esmd converts numbers itself.
        url, arn = self.make_queue()
        tiny = {"body": {"n": [{"numeric": [">", 1.8e-8, "<", 1.9e-8]}]}}
        exact = '{"body": {"m": [0.00000001844674407370955161584467440]}}'
        self.cli_create(arn, "--batch-size", "10", "--filter-criteria", criteria(tiny, exact))
        good = ['{"n": 0.00000001844674407370955161584467440}', '{"m": 1.84467440737095516158446744e-8}']
        bad = ['{"n": 18446744073709551615.9}', '{"m": 184467440737095516159}', '{"n": -0.0000000184467440737095516159}']
        bodies = self.delivered_after(url, good + bad, good)
        self.assertEqual(sorted(bodies), sorted(good))
        self.assertEqual(self.counts(url), (0, 0))

    def test_filtered_fifo_messages_are_deleted_and_their_group_moves_on(self):
        url, arn = self.make_queue(fifo=True)
        self.cli_create(arn, "--batch-size", "1", "--filter-criteria", criteria({"body": {"keep": [True]}}))
        bodies = [json.dumps({"i": i, "keep": i % 3 == 2}) for i in range(9)]
        for i, b in enumerate(bodies):
            self.sqs.send_message(QueueUrl=url, MessageBody=b, MessageGroupId="g", MessageDeduplicationId=str(i))
        keep = [b for b in bodies if json.loads(b)["keep"]]
        self.fn.wait_bodies(keep)
        self.wait_empty(url)
        self.assertEqual(self.fn.bodies(), keep)  # in order

    # -- update and clear ---------------------------------------------------------------------
    def test_update_replaces_the_filter_and_both_empty_forms_clear_it(self):
        url, arn = self.make_queue()
        uuid = self.cli_create(arn, "--filter-criteria", criteria(ORDERS))["UUID"]

        refunds = {"body": {"kind": ["refund"]}}
        out = self.cli_update(uuid, "--filter-criteria", criteria(refunds, {"body": {"urgent": [True]}}))
        self.assertEqual([json.loads(f["Pattern"]) for f in out["FilterCriteria"]["Filters"]],
                         [refunds, {"body": {"urgent": [True]}}])
        batch = [json.dumps({"kind": "order"}), json.dumps({"kind": "refund"}),
                 json.dumps({"kind": "order", "urgent": True})]
        self.assertEqual(sorted(self.delivered_after(url, batch, batch[1:])), sorted(batch[1:]))

        # {"Filters": []} clears the filter; the answer then has no FilterCriteria.
        out = self.cli_update(uuid, "--filter-criteria", '{"Filters": []}')
        self.assertNotIn("FilterCriteria", out)
        self.assertNotIn("FilterCriteria", self.cli_get(uuid))
        second = [json.dumps({"kind": "anything", "n": 2}), "plain"]
        self.delivered_after(url, second, second)

        # So does {} after a filter was set again.
        self.cli_update(uuid, "--filter-criteria", criteria(ORDERS))
        self.assertIn("FilterCriteria", self.cli_get(uuid))
        out = self.cli_update(uuid, "--filter-criteria", "{}")
        self.assertNotIn("FilterCriteria", out)
        third = [json.dumps({"kind": "other", "n": 3})]
        self.delivered_after(url, third, third)

    def test_an_update_without_filter_criteria_keeps_the_filter(self):
        url, arn = self.make_queue()
        uuid = self.cli_create(arn, "--filter-criteria", criteria(ORDERS))["UUID"]
        out = self.cli_update(uuid, "--batch-size", "5")
        self.assertEqual(json.loads(out["FilterCriteria"]["Filters"][0]["Pattern"]), ORDERS)
        batch = [json.dumps({"kind": "order"}), json.dumps({"kind": "refund"})]
        self.assertEqual(self.delivered_after(url, batch, batch[:1]), batch[:1])

    def test_patterns_are_echoed_byte_for_byte(self):
        _, arn = self.make_queue()
        text = '{ "body" : { "kind" : [ "order" ] },"x.y":[ 1.50 ] }'
        uuid = self.cli_create(arn, "--filter-criteria", criteria(text))["UUID"]
        self.assertEqual(self.cli_get(uuid)["FilterCriteria"], {"Filters": [{"Pattern": text}]})

    # -- validation ---------------------------------------------------------------------------
    def test_every_invalid_pattern_is_refused_on_create_and_update(self):
        _, arn = self.make_queue()
        uuid = self.cli_create(arn)["UUID"]
        invalid = [
            '{"body": {"kind": ["order"]}',          # malformed JSON
            '["order"]',                             # not an object
            '{"kind": "order"}',                     # a leaf that is not an array
            '{"kind": []}',                          # empty array
            '{}',                                    # empty object
            '{"a": [["x"]]}',                        # nested array
            '{"a": [{"EXISTS": true}]}',             # unknown operator
            '{"a": [{"prefix": 5}]}',                # bad operand
            '{"a": [{"numeric": [">", 5, "<", 5]}]}',
            '{"a": [{"anything-but": null}]}',
            '{"a": [{"cidr": "10.0.0.0/33"}]}',
            '{"a": [{"wildcard": "a**b"}]}',
            '{"$or": [{"a": [1]}]}',
            '{"a": ["' + "x" * 4096 + '"]}',        # over 4096 characters
            # The number fuzz/filter.cc found (its digits wrapped RapidJSON's significand), then
            # text that is not JSON.
            '0.00000001844674407370955161584467440\u00fd',
        ]
        for pattern in invalid:
            with self.subTest(pattern=pattern[:60]):
                self.assert_invalid(*self.esmd.aws(
                    "lambda", "create-event-source-mapping", "--function-name", self.function,
                    "--event-source-arn", arn, "--filter-criteria", criteria(pattern)))
                self.assert_invalid(*self.esmd.aws(
                    "lambda", "update-event-source-mapping", "--uuid", uuid, "--filter-criteria", criteria(pattern)))
        # Six filters are one too many; five are fine.
        six = criteria(*[{"body": {"n": [i]}} for i in range(6)])
        self.assert_invalid(*self.esmd.aws("lambda", "update-event-source-mapping", "--uuid", uuid,
                                           "--filter-criteria", six))
        self.cli_update(uuid, "--filter-criteria", criteria(*[{"body": {"n": [i]}} for i in range(5)]))
        # A filter without a Pattern.
        self.assert_invalid(*self.esmd.aws("lambda", "update-event-source-mapping", "--uuid", uuid,
                                           "--filter-criteria", '{"Filters": [{}]}'))
        # Nothing invalid was stored: the mapping still has the five filters.
        self.assertEqual(len(self.cli_get(uuid)["FilterCriteria"]["Filters"]), 5)

    def test_the_error_is_aws_shaped_on_the_wire(self):
        _, arn = self.make_queue()
        status, headers, body = call(self.esmd, "POST", MAPPINGS, {
            "FunctionName": self.function, "EventSourceArn": arn,
            "FilterCriteria": {"Filters": [{"Pattern": '{"a": [{"numeric": ["<>", 1]}]}'}]}})
        self.assertEqual(status, 400)
        self.assertEqual({k.lower(): v for k, v in headers.items()}["x-amzn-errortype"],
                         "InvalidParameterValueException")
        self.assertEqual(body, {"Type": "User", "message": INVALID})


if __name__ == "__main__":
    unittest.main()
