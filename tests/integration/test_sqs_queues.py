"""SQS queue operations over the JSON protocol (boto3 and the AWS CLI): CreateQueue,
GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes, Tag/Untag/ListQueueTags, queue
URLs and ARNs, and errors with AWS's codes in the JSON protocol's own format."""
import json
import unittest

from esmd_harness import ACCOUNT, Esmd
from sqs_support import SqsTestCase


class SqsQueueTest(SqsTestCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.sqs = cls.esmd.client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    # -- CreateQueue / GetQueueUrl -------------------------------------------------------------
    def test_create_queue_answers_the_url_host_port_account_name(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.assertEqual(url, f"{self.esmd.url}/{ACCOUNT}/{name}")
        self.assertEqual(self.sqs.get_queue_url(QueueName=name)["QueueUrl"], url)

    def test_queue_arn_names_region_account_and_queue(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        self.assertEqual(attrs, {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"})

    def test_queues_belong_to_the_region_of_the_request(self):
        name = self.queue_name()
        west = self.esmd.client("sqs", region="eu-west-1")
        url = west.create_queue(QueueName=name)["QueueUrl"]
        arn = west.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.assertEqual(arn, f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{name}")
        self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url, QueueName=name)

    def test_create_queue_applies_attributes_and_tags(self):
        url = self.sqs.create_queue(
            QueueName=self.queue_name(),
            Attributes={"VisibilityTimeout": "7", "DelaySeconds": "3", "MessageRetentionPeriod": "600",
                        "MaximumMessageSize": "2048", "ReceiveMessageWaitTimeSeconds": "4"},
            tags={"team": "esm", "env": "test"})["QueueUrl"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["VisibilityTimeout"], "7")
        self.assertEqual(attrs["DelaySeconds"], "3")
        self.assertEqual(attrs["MessageRetentionPeriod"], "600")
        self.assertEqual(attrs["MaximumMessageSize"], "2048")
        self.assertEqual(attrs["ReceiveMessageWaitTimeSeconds"], "4")
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"team": "esm", "env": "test"})

    def test_create_queue_again_with_the_same_attributes_returns_the_same_url(self):
        name = self.queue_name()
        first = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9"})["QueueUrl"]
        self.assertEqual(self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9"})["QueueUrl"], first)
        self.assertEqual(self.sqs.create_queue(QueueName=name)["QueueUrl"], first)

    def test_create_queue_again_naming_a_default_value_returns_the_same_url(self):
        name = self.queue_name()
        first = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        again = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30", "DelaySeconds": "0"})
        self.assertEqual(again["QueueUrl"], first)

    def test_create_queue_with_a_different_attribute_value_is_queue_already_exists(self):
        name = self.queue_name()
        self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9"})
        e = self.assert_sqs_error("QueueAlreadyExists", self.sqs.create_queue, QueueName=name,
                                  Attributes={"VisibilityTimeout": "10"})
        self.assertIsInstance(e, self.sqs.exceptions.QueueNameExists)

    def test_create_queue_rejects_invalid_names(self):
        for bad in ("has space", "dot.name", "x" * 81, "bad.fifo", "é"):
            with self.subTest(name=bad):
                self.assert_sqs_error("InvalidParameterValue", self.sqs.create_queue, QueueName=bad)
        self.assert_sqs_error("InvalidParameterValue", self.sqs.create_queue, QueueName="nofifosuffix",
                              Attributes={"FifoQueue": "true"})
        self.sqs.create_queue(QueueName="x" * 80)

    def test_create_queue_rejects_bad_attribute_values_and_unknown_attributes(self):
        for attrs in ({"VisibilityTimeout": "-1"}, {"VisibilityTimeout": "43201"}, {"DelaySeconds": "901"},
                      {"MessageRetentionPeriod": "59"}, {"MaximumMessageSize": "1023"},
                      {"MaximumMessageSize": "1048577"}, {"ReceiveMessageWaitTimeSeconds": "21"},
                      {"VisibilityTimeout": "ten"}, {"RedrivePolicy": "not json"}):
            with self.subTest(attrs=attrs):
                self.assert_sqs_error("InvalidAttributeValue", self.sqs.create_queue, QueueName=self.queue_name(),
                                      Attributes=attrs)
        self.assert_sqs_error("InvalidAttributeName", self.sqs.create_queue, QueueName=self.queue_name(),
                              Attributes={"Colour": "blue"})
        self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url,
                              QueueName=self.queue_name())

    def test_get_queue_url_of_a_missing_queue_is_non_existent_queue(self):
        e = self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url,
                                  QueueName="never-created")
        self.assertIsInstance(e, self.sqs.exceptions.QueueDoesNotExist)
        self.assertEqual(e.response["Error"]["Message"], "The specified queue does not exist.")
        self.assertEqual(e.response["Error"]["Type"], "Sender")

    def test_get_queue_url_with_another_owner_account_is_non_existent_queue(self):
        name = self.queue_name()
        self.sqs.create_queue(QueueName=name)
        self.assertIn(name, self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"])
        self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url, QueueName=name,
                              QueueOwnerAWSAccountId="123456789012")

    # -- ListQueues / DeleteQueue ----------------------------------------------------------------
    def test_list_queues_filters_by_prefix(self):
        names = [f"lsprefix-{i}" for i in range(3)]
        for n in names:
            self.sqs.create_queue(QueueName=n)
        self.sqs.create_queue(QueueName="lsother")
        urls = self.sqs.list_queues(QueueNamePrefix="lsprefix-")["QueueUrls"]
        self.assertEqual(sorted(urls), [f"{self.esmd.url}/{ACCOUNT}/{n}" for n in names])
        self.assertNotIn("QueueUrls", self.sqs.list_queues(QueueNamePrefix="no-such-prefix"))

    def test_list_queues_pages_with_max_results_and_next_token(self):
        names = [f"page-{i}" for i in range(5)]
        for n in names:
            self.sqs.create_queue(QueueName=n)
        seen, token, pages = [], None, 0
        while True:
            kwargs = {"QueueNamePrefix": "page-", "MaxResults": 2}
            if token:
                kwargs["NextToken"] = token
            page = self.sqs.list_queues(**kwargs)
            pages += 1
            self.assertLessEqual(len(page["QueueUrls"]), 2)
            seen += page["QueueUrls"]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(sorted(u.rsplit("/", 1)[1] for u in seen), names)
        paginated = [u for p in self.sqs.get_paginator("list_queues").paginate(
            QueueNamePrefix="page-", PaginationConfig={"PageSize": 3}) for u in p["QueueUrls"]]
        self.assertEqual(sorted(paginated), sorted(seen))
        self.assertNotIn("NextToken", self.sqs.list_queues(QueueNamePrefix="page-"))
        self.assert_sqs_error("InvalidParameterValue", self.sqs.list_queues, MaxResults=1001)

    def test_delete_queue_removes_it_and_its_messages(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="gone with the queue")
        self.sqs.delete_queue(QueueUrl=url)
        self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url, QueueName=name)
        self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.send_message, QueueUrl=url,
                              MessageBody="x")
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url))

    # -- Get/SetQueueAttributes --------------------------------------------------------------------
    def test_get_queue_attributes_all_lists_every_standard_attribute(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(set(attrs), {
            "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
            "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled"})
        self.assertEqual(attrs["VisibilityTimeout"], "30")
        self.assertEqual(attrs["MaximumMessageSize"], "1048576")
        self.assertEqual(attrs["MessageRetentionPeriod"], "345600")
        self.assertEqual(attrs["DelaySeconds"], "0")
        self.assertEqual(attrs["ReceiveMessageWaitTimeSeconds"], "0")
        self.assertTrue(attrs["CreatedTimestamp"].isdigit() and len(attrs["CreatedTimestamp"]) == 10)

    def test_get_queue_attributes_of_a_fifo_queue_adds_the_fifo_attributes(self):
        url = self.sqs.create_queue(QueueName=self.queue_name(".fifo"), Attributes={"FifoQueue": "true"})["QueueUrl"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["FifoQueue"], "true")
        self.assertEqual(attrs["ContentBasedDeduplication"], "false")
        self.assertEqual(attrs["DeduplicationScope"], "queue")
        self.assertEqual(attrs["FifoThroughputLimit"], "perQueue")

    def test_get_queue_attributes_returns_only_the_named_ones(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        got = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
        self.assertEqual(got["Attributes"], {"VisibilityTimeout": "30", "DelaySeconds": "0"})
        self.assertNotIn("Attributes", self.sqs.get_queue_attributes(QueueUrl=url))
        self.assert_sqs_error("InvalidAttributeName", self.sqs.get_queue_attributes, QueueUrl=url,
                              AttributeNames=["NoSuchAttribute"])

    def test_approximate_counts_follow_visible_in_flight_and_delayed_messages(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        for i in range(3):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        self.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
        self.assertEqual(len(self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]), 1)
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        self.assertEqual(attrs, {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "1",
                                 "ApproximateNumberOfMessagesDelayed": "1"})

    def test_set_queue_attributes_changes_them(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "2"})
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual((attrs["VisibilityTimeout"], attrs["DelaySeconds"]), ("45", "2"))
        self.assert_sqs_error("InvalidAttributeValue", self.sqs.set_queue_attributes, QueueUrl=url,
                              Attributes={"VisibilityTimeout": "50000"})
        self.assert_sqs_error("InvalidAttributeName", self.sqs.set_queue_attributes, QueueUrl=url,
                              Attributes={"Colour": "blue"})

    def test_set_redrive_policy_needs_an_existing_dead_letter_queue_of_the_same_type(self):
        url = self.sqs.create_queue(QueueName=self.queue_name("-src"))["QueueUrl"]
        dlq_url = self.sqs.create_queue(QueueName=self.queue_name("-dlq"))["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
        got = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        self.assertEqual(json.loads(got["RedrivePolicy"]), {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        missing = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:nope", "maxReceiveCount": 3})
        self.assert_sqs_error("InvalidParameterValue", self.sqs.set_queue_attributes, QueueUrl=url,
                              Attributes={"RedrivePolicy": missing})
        fifo_url = self.sqs.create_queue(QueueName=self.queue_name(".fifo"), Attributes={"FifoQueue": "true"})["QueueUrl"]
        self.assert_sqs_error("InvalidParameterValue", self.sqs.set_queue_attributes, QueueUrl=fifo_url,
                              Attributes={"RedrivePolicy": policy})
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
        self.assertNotIn("Attributes", self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]))

    # -- tags ------------------------------------------------------------------------------------
    def test_tag_untag_and_list_queue_tags(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        self.assertNotIn("Tags", self.sqs.list_queue_tags(QueueUrl=url))
        self.sqs.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2"})
        self.sqs.tag_queue(QueueUrl=url, Tags={"b": "3", "c": "4"})
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"a": "1", "b": "3", "c": "4"})
        self.sqs.untag_queue(QueueUrl=url, TagKeys=["a", "c", "never-set"])
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"b": "3"})

    # -- the AWS CLI -----------------------------------------------------------------------------
    def test_cli_creates_lists_and_reads_a_queue(self):
        name = self.queue_name()
        rc, out, err = self.esmd.aws("sqs", "create-queue", "--queue-name", name,
                                     "--attributes", "VisibilityTimeout=12", "--tags", "k=v")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["QueueUrl"], f"{self.esmd.url}/{ACCOUNT}/{name}")
        rc, out, err = self.esmd.aws("sqs", "get-queue-attributes", "--queue-url", f"{self.esmd.url}/{ACCOUNT}/{name}",
                                     "--attribute-names", "VisibilityTimeout", check=True)
        self.assertEqual(out["Attributes"], {"VisibilityTimeout": "12"})
        rc, out, err = self.esmd.aws("sqs", "list-queues", "--queue-name-prefix", name, check=True)
        self.assertEqual(out["QueueUrls"], [f"{self.esmd.url}/{ACCOUNT}/{name}"])

    def test_cli_reports_a_missing_queue_with_the_aws_code(self):
        rc, out, err = self.esmd.aws("sqs", "get-queue-url", "--queue-name", "not-there")
        self.assertNotEqual(rc, 0)
        self.assertIn("AWS.SimpleQueueService.NonExistentQueue", err)
        self.assertIn("The specified queue does not exist.", err)

    # -- the JSON protocol on the wire -----------------------------------------------------------
    def json_call(self, op, body):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.esmd.http("POST", "/", data, {"X-Amz-Target": f"AmazonSQS.{op}",
                                                  "Content-Type": "application/x-amz-json-1.0"})

    def test_json_errors_carry_the_shape_type_and_the_query_code_header(self):
        status, headers, body = self.json_call("GetQueueUrl", {"QueueName": "nope"})
        self.assertEqual(status, 400)
        doc = json.loads(body)
        self.assertEqual(doc["__type"], "com.amazonaws.sqs#QueueDoesNotExist")
        self.assertEqual(doc["message"], "The specified queue does not exist.")
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(headers["x-amzn-query-error"], "AWS.SimpleQueueService.NonExistentQueue;Sender")
        self.assertTrue(headers["content-type"].startswith("application/x-amz-json-1.0"))
        self.assertTrue(headers.get("x-amzn-requestid"))

    def test_malformed_json_missing_parameters_and_unknown_operations_are_errors_not_crashes(self):
        status, headers, body = self.json_call("CreateQueue", b"{not json")
        self.assertEqual(status, 400)
        self.assertIn("__type", json.loads(body))
        status, headers, body = self.json_call("CreateQueue", {})
        self.assertEqual(status, 400)
        self.assertEqual({k.lower(): v for k, v in headers.items()}["x-amzn-query-error"], "MissingParameter;Sender")
        status, headers, body = self.json_call("CreateQueue", {"QueueName": 5})
        self.assertEqual(status, 400)
        status, headers, body = self.json_call("CreateQueue", {"QueueName": "q", "Attributes": ["x"]})
        self.assertEqual(status, 400)
        status, headers, body = self.json_call("NoSuchOperation", {})
        self.assertEqual(status, 400)
        status, _, body = self.esmd.http("GET", "/_esmd/health")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
