"""What the SQS integration tests share: the MD5 digests as the AWS SDKs compute them, a real
botocore client that speaks SQS's query protocol, and raw query-protocol requests whose XML the
tests read element by element.

Current botocore describes SQS with the JSON protocol; the query protocol's serializer and
parser are still in botocore, but the model's query traits (flattened names such as
`Attribute.1.Name`, `MessageAttribute.1.Value.StringValue`, `SendMessageBatchRequestEntry.1.Id`,
and each operation's `<OpResult>` wrapper) were dropped from it. query_model() puts back the
traits the query model of botocore < 1.31 had, so the client sends and parses exactly what
older SDKs and Debian's AWS CLI v2 (2.9) send and parse.
"""
import copy
import hashlib
import json
import os
import struct
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"
NS = {"sqs": XMLNS}
API_VERSION = "2012-11-05"


# -- MD5 digests ---------------------------------------------------------------------------
def md5_of_body(body):
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def md5_of_attributes(attributes):
    """MD5OfMessageAttributes as the SDKs verify it: attributes sorted by name, each as
    len(name) name len(type) type, transport byte (1 string, 2 binary), len(value) value;
    lengths 4-byte big-endian."""
    buf = b""
    for name in sorted(attributes):
        attr = attributes[name]
        for part in (name, attr["DataType"]):
            raw = part.encode("utf-8")
            buf += struct.pack(">I", len(raw)) + raw
        if "BinaryValue" in attr:
            raw = attr["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(raw)) + raw
        else:
            raw = attr["StringValue"].encode("utf-8")
            buf += b"\x01" + struct.pack(">I", len(raw)) + raw
    return hashlib.md5(buf).hexdigest()


# -- a botocore client on the query protocol -----------------------------------------------
_LIST_MEMBER_NAMES = {
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "BinaryList": "BinaryListValue",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageList": "Message",
    "MessageSystemAttributeList": "MessageSystemAttributeName",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "StringList": "StringListValue",
    "TagKeyList": "TagKey",
}
# map shape -> (key name, value name, name of the flattened entries)
_MAP_NAMES = {
    "MessageBodyAttributeMap": ("Name", "Value", None),
    "MessageBodySystemAttributeMap": ("Name", "Value", None),
    "MessageSystemAttributeMap": ("Name", "Value", "Attribute"),
    "QueueAttributeMap": ("Name", "Value", "Attribute"),
    "TagMap": ("Key", "Value", "Tag"),
}
_MEMBER_NAMES = {
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
    ("ListQueueTagsResult", "Tags"): "Tag",
    ("Message", "Attributes"): "Attribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("MessageAttributeValue", "StringListValues"): "StringListValue",
    ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("SendMessageBatchRequest", "Entries"): "SendMessageBatchRequestEntry",
    ("DeleteMessageBatchRequest", "Entries"): "DeleteMessageBatchRequestEntry",
    ("ChangeMessageVisibilityBatchRequest", "Entries"): "ChangeMessageVisibilityBatchRequestEntry",
}

# Error shapes whose query-protocol code is not their name (the JSON model lost these codes;
# JSON clients learn the query code from the x-amzn-query-error header instead).
_ERROR_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    **{name: "AWS.SimpleQueueService." + name for name in (
        "MessageNotInflight", "TooManyEntriesInBatchRequest", "EmptyBatchRequest",
        "BatchEntryIdsNotDistinct", "InvalidBatchEntryId", "BatchRequestTooLong",
        "UnsupportedOperation", "PurgeQueueInProgress", "QueueDeletedRecently")},
}


def query_model(json_model):
    """The SQS JSON-protocol model turned back into the query-protocol model."""
    m = copy.deepcopy(json_model)
    meta = m["metadata"]
    meta["protocol"] = "query"
    meta["protocols"] = ["query"]
    meta["xmlNamespace"] = XMLNS
    for k in ("awsQueryCompatible", "jsonVersion", "targetPrefix"):
        meta.pop(k, None)
    for name, op in m["operations"].items():
        if "output" in op:
            op["output"]["resultWrapper"] = name + "Result"
    shapes = m["shapes"]
    for name, member in _LIST_MEMBER_NAMES.items():
        if name in shapes:
            shapes[name]["member"]["locationName"] = member
    for name, (key, value, entries) in _MAP_NAMES.items():
        shapes[name]["key"]["locationName"] = key
        shapes[name]["value"]["locationName"] = value
        if entries:
            shapes[name]["locationName"] = entries
    for (shape, member), location in _MEMBER_NAMES.items():
        ref = shapes[shape]["members"][member]
        ref["locationName"] = location
        if shape == "MessageAttributeValue":
            ref["flattened"] = True
    for name, code in _ERROR_CODES.items():
        shapes[name]["error"] = {"code": code, "httpStatusCode": 400, "senderFault": True}
    return m


def query_data_path():
    """A botocore data directory holding the query-protocol SQS model; AWS_DATA_PATH=this
    makes both botocore and the AWS CLI speak the query protocol to SQS."""
    import botocore.session
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("sqs", "service-2", api_version=API_VERSION)
    root = tempfile.mkdtemp(prefix="esmd-sqs-query-model-")
    folder = os.path.join(root, "sqs", API_VERSION)
    os.makedirs(folder)
    with open(os.path.join(folder, "service-2.json"), "w") as f:
        json.dump(query_model(model), f)
    return root


def query_client(esmd, data_path):
    """A botocore SQS client whose model says protocol 'query'."""
    import botocore.session
    from botocore.config import Config
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, data_path)
    client = session.create_client(
        "sqs", endpoint_url=esmd.url, region_name=esmd.region,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=5))
    assert client.meta.service_model.protocol == "query"
    return client


# -- raw query requests --------------------------------------------------------------------
def query_request(esmd, action, params=None, path="/", headers=None):
    """POSTs Action=<action>&Version=... form-encoded; returns (status, headers, XML root)."""
    form = {"Action": action, "Version": API_VERSION}
    form.update(params or {})
    body = urllib.parse.urlencode(form).encode()
    h = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    h.update(headers or {})
    req = urllib.request.Request(esmd.url + path, data=body, method="POST", headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, hdrs, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, dict(e.headers), e.read()
    return status, hdrs, ET.fromstring(raw)


def json_request(esmd, action, params=None, headers=None):
    """An SQS JSON-protocol request as current SDKs send it (X-Amz-Target AmazonSQS.<action>,
    application/x-amz-json-1.0), whatever protocol the installed botocore speaks (botocore
    < 1.31, Debian 12's among them, speaks query). Returns (status, headers, parsed JSON)."""
    h = {"X-Amz-Target": "AmazonSQS." + action, "Content-Type": "application/x-amz-json-1.0"}
    h.update(headers or {})
    status, hdrs, raw = esmd.http("POST", "/", json.dumps(params or {}), h)
    return status, hdrs, (json.loads(raw) if raw else None)


def tag(name):
    return f"{{{XMLNS}}}{name}"


def children(elem):
    """Names of an element's children without the namespace, in document order."""
    return [c.tag.split("}", 1)[1] for c in elem]


def find(elem, path):
    """elem.find with every step in the SQS namespace: find(root, 'A/B')."""
    return elem.find("/".join("sqs:" + p for p in path.split("/")), NS)


def text(elem, path):
    found = find(elem, path)
    return None if found is None else found.text


def findall(elem, path):
    return elem.findall("/".join("sqs:" + p for p in path.split("/")), NS)


# -- test helpers --------------------------------------------------------------------------
class SqsTestCase:
    """Mixin for unittest.TestCase classes that drive one esmd through boto3's SQS client."""

    def queue_name(self, suffix=""):
        """A queue name unique to the running test: its method name, cut to SQS's 80 chars."""
        base = self._testMethodName.replace("test_", "", 1)
        base = "".join(c if c.isalnum() or c in "-_" else "-" for c in base)
        return (base[: 80 - len(suffix)] + suffix)[:80]

    def assert_sqs_error(self, code, fn, *args, status=400, **kwargs):
        """Calls fn and checks it fails with this AWS error code and HTTP status."""
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kwargs)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)
        return cm.exception


def log_mark(esmd):
    """Where esmd's log ends now; pass it to logged_since()."""
    return os.path.getsize(esmd.log_path)


def logged_since(esmd, mark, needle):
    """Whether esmd logged `needle` after `mark` (debug level logs each SQS request as it
    starts, which tells a test that a long poll is waiting)."""
    with open(esmd.log_path, "rb") as f:
        f.seek(mark)
        return needle.encode() in f.read()
