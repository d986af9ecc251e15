"""The AWS SDK for JavaScript v3 (client-lambda, client-sqs, client-kinesis from npm, pinned in
scripts/install-node-clients.sh and installed into tests/integration/.node on first use) as a
third real client next to the AWS CLI and boto3, driven by aws_sdk_js_driver.js: one process a
list of calls, one JSON result a call.

    results = sdk_js(esmd, [("lambda", "ListEventSourceMappings", {}), ...])
    results[0]["ok"]      # the command's output (bytes as {"$bytes": b64}, dates as {"$date": ms})
    results[1]["error"]   # {"name", "message", "status", "fault"} as the SDK parsed esmd's error
"""
import json
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_DIR = os.path.join(HERE, ".node")
DRIVER = os.path.join(HERE, "aws_sdk_js_driver.js")
PACKAGES = ("client-lambda", "client-sqs", "client-kinesis")


def sdk_js_available():
    """Installs the SDK into tests/integration/.node when it is missing; False without node."""
    if not shutil.which("node"):
        return False
    if not all(os.path.exists(os.path.join(NODE_DIR, "node_modules", "@aws-sdk", p, "package.json"))
               for p in PACKAGES):
        p = subprocess.run([os.path.join(ROOT, "scripts", "install-node-clients.sh")], capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"installing the AWS SDK for JavaScript failed: {p.stderr}")
    return True


def sdk_js(esmd, calls, region=None, timeout=120, http1=False):
    """Runs [(service, command, input), ...] in one node process; returns one result a call.
    http1: Node's HTTP/1.1 handler for every client (client-kinesis uses HTTP/2 by default)."""
    command = {"endpoint": esmd.url, "region": region or esmd.region, "http1": http1,
               "calls": [{"service": s, "command": c, "input": i} for s, c, i in calls]}
    env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"),
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    p = subprocess.run(["node", DRIVER], input=json.dumps(command), capture_output=True, text=True,
                       timeout=timeout, env=env)
    if p.returncode != 0:
        raise AssertionError(f"aws_sdk_js_driver exited {p.returncode}:\n{p.stderr[-4000:]}\n{p.stdout[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])["results"]


def sdk_js_one(esmd, service, command, inp=None, region=None, http1=False):
    return sdk_js(esmd, [(service, command, inp or {})], region=region, http1=http1)[0]


def b(data):
    import base64
    return {"$bytes": base64.b64encode(data).decode()}


def unb(value):
    import base64
    return base64.b64decode(value["$bytes"])
