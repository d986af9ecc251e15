"""Each source type's Create/Get/List/Delete answer as AWS shapes it (control-plane.md §6):
which members appear, their defaults, StateTransitionReason and LastProcessingResult, the
FunctionName forms of §9, and regions taken from the SigV4 credential scope.

Exact member sets are read from the raw JSON: botocore drops members its model lacks, so a
stray `Tags` would be invisible through boto3."""
import json
import re
import unittest
import uuid as uuidlib

from esmd_harness import ACCOUNT, Esmd, wait_until
from lambda_support import (MAPPINGS, SECRET, call, cli_has, create_queue, create_stream, docdb_arn, dynamodb_arn,
                            function_arn, get_raw, kafka_body, mapping_arn, mq_arn, msk_arn, settle, unique)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LAST_MODIFIED_RE = re.compile(rb'"LastModified":(\d{10}\.\d{1,3})[,}]')

SQS_KEYS = {"BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn", "FunctionResponseTypes",
            "LastModified", "MaximumBatchingWindowInSeconds", "State", "StateTransitionReason", "UUID"}
STREAM_KEYS = {"BatchSize", "BisectBatchOnFunctionError", "DestinationConfig", "EventSourceArn",
               "EventSourceMappingArn", "FunctionArn", "FunctionResponseTypes", "LastModified",
               "LastProcessingResult", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds",
               "MaximumRetryAttempts", "ParallelizationFactor", "StartingPosition", "State",
               "StateTransitionReason", "TumblingWindowInSeconds", "UUID"}
CONNECTION_PROBLEM = "PROBLEM: Connection error. Please check your event source connection configuration."
KAFKA_KEYS = {"BatchSize", "EventSourceMappingArn", "FunctionArn", "LastModified", "LastProcessingResult",
              "SelfManagedEventSource", "SelfManagedKafkaEventSourceConfig", "SourceAccessConfigurations",
              "StartingPosition", "State", "StateTransitionReason", "Topics", "UUID"}
MSK_KEYS = {"AmazonManagedKafkaEventSourceConfig", "BatchSize", "EventSourceArn", "EventSourceMappingArn",
            "FunctionArn", "LastModified", "LastProcessingResult", "StartingPosition", "State",
            "StateTransitionReason", "Topics", "UUID"}


class ShapesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=150, functions=("fn=builtin:ok", "my-fn=builtin:ok")).start()
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def create_raw(self, body):
        status, headers, doc = call(self.esmd, "POST", MAPPINGS, body)
        self.assertEqual(status, 202, doc)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        uuidlib.UUID(headers["x-amzn-RequestId"])
        return doc

    def get_raw(self, uuid):
        status, _, doc = call(self.esmd, "GET", f"{MAPPINGS}/{uuid}")
        self.assertEqual(status, 200, doc)
        return doc

    def settled_raw(self, uuid):
        return wait_until(lambda: (lambda d: d if d["State"] in ("Enabled", "Disabled") else None)(
            self.get_raw(uuid)), message="stable state")

    def listed_raw(self, uuid, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        status, _, doc = call(self.esmd, "GET", f"{MAPPINGS}?{q}")
        self.assertEqual(status, 200, doc)
        return next(m for m in doc["EventSourceMappings"] if m["UUID"] == uuid)

    def assert_common(self, doc, function="fn"):
        self.assertRegex(doc["UUID"], UUID_RE)
        self.assertEqual(doc["EventSourceMappingArn"], mapping_arn(doc["UUID"]))
        self.assertEqual(doc["FunctionArn"], function_arn(function))
        self.assertIsInstance(doc["LastModified"], float)
        self.assertNotIn("Tags", doc)
        for k, v in doc.items():
            self.assertIsNotNone(v, f"{k} is null; unset members are omitted")

    # -- SQS -----------------------------------------------------------------------------------
    def test_sqs_create_get_list_and_delete_answer_the_recorded_shape(self):
        queue = create_queue(self.esmd, unique("orders"))
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": queue, "Tags": {"team": "a"}})
        self.assertEqual(set(created), SQS_KEYS)
        self.assert_common(created)
        self.assertEqual((created["BatchSize"], created["MaximumBatchingWindowInSeconds"], created["State"],
                          created["StateTransitionReason"], created["FunctionResponseTypes"],
                          created["EventSourceArn"]), (10, 0, "Creating", "USER_INITIATED", [], queue))
        got = self.settled_raw(created["UUID"])
        self.assertEqual(got["State"], "Enabled")
        self.assertEqual(set(got), SQS_KEYS)
        self.assertEqual(self.listed_raw(created["UUID"], EventSourceArn=queue), got)
        status, _, deleted = call(self.esmd, "DELETE", f"{MAPPINGS}/{created['UUID']}")
        self.assertEqual(status, 202)
        self.assertEqual(deleted["State"], "Deleting")
        self.assertEqual(set(deleted), SQS_KEYS)
        self.assertEqual(deleted["StateTransitionReason"], "USER_INITIATED")
        wait_until(lambda: call(self.esmd, "GET", f"{MAPPINGS}/{created['UUID']}")[0] == 404, message="gone")

    def test_a_fifo_mapping_created_disabled_is_disabled_at_once_with_batch_size_1(self):
        queue = create_queue(self.esmd, unique("orders") + ".fifo")
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": queue, "Enabled": False,
                                   "BatchSize": 1})
        self.assertEqual(set(created), SQS_KEYS)
        self.assertEqual((created["State"], created["BatchSize"], created["MaximumBatchingWindowInSeconds"]),
                         ("Disabled", 1, 0))
        self.assertEqual(self.get_raw(created["UUID"])["State"], "Disabled")

    def test_last_modified_is_epoch_seconds_with_a_fraction_and_moves_on_update(self):
        queue = create_queue(self.esmd, unique("orders"))
        status, _, raw = self.esmd.http("POST", MAPPINGS, json.dumps({"FunctionName": "fn", "EventSourceArn": queue}))
        self.assertEqual(status, 202)
        self.assertRegex(raw, LAST_MODIFIED_RE)
        created = json.loads(raw)
        settle(self.lam, created["UUID"])
        updated = self.lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=5)
        self.assertGreater(updated["LastModified"].timestamp(), created["LastModified"])

    def test_empty_filters_are_omitted_and_a_pattern_is_a_json_string(self):
        queue = create_queue(self.esmd, unique("orders"))
        empty = self.create_raw({"FunctionName": "fn", "EventSourceArn": queue, "FilterCriteria": {"Filters": []}})
        self.assertNotIn("FilterCriteria", empty)
        pattern = '{"body":{"kind":["a","b"]}}'
        other = create_queue(self.esmd, unique("orders"))
        with_filter = self.create_raw({"FunctionName": "fn", "EventSourceArn": other,
                                       "FilterCriteria": {"Filters": [{"Pattern": pattern}]}})
        self.assertEqual(with_filter["FilterCriteria"], {"Filters": [{"Pattern": pattern}]})

    def test_tags_sent_on_create_never_appear_in_any_configuration(self):
        queue = create_queue(self.esmd, unique("orders"))
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": queue, "Tags": {"k": "v"}})
        self.assertNotIn("Tags", self.get_raw(created["UUID"]))
        self.assertNotIn("Tags", self.listed_raw(created["UUID"]))
        self.assertEqual(self.lam.list_tags(Resource=created["EventSourceMappingArn"])["Tags"], {"k": "v"})

    # -- Kinesis and DynamoDB Streams ----------------------------------------------------------
    def test_kinesis_create_answers_the_stream_defaults(self):
        stream = create_stream(self.esmd, unique("clicks"))
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": stream, "StartingPosition": "LATEST"})
        self.assertEqual(set(created), STREAM_KEYS)
        self.assert_common(created)
        want = {"BatchSize": 100, "BisectBatchOnFunctionError": False, "DestinationConfig": {"OnFailure": {}},
                "FunctionResponseTypes": [], "LastProcessingResult": "No records processed",
                "MaximumBatchingWindowInSeconds": 0, "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": -1,
                "ParallelizationFactor": 1, "StartingPosition": "LATEST", "State": "Creating",
                "StateTransitionReason": "User action", "TumblingWindowInSeconds": 0, "EventSourceArn": stream}
        self.assertEqual({k: created[k] for k in want}, want)
        got = self.settled_raw(created["UUID"])
        self.assertEqual(got["State"], "Enabled")
        self.assertEqual(self.listed_raw(created["UUID"], EventSourceArn=stream), got)
        disabled = self.lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)
        self.assertEqual((disabled["State"], disabled["StateTransitionReason"]), ("Disabling", "User action"))

    def test_kinesis_at_timestamp_answers_the_timestamp_as_epoch_seconds(self):
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": create_stream(self.esmd, unique("clicks")),
                                   "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1700000000})
        self.assertEqual(set(created), STREAM_KEYS | {"StartingPositionTimestamp"})
        self.assertEqual(created["StartingPositionTimestamp"], 1700000000)

    def test_dynamodb_create_has_the_kinesis_keys_and_defaults(self):
        stream = dynamodb_arn(unique("table"))
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": stream,
                                   "StartingPosition": "TRIM_HORIZON", "Enabled": False})
        self.assertEqual(set(created), STREAM_KEYS)
        self.assertEqual((created["State"], created["StateTransitionReason"], created["LastProcessingResult"],
                          created["DestinationConfig"]), ("Disabled", "User action", "No records processed",
                                                         {"OnFailure": {}}))

    # -- Kafka -----------------------------------------------------------------------------------
    def test_self_managed_kafka_answers_the_recorded_shape_with_sorted_servers_and_uuid_consumer_group(self):
        a, b = f"{unique('b')}:9092", f"{unique('a')}:9092"
        created = self.create_raw(kafka_body(servers=(a, b)))
        self.assertEqual(set(created), KAFKA_KEYS)
        self.assert_common(created)
        self.assertEqual(created["SelfManagedEventSource"], {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": sorted([a, b])}})
        self.assertEqual(created["SelfManagedKafkaEventSourceConfig"], {"ConsumerGroupId": created["UUID"]})
        self.assertEqual((created["BatchSize"], created["StartingPosition"], created["State"],
                          created["StateTransitionReason"], created["LastProcessingResult"], created["Topics"]),
                         (100, "TRIM_HORIZON", "Creating", "USER_INITIATED", "No records processed", ["topic"]))
        self.assertEqual(created["SourceAccessConfigurations"], [{"Type": "BASIC_AUTH", "URI": SECRET}])
        got = self.settled_raw(created["UUID"])
        self.assertEqual(set(got), KAFKA_KEYS)
        # The servers do not resolve: the poller may report AWS's connection problem at any moment.
        listed = self.listed_raw(created["UUID"])
        for doc in (got, listed):
            self.assertIn(doc.pop("LastProcessingResult"), ("No records processed", CONNECTION_PROBLEM))
        self.assertEqual(listed, got)

    def test_self_managed_kafka_echoes_a_given_consumer_group_batch_size_and_starting_position(self):
        created = self.create_raw(kafka_body(servers=(f"{unique('k')}:1000",), BatchSize=1,
                                             StartingPosition="LATEST",
                                             SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "random_id"}))
        self.assertEqual((created["BatchSize"], created["StartingPosition"],
                          created["SelfManagedKafkaEventSourceConfig"]),
                         (1, "LATEST", {"ConsumerGroupId": "random_id"}))

    def test_msk_has_the_cluster_arn_and_a_managed_kafka_config(self):
        cluster = msk_arn(unique("c"))
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": cluster, "Topics": ["t"],
                                   "StartingPosition": "LATEST"})
        self.assertEqual(set(created), MSK_KEYS)
        self.assertEqual(created["AmazonManagedKafkaEventSourceConfig"], {"ConsumerGroupId": created["UUID"]})
        self.assertEqual((created["EventSourceArn"], created["StateTransitionReason"], created["BatchSize"]),
                         (cluster, "USER_INITIATED", 100))
        with_sac = self.create_raw({"FunctionName": "fn", "EventSourceArn": msk_arn(unique("c")), "Topics": ["t"],
                                    "StartingPosition": "TRIM_HORIZON",
                                    "SourceAccessConfigurations": [{"Type": "SASL_SCRAM_512_AUTH", "URI": SECRET}],
                                    "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g1"}})
        self.assertEqual(set(with_sac), MSK_KEYS | {"SourceAccessConfigurations"})
        self.assertEqual(with_sac["AmazonManagedKafkaEventSourceConfig"], {"ConsumerGroupId": "g1"})

    def test_kafka_sources_accept_at_timestamp_as_aws_has_since_2023(self):
        # control-plane.md §5.4 proposes refusing it, but AWS documents AT_TIMESTAMP for MSK and
        # self-managed Kafka (the seed's StartingPosition text; "What's new" 2023-06).
        for body in (kafka_body(servers=(f"{unique('k')}:1",)),
                     {"FunctionName": "fn", "EventSourceArn": msk_arn(unique("c")), "Topics": ["t"]}):
            with self.subTest(source=body.get("EventSourceArn", "self-managed")):
                created = self.create_raw(dict(body, StartingPosition="AT_TIMESTAMP",
                                               StartingPositionTimestamp=1700000000))
                self.assertEqual((created["StartingPosition"], created["StartingPositionTimestamp"]),
                                 ("AT_TIMESTAMP", 1700000000))

    # -- MQ and DocumentDB -------------------------------------------------------------------------
    def test_mq_answers_batch_size_100_queues_and_source_access(self):
        broker = mq_arn(unique("b"))
        sac = [{"Type": "BASIC_AUTH", "URI": SECRET}, {"Type": "VIRTUAL_HOST", "URI": "/vhost"}]
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": broker, "Queues": ["orders"],
                                   "SourceAccessConfigurations": sac})
        self.assert_common(created)
        self.assertEqual((created["BatchSize"], created["Queues"], created["SourceAccessConfigurations"],
                          created["StateTransitionReason"], created["EventSourceArn"]),
                         (100, ["orders"], sac, "USER_INITIATED", broker))
        for absent in ("MaximumBatchingWindowInSeconds", "StartingPosition", "DestinationConfig", "Topics",
                       "ParallelizationFactor", "FunctionResponseTypes"):
            self.assertNotIn(absent, created)

    def test_documentdb_answers_its_config_block(self):
        config = {"DatabaseName": "shop", "CollectionName": "orders", "FullDocument": "UpdateLookup"}
        created = self.create_raw({"FunctionName": "fn", "EventSourceArn": docdb_arn(unique("d")),
                                   "StartingPosition": "LATEST", "DocumentDBEventSourceConfig": config})
        self.assert_common(created)
        self.assertEqual((created["BatchSize"], created["DocumentDBEventSourceConfig"],
                          created["StateTransitionReason"]), (100, config, "USER_INITIATED"))
        self.assertNotIn("ScalingConfig", created)

    # -- FunctionName forms (§9) -------------------------------------------------------------------
    def test_every_function_name_form_is_stored_as_the_recorded_function_arn(self):
        base = function_arn("my-fn")
        forms = [
            ("my-fn", base), ("my-fn:$LATEST", base + ":$LATEST"), ("my-fn:1", base + ":1"),
            ("my-fn:myalias", base + ":myalias"), (base, base), (base + ":1", base + ":1"),
            (base + ":myalias", base + ":myalias"), (f"{ACCOUNT}:function:my-fn", base),
        ]
        for sent, want in forms:
            with self.subTest(sent=sent):
                queue = create_queue(self.esmd, unique("fnforms"))
                created = self.lam.create_event_source_mapping(FunctionName=sent, EventSourceArn=queue)
                self.assertEqual(created["FunctionArn"], want)
                self.assertEqual(created["State"], "Creating")

    # -- logging ---------------------------------------------------------------------------------------
    def test_each_request_is_logged_at_debug_and_each_state_change_at_info(self):
        created = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("log")),
                                                       StartingPosition="LATEST")
        uuid = created["UUID"]
        settle(self.lam, uuid)
        self.lam.delete_event_source_mapping(UUID=uuid)

        def log():
            with open(self.esmd.log_path) as f:
                return f.read()
        wait_until(lambda: f"mapping {uuid} deleted" in log(), message="deletion logged")
        lines = log().splitlines()
        self.assertTrue(any(" debug POST /2015-03-31/event-source-mappings -> 202 " in line for line in lines))
        self.assertTrue(any(f" debug GET /2015-03-31/event-source-mappings/{uuid} -> 200 " in line for line in lines))
        for text in (f"mapping {uuid} created", f"mapping {uuid}: Creating -> Enabled", f"mapping {uuid} deleting",
                     f"mapping {uuid} deleted"):
            self.assertTrue(any(" info " in line and text in line for line in lines), text)

    # -- regions -------------------------------------------------------------------------------------
    def test_a_client_in_eu_west_1_sees_eu_west_1_arns_and_not_the_us_east_1_mappings(self):
        west = self.esmd.client("lambda", region="eu-west-1")
        east_stream = create_stream(self.esmd, unique("east"))
        east = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=east_stream,
                                                    StartingPosition="LATEST")
        west_stream = create_stream(self.esmd, unique("west"), region="eu-west-1")
        rc, created, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", "fn",
                                         "--event-source-arn", west_stream, "--starting-position", "LATEST",
                                         region="eu-west-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(created["FunctionArn"], function_arn("fn", region="eu-west-1"))
        if cli_has("CreateEventSourceMapping", "EventSourceMappingArn", output=True):
            self.assertEqual(created["EventSourceMappingArn"], mapping_arn(created["UUID"], region="eu-west-1"))
        else:  # the CLI's model predates EventSourceMappingArn and drops it from what it prints
            self.assertEqual(get_raw(self.esmd, created["UUID"], region="eu-west-1")["EventSourceMappingArn"],
                             mapping_arn(created["UUID"], region="eu-west-1"))
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            west.get_event_source_mapping(UUID=east["UUID"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")
        with self.assertRaises(ClientError):
            self.lam.get_event_source_mapping(UUID=created["UUID"])
        west_uuids = [m["UUID"] for m in west.list_event_source_mappings()["EventSourceMappings"]]
        self.assertIn(created["UUID"], west_uuids)
        self.assertNotIn(east["UUID"], west_uuids)
        east_uuids = [m["UUID"] for m in self.lam.list_event_source_mappings(MaxItems=100)["EventSourceMappings"]]
        self.assertNotIn(created["UUID"], east_uuids)
        self.assertEqual(west.get_event_source_mapping(UUID=created["UUID"])["EventSourceArn"], west_stream)


if __name__ == "__main__":
    unittest.main()
