#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; rerun after a format
change of a harness). The HTTP, SigV4, Lambda, SQS-JSON and Kinesis seeds are the requests
botocore itself builds (serialised and signed offline, nothing is sent); the SQS query seeds
are what AWS CLI v2 (query protocol) posts; the Kafka seeds are request frames built as
clients build them, around record batches captured from librdkafka and kafka-python
(tests/services/kafka/fixtures); the filter seeds are the pattern/event pairs of
tests/pollers/filter_test.cc."""
import hashlib
import os
import re
import struct
import sys

import botocore.session
from botocore.awsrequest import AWSResponse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "services", "kafka", "fixtures")


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


# ---- requests as botocore builds them -----------------------------------------------------

captured = []


class _Raw:
    def stream(self, **kwargs):
        return iter([b"{}"])


def capture(service, op, **params):
    """Serialises and signs one call; returns (method, target, headers, body)."""
    session = botocore.session.get_session()
    client = session.create_client(service, region_name="us-east-1", endpoint_url="http://localhost:9324",
                                   aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    got = {}

    def before_send(request, **kwargs):
        got["r"] = request
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send", before_send)
    try:
        getattr(client, op)(**params)
    except Exception:
        pass  # the dummy answer may not parse; the request was captured
    r = got["r"]
    url = r.url.split("localhost:9324", 1)[1] or "/"
    body = r.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in r.headers.items()]
    return r.method, url, headers, body


def http_bytes(method, target, headers, body, extra=()):
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost:9324"]
    names = {k.lower() for k, _ in headers}
    lines += [f"{k}: {v}" for k, v in headers]
    if "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


FN = "arn:aws:lambda:us-east-1:000000000000:function:f"
calls = {
    "lambda": [
        ("create_event_source_mapping", dict(FunctionName="f", EventSourceArn="arn:aws:sqs:us-east-1:000000000000:q",
                                             BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
                                             FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'}]},
                                             ScalingConfig={"MaximumConcurrency": 5})),
        ("create_event_source_mapping", dict(FunctionName=FN, EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
                                             StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1700000000,
                                             ParallelizationFactor=2, MaximumRetryAttempts=3, BisectBatchOnFunctionError=True,
                                             DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}},
                                             TumblingWindowInSeconds=60, Tags={"team": "a"})),
        ("create_event_source_mapping", dict(FunctionName="f", Topics=["t"], StartingPosition="LATEST",
                                             SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092"]}},
                                             SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "g"},
                                             SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:000000000000:secret:s"}])),
        ("update_event_source_mapping", dict(UUID="a1b2c3d4-5678-90ab-cdef-111111111111", BatchSize=50,
                                             MaximumBatchingWindowInSeconds=5, Enabled=False)),
        ("list_event_source_mappings", dict(FunctionName="f", MaxItems=5)),
        ("tag_resource", dict(Resource="arn:aws:lambda:us-east-1:000000000000:event-source-mapping:a1b2c3d4-5678-90ab-cdef-111111111111", Tags={"k": "v"})),
    ],
    "sqs": [
        ("send_message", dict(QueueUrl="http://localhost:9324/000000000000/q", MessageBody="hello", DelaySeconds=1,
                              MessageAttributes={"a": {"DataType": "String", "StringValue": "x"},
                                                 "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})),
        ("send_message_batch", dict(QueueUrl="http://localhost:9324/000000000000/q.fifo",
                                    Entries=[{"Id": "1", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
                                             {"Id": "2", "MessageBody": "b", "MessageGroupId": "g",
                                              "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}}}])),
        ("receive_message", dict(QueueUrl="http://localhost:9324/000000000000/q", MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                 AttributeNames=["All"], MessageAttributeNames=["All"])),
        ("create_queue", dict(QueueName="q.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}, tags={"t": "1"})),
        ("delete_message_batch", dict(QueueUrl="http://localhost:9324/000000000000/q", Entries=[{"Id": "x", "ReceiptHandle": "rh"}])),
        ("set_queue_attributes", dict(QueueUrl="http://localhost:9324/000000000000/q",
                                      Attributes={"RedrivePolicy": '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}'})),
    ],
    "kinesis": [
        ("put_record", dict(StreamName="s", Data=b"hello", PartitionKey="pk", ExplicitHashKey="1234")),
        ("put_records", dict(StreamARN="arn:aws:kinesis:us-east-1:000000000000:stream/s",
                             Records=[{"Data": b"a", "PartitionKey": "1"}, {"Data": b"\xff" * 20, "PartitionKey": "2"}])),
        ("create_stream", dict(StreamName="s", ShardCount=2)),
        ("get_shard_iterator", dict(StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="AT_TIMESTAMP",
                                    Timestamp=1700000000)),
        ("get_records", dict(ShardIterator="AAAAAAAAAAH", Limit=100)),
        ("list_shards", dict(StreamName="s", MaxResults=10)),
        ("add_tags_to_stream", dict(StreamName="s", Tags={"a": "b"})),
    ],
}

SQS_OPS = ["SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessageBatch", "CreateQueue",
           "SetQueueAttributes", "TagQueue", "ChangeMessageVisibilityBatch", "GetQueueAttributes", "ListQueues", "Bogus"]
# fuzz/kinesis_input.cc indexes the operation table in name order.
KINESIS_OPS = sorted(["AddTagsToStream", "CreateStream", "DecreaseStreamRetentionPeriod", "DeleteStream", "DescribeLimits",
                      "DescribeStream", "DescribeStreamSummary", "GetRecords", "GetShardIterator",
                      "IncreaseStreamRetentionPeriod", "ListShards", "ListStreams", "ListTagsForStream", "PutRecord",
                      "PutRecords", "RemoveTagsFromStream"])


def main():
    for service, ops in calls.items():
        for op, params in ops:
            method, target, headers, body = capture(service, op, **params)
            write("http_request", http_bytes(method, target, headers, body))
            auth = dict((k.lower(), v) for k, v in headers).get("authorization")
            if auth:
                write("sigv4", auth)
            amz_target = dict((k.lower(), v) for k, v in headers).get("x-amz-target", "")
            if service == "lambda" and op in ("create_event_source_mapping", "update_event_source_mapping"):
                write("mapping_codec", bytes([0 if op.startswith("create") else 2]) + body)
            if service == "sqs":
                name = amz_target.split(".", 1)[1]
                write("sqs_input", bytes([2 * SQS_OPS.index(name)]) + body)
            if service == "kinesis":
                name = amz_target.split(".", 1)[1]
                write("kinesis_input", bytes([KINESIS_OPS.index(name)]) + body)

    # HTTP framing beyond botocore: chunked, two pipelined requests, HTTP/1.0, a form post.
    write("http_request", b"POST /2015-03-31/event-source-mappings/ HTTP/1.1\r\nHost: localhost\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n")
    write("http_request", b"GET /2015-03-31/event-source-mappings/?FunctionName=f&Marker=%41%2b+x HTTP/1.1\r\n"
                          b"Host: 127.0.0.1:9324\r\n\r\nGET /_esmd/health HTTP/1.0\r\nOrigin: http://localhost:3000\r\n\r\n")
    write("http_request", b"OPTIONS / HTTP/1.1\r\nHost: esmd.test\r\nOrigin: http://localhost:3000\r\n"
                          b"Access-Control-Request-Method: POST\r\n\r\n")

    # SQS query protocol, as AWS CLI v2 posts it (and an older SDK's GET on the queue URL).
    query = [
        ("/", "Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Flocalhost%3A9324%2F000000000000%2Fq"
              "&MessageBody=hello&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String"
              "&MessageAttribute.1.Value.StringValue=x"),
        ("/", "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Flocalhost%3A9324%2F000000000000%2Fq"
              "&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x"
              "&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y"
              "&SendMessageBatchRequestEntry.2.DelaySeconds=5"),
        ("/", "Action=CreateQueue&Version=2012-11-05&QueueName=q&Attribute.1.Name=VisibilityTimeout"
              "&Attribute.1.Value=30&Tag.1.Key=t&Tag.1.Value=1"),
        ("/000000000000/q?Action=ReceiveMessage&MaxNumberOfMessages=10&AttributeName.1=All&MessageAttributeName=All", ""),
        ("/", "Action=GetQueueAttributes&QueueUrl=http://localhost/000000000000/q&AttributeName.1=All"),
    ]
    for target, body in query:
        write("sqs_input", bytes([1]) + (target + "\n" + body).encode())
        write("http_request", http_bytes("POST", target, [("Content-Type", "application/x-www-form-urlencoded")],
                                         body.encode()))
    write("sigv4", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-3/kinesis/aws4_request, "
                   "SignedHeaders=host;x-amz-date, Signature=abc")

    # Filter patterns and events from the unit tests.
    src = open(os.path.join(ROOT, "tests", "pollers", "filter_test.cc"), encoding="utf-8").read()
    pairs = re.findall(r'\{R"\((.*?)\)",\s*R"\((.*?)\)",\s*(?:true|false|M|NO)\}', src, re.S)
    pairs += re.findall(r'matches\(R"\((.*?)\)",\s*R"\((.*?)\)"\)', src, re.S)
    seen = set()
    for pattern, event in pairs:  # one event per pattern, a handful of patterns
        if "\n" in pattern or "\n" in event or pattern in seen or len(seen) >= 40:
            continue
        seen.add(pattern)
        write("filter", pattern + "\n" + event)
    write("filter", '{"body": {"n": [{"numeric": [">", 1, "<=", 5]}]}}\t{"a": [{"anything-but": {"prefix": "x"}}]}\n{"n": 2}')
    write("filter", '{"$or": [{"a": [{"cidr": "10.0.0.0/8"}]}, {"b": [{"wildcard": "*.png"}]}]}\n{"a": "10.1.2.3", "b": "x.png"}')

    # Function responses.
    for resp in [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 62\r\n\r\n"
        b'{"batchItemFailures":[{"itemIdentifier":"m-1"},{"itemIdentifier":"x"}]}'[:62 + 60],
        b"HTTP/1.1 200 OK\r\nX-Amz-Function-Error: Unhandled\r\nX-Amz-Executed-Version: 3\r\nContent-Length: 50\r\n\r\n"
        b'{"errorMessage":"boom","errorType":"Error","x":[1]}',
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2c\r\n"
        b'{"batchItemFailures":[{"itemIdentifier":"4959'
        b'\r\n0\r\n\r\n',
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nTask timed out after 3.00 seconds",
        b'HTTP/1.1 200 OK\r\nContent-Length: 90\r\n\r\n{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692538361571095921575989136588802"}]}',
    ]:
        write("classify", resp)

    # Kafka: record batches from real producers, and request frames around them.
    batches = {}
    for name in sorted(os.listdir(FIXTURES)):
        if name.endswith(".bin"):
            data = open(os.path.join(FIXTURES, name), "rb").read()
            batches[name] = data
            write("kafka_records", b"\x00" + data)
    write("kafka_records", b"\x01" + batches["librdkafka_none.bin"] + batches["kafka_python_zstd.bin"])

    def string(s):
        return struct.pack(">h", len(s)) + s.encode()

    def header(key, version, correlation=7):
        h = struct.pack(">hhi", key, version, correlation) + string("fuzz-seed")
        if key == 18 and version >= 3:
            h += b"\x00"
        return h

    def arr(n):
        return struct.pack(">i", n)

    frames = [
        header(18, 3) + b"\x05esmd\x041.0\x00",
        header(18, 0),
        header(3, 8) + arr(1) + string("t") + b"\x01\x00\x00",
        header(19, 4) + arr(1) + string("t2") + struct.pack(">ih", 2, 1) + arr(0) + arr(1) + string("retention.ms")
        + string("60000") + struct.pack(">i", 1000) + b"\x00",
        header(1, 11) + struct.pack(">iiiib", -1, 0, 1, 1 << 20, 1) + struct.pack(">ii", 0, -1) + arr(1) + string("t")
        + arr(1) + struct.pack(">iiqqi", 0, -1, 0, -1, 1 << 20) + arr(0) + string(""),
        header(2, 5) + struct.pack(">ib", -1, 1) + arr(1) + string("t") + arr(1) + struct.pack(">iiq", 0, -1, -2),
        header(10, 2) + string("g") + b"\x00",
        header(11, 5) + string("g") + struct.pack(">ii", 10000, 10000) + string("") + struct.pack(">h", -1)
        + string("consumer") + arr(1) + string("range") + struct.pack(">i", 12) + b"subscription",
        header(8, 7) + string("g") + struct.pack(">i", -1) + string("") + struct.pack(">h", -1) + arr(1) + string("t")
        + arr(1) + struct.pack(">iqi", 0, 1, -1) + string("meta"),
        header(22, 1) + struct.pack(">hi", -1, 1000),
    ]
    for name in ("librdkafka_none.bin", "librdkafka_zstd.bin", "kafka_python_gzip.bin"):
        b = batches[name]
        frames.append(header(0, 7) + struct.pack(">hhi", -1, -1, 1000) + arr(1) + string("t") + arr(1)
                      + struct.pack(">i", 0) + struct.pack(">i", len(b)) + b)
    for f in frames:
        write("kafka_request", f)


if __name__ == "__main__":
    sys.exit(main())
