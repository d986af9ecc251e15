"""Every error of control-plane.md §2, §3, §5 and §10, on the wire: the exception type, HTTP
status, X-Amzn-Errortype and x-amzn-RequestId headers, the body members with their casing and
the exact text. Raw HTTP is used wherever the AWS CLI or boto3 would refuse the request
client-side; a few cases go through the real clients to show they parse the errors.

Nothing here may crash esmd, hang or answer 500: every test ends by checking that."""
import shutil
import socket
import tempfile
import unittest

from esmd_harness import Esmd, wait_until
from lambda_support import (MAPPINGS, SECRET, ErrorAssertions, call, create_queue, create_stream, docdb_arn,
                            dynamodb_arn, function_arn, kafka_body, kinesis_arn, mapping_arn, mq_arn, msk_arn, settle,
                            sqs_arn, unique)

NOT_FOUND = "The resource you requested does not exist."
UPDATE_IN_USE = "Cannot update the event source mapping because it is in use."
DELETE_IN_USE = "Cannot delete the event source mapping because it is in use."
UNRECOGNIZED = "Unrecognized event source."
NO_FUNCTION = "Function does not exist"
NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist.")
TAGGABLE = (r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
            r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
            r"code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
            r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)")
FUNCTION_NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
                         r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")


def unsupported(member):
    return f"Unsupported {member} parameter for given event source mapping type."


def violation(value, member, constraint):
    return f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"


class ErrorsTest(ErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=100, functions=("fn=builtin:ok", "fn2=builtin:ok")).start()
        cls.lam = cls.esmd.client("lambda")
        cls.statuses = []
        # The stream most error cases name: the source exists, so only the case at hand fails.
        create_stream(cls.esmd, "s")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def tearDown(self):
        self.assertTrue(all(s < 500 for s in self.statuses), self.statuses)
        self.assertIsNone(self.esmd.proc.poll(), "esmd exited")

    def req(self, method, path, body=None, headers=None):
        r = call(self.esmd, method, path, body, headers)
        self.statuses.append(r[0])
        return r

    def create(self, body):
        return self.req("POST", MAPPINGS, body)

    def queue(self, suffix=""):
        return create_queue(self.esmd, unique("q") + suffix)

    def created(self, body):
        status, _, doc = self.create(body)
        self.assertEqual(status, 202, doc)
        return doc["UUID"]

    # -- §2: the wire format of each exception --------------------------------------------------
    def test_unknown_uuid_on_get_update_and_delete_is_a_404_with_capital_message(self):
        for uuid in ("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "not-a-uuid", "%00%ff", "x" * 300):
            with self.subTest(uuid=uuid):
                self.assert_error(self.req("GET", f"{MAPPINGS}/{uuid}"), "ResourceNotFoundException", NOT_FOUND)
                self.assert_error(self.req("PUT", f"{MAPPINGS}/{uuid}", {"BatchSize": 5}),
                                  "ResourceNotFoundException", NOT_FOUND)
                self.assert_error(self.req("DELETE", f"{MAPPINGS}/{uuid}"), "ResourceNotFoundException", NOT_FOUND)

    def test_boto3_and_the_cli_parse_the_error_code_and_either_message_casing(self):
        self.assert_client_error(self.lam.get_event_source_mapping, "ResourceNotFoundException", NOT_FOUND,
                                 UUID="6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
        response = self.assert_client_error(self.lam.create_event_source_mapping, "InvalidParameterValueException",
                                            UNRECOGNIZED, FunctionName="fn")
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(response["Type"], "User")
        rc, _, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
        self.assertNotEqual(rc, 0)
        self.assertIn("(ResourceNotFoundException) when calling the GetEventSourceMapping operation: " + NOT_FOUND, err)

    # -- §5.1: the order of checks on Create -----------------------------------------------------
    def test_the_source_check_comes_before_the_function_lookup(self):
        self.assert_ipve(self.create({"FunctionName": "doesnotexist"}), UNRECOGNIZED)

    def test_the_parameter_source_compatibility_check_comes_before_the_function_lookup(self):
        self.assert_ipve(self.create({"FunctionName": "doesnotexist", "EventSourceArn": sqs_arn(unique("missing")),
                                      "DestinationConfig": {"OnSuccess": {"Destination": sqs_arn("d")}}}),
                         unsupported("DestinationConfig"))

    def test_the_function_lookup_comes_before_the_source_existence_check(self):
        self.assert_ipve(self.create({"FunctionName": "doesnotexist", "EventSourceArn": sqs_arn(unique("missing"))}),
                         NO_FUNCTION)

    def test_an_existing_function_with_a_missing_queue_gets_the_sqs_error(self):
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": sqs_arn(unique("missing"))}), NO_QUEUE)

    def test_the_duplicate_check_comes_last(self):
        queue = self.queue()
        existing = self.created({"FunctionName": "fn", "EventSourceArn": queue})
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": queue, "BatchSize": 11}),
                         "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater "
                         "than 10")
        self.assert_ipve(self.create({"FunctionName": "nope", "EventSourceArn": queue}), NO_FUNCTION)
        self.assert_error(self.create({"FunctionName": "fn", "EventSourceArn": queue}), "ResourceConflictException")
        self.assertTrue(existing)

    # -- §5.2: the recorded rule catalogue ------------------------------------------------------
    def test_unsupported_event_source_services_are_unrecognized(self):
        for arn in ("arn:aws:sns:us-east-1:000000000000:topic", "arn:aws:s3:::bucket",
                    "arn:aws:kinesis:us-east-1:000000000000:notastream/x"):
            with self.subTest(arn=arn):
                self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": arn}), UNRECOGNIZED)

    def test_a_function_in_another_region_or_account_does_not_exist(self):
        for fn in (function_arn("fn", region="eu-west-1"), "arn:aws:lambda:us-east-1:123456789012:function:fn",
                   "123456789012:function:fn"):
            with self.subTest(fn=fn):
                self.assert_ipve(self.create({"FunctionName": fn, "EventSourceArn": self.queue()}), NO_FUNCTION)

    def test_streams_need_a_starting_position(self):
        for arn in (kinesis_arn("s"), dynamodb_arn("t")):
            with self.subTest(arn=arn):
                self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": arn}),
                                 "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                                 "constraint: Member must not be null.")

    def test_a_starting_position_outside_the_enum_is_a_validation_exception(self):
        self.assert_error(self.create({"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"),
                                       "StartingPosition": "invalid"}), "ValidationException",
                          violation("invalid", "startingPosition",
                                    "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"))

    def test_starting_position_rules(self):
        stream = dynamodb_arn("t")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": stream,
                                      "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1700000000}),
                         f"Unsupported starting position for arn type: {stream}")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": self.queue(),
                                      "StartingPosition": "LATEST"}),
                         "StartingPosition is not valid for SQS event sources.")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"),
                                      "StartingPosition": "AT_TIMESTAMP"}), "Need to specify a timestamp")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"),
                                      "StartingPosition": "LATEST", "StartingPositionTimestamp": 1700000000}),
                         "Timestamp only valid with StartingPosition AT_TIMESTAMP")

    def test_sqs_batch_size_above_10_needs_a_window_on_create_and_on_update_but_streams_do_not(self):
        message = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": self.queue(), "BatchSize": 11}), message)
        uuid = self.created({"FunctionName": "fn", "EventSourceArn": self.queue(), "BatchSize": 100,
                             "MaximumBatchingWindowInSeconds": 1})
        settle(self.lam, uuid)
        self.assert_ipve(self.req("PUT", f"{MAPPINGS}/{uuid}", {"MaximumBatchingWindowInSeconds": 0}), message)
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["MaximumBatchingWindowInSeconds"], 1)
        self.created({"FunctionName": "fn", "EventSourceArn": create_stream(self.esmd, unique("s")), "StartingPosition": "LATEST",
                      "BatchSize": 200, "MaximumBatchingWindowInSeconds": 0})

    def test_fifo_queues_refuse_a_window_and_more_than_10_records(self):
        queue = self.queue(".fifo")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": queue,
                                      "MaximumBatchingWindowInSeconds": 1}),
                         "Batching window is not supported for FIFO queues")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": queue, "BatchSize": 11}),
                         "Maximum batch size must be between 1 and 10 inclusive")
        self.created({"FunctionName": "fn", "EventSourceArn": queue, "BatchSize": 10,
                      "MaximumBatchingWindowInSeconds": 0})

    def test_maximum_record_age_must_be_minus_one_or_at_least_60(self):
        for age in (0, 59):
            with self.subTest(age=age):
                self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"),
                                              "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": age}),
                                 "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
                                 "(inclusive)")

    def test_invalid_filter_patterns_are_refused(self):
        for pattern in ("not json", "null", '{"eventSource":"aws:sqs"}', '{"eventSource":[]}', '{"a":[1]', "[]",
                        '"text"'):
            with self.subTest(pattern=pattern):
                self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": self.queue(),
                                              "FilterCriteria": {"Filters": [{"Pattern": pattern}]}}),
                                 "Invalid filter pattern definition.")

    def test_self_managed_kafka_needs_source_access_configurations_and_topics(self):
        body = kafka_body()
        del body["SourceAccessConfigurations"]
        self.assert_ipve(self.create(body), "Required 'sourceAccessConfigurations' parameter is missing.")
        body = kafka_body()
        del body["Topics"]
        self.assert_ipve(self.create(body), "Required 'topics' parameter is missing.")
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": msk_arn("c")}),
                         "Required 'topics' parameter is missing.")

    def test_a_kafka_destination_is_for_kafka_sources_and_never_the_topic_read(self):
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": self.queue(),
                                      "DestinationConfig": {"OnFailure": {"Destination": "kafka://dlt"}}}),
                         "Unsupported DestinationConfig parameter for given event source mapping type.")
        self.assert_ipve(self.create(kafka_body(topic="orders",
                                                DestinationConfig={"OnFailure": {"Destination": "kafka://orders"}})),
                         "The on-failure destination topic must not be the event source mapping's topic.")
        uuid = self.created(kafka_body(topic="orders", DestinationConfig={"OnFailure": {"Destination": "kafka://dlt"}}))
        wait_until(lambda: self.req("GET", f"{MAPPINGS}/{uuid}")[2]["State"] == "Enabled", message="Enabled")
        self.assert_ipve(self.req("PUT", f"{MAPPINGS}/{uuid}",
                                  {"DestinationConfig": {"OnFailure": {"Destination": "kafka://orders"}}}),
                         "The on-failure destination topic must not be the event source mapping's topic.")
        # The same through boto3.
        self.assert_client_error(self.lam.update_event_source_mapping, "InvalidParameterValueException",
                                 "The on-failure destination topic must not be the event source mapping's topic.",
                                 UUID=uuid, DestinationConfig={"OnFailure": {"Destination": "kafka://orders"}})

    def test_self_managed_kafka_needs_at_least_one_well_formed_bootstrap_server(self):
        path = "selfManagedEventSource.endpoints"
        self.assert_error(self.create(kafka_body(SelfManagedEventSource={"Endpoints": {}})), "ValidationException",
                          violation("{}", path, "Member must have length greater than or equal to 1"))
        self.assert_error(self.create(kafka_body(servers=())), "ValidationException",
                          violation("[]", f"{path}.KAFKA_BOOTSTRAP_SERVERS",
                                    "Member must have length greater than or equal to 1"))
        for server in ("", "no-port", "host:", "-bad-.example.com:9092", "a..b:1", "host:123456"):
            with self.subTest(server=server):
                message = self.assert_error(self.create(kafka_body(servers=("ok:1", server))), "ValidationException")
                self.assertTrue(message.startswith(f"1 validation error detected: Value '{server}' at "
                                                   f"'{path}.KAFKA_BOOTSTRAP_SERVERS.member' failed to satisfy "
                                                   "constraint: Member must "), message)
        self.created(kafka_body(servers=(f"{unique('b-1')}.kafka.us-east-1.amazonaws.com:9096", "10.0.0.1:9092")))

    def test_invalid_utf_8_in_a_body_is_refused_before_anything_is_stored(self):
        body = b'{"FunctionName":"fn","EventSourceArn":"' + kinesis_arn("s").encode() + \
            b'","StartingPosition":"LATEST","Tags":{"k":"\xff\xfe"}}'
        offset = body.index(b"\xff")
        self.assert_ipve(self.create(body), "Could not parse request body into json: Invalid encoding in string. "
                                            f"(at offset {offset})")
        uuid = self.created({"FunctionName": "fn", "EventSourceArn": create_stream(self.esmd, unique("s")),
                             "StartingPosition": "LATEST"})
        message = self.assert_error(self.req("POST", f"/2017-03-31/tags/{mapping_arn(uuid)}",
                                             b'{"Tags":{"k":"\xc3"}}'), "InvalidParameterValueException")
        self.assertTrue(message.startswith("Could not parse request body into json"), message)
        self.assertEqual(self.lam.list_tags(Resource=mapping_arn(uuid))["Tags"], {})

    # -- §5.4: parameters that do not apply to the source ----------------------------------------
    def test_stream_only_parameters_are_refused_on_sqs_even_with_default_values(self):
        for member, value in (("ParallelizationFactor", 1), ("BisectBatchOnFunctionError", False),
                              ("MaximumRetryAttempts", -1), ("MaximumRecordAgeInSeconds", -1),
                              ("TumblingWindowInSeconds", 0), ("DestinationConfig", {"OnFailure": {}})):
            with self.subTest(member=member):
                self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": self.queue(), member: value}),
                                 unsupported(member))

    def test_source_specific_parameters_are_refused_elsewhere_by_name(self):
        stream = {"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"), "StartingPosition": "LATEST"}
        cases = [
            (stream, "ScalingConfig", {"MaximumConcurrency": 2}),
            (stream, "SourceAccessConfigurations", [{"Type": "BASIC_AUTH", "URI": SECRET}]),
            (stream, "Topics", ["t"]),
            (stream, "Queues", ["q"]),
            (stream, "SelfManagedKafkaEventSourceConfig", {"ConsumerGroupId": "g"}),
            ({"FunctionName": "fn", "EventSourceArn": sqs_arn("q")}, "Topics", ["t"]),
            ({"FunctionName": "fn", "EventSourceArn": mq_arn("b"), "Queues": ["q"]}, "FunctionResponseTypes",
             ["ReportBatchItemFailures"]),
            ({"FunctionName": "fn", "EventSourceArn": docdb_arn("d"), "StartingPosition": "LATEST"},
             "FunctionResponseTypes", ["ReportBatchItemFailures"]),
            (kafka_body(), "ScalingConfig", {"MaximumConcurrency": 2}),
            (kafka_body(), "ParallelizationFactor", 2),
        ]
        for base, member, value in cases:
            with self.subTest(source=base.get("EventSourceArn", "kafka"), member=member):
                body = dict(base)
                body[member] = value
                self.assert_ipve(self.create(body), unsupported(member))
        self.assert_ipve(self.create(dict(stream, DestinationConfig={"OnSuccess": {"Destination": sqs_arn("d")}})),
                         unsupported("DestinationConfig"))
        self.created(kafka_body(servers=(f"{unique('k')}:1",), FunctionResponseTypes=["ReportBatchItemFailures"]))

    def test_starting_position_on_mq_is_refused(self):
        self.assert_ipve(self.create({"FunctionName": "fn", "EventSourceArn": mq_arn("b"), "Queues": ["q"],
                                      "StartingPosition": "LATEST"}), unsupported("StartingPosition"))

    # -- §5.3: the model layer ------------------------------------------------------------------
    def test_each_numeric_member_outside_its_model_range_is_a_validation_exception(self):
        kinesis = {"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"), "StartingPosition": "LATEST"}
        ge, le = "Member must have value greater than or equal to", "Member must have value less than or equal to"
        cases = [
            ("BatchSize", "batchSize", 0, f"{ge} 1"), ("BatchSize", "batchSize", 10001, f"{le} 10000"),
            ("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", -1, f"{ge} 0"),
            ("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 301, f"{le} 300"),
            ("ParallelizationFactor", "parallelizationFactor", 0, f"{ge} 1"),
            ("ParallelizationFactor", "parallelizationFactor", 11, f"{le} 10"),
            ("MaximumRetryAttempts", "maximumRetryAttempts", -2, f"{ge} -1"),
            ("MaximumRetryAttempts", "maximumRetryAttempts", 10001, f"{le} 10000"),
            ("MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -2, f"{ge} -1"),
            ("MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", 604801, f"{le} 604800"),
            ("TumblingWindowInSeconds", "tumblingWindowInSeconds", -1, f"{ge} 0"),
            ("TumblingWindowInSeconds", "tumblingWindowInSeconds", 901, f"{le} 900"),
        ]
        for member, path, value, constraint in cases:
            with self.subTest(member=member, value=value):
                self.assert_error(self.create(dict(kinesis, **{member: value})), "ValidationException",
                                  violation(value, path, constraint))
        for value, constraint in ((1, f"{ge} 2"), (1001, f"{le} 1000")):
            with self.subTest(member="ScalingConfig.MaximumConcurrency", value=value):
                self.assert_error(self.create({"FunctionName": "fn", "EventSourceArn": sqs_arn("q"),
                                               "ScalingConfig": {"MaximumConcurrency": value}}),
                                  "ValidationException", violation(value, "scalingConfig.maximumConcurrency",
                                                                   constraint))

    def test_provisioned_poller_ranges(self):
        for member, value in (("MinimumPollers", 0), ("MinimumPollers", 201), ("MaximumPollers", 0),
                              ("MaximumPollers", 2001)):
            with self.subTest(member=member, value=value):
                self.assert_error(self.create(kafka_body(ProvisionedPollerConfig={member: value})),
                                  "ValidationException")

    def test_list_length_violations_print_the_list_and_the_bound_it_breaks(self):
        ge, le = "Member must have length greater than or equal to 1", "Member must have length less than or equal to 1"
        mq = {"FunctionName": "fn", "EventSourceArn": mq_arn("b")}
        for body, value, member, constraint in (
                (dict(mq, Queues=[]), "[]", "queues", ge), (dict(mq, Queues=["a", "b"]), "[a, b]", "queues", le),
                (kafka_body(Topics=[]), "[]", "topics", ge), (kafka_body(Topics=["a", "b"]), "[a, b]", "topics", le),
                ({"FunctionName": "fn", "EventSourceArn": sqs_arn("q"),
                  "FunctionResponseTypes": ["ReportBatchItemFailures", "ReportBatchItemFailures"]},
                 "[ReportBatchItemFailures, ReportBatchItemFailures]", "functionResponseTypes", le)):
            with self.subTest(member=member, value=value):
                self.assert_error(self.create(body), "ValidationException", violation(value, member, constraint))

    def test_several_violations_are_listed_in_one_message(self):
        message = self.assert_error(self.create({"FunctionName": "fn", "EventSourceArn": kinesis_arn("s"),
                                                 "StartingPosition": "LATEST", "BatchSize": 0,
                                                 "ParallelizationFactor": 11}), "ValidationException")
        self.assertTrue(message.startswith("2 validation errors detected: Value '0' at 'batchSize'"), message)
        self.assertIn("; Value '11' at 'parallelizationFactor'", message)

    def test_function_name_missing_malformed_or_too_long_is_a_validation_exception(self):
        self.assert_error(self.create({"EventSourceArn": sqs_arn("q")}), "ValidationException",
                          "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: "
                          "Member must not be null")
        for name in ("bad name!", "a" * 257, ""):
            with self.subTest(name=name[:20]):
                self.assert_error(self.create({"FunctionName": name, "EventSourceArn": sqs_arn("q")}),
                                  "ValidationException", violation(
                                      name, "functionName",
                                      "Member must satisfy regular expression pattern: " + FUNCTION_NAME_PATTERN))

    def test_an_unknown_function_response_type_is_a_nested_enum_violation(self):
        self.assert_error(self.create({"FunctionName": "fn", "EventSourceArn": sqs_arn("q"),
                                       "FunctionResponseTypes": ["Nope"]}), "ValidationException",
                          violation("[Nope]", "functionResponseTypes",
                                    "Member must satisfy constraint: [Member must satisfy enum value set: "
                                    "[ReportBatchItemFailures]]"))

    # -- §10: duplicates ------------------------------------------------------------------------
    def test_a_duplicate_sqs_mapping_is_a_409_naming_the_queue_function_and_existing_uuid(self):
        queue = self.queue()
        uuid = self.created({"FunctionName": "fn", "EventSourceArn": queue})
        self.assert_error(self.create({"FunctionName": function_arn("fn"), "EventSourceArn": queue}),
                          "ResourceConflictException",
                          f'An event source mapping with SQS arn (" {queue} ") and function (" fn ") already exists. '
                          f"Please update or delete the existing mapping with UUID {uuid}")
        self.created({"FunctionName": "fn2", "EventSourceArn": queue})
        self.created({"FunctionName": "fn:1", "EventSourceArn": queue})

    def test_a_duplicate_stream_mapping_uses_the_stream_wording(self):
        for stream in (create_stream(self.esmd, unique("s")), dynamodb_arn(unique("t"))):
            with self.subTest(stream=stream):
                uuid = self.created({"FunctionName": "fn", "EventSourceArn": stream, "StartingPosition": "LATEST"})
                self.assert_error(self.create({"FunctionName": "fn", "EventSourceArn": stream,
                                               "StartingPosition": "TRIM_HORIZON"}), "ResourceConflictException",
                                  f'The event source arn (" {stream} ") and function (" fn ") provided mapping already '
                                  f"exists. Please update or delete the existing mapping with UUID {uuid}")

    def test_a_duplicate_kafka_mapping_echoes_the_servers_as_sent_and_the_function_arn(self):
        a, b = f"{unique('k')}:1000", f"{unique('k')}:2000"
        uuid = self.created(kafka_body(servers=(a,)))
        self.assert_error(self.create(kafka_body(servers=(a, b))), "ResourceConflictException",
                          f'An event source mapping with event source ("{a},{b}"), function ("{function_arn("fn")}"), '
                          f'topics ("topic") already exists. Please update or delete the existing mapping with UUID '
                          f"{uuid}")
        self.created(kafka_body(servers=(a, b), topic="topic_2"))

    # -- malformed requests -----------------------------------------------------------------------
    def test_a_body_that_is_not_json_is_an_invalid_parameter_value(self):
        for body in ("{not json", "[1,2]", '"text"', "null", '{"FunctionName":"fn"} trailing', "\x00\x01"):
            with self.subTest(body=body):
                message = self.assert_error(self.create(body), "InvalidParameterValueException")
                self.assertTrue(message.startswith("Could not parse request body into json: "), message)

    def test_members_of_the_wrong_json_type_are_refused_naming_the_member(self):
        queue = sqs_arn("q")
        for member, value in (("BatchSize", "10"), ("BatchSize", 1.5), ("BatchSize", 2 ** 40), ("Enabled", "true"),
                              ("FunctionName", 7), ("FilterCriteria", []), ("Tags", {"a": 1}), ("Topics", "t"),
                              ("ScalingConfig", 5), ("DestinationConfig", {"OnFailure": "arn"}),
                              ("EventSourceArn", {"a": 1})):
            with self.subTest(member=member, value=value):
                body = {"FunctionName": "fn", "EventSourceArn": queue, member: value}
                status, _, doc = self.create(body)
                self.assertEqual(status, 400, doc)
                self.assertIn(member.lower(), doc.get("message", "").lower())

    def test_update_with_a_malformed_body_changes_nothing(self):
        uuid = self.created({"FunctionName": "fn", "EventSourceArn": self.queue()})
        settle(self.lam, uuid)
        for body in ("{", '{"BatchSize":"x"}', '{"BatchSize":0}'):
            with self.subTest(body=body):
                status, _, _ = self.req("PUT", f"{MAPPINGS}/{uuid}", body)
                self.assertEqual(status, 400)
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["BatchSize"], 10)

    def test_unknown_routes_and_methods_are_404_unknown_operation(self):
        for method, path in (("PATCH", f"{MAPPINGS}/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"), ("PUT", MAPPINGS),
                             ("DELETE", MAPPINGS), ("POST", f"{MAPPINGS}/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"),
                             ("GET", f"{MAPPINGS}/a/b"), ("GET", "/"), ("GET", "/2015-03-31/nothing"),
                             ("POST", "/2015-03-31/functions"), ("PUT", "/2017-03-31/tags/" + mapping_arn(
                                 "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"))):
            with self.subTest(method=method, path=path):
                status, headers, doc = self.req(method, path, "{}")
                self.assertEqual(status, 404, doc)
                self.assertEqual(headers.get("X-Amzn-Errortype"), "UnknownOperationException")
                self.assertIn("x-amzn-RequestId", headers)
                self.assertEqual(doc, {"message": f"Unknown operation: {method} {path}"})

    def test_a_body_over_6_5_mb_is_a_413_and_esmd_keeps_serving(self):
        response = self.assert_client_error(
            self.lam.create_event_source_mapping, "RequestEntityTooLargeException", FunctionName="fn",
            EventSourceArn=sqs_arn("q"), FilterCriteria={"Filters": [{"Pattern": "x" * (7 * 1024 * 1024)}]})
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 413)
        with socket.create_connection(("127.0.0.1", self.esmd.port), timeout=10) as s:
            s.sendall(b"POST " + MAPPINGS.encode() + b" HTTP/1.1\r\nHost: esmd\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 7000000\r\n\r\n")
            head = s.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertIn(b"X-Amzn-Errortype: RequestEntityTooLargeException", head)
        self.assertIn(b"x-amzn-RequestId: ", head)
        self.assertEqual(self.req("GET", "/_esmd/health")[0], 200)

    def test_a_garbage_request_line_gets_a_400_and_esmd_keeps_serving(self):
        for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
            with self.subTest(raw=raw[:10]):
                with socket.create_connection(("127.0.0.1", self.esmd.port), timeout=10) as s:
                    s.sendall(raw)
                    s.shutdown(socket.SHUT_WR)
                    answer = s.recv(4096)
                self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer)
        self.assertEqual(self.req("GET", "/_esmd/health")[0], 200)

    # -- List and tags ---------------------------------------------------------------------------
    def test_list_refuses_max_items_outside_its_range_and_an_undecodable_marker(self):
        for value, constraint in (("0", "Member must have value greater than or equal to 1"),
                                  ("10001", "Member must have value less than or equal to 10000")):
            self.assert_error(self.req("GET", f"{MAPPINGS}?MaxItems={value}"), "ValidationException",
                              violation(value, "maxItems", constraint))
        self.assert_ipve(self.req("GET", f"{MAPPINGS}?Marker=garbage"), "Invalid Marker: garbage")

    def test_tag_routes_answer_404_for_an_unknown_mapping_and_validation_errors_for_malformed_arns(self):
        unknown = mapping_arn("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
        for method, suffix, body in (("GET", "", None), ("POST", "", {"Tags": {"a": "b"}}),
                                     ("DELETE", "?tagKeys=a", None)):
            with self.subTest(method=method):
                self.assert_error(self.req(method, f"/2017-03-31/tags/{unknown}{suffix}", body),
                                  "ResourceNotFoundException", f"Event source mapping not found: {unknown}")
        for bad in (unknown + ":alias", unknown.replace(":event-source-mapping:", ":foobar:")):
            with self.subTest(arn=bad):
                self.assert_error(self.req("GET", f"/2017-03-31/tags/{bad}"), "ValidationException",
                                  f"1 validation error detected: Value '{bad}' at 'resource' failed to satisfy "
                                  f"constraint: Member must satisfy regular expression pattern: {TAGGABLE}")


class InUseTest(ErrorAssertions, unittest.TestCase):
    """Update and Delete while a transition is under way (a 60 s delay keeps it there)."""

    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="esmd-inuse-")
        # Reach Enabled with a fast esmd, then restart slow so that Disabling can be entered.
        fast = Esmd(data_dir=cls.data_dir, transition_delay_ms=0).start()
        lam = fast.client("lambda")
        cls.enabled = [settle(lam, lam.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=create_stream(fast, unique("s")), StartingPosition="LATEST")["UUID"])["UUID"]
            for _ in range(2)]
        fast.stop()
        cls.esmd = Esmd(data_dir=cls.data_dir, transition_delay_ms=60000).start()
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()
        shutil.rmtree(cls.data_dir, ignore_errors=True)

    def assert_in_use(self, uuid, state):
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["State"], state)
        self.assert_error(call(self.esmd, "PUT", f"{MAPPINGS}/{uuid}", {"BatchSize": 5}), "ResourceInUseException",
                          UPDATE_IN_USE)
        self.assert_error(call(self.esmd, "PUT", f"{MAPPINGS}/{uuid}", {"Enabled": False}),
                          "ResourceInUseException", UPDATE_IN_USE)
        self.assert_error(call(self.esmd, "DELETE", f"{MAPPINGS}/{uuid}"), "ResourceInUseException", DELETE_IN_USE)
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["State"], state)

    def disabled(self):
        return self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")),
                                                    StartingPosition="LATEST", Enabled=False)["UUID"]

    def test_creating_refuses_update_and_delete(self):
        uuid = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")),
                                                    StartingPosition="LATEST")["UUID"]
        self.assert_in_use(uuid, "Creating")
        self.assert_client_error(self.lam.update_event_source_mapping, "ResourceInUseException", UPDATE_IN_USE,
                                 UUID=uuid, BatchSize=7)
        rc, _, err = self.esmd.aws("lambda", "delete-event-source-mapping", "--uuid", uuid)
        self.assertNotEqual(rc, 0)
        self.assertIn("(ResourceInUseException)", err)
        self.assertIn(DELETE_IN_USE, err)

    def test_updating_refuses_update_and_delete(self):
        uuid = self.disabled()
        self.assertEqual(self.lam.update_event_source_mapping(UUID=uuid, BatchSize=7)["State"], "Updating")
        self.assert_in_use(uuid, "Updating")
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["BatchSize"], 7)

    def test_enabling_refuses_update_and_delete(self):
        uuid = self.disabled()
        self.assertEqual(self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"], "Enabling")
        self.assert_in_use(uuid, "Enabling")

    def test_disabling_refuses_update_and_delete(self):
        uuid = self.enabled[0]
        self.assertEqual(self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"], "Disabling")
        self.assert_in_use(uuid, "Disabling")

    def test_deleting_refuses_update_and_delete_but_still_answers_get_list_tags_and_duplicates(self):
        stream = create_stream(self.esmd, unique("s"))
        uuid = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                                    StartingPosition="LATEST", Enabled=False)["UUID"]
        deleted = self.lam.delete_event_source_mapping(UUID=uuid)
        self.assertEqual(deleted["State"], "Deleting")
        self.assert_in_use(uuid, "Deleting")
        listed = self.lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
        self.assertEqual([m["State"] for m in listed], ["Deleting"])
        arn = mapping_arn(uuid)
        self.lam.tag_resource(Resource=arn, Tags={"k": "v"})
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {"k": "v"})
        self.assert_client_error(self.lam.create_event_source_mapping, "ResourceConflictException", FunctionName="fn",
                                 EventSourceArn=stream, StartingPosition="LATEST")

    def test_a_mapping_that_settled_before_the_restart_can_still_be_deleted(self):
        uuid = self.enabled[1]
        self.assertEqual(self.lam.delete_event_source_mapping(UUID=uuid)["State"], "Deleting")
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["State"], "Deleting")


if __name__ == "__main__":
    unittest.main()
