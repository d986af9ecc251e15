"""Kinesis streams on esmd's port, driven by the AWS CLI and boto3: create (provisioned and
on-demand), describe, list, shards, tags, retention, StreamARN addressing, and every error
with AWS's type and wording. A mapping needs its stream to exist."""
import base64
import unittest

from esmd_harness import ACCOUNT, Esmd
from kinesis_support import KinesisErrorAssertions, raw
from lambda_support import MAPPINGS, boto_has, call, function_arn, kinesis_arn, unique

MAX_HASH = 2 ** 128 - 1


class KinesisStreamsTest(KinesisErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=0).start()
        cls.kinesis = cls.esmd.client("kinesis")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def create(self, shards=1, **kwargs):
        name = unique("s")
        self.kinesis.create_stream(StreamName=name, ShardCount=shards, **kwargs)
        return name

    # -- the CLI ------------------------------------------------------------------------------
    def test_the_cli_creates_waits_for_describes_lists_and_deletes_a_stream(self):
        name = unique("cli")
        rc, _, err = self.esmd.aws("kinesis", "create-stream", "--stream-name", name, "--shard-count", "2")
        self.assertEqual(rc, 0, err)
        # The waiter polls DescribeStream until ACTIVE: the stream is ACTIVE at once.
        rc, _, err = self.esmd.aws("kinesis", "wait", "stream-exists", "--stream-name", name)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.esmd.aws("kinesis", "describe-stream", "--stream-name", name)
        self.assertEqual(rc, 0, err)
        d = out["StreamDescription"]
        self.assertEqual(d["StreamARN"], kinesis_arn(name))
        self.assertEqual(d["StreamStatus"], "ACTIVE")
        self.assertEqual(d["RetentionPeriodHours"], 24)
        self.assertEqual([s["ShardId"] for s in d["Shards"]], ["shardId-000000000000", "shardId-000000000001"])
        self.assertEqual(d["Shards"][1]["HashKeyRange"]["EndingHashKey"], str(MAX_HASH))
        rc, out, err = self.esmd.aws("kinesis", "describe-stream-summary", "--stream-name", name)
        self.assertEqual(rc, 0, err)
        summary = out["StreamDescriptionSummary"]
        self.assertEqual((summary["OpenShardCount"], summary["StreamModeDetails"]["StreamMode"]), (2, "PROVISIONED"))
        rc, out, err = self.esmd.aws("kinesis", "list-streams")
        self.assertEqual(rc, 0, err)
        self.assertIn(name, out["StreamNames"])
        rc, out, err = self.esmd.aws("kinesis", "list-shards", "--stream-name", name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["Shards"]), 2)
        rc, _, err = self.esmd.aws("kinesis", "delete-stream", "--stream-name", name)
        self.assertEqual(rc, 0, err)
        rc, _, err = self.esmd.aws("kinesis", "describe-stream", "--stream-name", name)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"(ResourceNotFoundException) when calling the DescribeStream operation: Stream {name} "
                      f"under account {ACCOUNT} not found.", err)
        rc, _, err = self.esmd.aws("kinesis", "wait", "stream-not-exists", "--stream-name", name)
        self.assertEqual(rc, 0, err)

    def test_the_cli_adds_lists_and_removes_tags(self):
        name = self.create()
        rc, _, err = self.esmd.aws("kinesis", "add-tags-to-stream", "--stream-name", name,
                                   "--tags", "team=data,env=dev")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.esmd.aws("kinesis", "list-tags-for-stream", "--stream-name", name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Tags"], [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "data"}])
        self.assertFalse(out["HasMoreTags"])
        rc, _, err = self.esmd.aws("kinesis", "remove-tags-from-stream", "--stream-name", name, "--tag-keys", "env")
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.esmd.aws("kinesis", "list-tags-for-stream", "--stream-name", name)
        self.assertEqual(out["Tags"], [{"Key": "team", "Value": "data"}])

    # -- shards -------------------------------------------------------------------------------
    def test_shards_split_the_hash_key_space_into_contiguous_ranges(self):
        name = self.create(shards=7)
        shards = self.kinesis.list_shards(StreamName=name)["Shards"]
        self.assertEqual(len(shards), 7)
        expected_start = 0
        width = 2 ** 128 // 7
        for i, s in enumerate(shards):
            r = s["HashKeyRange"]
            self.assertEqual(int(r["StartingHashKey"]), expected_start)
            self.assertEqual(int(r["StartingHashKey"]), i * width)
            expected_start = int(r["EndingHashKey"]) + 1
            self.assertEqual(len(s["SequenceNumberRange"]["StartingSequenceNumber"]), 56)
        self.assertEqual(expected_start, MAX_HASH + 1)

    def test_list_shards_pages_with_a_next_token_that_excludes_the_stream_name(self):
        name = self.create(shards=5)
        first = self.kinesis.list_shards(StreamName=name, MaxResults=2)
        self.assertEqual([s["ShardId"] for s in first["Shards"]], ["shardId-000000000000", "shardId-000000000001"])
        second = self.kinesis.list_shards(NextToken=first["NextToken"], MaxResults=2)
        self.assertEqual([s["ShardId"] for s in second["Shards"]], ["shardId-000000000002", "shardId-000000000003"])
        third = self.kinesis.list_shards(NextToken=second["NextToken"])
        self.assertEqual([s["ShardId"] for s in third["Shards"]], ["shardId-000000000004"])
        self.assertNotIn("NextToken", third)
        self.assert_client_error(lambda: self.kinesis.list_shards(StreamName=name, NextToken=first["NextToken"]),
                                 "InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
        after = self.kinesis.list_shards(StreamName=name, ExclusiveStartShardId="shardId-000000000002")
        self.assertEqual([s["ShardId"] for s in after["Shards"]], ["shardId-000000000003", "shardId-000000000004"])
        filtered = self.kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID",
                                                                          "ShardId": "shardId-000000000003"})
        self.assertEqual([s["ShardId"] for s in filtered["Shards"]], ["shardId-000000000004"])
        everything = self.kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})
        self.assertEqual(len(everything["Shards"]), 5)
        # A token edited to point outside the shards is refused, not followed.
        fields = base64.b64decode(first["NextToken"]).decode().split(":")
        for start in ("-5", "6", "99999999999"):
            edited = base64.b64encode(":".join(fields[:3] + [start]).encode()).decode()
            self.assert_client_error(lambda: self.kinesis.list_shards(NextToken=edited), "InvalidArgumentException")

    def test_describe_stream_pages_shards_with_limit_and_exclusive_start(self):
        name = self.create(shards=3)
        d = self.kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
        self.assertEqual(len(d["Shards"]), 2)
        self.assertTrue(d["HasMoreShards"])
        d = self.kinesis.describe_stream(StreamName=name, ExclusiveStartShardId=d["Shards"][-1]["ShardId"])
        self.assertEqual([s["ShardId"] for s in d["StreamDescription"]["Shards"]], ["shardId-000000000002"])
        self.assertFalse(d["StreamDescription"]["HasMoreShards"])

    def test_on_demand_streams_start_with_four_shards(self):
        name = unique("od")
        self.kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        self.assertEqual(summary["OpenShardCount"], 4)
        # Neither a shard count nor a mode: on-demand too.
        bare = unique("bare")
        self.kinesis.create_stream(StreamName=bare)
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName=bare)["StreamDescriptionSummary"]
                         ["StreamModeDetails"]["StreamMode"], "ON_DEMAND")
        self.assert_client_error(lambda: self.kinesis.create_stream(
            StreamName=unique("x"), ShardCount=2, StreamModeDetails={"StreamMode": "ON_DEMAND"}),
            "InvalidArgumentException")
        self.assert_client_error(lambda: self.kinesis.create_stream(
            StreamName=unique("x"), StreamModeDetails={"StreamMode": "PROVISIONED"}), "InvalidArgumentException")

    # -- listing and regions --------------------------------------------------------------------
    def test_list_streams_pages_in_name_order(self):
        with Esmd(in_memory=True) as esmd:
            kinesis = esmd.client("kinesis")
            for n in ("c", "a", "b"):
                kinesis.create_stream(StreamName=n, ShardCount=1)
            page = kinesis.list_streams(Limit=2)
            self.assertEqual(page["StreamNames"], ["a", "b"])
            self.assertTrue(page["HasMoreStreams"])
            # botocore drops output members its model lacks (StreamSummaries came in 2022): read
            # them from the wire when this boto3 is older.
            summaries = (page["StreamSummaries"] if boto_has(kinesis, "ListStreams", "StreamSummaries", output=True)
                         else raw(esmd, "ListStreams", {"Limit": 2})[2]["StreamSummaries"])
            self.assertEqual([s["StreamARN"] for s in summaries], [kinesis_arn("a"), kinesis_arn("b")])
            self.assertEqual(summaries[0]["StreamStatus"], "ACTIVE")
            rest = kinesis.list_streams(ExclusiveStartStreamName="b")
            self.assertEqual((rest["StreamNames"], rest["HasMoreStreams"]), (["c"], False))
            if "NextToken" in page and boto_has(kinesis, "ListStreams", "NextToken"):
                self.assertEqual(kinesis.list_streams(NextToken=page["NextToken"])["StreamNames"], ["c"])
            names = [n for p in kinesis.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1})
                     for n in p["StreamNames"]]
            self.assertEqual(names, ["a", "b", "c"])

    def test_streams_belong_to_their_region(self):
        west = self.esmd.client("kinesis", region="eu-west-1")
        name = unique("regional")
        west.create_stream(StreamName=name, ShardCount=1)
        self.assertEqual(west.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"],
                         kinesis_arn(name, region="eu-west-1"))
        self.assert_client_error(lambda: self.kinesis.describe_stream(StreamName=name), "ResourceNotFoundException")
        # The same name in another region is another stream.
        self.kinesis.create_stream(StreamName=name, ShardCount=2)
        self.assertEqual(len(west.list_shards(StreamName=name)["Shards"]), 1)

    def test_stream_arn_addresses_a_stream_instead_of_its_name(self):
        name = self.create(shards=2)
        arn = kinesis_arn(name)
        if boto_has(self.kinesis, "DescribeStreamSummary", "StreamARN"):
            got = self.kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
            self.assertEqual(got["StreamName"], name)
            put = self.kinesis.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
            self.assertTrue(put["ShardId"].startswith("shardId-"))
        # Raw, as any client sends it, also where the installed boto3 predates StreamARN.
        status, _, body = raw(self.esmd, "ListShards", {"StreamARN": arn})
        self.assertEqual((status, len(body["Shards"])), (200, 2))
        self.assert_kinesis_error(raw(self.esmd, "DescribeStream", {"StreamARN": kinesis_arn("absent")}),
                                  "ResourceNotFoundException", f"Stream absent under account {ACCOUNT} not found.")
        self.assert_kinesis_error(raw(self.esmd, "DescribeStream", {}), "InvalidArgumentException")

    # -- tags and retention ---------------------------------------------------------------------
    def test_tags_page_and_are_limited_to_fifty(self):
        name = self.create()
        self.kinesis.add_tags_to_stream(StreamName=name, Tags={f"k{i:02}": str(i) for i in range(10)})
        page = self.kinesis.list_tags_for_stream(StreamName=name, Limit=4)
        self.assertEqual([t["Key"] for t in page["Tags"]], ["k00", "k01", "k02", "k03"])
        self.assertTrue(page["HasMoreTags"])
        rest = self.kinesis.list_tags_for_stream(StreamName=name, ExclusiveStartTagKey="k03")
        self.assertEqual(len(rest["Tags"]), 6)
        self.assertFalse(rest["HasMoreTags"])
        self.kinesis.add_tags_to_stream(StreamName=name, Tags={f"m{i:02}": "v" for i in range(40)})
        self.assert_client_error(lambda: self.kinesis.add_tags_to_stream(StreamName=name, Tags={"one": "more"}),
                                 "LimitExceededException",
                                 f"Failed to add tags to stream {name} under account {ACCOUNT} because a given "
                                 "stream cannot have more than 50 tags.")
        self.kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["k00", "absent"])
        self.assertEqual(len(self.kinesis.list_tags_for_stream(StreamName=name)["Tags"]), 49)
        tagged = unique("tagged")
        self.kinesis.create_stream(StreamName=tagged, ShardCount=1, **(
            {"Tags": {"on": "create"}} if boto_has(self.kinesis, "CreateStream", "Tags") else {}))
        if boto_has(self.kinesis, "CreateStream", "Tags"):
            self.assertEqual(self.kinesis.list_tags_for_stream(StreamName=tagged)["Tags"],
                             [{"Key": "on", "Value": "create"}])

    def test_retention_goes_up_and_down_within_aws_limits(self):
        name = self.create()
        self.kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                         ["RetentionPeriodHours"], 48)
        self.assert_client_error(
            lambda: self.kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=30),
            "InvalidArgumentException",
            f"Requested retention period (30 hours) for stream {name} can not be shorter than existing retention "
            "period (48 hours). Use DecreaseRetentionPeriod API.")
        self.assert_client_error(
            lambda: self.kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=72),
            "InvalidArgumentException",
            f"Requested retention period (72 hours) for stream {name} can not be longer than existing retention "
            "period (48 hours). Use IncreaseRetentionPeriod API.")
        self.assert_client_error(
            lambda: self.kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=12),
            "InvalidArgumentException",
            "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.")
        self.assert_client_error(
            lambda: self.kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8761),
            "InvalidArgumentException",
            "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.")
        self.kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
        rc, out, err = self.esmd.aws("kinesis", "describe-stream-summary", "--stream-name", name)
        self.assertEqual(out["StreamDescriptionSummary"]["RetentionPeriodHours"], 24, err)

    # -- errors ---------------------------------------------------------------------------------
    def test_every_operation_on_a_missing_stream_is_resource_not_found(self):
        message = f"Stream nope under account {ACCOUNT} not found."
        for op, body in (("DescribeStream", {}), ("DescribeStreamSummary", {}), ("DeleteStream", {}),
                         ("ListShards", {}), ("ListTagsForStream", {}),
                         ("PutRecord", {"Data": "eA==", "PartitionKey": "k"}),
                         ("PutRecords", {"Records": [{"Data": "eA==", "PartitionKey": "k"}]}),
                         ("GetShardIterator", {"ShardId": "shardId-000000000000", "ShardIteratorType": "LATEST"}),
                         ("AddTagsToStream", {"Tags": {"a": "b"}}), ("RemoveTagsFromStream", {"TagKeys": ["a"]}),
                         ("IncreaseStreamRetentionPeriod", {"RetentionPeriodHours": 48}),
                         ("DecreaseStreamRetentionPeriod", {"RetentionPeriodHours": 24})):
            with self.subTest(op=op):
                self.assert_kinesis_error(raw(self.esmd, op, dict(body, StreamName="nope")),
                                          "ResourceNotFoundException", message)

    def test_creating_a_stream_that_exists_is_resource_in_use(self):
        name = self.create()
        self.assert_client_error(lambda: self.kinesis.create_stream(StreamName=name, ShardCount=1),
                                 "ResourceInUseException", f"Stream {name} under account {ACCOUNT} already exists.")

    def test_model_constraints_fail_with_the_validation_wording(self):
        self.assert_kinesis_error(
            raw(self.esmd, "CreateStream", {"StreamName": "bad name", "ShardCount": 1}), "ValidationException",
            "1 validation error detected: Value 'bad name' at 'streamName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
        self.assert_kinesis_error(
            raw(self.esmd, "CreateStream", {"StreamName": "x" * 129, "ShardCount": 0}), "ValidationException",
            "2 validation errors detected: Value '" + "x" * 129 + "' at 'streamName' failed to satisfy constraint: "
            "Member must have length less than or equal to 128; Value '0' at 'shardCount' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1")
        self.assert_kinesis_error(raw(self.esmd, "CreateStream", {"ShardCount": 1}), "ValidationException",
                                  "1 validation error detected: Value null at 'streamName' failed to satisfy "
                                  "constraint: Member must not be null")
        self.assert_kinesis_error(
            raw(self.esmd, "CreateStream", {"StreamName": "m", "StreamModeDetails": {"StreamMode": "FAST"}}),
            "ValidationException",
            "1 validation error detected: Value 'FAST' at 'streamModeDetails.streamMode' failed to satisfy "
            "constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
        self.assert_kinesis_error(raw(self.esmd, "ListStreams", {"Limit": 0}), "ValidationException")
        self.assert_kinesis_error(raw(self.esmd, "ListTagsForStream", {"StreamName": "a", "Limit": 51}),
                                  "ValidationException")
        self.assert_kinesis_error(raw(self.esmd, "AddTagsToStream", {"StreamName": "a", "Tags": {}}),
                                  "ValidationException")
        for arn in ("arn:aws:sqs:us-east-1:000000000000:q", "arn:aws:kinesis:us-east-1:12345:stream/x",
                    "arn:aws:kinesis:us-east-1:000000000000:stream/", "arn:aws:kinesis:us-east-1:000000000000:stream/a b",
                    "arn:aws:kinesis:us-east-1:000000000000:stream/" + "x" * 100_000):
            with self.subTest(arn=arn[:80]):
                self.assert_kinesis_error(raw(self.esmd, "DescribeStream", {"StreamARN": arn}), "ValidationException")
        # Other partitions match the model's pattern: the stream is simply not there.
        self.assert_kinesis_error(
            raw(self.esmd, "DescribeStream", {"StreamARN": "arn:aws-cn:kinesis:cn-north-1:000000000000:stream/x"}),
            "ResourceNotFoundException")

    def test_malformed_json_and_wrong_types_are_serialization_errors(self):
        self.assert_kinesis_error(raw(self.esmd, "CreateStream", b"{not json"), "SerializationException")
        self.assert_kinesis_error(raw(self.esmd, "CreateStream", b"[1]"), "SerializationException")
        self.assert_kinesis_error(raw(self.esmd, "CreateStream", {"StreamName": "t", "ShardCount": "one"}),
                                  "SerializationException")
        self.assert_kinesis_error(raw(self.esmd, "CreateStream", {"StreamName": 5, "ShardCount": 1}),
                                  "SerializationException")

    def test_a_body_of_deeply_nested_brackets_is_a_serialization_error_and_esmd_stays_up(self):
        for op in ("CreateStream", "PutRecord", "PutRecords"):
            self.assert_kinesis_error(raw(self.esmd, op, b"[" * 200_000), "SerializationException")
            self.assert_kinesis_error(raw(self.esmd, op, b"[" * 200_000 + b"]" * 200_000), "SerializationException")
        name = self.create()
        self.assertEqual(self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                         ["StreamStatus"], "ACTIVE")

    def test_an_unknown_operation_is_unknown_operation_exception_naming_it(self):
        self.assert_kinesis_error(raw(self.esmd, "MakeCoffee", {}), "UnknownOperationException",
                                  "The operation MakeCoffee is not supported by esmd.")
        # Echoed as printable ASCII, so that the JSON answer stays well formed.
        self.assert_kinesis_error(raw(self.esmd, "Caf\u00e9", {}), "UnknownOperationException",
                                  "The operation Caf? is not supported by esmd.")

    def test_the_cli_names_an_operation_esmd_does_not_serve(self):
        name = self.create()
        rc, _, err = self.esmd.aws("kinesis", "split-shard", "--stream-name", name, "--shard-to-split",
                                   "shardId-000000000000", "--new-starting-hash-key", str(2 ** 127))
        self.assertNotEqual(rc, 0)
        self.assertIn("(UnknownOperationException) when calling the SplitShard operation: "
                      "The operation SplitShard is not supported by esmd.", err)

    def test_boto3_gets_the_operation_esmd_does_not_serve_in_the_message(self):
        name = self.create()
        self.assert_client_error(lambda: self.kinesis.merge_shards(StreamName=name,
                                                                    ShardToMerge="shardId-000000000000",
                                                                    AdjacentShardToMerge="shardId-000000000001"),
                                 "UnknownOperationException", "The operation MergeShards is not supported by esmd.")

    def test_more_shards_than_the_account_limit_is_limit_exceeded(self):
        message = self.assert_client_error(lambda: self.kinesis.create_stream(StreamName=unique("huge"),
                                                                              ShardCount=501),
                                           "LimitExceededException")
        self.assertIn("This request would exceed the shard limit for the account", message)

    def test_describe_limits_counts_the_region_s_shards(self):
        with Esmd(in_memory=True) as esmd:
            kinesis = esmd.client("kinesis")
            kinesis.create_stream(StreamName="p", ShardCount=3)
            kinesis.create_stream(StreamName="o", StreamModeDetails={"StreamMode": "ON_DEMAND"})
            limits = kinesis.describe_limits()
            self.assertEqual((limits["ShardLimit"], limits["OpenShardCount"]), (500, 7))
            if "OnDemandStreamCount" in limits:
                self.assertEqual((limits["OnDemandStreamCount"], limits["OnDemandStreamCountLimit"]), (1, 50))

    # -- mappings need the stream ---------------------------------------------------------------
    def test_a_mapping_on_a_stream_that_does_not_exist_is_refused_with_aws_wording(self):
        lam = self.esmd.client("lambda")
        name = unique("later")
        status, _, body = call(self.esmd, "POST", MAPPINGS, {"FunctionName": "fn", "EventSourceArn": kinesis_arn(name),
                                                             "StartingPosition": "LATEST"})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["message"], f"Stream not found: {kinesis_arn(name)}")
        self.kinesis.create_stream(StreamName=name, ShardCount=1)
        created = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=kinesis_arn(name),
                                                  StartingPosition="LATEST")
        self.assertEqual(created["FunctionArn"], function_arn("fn"))
        self.assertEqual(created["EventSourceArn"], kinesis_arn(name))


if __name__ == "__main__":
    unittest.main()
