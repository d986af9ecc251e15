"""Control-plane fidelity (issue 15): requests esmd accepted and AWS refuses, and a request esmd
routed where AWS answers that the resource does not exist. Each test drives the real esmd with
boto3, the AWS CLI or raw HTTP."""
import time
import unittest

from esmd_harness import ACCOUNT, Esmd
from lambda_support import (MAPPINGS, ErrorAssertions, boto_has, call, create_queue, create_stream, function_arn,
                            kafka_body, mapping_arn, raw_operation, unique)


class ControlFidelityTest(ErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=0).start()
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def create_raw(self, body, region=None):
        return raw_operation(self.esmd, "CreateEventSourceMapping", "POST", MAPPINGS, body, region=region)

    def assert_raw_refused(self, fn, code, message):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn()
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        self.assertEqual(cm.exception.response["Error"]["Message"], message)

    # -- 2. sources in another region ----------------------------------------------------------------
    def test_a_queue_or_stream_in_another_region_than_the_request_is_refused(self):
        west_queue = create_queue(self.esmd, unique("west"), region="eu-west-1")
        west_stream = create_stream(self.esmd, unique("west"), region="eu-west-1")
        message = "Event source region must match Lambda region us-east-1."
        self.assert_client_error(self.lam.create_event_source_mapping, "InvalidParameterValueException", message,
                                 FunctionName="fn", EventSourceArn=west_queue)
        rc, _, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", "fn",
                                   "--event-source-arn", west_stream, "--starting-position", "LATEST")
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidParameterValueException", err)
        self.assertIn(message, err)
        self.assertEqual(self.lam.list_event_source_mappings(EventSourceArn=west_queue)["EventSourceMappings"], [])
        # Signed for the source's own region, the same queue is fine.
        west = self.esmd.client("lambda", region="eu-west-1")
        created = west.create_event_source_mapping(FunctionName="fn", EventSourceArn=west_queue)
        self.assertEqual(created["EventSourceArn"], west_queue)

    # -- 3. tags ------------------------------------------------------------------------------------
    def test_tag_operations_on_a_mapping_arn_of_another_region_partition_or_account_are_404(self):
        created = self.lam.create_event_source_mapping(FunctionName="fn",
                                                       EventSourceArn=create_queue(self.esmd, unique("q")))
        uuid = created["UUID"]
        home = mapping_arn(uuid)
        self.lam.tag_resource(Resource=home, Tags={"team": "a"})
        for arn in (mapping_arn(uuid, region="eu-west-1"),
                    f"arn:aws-cn:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{uuid}",
                    f"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{uuid}"):
            with self.subTest(arn=arn):
                message = f"Event source mapping not found: {arn}"
                self.assert_client_error(self.lam.list_tags, "ResourceNotFoundException", message, Resource=arn)
                self.assert_client_error(self.lam.tag_resource, "ResourceNotFoundException", message,
                                         Resource=arn, Tags={"team": "b"})
                self.assert_client_error(self.lam.untag_resource, "ResourceNotFoundException", message,
                                         Resource=arn, TagKeys=["team"])
        self.assertEqual(self.lam.list_tags(Resource=home)["Tags"], {"team": "a"})

    def test_function_arns_of_another_region_are_404_and_qualified_ones_are_refused(self):
        west = function_arn("fn", region="eu-west-1")
        self.assert_client_error(self.lam.list_tags, "ResourceNotFoundException", f"Function not found: {west}",
                                 Resource=west)
        self.assert_client_error(self.lam.tag_resource, "ResourceNotFoundException", f"Function not found: {west}",
                                 Resource=west, Tags={"a": "1"})
        for qualified in (function_arn("fn") + ":1", function_arn("fn") + ":live"):
            with self.subTest(arn=qualified):
                self.assert_client_error(
                    self.lam.tag_resource, "InvalidParameterValueException",
                    "Tags on function aliases and versions are not supported. Please specify a function ARN.",
                    Resource=qualified, Tags={"a": "1"})

    def test_tag_resource_refuses_more_than_fifty_tags_counting_those_held(self):
        created = self.lam.create_event_source_mapping(FunctionName="fn",
                                                       EventSourceArn=create_queue(self.esmd, unique("q")))
        arn = mapping_arn(created["UUID"])
        message = "Number of tags exceeds resource tag limit."
        self.assert_client_error(self.lam.tag_resource, "InvalidParameterValueException", message,
                                 Resource=arn, Tags={f"k{i}": "v" for i in range(51)})
        self.lam.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(50)})
        rc, _, err = self.esmd.aws("lambda", "tag-resource", "--resource", arn, "--tags", "one=more")
        self.assertNotEqual(rc, 0)
        self.assertIn(message, err)
        self.lam.tag_resource(Resource=arn, Tags={"k0": "again"})
        self.assertEqual(len(self.lam.list_tags(Resource=arn)["Tags"]), 50)

    def test_tag_keys_with_the_reserved_aws_prefix_are_refused(self):
        queue = create_queue(self.esmd, unique("q"))
        arn = mapping_arn(self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=queue)["UUID"])
        message = "Tag keys starting with 'aws:' are reserved for internal use."
        for key in ("aws:team", "AWS:cloudformation:stack-name"):
            with self.subTest(key=key):
                self.assert_client_error(self.lam.tag_resource, "InvalidParameterValueException", message,
                                         Resource=arn, Tags={key: "x"})
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {})
        self.assert_raw_refused(lambda: self.create_raw({"FunctionName": "fn", "EventSourceArn": queue,
                                                         "Tags": {"aws:team": "x"}}),
                                "InvalidParameterValueException", message)

    # -- 4. starting position -----------------------------------------------------------------------
    def test_a_starting_position_timestamp_in_the_future_is_refused(self):
        stream = create_stream(self.esmd, unique("s"))
        future = str(int(time.time()) + 3600)
        rc, _, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", "fn",
                                   "--event-source-arn", stream, "--starting-position", "AT_TIMESTAMP",
                                   "--starting-position-timestamp", future)
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidParameterValueException", err)
        self.assertIn("StartingPositionTimestamp cannot be in the future.", err)
        past = int(time.time()) - 3600
        created = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                                       StartingPosition="AT_TIMESTAMP",
                                                       StartingPositionTimestamp=past)
        self.assertEqual(created["StartingPosition"], "AT_TIMESTAMP")

    def test_a_timestamp_without_at_timestamp_gets_the_recorded_text_for_every_source(self):
        message = "Timestamp only valid with StartingPosition AT_TIMESTAMP"
        past = int(time.time()) - 3600
        self.assert_client_error(self.lam.create_event_source_mapping, "InvalidParameterValueException", message,
                                 FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")),
                                 StartingPosition="LATEST", StartingPositionTimestamp=past)
        self.assert_client_error(self.lam.create_event_source_mapping, "InvalidParameterValueException", message,
                                 FunctionName="fn", EventSourceArn=create_queue(self.esmd, unique("q")),
                                 StartingPositionTimestamp=past)
        self.assert_raw_refused(lambda: self.create_raw(kafka_body(StartingPosition="TRIM_HORIZON",
                                                                   StartingPositionTimestamp=past)),
                                "InvalidParameterValueException", message)

    # -- 5. provisioned pollers ---------------------------------------------------------------------
    def test_sqs_provisioned_pollers_need_two_each_way_while_kafka_may_have_one(self):
        queue = create_queue(self.esmd, unique("q"))

        def create(body):
            if boto_has(self.lam, "CreateEventSourceMapping", *body):
                return lambda: self.lam.create_event_source_mapping(**body)
            return lambda: self.create_raw(body)
        for member in ("MinimumPollers", "MaximumPollers"):
            with self.subTest(member=member):
                path = "provisionedPollerConfig." + member[0].lower() + member[1:]
                self.assert_raw_refused(
                    create({"FunctionName": "fn", "EventSourceArn": queue, "ProvisionedPollerConfig": {member: 1}}),
                    "InvalidParameterValueException",
                    f"1 validation error detected: Value '1' at '{path}' failed to satisfy constraint: "
                    "Member must have value greater than or equal to 2")
        created = create({"FunctionName": "fn", "EventSourceArn": queue,
                          "ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": 2}})()
        self.assertEqual(created["ProvisionedPollerConfig"], {"MinimumPollers": 2, "MaximumPollers": 2})
        uuid = created["UUID"]
        self.assert_raw_refused(
            lambda: raw_operation(self.esmd, "UpdateEventSourceMapping", "PUT", f"{MAPPINGS}/{uuid}",
                                  {"ProvisionedPollerConfig": {"MinimumPollers": 1}}),
            "InvalidParameterValueException",
            "1 validation error detected: Value '1' at 'provisionedPollerConfig.minimumPollers' failed to satisfy "
            "constraint: Member must have value greater than or equal to 2")
        kafka = self.create_raw(kafka_body(servers=(f"{unique('b')}:9092",),
                                           ProvisionedPollerConfig={"MinimumPollers": 1, "MaximumPollers": 1}))
        self.assertEqual(kafka["ProvisionedPollerConfig"], {"MinimumPollers": 1, "MaximumPollers": 1})

    # -- 8. an encoded slash in a UUID --------------------------------------------------------------
    def test_a_uuid_with_an_encoded_slash_is_the_mappings_404_not_an_unknown_operation(self):
        for method in ("GET", "PUT", "DELETE"):
            with self.subTest(method=method):
                self.assert_error(call(self.esmd, method, f"{MAPPINGS}/abc%2Fdef", {} if method == "PUT" else None),
                                  "ResourceNotFoundException", "The resource you requested does not exist.")
        self.assert_client_error(self.lam.get_event_source_mapping, "ResourceNotFoundException",
                                 "The resource you requested does not exist.", UUID="abc/def")


if __name__ == "__main__":
    unittest.main()
