"""`aws lambda update-event-source-mapping` with every option of the seed's synopsis, each on a
source type it applies to, also through --cli-input-json: the real AWS CLI against esmd.

esmd runs with a zero transition delay so that each update starts from a stable state; the
update's own answer still shows the transitional state (control-plane.md §3.2).

An older CLI (Debian 12's 2.9) refuses options its model lacks (KMSKeyArn, MetricsConfig,
LoggingConfig, ProvisionedPollerConfig, DocumentDBEventSourceConfig, the Kafka configs on
update): the tests then send those members as raw REST-JSON, and read answers through raw
REST-JSON where boto3's model would drop members (`reads=`)."""
import json
import unittest

from esmd_harness import Esmd
from lambda_support import (MAPPINGS, SECRET, ErrorAssertions, call, cli_has, cli_timestamp, create_mapping,
                            dynamodb_arn, docdb_arn, function_arn, get_mapping, get_raw, kafka_body, kinesis_arn,
                            mapping_arn, mq_arn, msk_arn, create_queue, create_stream, raw_operation, settle,
                            settle_mapping, strip, unique, update_mapping)

UPDATE = "UpdateEventSourceMapping"

DLQ = "arn:aws:sqs:us-east-1:000000000000:dlq"


class UpdateCliTest(ErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=0, functions=("fn=builtin:ok", "fn2=builtin:ok")).start()
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def update(self, uuid, *args):
        rc, out, err = self.esmd.aws("lambda", "update-event-source-mapping", "--uuid", uuid, *args)
        self.assertEqual(rc, 0, err)
        return out

    def update_fails(self, uuid, *args):
        rc, out, err = self.esmd.aws("lambda", "update-event-source-mapping", "--uuid", uuid, *args)
        self.assertNotEqual(rc, 0, out)
        return err

    def update_raw(self, uuid, body):
        """The update as raw REST-JSON, for members the installed CLI lacks."""
        return strip(raw_operation(self.esmd, UPDATE, "PUT", f"{MAPPINGS}/{uuid}", body))

    def update_with_newer(self, uuid, cli_args, newer):
        """One update through the CLI: cli_args plus the options of each (member, value, options)
        in `newer`. Members the CLI's model lacks follow in a raw REST-JSON update once the CLI's
        has settled. Returns (the CLI's answer or None, the last answer, which has every member)."""
        known = [n for n in newer if cli_has(UPDATE, n[0])]
        missing = {member: value for member, value, _ in newer if not cli_has(UPDATE, member)}
        args = list(cli_args) + [a for _, _, options in known for a in options]
        first = self.update(uuid, *args) if args else None
        if not missing:
            return first, first
        if first is not None:
            settle(self.lam, uuid)
        return first, self.update_raw(uuid, missing)

    def assert_update_refused(self, uuid, body, cli_args, message=None):
        """esmd refuses the update with InvalidParameterValueException (and `message`): through
        the CLI when its model has every member of `body`, else as the same raw REST-JSON body."""
        if cli_has(UPDATE, *body):
            err = self.update_fails(uuid, *cli_args)
            self.assertIn("(InvalidParameterValueException)", err)
        else:
            status, headers, doc = call(self.esmd, "PUT", f"{MAPPINGS}/{uuid}", body)
            err = self.assert_error((status, headers, doc), "InvalidParameterValueException")
        if message is not None:
            self.assertIn(message, err)

    def create(self, **kwargs):
        uuid = create_mapping(self.esmd, self.lam, **kwargs)["UUID"]
        settle(self.lam, uuid)
        return uuid

    def sqs_mapping(self):
        return self.create(FunctionName="fn", EventSourceArn=create_queue(self.esmd, unique("q")))

    def get(self, uuid, reads=()):
        return strip(get_mapping(self.esmd, self.lam, uuid, reads=reads))

    def settled(self, uuid, reads=()):
        return settle_mapping(self.esmd, self.lam, uuid, reads=reads)

    # -- the seed's example ------------------------------------------------------------------
    def test_the_seed_example_sets_batch_size_8_and_answers_updating_with_the_documented_fields(self):
        queue = create_queue(self.esmd, unique("mySQSqueue"))
        uuid = self.create(FunctionName="fn", EventSourceArn=queue)
        before = self.get(uuid)["LastModified"]
        out = self.update(uuid, "--batch-size", "8")
        self.assertEqual(out["UUID"], uuid)
        self.assertEqual(out["StateTransitionReason"], "USER_INITIATED")
        self.assertGreater(cli_timestamp(self, out["LastModified"]), before.timestamp())
        self.assertEqual(out["BatchSize"], 8)
        self.assertEqual(out["State"], "Updating")
        self.assertEqual(out["FunctionArn"], function_arn("fn"))
        self.assertEqual(out["EventSourceArn"], queue)
        if cli_has(UPDATE, "EventSourceMappingArn", output=True):
            self.assertEqual(out["EventSourceMappingArn"], mapping_arn(uuid))
        else:  # the CLI's model predates EventSourceMappingArn and drops it from what it prints
            self.assertEqual(get_raw(self.esmd, uuid)["EventSourceMappingArn"], mapping_arn(uuid))
        self.assertNotIn("Tags", out)
        got = settle(self.lam, uuid)
        self.assertEqual(got["State"], "Enabled")
        self.assertEqual(got["BatchSize"], 8)
        self.assertGreater(got["LastModified"], before)

    def test_a_get_right_after_each_update_answers_the_new_configuration(self):
        # Gets are answered from a cache of encoded mappings (api/get_cache): every acknowledged
        # Update must still be seen by the next Get, through the real CLI, each time.
        uuid = self.sqs_mapping()
        self.assertEqual(self.get(uuid)["BatchSize"], 10)
        for size in (3, 7, 2, 9):
            self.assertEqual(self.update(uuid, "--batch-size", str(size))["BatchSize"], size)
            rc, out, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", uuid)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out["BatchSize"], size)
            self.assertEqual(self.get(uuid)["BatchSize"], size)
        rc, out, err = self.esmd.aws("lambda", "delete-event-source-mapping", "--uuid", uuid)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["State"], "Deleting")
        rc, out, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", uuid)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("ResourceNotFoundException", err)

    # -- SQS ---------------------------------------------------------------------------------
    def test_sqs_options_function_enabled_batching_filters_response_types_scaling_kms_metrics(self):
        uuid = self.sqs_mapping()
        pattern = json.dumps({"body": {"kind": ["order"]}})
        key = "arn:aws:kms:us-east-1:000000000000:key/1234"
        first, out = self.update_with_newer(
            uuid, ["--function-name", "fn2", "--no-enabled", "--batch-size", "50",
                   "--maximum-batching-window-in-seconds", "5",
                   "--filter-criteria", json.dumps({"Filters": [{"Pattern": pattern}]}),
                   "--function-response-types", "ReportBatchItemFailures"],
            [("ScalingConfig", {"MaximumConcurrency": 5}, ["--scaling-config", "MaximumConcurrency=5"]),
             ("KMSKeyArn", key, ["--kms-key-arn", key]),
             ("MetricsConfig", {"Metrics": ["EventCount"]}, ["--metrics-config", "Metrics=EventCount"])])
        # A flip of Enabled wins over the other changes; the answer already shows the new values.
        self.assertEqual(first["State"], "Disabling")
        expected = {
            "FunctionArn": function_arn("fn2"), "BatchSize": 50, "MaximumBatchingWindowInSeconds": 5,
            "FilterCriteria": {"Filters": [{"Pattern": pattern}]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"], "ScalingConfig": {"MaximumConcurrency": 5},
            "KMSKeyArn": "arn:aws:kms:us-east-1:000000000000:key/1234", "MetricsConfig": {"Metrics": ["EventCount"]},
        }
        for k, v in expected.items():
            self.assertEqual(out[k], v, k)
        got = self.settled(uuid, reads=expected)
        self.assertEqual(got["State"], "Disabled")
        for k, v in expected.items():
            self.assertEqual(got[k], v, k)
        self.assertEqual(self.update(uuid, "--enabled")["State"], "Enabling")
        self.assertEqual(settle(self.lam, uuid)["State"], "Enabled")

    def test_sqs_empty_filter_criteria_scaling_config_and_response_types_clear_them(self):
        uuid = self.sqs_mapping()
        update_mapping(self.esmd, self.lam, uuid, FilterCriteria={"Filters": [{"Pattern": '{"body":["x"]}'}]},
                       ScalingConfig={"MaximumConcurrency": 3}, FunctionResponseTypes=["ReportBatchItemFailures"])
        self.assertEqual(self.settled(uuid, reads=["ScalingConfig"])["ScalingConfig"], {"MaximumConcurrency": 3})
        out = self.update(uuid, "--filter-criteria", "{}", "--scaling-config", "{}",
                          "--function-response-types", "[]")
        self.assertNotIn("FilterCriteria", out)
        self.assertNotIn("ScalingConfig", out)
        self.assertEqual(out["FunctionResponseTypes"], [])
        got = self.settled(uuid, reads=["ScalingConfig"])
        self.assertNotIn("FilterCriteria", got)
        self.assertNotIn("ScalingConfig", got)

    def test_sqs_refuses_stream_only_options_with_the_unsupported_parameter_message(self):
        uuid = self.sqs_mapping()
        err = self.update_fails(uuid, "--parallelization-factor", "2")
        self.assertIn("(InvalidParameterValueException)", err)
        self.assertIn("Unsupported ParallelizationFactor parameter for given event source mapping type.", err)
        self.assertEqual(self.get(uuid)["BatchSize"], 10)

    def test_an_sqs_batch_size_above_10_without_a_window_is_refused_on_the_merged_configuration(self):
        uuid = self.sqs_mapping()
        err = self.update_fails(uuid, "--batch-size", "11")
        self.assertIn("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater "
                      "than 10", err)

    # -- Kinesis and DynamoDB Streams ---------------------------------------------------------
    def test_kinesis_stream_error_handling_options_and_on_failure_destination(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")), StartingPosition="LATEST")
        out = self.update(
            uuid, "--batch-size", "500", "--maximum-batching-window-in-seconds", "10",
            "--maximum-record-age-in-seconds", "3600", "--bisect-batch-on-function-error",
            "--maximum-retry-attempts", "3", "--parallelization-factor", "4",
            "--tumbling-window-in-seconds", "120", "--function-response-types", "ReportBatchItemFailures",
            "--destination-config", f"OnFailure={{Destination={DLQ}}}")
        self.assertEqual(out["State"], "Updating")
        self.assertEqual(out["StateTransitionReason"], "User action")
        expected = {
            "BatchSize": 500, "MaximumBatchingWindowInSeconds": 10, "MaximumRecordAgeInSeconds": 3600,
            "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3, "ParallelizationFactor": 4,
            "TumblingWindowInSeconds": 120, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": DLQ}}, "StartingPosition": "LATEST",
        }
        for k, v in expected.items():
            self.assertEqual(out[k], v, k)
        got = settle(self.lam, uuid)
        for k, v in expected.items():
            self.assertEqual(got[k], v, k)
        out = self.update(uuid, "--no-bisect-batch-on-function-error", "--destination-config", "{}",
                          "--maximum-retry-attempts", "-1", "--maximum-record-age-in-seconds", "-1")
        self.assertFalse(out["BisectBatchOnFunctionError"])
        self.assertEqual(out["DestinationConfig"], {"OnFailure": {}})
        self.assertEqual(out["MaximumRetryAttempts"], -1)
        self.assertEqual(out["MaximumRecordAgeInSeconds"], -1)

    def test_dynamodb_stream_options_through_the_cli(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=dynamodb_arn(unique("t")),
                           StartingPosition="TRIM_HORIZON")
        out = self.update(uuid, "--maximum-retry-attempts", "10000", "--maximum-record-age-in-seconds", "604800",
                          "--parallelization-factor", "10", "--tumbling-window-in-seconds", "900",
                          "--batch-size", "10000")
        self.assertEqual((out["MaximumRetryAttempts"], out["MaximumRecordAgeInSeconds"], out["ParallelizationFactor"],
                          out["TumblingWindowInSeconds"], out["BatchSize"]), (10000, 604800, 10, 900, 10000))
        self.assertEqual(out["LastProcessingResult"], "No records processed")

    def test_streams_refuse_scaling_config_and_an_on_success_destination(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")), StartingPosition="LATEST")
        err = self.update_fails(uuid, "--scaling-config", "MaximumConcurrency=5")
        self.assertIn("Unsupported ScalingConfig parameter for given event source mapping type.", err)
        err = self.update_fails(uuid, "--destination-config", f"OnSuccess={{Destination={DLQ}}}")
        self.assertIn("Unsupported DestinationConfig parameter for given event source mapping type.", err)

    # -- Kafka -------------------------------------------------------------------------------
    def test_self_managed_kafka_source_access_pollers_destination_and_window(self):
        body = kafka_body(servers=(f"{unique('broker')}:9092",))
        uuid = self.create(**body)
        scram = "arn:aws:secretsmanager:us-east-1:000000000000:secret:scram-XyZ"
        _, out = self.update_with_newer(
            uuid, ["--source-access-configurations", f"Type=SASL_SCRAM_512_AUTH,URI={scram}",
                   "--destination-config", f"OnFailure={{Destination={DLQ}}}",
                   "--maximum-batching-window-in-seconds", "3", "--batch-size", "1000",
                   "--maximum-retry-attempts", "5", "--bisect-batch-on-function-error",
                   "--maximum-record-age-in-seconds", "600", "--function-response-types", "ReportBatchItemFailures"],
            [("ProvisionedPollerConfig", {"MinimumPollers": 2, "MaximumPollers": 20},
              ["--provisioned-poller-config", "MinimumPollers=2,MaximumPollers=20"])])
        self.assertEqual(out["SourceAccessConfigurations"], [{"Type": "SASL_SCRAM_512_AUTH", "URI": scram}])
        self.assertEqual(out["ProvisionedPollerConfig"], {"MinimumPollers": 2, "MaximumPollers": 20})
        self.assertEqual(out["DestinationConfig"], {"OnFailure": {"Destination": DLQ}})
        self.assertEqual((out["MaximumBatchingWindowInSeconds"], out["BatchSize"], out["MaximumRetryAttempts"],
                          out["BisectBatchOnFunctionError"], out["MaximumRecordAgeInSeconds"]),
                         (3, 1000, 5, True, 600))
        # The consumer group is create-only and survives the update.
        self.assertEqual(out["SelfManagedKafkaEventSourceConfig"], {"ConsumerGroupId": uuid})
        self.assertEqual(out["StateTransitionReason"], "USER_INITIATED")
        got = self.settled(uuid, reads=["ProvisionedPollerConfig"])
        self.assertEqual(got["ProvisionedPollerConfig"], {"MinimumPollers": 2, "MaximumPollers": 20})
        registry = {"SchemaRegistryURI": "https://registry.example.com", "EventRecordFormat": "JSON",
                    "AccessConfigs": [{"Type": "BASIC_AUTH", "URI": scram}],
                    "SchemaValidationConfigs": [{"Attribute": "KEY"}]}
        _, out = self.update_with_newer(uuid, [], [
            ("SelfManagedKafkaEventSourceConfig", {"SchemaRegistryConfig": registry},
             ["--self-managed-kafka-event-source-config", json.dumps({"SchemaRegistryConfig": registry})])])
        self.assertEqual(out["SelfManagedKafkaEventSourceConfig"],
                         {"ConsumerGroupId": uuid, "SchemaRegistryConfig": registry})

    def test_kafka_refuses_a_consumer_group_id_on_update(self):
        uuid = self.create(**kafka_body(servers=(f"{unique('broker')}:9092",)))
        body = {"SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "mine"}}
        self.assert_update_refused(
            uuid, body, ["--cli-input-json", json.dumps(dict(body, UUID=uuid))],
            "Unsupported 'SelfManagedKafkaEventSourceConfig.consumerGroupId' parameter for given event source "
            "mapping type")

    def test_provisioned_pollers_need_minimum_at_most_maximum(self):
        uuid = self.create(**kafka_body(servers=(f"{unique('broker')}:9092",)))
        self.assert_update_refused(uuid, {"ProvisionedPollerConfig": {"MinimumPollers": 5, "MaximumPollers": 2}},
                                   ["--provisioned-poller-config", "MinimumPollers=5,MaximumPollers=2"])

    def test_msk_provisioned_pollers_and_schema_registry_keep_the_default_consumer_group(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=msk_arn(unique("c")), Topics=["orders"],
                           StartingPosition="LATEST")
        registry = {"SchemaRegistryURI": "arn:aws:glue:us-east-1:000000000000:registry/r",
                    "EventRecordFormat": "JSON", "SchemaValidationConfigs": [{"Attribute": "VALUE"}]}
        pollers = {"MinimumPollers": 1, "MaximumPollers": 200}
        managed = {"SchemaRegistryConfig": registry}
        if cli_has(UPDATE, "ProvisionedPollerConfig", "AmazonManagedKafkaEventSourceConfig"):
            out = self.update(uuid, "--provisioned-poller-config", "MinimumPollers=1,MaximumPollers=200",
                              "--cli-input-json", json.dumps({"AmazonManagedKafkaEventSourceConfig": managed}))
        else:
            out = self.update_raw(uuid, {"ProvisionedPollerConfig": pollers,
                                         "AmazonManagedKafkaEventSourceConfig": managed})
        self.assertEqual(out["AmazonManagedKafkaEventSourceConfig"],
                         {"ConsumerGroupId": uuid, "SchemaRegistryConfig": registry})
        self.assertEqual(out["ProvisionedPollerConfig"], {"MinimumPollers": 1, "MaximumPollers": 200})
        self.assertEqual(out["EventSourceArn"][:14], "arn:aws:kafka:")

    # -- MQ and DocumentDB -------------------------------------------------------------------
    def test_mq_batch_size_window_and_source_access_configurations(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=mq_arn(unique("b")), Queues=["orders"],
                           SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": SECRET}])
        other = "arn:aws:secretsmanager:us-east-1:000000000000:secret:mq-2"
        out = self.update(uuid, "--batch-size", "250", "--maximum-batching-window-in-seconds", "1",
                          "--source-access-configurations", f"Type=BASIC_AUTH,URI={other}")
        self.assertEqual((out["BatchSize"], out["MaximumBatchingWindowInSeconds"]), (250, 1))
        self.assertEqual(out["SourceAccessConfigurations"], [{"Type": "BASIC_AUTH", "URI": other}])
        self.assertEqual(out["Queues"], ["orders"])
        err = self.update_fails(uuid, "--function-response-types", "ReportBatchItemFailures")
        self.assertIn("Unsupported FunctionResponseTypes parameter for given event source mapping type.", err)

    def test_documentdb_event_source_config(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=docdb_arn(unique("d")), StartingPosition="LATEST",
                           DocumentDBEventSourceConfig={"DatabaseName": "shop", "FullDocument": "Default"})
        want = {"DatabaseName": "shop", "CollectionName": "orders", "FullDocument": "UpdateLookup"}
        _, out = self.update_with_newer(uuid, [], [
            ("DocumentDBEventSourceConfig", want,
             ["--document-db-event-source-config", "DatabaseName=shop,CollectionName=orders,FullDocument=UpdateLookup"])])
        self.assertEqual(out["DocumentDBEventSourceConfig"], want)
        self.assertEqual(self.settled(uuid, reads=["DocumentDBEventSourceConfig"])["DocumentDBEventSourceConfig"],
                         want)

    def test_an_empty_kms_key_arn_removes_the_key_and_list_shows_the_filters_again(self):
        uuid = self.sqs_mapping()
        key = "arn:aws:kms:us-east-1:000000000000:key/1234"
        update_mapping(self.esmd, self.lam, uuid, KMSKeyArn=key,
                       FilterCriteria={"Filters": [{"Pattern": '{"body":["x"]}'}]})
        self.assertEqual(self.settled(uuid, reads=["KMSKeyArn"])["KMSKeyArn"], key)
        queue = self.get(uuid)["EventSourceArn"]
        listed = self.lam.list_event_source_mappings(EventSourceArn=queue)["EventSourceMappings"][0]
        self.assertNotIn("FilterCriteria", listed)
        _, out = self.update_with_newer(uuid, [], [("KMSKeyArn", "", ["--kms-key-arn", ""])])
        self.assertNotIn("KMSKeyArn", out)
        self.assertNotIn("KMSKeyArn", self.settled(uuid, reads=["KMSKeyArn"]))
        listed = self.lam.list_event_source_mappings(EventSourceArn=queue)["EventSourceMappings"][0]
        self.assertEqual(listed["FilterCriteria"], {"Filters": [{"Pattern": '{"body":["x"]}'}]})

    def test_create_only_and_unknown_members_in_an_update_body_are_ignored(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")), StartingPosition="LATEST")
        before = self.get(uuid)
        status, _, body = call(self.esmd, "PUT", f"{MAPPINGS}/{uuid}", {
            "StartingPosition": "TRIM_HORIZON", "StartingPositionTimestamp": 1700000000, "Topics": ["t"],
            "EventSourceArn": kinesis_arn("other"), "Tags": {"k": "v"}, "NotAMember": 1, "BatchSize": 7})
        self.assertEqual(status, 202, body)
        self.assertEqual((body["BatchSize"], body["StartingPosition"], body["EventSourceArn"]),
                         (7, "LATEST", before["EventSourceArn"]))
        self.assertNotIn("Topics", body)
        self.assertNotIn("StartingPositionTimestamp", body)
        self.assertEqual(self.lam.list_tags(Resource=mapping_arn(uuid))["Tags"], {})
        broker = self.create(FunctionName="fn", EventSourceArn=mq_arn(unique("b")), Queues=["orders"],
                             SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": SECRET}])
        status, _, body = call(self.esmd, "PUT", f"{MAPPINGS}/{broker}", {"Queues": ["other", "x"], "BatchSize": 3})
        self.assertEqual(status, 202, body)
        self.assertEqual((body["Queues"], body["BatchSize"]), (["orders"], 3))

    # -- members of the botocore model that the seed does not list -----------------------------
    def test_logging_config_is_accepted_and_round_tripped(self):
        uuid = self.sqs_mapping()
        _, out = self.update_with_newer(uuid, [], [
            ("LoggingConfig", {"SystemLogLevel": "WARN"}, ["--logging-config", "SystemLogLevel=WARN"])])
        self.assertEqual(out["LoggingConfig"], {"SystemLogLevel": "WARN"})
        self.assertEqual(self.get(uuid, reads=["LoggingConfig"])["LoggingConfig"], {"SystemLogLevel": "WARN"})

    # -- --cli-input-json --------------------------------------------------------------------
    def test_cli_input_json_carries_every_member_and_command_line_options_override_it(self):
        uuid = self.create(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")), StartingPosition="LATEST")
        doc = {
            "UUID": uuid, "FunctionName": "fn2", "Enabled": True, "BatchSize": 300,
            "FilterCriteria": {"Filters": [{"Pattern": '{"data":{"k":["v"]}}'}]},
            "MaximumBatchingWindowInSeconds": 7,
            "DestinationConfig": {"OnFailure": {"Destination": DLQ}},
            "MaximumRecordAgeInSeconds": 120, "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 9,
            "ParallelizationFactor": 2, "TumblingWindowInSeconds": 60,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "KMSKeyArn": "arn:aws:kms:us-east-1:000000000000:key/k", "MetricsConfig": {"Metrics": ["EventCount"]},
        }
        # Members the CLI's model lacks follow as raw REST-JSON once the CLI's update settled.
        newer = {k: doc.pop(k) for k in list(doc) if not cli_has(UPDATE, k)}
        rc, out, err = self.esmd.aws("lambda", "update-event-source-mapping", "--cli-input-json", json.dumps(doc),
                                     "--batch-size", "400")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["BatchSize"], 400)
        self.assertEqual(out["FunctionArn"], function_arn("fn2"))
        self.assertEqual(out["State"], "Updating")
        if newer:
            settle(self.lam, uuid)
            out = self.update_raw(uuid, newer)
            doc.update(newer)
        for k, v in doc.items():
            if k in ("UUID", "FunctionName", "Enabled", "BatchSize"):
                continue
            self.assertEqual(out[k], v, k)
        got = settle(self.lam, uuid)
        self.assertEqual(got["BatchSize"], 400)
        self.assertEqual(got["TumblingWindowInSeconds"], 60)


if __name__ == "__main__":
    unittest.main()
