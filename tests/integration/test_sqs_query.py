"""SQS's query protocol (Action=<Op>, form-encoded, XML answers), as older SDKs and Debian's
AWS CLI v2 speak it.

Two kinds of proof: a real botocore client and the real AWS CLI whose SQS model says
protocol 'query' (sqs_support.query_model), so botocore's own query serializer and XML parser
talk to esmd; and raw form requests whose XML is read element by element against AWS's
element names."""
import base64
import json
import shutil
import subprocess
import unittest

from esmd_harness import ACCOUNT, Esmd
from sqs_support import (SqsTestCase, children, find, findall, md5_of_attributes, md5_of_body, query_client,
                         query_data_path, query_request, text)

ATTRIBUTES = {
    "s": {"DataType": "String", "StringValue": "text ✓"},
    "n": {"DataType": "Number", "StringValue": "42"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
}


class SqsQueryClientTest(SqsTestCase, unittest.TestCase):
    """botocore and the AWS CLI on the query protocol."""

    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.data_path = query_data_path()
        cls.sqs = query_client(cls.esmd, cls.data_path)

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()
        shutil.rmtree(cls.data_path, ignore_errors=True)

    def aws(self, *args):
        env = self.esmd.env()
        env["AWS_DATA_PATH"] = self.data_path
        p = subprocess.run(["aws", *args, "--endpoint-url", self.esmd.url, "--output", "json", "--debug"],
                           capture_output=True, text=True, env=env, timeout=120)
        return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr

    def test_the_client_really_speaks_the_query_protocol(self):
        seen = []
        self.sqs.meta.events.register("before-send.sqs.*", lambda request, **_: seen.append(request))
        self.sqs.list_queues()
        body = seen[-1].body
        body = body.decode() if isinstance(body, bytes) else body
        self.assertEqual(seen[-1].headers["Content-Type"], b"application/x-www-form-urlencoded; charset=utf-8")
        self.assertIn("Action=ListQueues", body)
        self.assertNotIn("X-Amz-Target", seen[-1].headers)

    def test_queue_lifecycle(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9", "DelaySeconds": "0"},
                                    tags={"team": "esm"})["QueueUrl"]
        self.assertEqual(url, f"{self.esmd.url}/{ACCOUNT}/{name}")
        self.assertEqual(self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9"})["QueueUrl"], url)
        e = self.assert_sqs_error("QueueAlreadyExists", self.sqs.create_queue, QueueName=name,
                                  Attributes={"VisibilityTimeout": "10"})
        self.assertIsInstance(e, self.sqs.exceptions.QueueNameExists)
        self.assertEqual(self.sqs.get_queue_url(QueueName=name)["QueueUrl"], url)
        self.assertIn(url, self.sqs.list_queues(QueueNamePrefix=name)["QueueUrls"])
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["VisibilityTimeout"], "9")
        self.assertEqual(attrs["QueueArn"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "11", "DelaySeconds": "1"})
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
        self.assertEqual(attrs["Attributes"], {"VisibilityTimeout": "11", "DelaySeconds": "1"})
        self.sqs.tag_queue(QueueUrl=url, Tags={"env": "dev", "tier": "1"})
        self.sqs.untag_queue(QueueUrl=url, TagKeys=["tier"])
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"team": "esm", "env": "dev"})
        self.sqs.delete_queue(QueueUrl=url)
        e = self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url, QueueName=name)
        self.assertIsInstance(e, self.sqs.exceptions.QueueDoesNotExist)
        self.assertEqual(e.response["Error"]["Type"], "Sender")

    def test_list_queues_pages(self):
        for i in range(3):
            self.sqs.create_queue(QueueName=f"qpage-{i}")
        first = self.sqs.list_queues(QueueNamePrefix="qpage-", MaxResults=2)
        self.assertEqual(len(first["QueueUrls"]), 2)
        rest = self.sqs.list_queues(QueueNamePrefix="qpage-", MaxResults=2, NextToken=first["NextToken"])
        self.assertEqual(len(rest["QueueUrls"]), 1)
        self.assertNotIn("NextToken", rest)

    def test_send_and_receive_with_attributes_and_digests(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        body = "query <body> & ünïcode 🚀\r\n"
        sent = self.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=ATTRIBUTES)
        self.assertEqual(sent["MD5OfMessageBody"], md5_of_body(body))
        self.assertEqual(sent["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))
        [m] = self.sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"],
                                       VisibilityTimeout=0)["Messages"]
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MD5OfBody"], md5_of_body(body))
        self.assertEqual(m["MessageAttributes"], ATTRIBUTES)
        self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(set(m["Attributes"]), {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
                                                "ApproximateFirstReceiveTimestamp"})
        [m] = self.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["s"],
                                       AttributeNames=["ApproximateReceiveCount"])["Messages"]
        self.assertEqual(m["MessageAttributes"], {"s": ATTRIBUTES["s"]})
        self.assertEqual(m["Attributes"], {"ApproximateReceiveCount": "2"})
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        [m] = self.sqs.receive_message(QueueUrl=url)["Messages"]
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1))

    def test_batches_with_partial_failures(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        out = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "first", "MessageAttributes": ATTRIBUTES},
            {"Id": "b", "MessageBody": "bad \x01"},
            {"Id": "c", "MessageBody": "second", "DelaySeconds": 0},
        ])
        ok = {e["Id"]: e for e in out["Successful"]}
        self.assertEqual(set(ok), {"a", "c"})
        self.assertEqual(ok["a"]["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))
        self.assertEqual(ok["c"]["MD5OfMessageBody"], md5_of_body("second"))
        self.assertEqual([(f["Id"], f["Code"], f["SenderFault"]) for f in out["Failed"]],
                         [("b", "InvalidMessageContents", True)])
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(sorted(m["Body"] for m in got), ["first", "second"])
        out = self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "v0", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "nope", "VisibilityTimeout": 0}])
        self.assertEqual([e["Id"] for e in out["Successful"]], ["v0"])
        self.assertEqual([f["Code"] for f in out["Failed"]], ["ReceiptHandleIsInvalid"])
        out = self.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "d1", "ReceiptHandle": got[1]["ReceiptHandle"]}, {"Id": "bad", "ReceiptHandle": "nope"}])
        self.assertEqual([e["Id"] for e in out["Successful"]], ["d1"])
        self.assertEqual([f["Id"] for f in out["Failed"]], ["bad"])
        for code, entries in (("AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                               [{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}]),
                              ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                               [{"Id": f"i{i}", "MessageBody": "1"} for i in range(11)]),
                              ("AWS.SimpleQueueService.InvalidBatchEntryId", [{"Id": "a.b", "MessageBody": "1"}])):
            with self.subTest(code=code):
                self.assert_sqs_error(code, self.sqs.send_message_batch, QueueUrl=url, Entries=entries)
        self.sqs.purge_queue(QueueUrl=url)
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url))

    def test_errors_carry_aws_codes(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        [m] = self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
        e = self.assert_sqs_error("AWS.SimpleQueueService.MessageNotInflight", self.sqs.change_message_visibility,
                                  QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5)
        self.assertIsInstance(e, self.sqs.exceptions.MessageNotInflight)
        self.assert_sqs_error("InvalidMessageContents", self.sqs.send_message, QueueUrl=url, MessageBody="\x00")
        self.assert_sqs_error("InvalidAttributeName", self.sqs.get_queue_attributes, QueueUrl=url,
                              AttributeNames=["Nope"])
        self.assert_sqs_error("InvalidParameterValue", self.sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)

    def test_fifo_over_the_query_protocol(self):
        url = self.sqs.create_queue(QueueName=self.queue_name(".fifo"),
                                    Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
        a = self.sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
        b = self.sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
        self.assertEqual(a["MessageId"], b["MessageId"])
        c = self.sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g")
        self.assertGreater(int(c["SequenceNumber"]), int(a["SequenceNumber"]))
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
        self.assertEqual([m["Body"] for m in got], ["one", "two"])
        self.assertEqual(got[1]["Attributes"]["SequenceNumber"], c["SequenceNumber"])
        self.assertEqual(got[1]["Attributes"]["MessageGroupId"], "g")

    def test_the_aws_cli_on_the_query_protocol(self):
        name = self.queue_name()
        rc, out, err = self.aws("sqs", "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=5")
        self.assertEqual(rc, 0, err[-2000:])
        self.assertIn("'Action': 'CreateQueue'", err)
        self.assertIn("'Attribute.1.Name': 'VisibilityTimeout'", err)
        url = out["QueueUrl"]
        rc, out, err = self.aws("sqs", "send-message", "--queue-url", url, "--message-body", "cli query",
                                "--message-attributes", json.dumps({"k": {"DataType": "Number", "StringValue": "7"}}))
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(out["MD5OfMessageAttributes"],
                         md5_of_attributes({"k": {"DataType": "Number", "StringValue": "7"}}))
        rc, out, err = self.aws("sqs", "receive-message", "--queue-url", url, "--attribute-names", "All",
                                "--message-attribute-names", "All")
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(out["Messages"][0]["Body"], "cli query")
        self.assertEqual(out["Messages"][0]["MessageAttributes"], {"k": {"DataType": "Number", "StringValue": "7"}})
        rc, out, err = self.aws("sqs", "get-queue-url", "--queue-name", "no-such-queue")
        self.assertNotEqual(rc, 0)
        self.assertIn("An error occurred (AWS.SimpleQueueService.NonExistentQueue)", err)


class SqsQueryXmlTest(SqsTestCase, unittest.TestCase):
    """Raw form requests, XML read against AWS's element names."""

    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        status, _, root = query_request(cls.esmd, "CreateQueue", {"QueueName": "xml"})
        cls.url = text(root, "CreateQueueResult/QueueUrl")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def call(self, action, params=None, **kwargs):
        status, headers, root = query_request(self.esmd, action, params, **kwargs)
        self.assertEqual(status, 200, (action, root and children(root)))
        self.assertEqual(root.tag, f"{{http://queue.amazonaws.com/doc/2012-11-05/}}{action}Response")
        request_id = text(root, "ResponseMetadata/RequestId")
        self.assertTrue(request_id)
        self.assertEqual(headers.get("x-amzn-RequestId") or headers.get("x-amzn-requestid"), request_id)
        self.assertTrue(headers["Content-Type"].startswith("text/xml"))
        return root

    def fail_call(self, action, params=None):
        status, headers, root = query_request(self.esmd, action, params)
        self.assertEqual(root.tag, "{http://queue.amazonaws.com/doc/2012-11-05/}ErrorResponse")
        self.assertEqual(children(root), ["Error", "RequestId"])
        self.assertTrue(text(root, "RequestId"))
        return status, find(root, "Error")

    def test_create_queue_and_get_queue_url_answer_a_queue_url(self):
        root = self.call("CreateQueue", {"QueueName": "xml-two", "Attribute.1.Name": "VisibilityTimeout",
                                         "Attribute.1.Value": "20", "Tag.1.Key": "k", "Tag.1.Value": "v"})
        self.assertEqual(children(root), ["CreateQueueResult", "ResponseMetadata"])
        self.assertEqual(text(root, "CreateQueueResult/QueueUrl"), f"{self.esmd.url}/{ACCOUNT}/xml-two")
        root = self.call("GetQueueUrl", {"QueueName": "xml-two"})
        self.assertEqual(text(root, "GetQueueUrlResult/QueueUrl"), f"{self.esmd.url}/{ACCOUNT}/xml-two")
        root = self.call("ListQueueTags", {"QueueUrl": f"{self.esmd.url}/{ACCOUNT}/xml-two"})
        [t] = findall(root, "ListQueueTagsResult/Tag")
        self.assertEqual((text(t, "Key"), text(t, "Value")), ("k", "v"))

    def test_a_parameter_nested_a_million_levels_deep_is_ignored(self):
        # Found while fuzzing the query decoder (fuzz/sqs_input.cc): a 2 MB form key of a
        # million dots was decoded into a tree walked recursively, and the stack overflow
        # killed esmd. SQS ignores parameters it does not know; so does esmd, at any depth.
        root = self.call("SendMessage", {"QueueUrl": self.url, "MessageBody": "deep", "a." * 1_000_000 + "b": "1"})
        self.assertTrue(text(root, "SendMessageResult/MessageId"))
        self.assertEqual(self.esmd.proc.poll(), None)
        self.receive_and_delete_all()

    def test_send_message_result_elements(self):
        root = self.call("SendMessage", {
            "QueueUrl": self.url, "MessageBody": "xml body",
            "MessageAttribute.1.Name": "s", "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "text ✓",
            "MessageAttribute.2.Name": "b", "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x00\x01\xfe\xff").decode(),
            "MessageAttribute.3.Name": "n", "MessageAttribute.3.Value.DataType": "Number",
            "MessageAttribute.3.Value.StringValue": "42"})
        result = find(root, "SendMessageResult")
        self.assertEqual(set(children(result)), {"MD5OfMessageBody", "MD5OfMessageAttributes", "MessageId"})
        self.assertEqual(text(result, "MD5OfMessageBody"), md5_of_body("xml body"))
        self.assertEqual(text(result, "MD5OfMessageAttributes"), md5_of_attributes(ATTRIBUTES))
        self.assertTrue(text(result, "MessageId"))
        self.receive_and_delete_all()

    def receive_and_delete_all(self):
        root = self.call("ReceiveMessage", {"QueueUrl": self.url, "MaxNumberOfMessages": "10"})
        for m in findall(root, "ReceiveMessageResult/Message"):
            self.call("DeleteMessage", {"QueueUrl": self.url, "ReceiptHandle": text(m, "ReceiptHandle")})

    def test_receive_message_result_elements(self):
        self.call("SendMessage", {
            "QueueUrl": self.url, "MessageBody": "<b>&\"'</b>\r\n",
            "MessageAttribute.1.Name": "s", "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "a<b",
            "MessageAttribute.2.Name": "b", "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\xff\x00").decode()})
        root = self.call("ReceiveMessage", {
            "QueueUrl": self.url, "AttributeName.1": "SentTimestamp", "AttributeName.2": "ApproximateReceiveCount",
            "MessageAttributeName.1": "All", "VisibilityTimeout": "0"})
        [m] = findall(root, "ReceiveMessageResult/Message")
        self.assertEqual(set(children(m)), {"MessageId", "ReceiptHandle", "MD5OfBody", "Body", "Attribute",
                                            "MD5OfMessageAttributes", "MessageAttribute"})
        self.assertEqual(text(m, "Body"), "<b>&\"'</b>\r\n")
        self.assertEqual(text(m, "MD5OfBody"), md5_of_body("<b>&\"'</b>\r\n"))
        attrs = {text(a, "Name"): text(a, "Value") for a in findall(m, "Attribute")}
        self.assertEqual(set(attrs), {"SentTimestamp", "ApproximateReceiveCount"})
        self.assertEqual(attrs["ApproximateReceiveCount"], "1")
        mattrs = {}
        for a in findall(m, "MessageAttribute"):
            self.assertEqual(children(a), ["Name", "Value"])
            value = find(a, "Value")
            self.assertEqual(set(children(value)) - {"StringValue", "BinaryValue"}, {"DataType"})
            mattrs[text(a, "Name")] = {c: value.find(f"{{http://queue.amazonaws.com/doc/2012-11-05/}}{c}").text
                                       for c in children(value)}
        self.assertEqual(mattrs, {"s": {"StringValue": "a<b", "DataType": "String"},
                                  "b": {"BinaryValue": base64.b64encode(b"\xff\x00").decode(), "DataType": "Binary"}})
        self.assertEqual(text(m, "MD5OfMessageAttributes"), md5_of_attributes({
            "s": {"DataType": "String", "StringValue": "a<b"}, "b": {"DataType": "Binary", "BinaryValue": b"\xff\x00"}}))
        self.receive_and_delete_all()

    def test_an_empty_receive_has_an_empty_result(self):
        root = self.call("ReceiveMessage", {"QueueUrl": self.url})
        self.assertEqual(children(root), ["ReceiveMessageResult", "ResponseMetadata"])
        self.assertEqual(children(find(root, "ReceiveMessageResult")), [])

    def test_batch_result_elements(self):
        root = self.call("SendMessageBatch", {
            "QueueUrl": self.url,
            "SendMessageBatchRequestEntry.1.Id": "good", "SendMessageBatchRequestEntry.1.MessageBody": "fine",
            "SendMessageBatchRequestEntry.2.Id": "bad", "SendMessageBatchRequestEntry.2.MessageBody": "\x08"})
        result = find(root, "SendMessageBatchResult")
        self.assertEqual(children(result), ["SendMessageBatchResultEntry", "BatchResultErrorEntry"])
        ok = find(result, "SendMessageBatchResultEntry")
        self.assertEqual(set(children(ok)), {"Id", "MessageId", "MD5OfMessageBody"})
        self.assertEqual(text(ok, "MD5OfMessageBody"), md5_of_body("fine"))
        err = find(result, "BatchResultErrorEntry")
        self.assertEqual(set(children(err)), {"Id", "SenderFault", "Code", "Message"})
        self.assertEqual((text(err, "Id"), text(err, "SenderFault"), text(err, "Code")),
                         ("bad", "true", "InvalidMessageContents"))
        root = self.call("ReceiveMessage", {"QueueUrl": self.url})
        handle = text(root, "ReceiveMessageResult/Message/ReceiptHandle")
        root = self.call("DeleteMessageBatch", {
            "QueueUrl": self.url, "DeleteMessageBatchRequestEntry.1.Id": "d",
            "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle})
        self.assertEqual(text(root, "DeleteMessageBatchResult/DeleteMessageBatchResultEntry/Id"), "d")

    def test_error_response_elements(self):
        status, error = self.fail_call("GetQueueUrl", {"QueueName": "absent"})
        self.assertEqual(status, 400)
        self.assertEqual(text(error, "Type"), "Sender")
        self.assertEqual(text(error, "Code"), "AWS.SimpleQueueService.NonExistentQueue")
        self.assertEqual(text(error, "Message"), "The specified queue does not exist.")
        status, error = self.fail_call("SendMessageBatch", {"QueueUrl": self.url})
        self.assertEqual((status, text(error, "Code")), (400, "AWS.SimpleQueueService.EmptyBatchRequest"))
        status, error = self.fail_call("SendMessage", {"QueueUrl": self.url})
        self.assertEqual((status, text(error, "Code")), (400, "MissingParameter"))
        status, error = self.fail_call("NoSuchAction")
        self.assertEqual((status, text(error, "Code")), (400, "InvalidAction"))
        status, error = self.fail_call("ReceiveMessage", {"QueueUrl": self.url, "MaxNumberOfMessages": "ten"})
        self.assertEqual((status, text(error, "Code")), (400, "InvalidParameterValue"))

    def test_get_queue_attributes_and_list_queues_elements(self):
        root = self.call("GetQueueAttributes", {"QueueUrl": self.url, "AttributeName.1": "All"})
        attrs = {text(a, "Name"): text(a, "Value") for a in findall(root, "GetQueueAttributesResult/Attribute")}
        self.assertEqual(attrs["QueueArn"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:xml")
        self.assertIn("ApproximateNumberOfMessages", attrs)
        root = self.call("ListQueues", {"QueueNamePrefix": "xml"})
        self.assertIn(self.url, [u.text for u in findall(root, "ListQueuesResult/QueueUrl")])
        root = self.call("ListQueues", {"QueueNamePrefix": "none-like-this"})
        self.assertEqual(children(find(root, "ListQueuesResult")), [])

    def test_actions_posted_to_the_queue_url_and_sent_as_get(self):
        path = f"/{ACCOUNT}/xml"
        root = self.call("SendMessage", {"MessageBody": "to the path"}, path=path)
        self.assertEqual(text(root, "SendMessageResult/MD5OfMessageBody"), md5_of_body("to the path"))
        status, headers, body = self.esmd.http("GET", f"{path}?Action=ReceiveMessage&Version=2012-11-05")
        self.assertEqual(status, 200)
        self.assertIn(b"<Body>to the path</Body>", body)
        self.receive_and_delete_all()


if __name__ == "__main__":
    unittest.main()
