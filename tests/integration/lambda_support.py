"""What the Lambda control-plane integration tests share: source ARNs of each kind, raw
REST-JSON calls that bypass the SDKs' client-side validation, checks of AWS's error wire
format (control-plane.md §2), and what the installed AWS CLI and boto3 know.

The tests run with whatever clients the machine has: current pip ones, or Debian 12's AWS CLI
2.9 and boto3 1.26 (botocore 1.29), whose Lambda models predate Tags on create, ScalingConfig
(boto3), DocumentDBEventSourceConfig, KMSKeyArn, MetricsConfig, LoggingConfig,
ProvisionedPollerConfig and EventSourceMappingArn. A client refuses members its model lacks
and drops them from answers, so where the installed client lacks a member a test sends that
request (or reads that answer) as raw REST-JSON instead: what it proves about esmd stays the
same, and only the client's own part (parsing the option, printing the member) is left out."""
import datetime
import functools
import gzip
import json
import os
import re
import subprocess
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


def region_headers(region):
    """An Authorization header whose SigV4 credential scope names `region` (esmd takes a
    request's region from it and checks no signature)."""
    if region is None:
        return {}
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=test/20240101/{region}/lambda/aws4_request, "
                             "SignedHeaders=host, Signature=0"}


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def settle(client, uuid, timeout=10):
    """Waits until a mapping is in a stable state and returns its configuration."""
    return wait_until(lambda: (lambda m: m if m["State"] in STABLE else None)(
        client.get_event_source_mapping(UUID=uuid)), timeout=timeout, message=f"{uuid} stable")


def settle_raw(esmd, uuid, timeout=10, region=None):
    """settle() through raw REST-JSON: the configuration with every member esmd answers."""
    return wait_until(lambda: (lambda m: m if m["State"] in STABLE else None)(
        get_raw(esmd, uuid, region=region)), timeout=timeout, message=f"{uuid} stable")


def strip(response):
    out = dict(response)
    out.pop("ResponseMetadata", None)
    return out


# -- what the installed clients know ------------------------------------------------------------
def _members(model, operation, output):
    """Member names of an operation's input or output shape in a service-2.json model dict."""
    op = model["operations"][operation]
    ref = op.get("output" if output else "input")
    return set(model["shapes"][ref["shape"]]["members"]) if ref else set()


def boto_has(client, operation, *members, output=False):
    """Whether the boto3 client's model of `operation` has every one of `members` in its input
    (or output): botocore refuses unknown input members and drops unknown output members."""
    model = client.meta.service_model.operation_model(operation)
    shape = model.output_shape if output else model.input_shape
    return shape is not None and all(m in shape.members for m in members)


@functools.lru_cache(maxsize=None)
def cli_model(service="lambda"):
    """The service model the AWS CLI itself loads (its own botocore: CLI v2 bundles one, which
    can be older than boto3's), found through the path its --debug log names; None when the
    log does not say."""
    p = subprocess.run(["aws", "--debug", service, _SKELETON_COMMAND[service], "--generate-cli-skeleton", "input"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""})
    found = re.search(rf"Loading JSON file: (\S*/{service}/[0-9-]+/service-2\.json(?:\.gz)?)", p.stderr)
    if not found:
        return None
    path = found.group(1)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


_SKELETON_COMMAND = {"lambda": "list-event-source-mappings", "sqs": "list-queues"}


def cli_has(operation, *members, output=False, service="lambda"):
    """Whether the AWS CLI's model of `operation` has every one of `members`: the CLI refuses
    options (and --cli-input-json members) its model lacks, and drops unknown answer members."""
    model = cli_model(service)
    if model is None:
        return True
    return all(m in _members(model, operation, output) for m in members)


@functools.lru_cache(maxsize=None)
def cli_major_version():
    """1 for aws-cli 1.x, 2 for AWS CLI v2 (which prints timestamps as ISO 8601 strings)."""
    out = subprocess.run(["aws", "--version"], capture_output=True, text=True, timeout=60)
    found = re.search(r"aws-cli/(\d+)\.", out.stdout + out.stderr)
    return int(found.group(1)) if found else 1


def cli_timestamp(test, value):
    """A timestamp as the AWS CLI prints it, checked and turned into epoch seconds: v1 prints
    the wire value (esmd's epoch seconds, a float), v2 an ISO 8601 string by default."""
    if cli_major_version() < 2:
        test.assertIsInstance(value, float)
        return value
    test.assertIsInstance(value, str)
    test.assertRegex(value, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def epoch(value):
    """LastModified as epoch seconds whether it came from boto3 (a datetime) or raw JSON."""
    return value.timestamp() if isinstance(value, datetime.datetime) else float(value)


# -- requests that fall back to raw REST-JSON ------------------------------------------------------
def raw_operation(esmd, operation, method, path, body=None, region=None):
    """One Lambda request as raw REST-JSON, answered the way boto3 answers: the parsed body plus
    ResponseMetadata, or a botocore ClientError built from AWS's error wire format."""
    from botocore.exceptions import ClientError
    status, headers, doc = call(esmd, method, path, body, region_headers(region))
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": {k.lower(): v for k, v in headers.items()},
                "RequestId": header(headers, "x-amzn-RequestId")}
    if status >= 300:
        doc = doc or {}
        raise ClientError({"Error": {"Code": header(headers, "X-Amzn-Errortype"),
                                     "Message": doc.get("message", doc.get("Message"))},
                           "ResponseMetadata": metadata}, operation)
    doc = dict(doc or {})
    doc["ResponseMetadata"] = metadata
    return doc


def get_raw(esmd, uuid, region=None):
    out = raw_operation(esmd, "GetEventSourceMapping", "GET", f"{MAPPINGS}/{uuid}", region=region)
    out.pop("ResponseMetadata")
    return out


def create_mapping(esmd, client, reads=(), region=None, **params):
    """CreateEventSourceMapping through boto3, or as raw REST-JSON when boto3's model lacks a
    member of `params` or of `reads` (answer members the caller reads)."""
    if boto_has(client, "CreateEventSourceMapping", *params) and \
            boto_has(client, "CreateEventSourceMapping", *reads, output=True):
        return client.create_event_source_mapping(**params)
    return raw_operation(esmd, "CreateEventSourceMapping", "POST", MAPPINGS, params, region=region)


def update_mapping(esmd, client, UUID, reads=(), region=None, **params):  # noqa: N803 - boto3's name
    """UpdateEventSourceMapping through boto3, or as raw REST-JSON (see create_mapping)."""
    if boto_has(client, "UpdateEventSourceMapping", *params) and \
            boto_has(client, "UpdateEventSourceMapping", *reads, output=True):
        return client.update_event_source_mapping(UUID=UUID, **params)
    return raw_operation(esmd, "UpdateEventSourceMapping", "PUT", f"{MAPPINGS}/{UUID}", params, region=region)


def get_mapping(esmd, client, uuid, reads=(), region=None):
    """GetEventSourceMapping through boto3 when its model has every member in `reads`, else raw."""
    if boto_has(client, "GetEventSourceMapping", *reads, output=True):
        return client.get_event_source_mapping(UUID=uuid)
    return raw_operation(esmd, "GetEventSourceMapping", "GET", f"{MAPPINGS}/{uuid}", region=region)


def settle_mapping(esmd, client, uuid, reads=(), timeout=10):
    """settle() through boto3 when its model has every member in `reads`, else raw."""
    if boto_has(client, "GetEventSourceMapping", *reads, output=True):
        return settle(client, uuid, timeout=timeout)
    return settle_raw(esmd, uuid, timeout=timeout)


def mapping_arn_of(client, created):
    """The EventSourceMappingArn of a create answer; computed from the UUID only when boto3's
    model lacks the member (botocore < 1.35 drops it)."""
    if boto_has(client, "CreateEventSourceMapping", "EventSourceMappingArn", output=True) or \
            "EventSourceMappingArn" in created:
        return created["EventSourceMappingArn"]
    return mapping_arn(created["UUID"], client.meta.region_name)


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


def create_stream(esmd, name, region="us-east-1", shards=1):
    """Creates a Kinesis stream in esmd (mappings need an existing stream) and returns its ARN;
    a stream that already exists is kept."""
    kinesis = esmd.client("kinesis", region=region)
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
    except kinesis.exceptions.ResourceInUseException:
        pass
    return kinesis_arn(name, region)
