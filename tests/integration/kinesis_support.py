"""What the Kinesis integration tests share: raw JSON 1.1 requests that bypass the SDKs'
client-side validation, the MD5 hash-key routing computed independently of esmd, and checks of
AWS's error wire format for Kinesis (`__type` and `message`, HTTP 400)."""
import base64
import hashlib
import json

from lambda_support import header

TARGET = "Kinesis_20131202."
CONTENT_TYPE = "application/x-amz-json-1.1"


def raw(esmd, operation, body=None, region=None):
    """A raw Kinesis request; a dict body is sent as JSON. Returns (status, headers, parsed JSON
    or None for an empty body)."""
    headers = {"X-Amz-Target": TARGET + operation, "Content-Type": CONTENT_TYPE}
    if region:
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential=test/20240101/{region}/kinesis/aws4_request, "
                                    "SignedHeaders=host, Signature=0")
    data = body if isinstance(body, (bytes, str)) else json.dumps(body if body is not None else {})
    status, hdrs, out = esmd.http("POST", "/", data, headers)
    return status, hdrs, (json.loads(out) if out else None)


def hash_key(partition_key):
    """The 128-bit hash key Kinesis routes a partition key by: its MD5 as a big-endian number."""
    return int(hashlib.md5(partition_key.encode("utf-8")).hexdigest(), 16)


def owning_shard(shards, key):
    """The ShardId whose HashKeyRange holds the hash key `key`."""
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= key <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError(f"no shard holds {key}")


def b64(data):
    return base64.b64encode(data).decode()


class KinesisErrorAssertions:
    """assert_kinesis_error checks the whole error wire format of one raw answer."""

    def assert_kinesis_error(self, answer, error_type, message=None, status=400):
        code, hdrs, body = answer
        self.assertEqual(code, status, body)
        self.assertEqual(body["__type"], error_type, body)
        self.assertEqual(header(hdrs, "Content-Type"), CONTENT_TYPE)
        if message is not None:
            self.assertEqual(body["message"], message)
        return body["message"]

    def assert_client_error(self, call, error_type, message=None):
        """A boto3 call that must fail with error_type (and message, when given)."""
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as ctx:
            call()
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], error_type, err)
        if message is not None:
            self.assertEqual(err["Message"], message)
        return err["Message"]
