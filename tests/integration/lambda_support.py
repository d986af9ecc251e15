"""What the Lambda control-plane integration tests share: source ARNs of each kind, raw
REST-JSON calls that bypass the SDKs' client-side validation, and checks of AWS's error wire
format (control-plane.md §2)."""
import json
import uuid as uuidlib

from esmd_harness import ACCOUNT, wait_until

MAPPINGS = "/2015-03-31/event-source-mappings"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:kafka-creds-AbCdEf"
STABLE = ("Enabled", "Disabled")


def sqs_arn(name, region="us-east-1"):
    return f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"


def kinesis_arn(name, region="us-east-1"):
    return f"arn:aws:kinesis:{region}:{ACCOUNT}:stream/{name}"


def dynamodb_arn(table, region="us-east-1"):
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}/stream/2024-01-01T00:00:00.000"


def msk_arn(name, region="us-east-1"):
    return f"arn:aws:kafka:{region}:{ACCOUNT}:cluster/{name}/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f-1"


def mq_arn(name, region="us-east-1"):
    return f"arn:aws:mq:{region}:{ACCOUNT}:broker:{name}:b-6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"


def docdb_arn(name, region="us-east-1"):
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{name}"


def function_arn(name, region="us-east-1"):
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def mapping_arn(uuid, region="us-east-1"):
    return f"arn:aws:lambda:{region}:{ACCOUNT}:event-source-mapping:{uuid}"


def unique(prefix):
    return f"{prefix}-{uuidlib.uuid4().hex[:10]}"


def kafka_body(function="fn", servers=("kafka:1000",), topic="topic", **extra):
    body = {"FunctionName": function,
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": list(servers)}},
            "Topics": [topic],
            "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": SECRET}]}
    body.update(extra)
    return body


def create_queue(esmd, name, region="us-east-1"):
    """Creates an SQS queue in esmd (mappings need an existing queue) and returns its ARN."""
    attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    esmd.client("sqs", region=region).create_queue(QueueName=name, Attributes=attributes)
    return sqs_arn(name, region)


def call(esmd, method, path, body=None, headers=None):
    """A raw request; a dict body is sent as JSON. Returns (status, headers, parsed JSON or None)."""
    if isinstance(body, dict):
        body = json.dumps(body)
    status, hdrs, raw = esmd.http(method, path, body, headers)
    return status, hdrs, (json.loads(raw) if raw else None)


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def settle(client, uuid, timeout=10):
    """Waits until a mapping is in a stable state and returns its configuration."""
    return wait_until(lambda: (lambda m: m if m["State"] in STABLE else None)(
        client.get_event_source_mapping(UUID=uuid)), timeout=timeout, message=f"{uuid} stable")


def strip(response):
    out = dict(response)
    out.pop("ResponseMetadata", None)
    return out


class ErrorAssertions:
    """Mixed into a unittest.TestCase."""

    # Exception -> (HTTP status, message member, has "Type":"User")
    SHAPES = {
        "InvalidParameterValueException": (400, "message", True),
        "ValidationException": (400, "message", False),
        "ResourceNotFoundException": (404, "Message", True),
        "ResourceConflictException": (409, "message", True),
        "ResourceInUseException": (400, "Message", True),
        "RequestEntityTooLargeException": (413, "message", True),
    }

    def assert_error(self, response, error_type, message=None):
        """Checks status, X-Amzn-Errortype, x-amzn-RequestId, the exact body members and text.
        response is what call() returns. Returns the message."""
        status, headers, body = response
        want_status, member, has_type = self.SHAPES[error_type]
        self.assertEqual(status, want_status, body)
        self.assertEqual(header(headers, "X-Amzn-Errortype"), error_type)
        request_id = header(headers, "x-amzn-RequestId")
        self.assertIsNotNone(request_id)
        uuidlib.UUID(request_id)
        self.assertIn("json", header(headers, "Content-Type"))
        expected_keys = (["Type"] if has_type else []) + [member]
        self.assertEqual(list(body.keys()), expected_keys, body)
        if has_type:
            self.assertEqual(body["Type"], "User")
        if message is not None:
            self.assertEqual(body[member], message)
        return body[member]

    def assert_ipve(self, response, message):
        return self.assert_error(response, "InvalidParameterValueException", message)

    def assert_client_error(self, fn, code, message=None, **kwargs):
        """A boto3 call fails with this AWS error code (and message)."""
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn(**kwargs)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code)
        if message is not None:
            self.assertEqual(err["Message"], message)
        return cm.exception.response
