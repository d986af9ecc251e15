"""A full disk (issue 13): esmd's data directory on a small tmpfs that the test fills. Writes
fail with a clear AWS-shaped service error, reads keep working, nothing that failed shows up
(not to a receiver, not after a restart), nothing acknowledged is lost, and esmd recovers by
itself once space is freed. Needs permission to mount a tmpfs (root, as in CI); skipped
otherwise."""
import os
import shutil
import subprocess
import tempfile
import unittest

from esmd_harness import Esmd, wait_until


def mount_tmpfs(path, size):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True).returncode == 0


def can_mount():
    d = tempfile.mkdtemp(prefix="esmd-mnt-probe-")
    try:
        if os.geteuid() != 0 or not mount_tmpfs(d, "1m"):
            return False
        subprocess.run(["umount", d], check=True)
        return True
    finally:
        os.rmdir(d)


def fill(path):
    """Writes a file until the file system is full; returns its path."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@unittest.skipUnless(can_mount(), "cannot mount a tmpfs here (needs root)")
class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="esmd-full-")
        self.assertTrue(mount_tmpfs(self.mnt, "24m"))
        self.addCleanup(shutil.rmtree, self.mnt, True)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        self.esmd = Esmd("--kafka-port", "off", data_dir=os.path.join(self.mnt, "data"))
        self.esmd.start()
        self.addCleanup(self.esmd.cleanup)
        self.sqs = self.esmd.client("sqs")

    def send(self, url, body):
        try:
            return self.sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"], None
        except Exception as e:  # botocore's ClientError
            return None, e

    def receive_all(self, url):
        """Every visible body, each received once (hidden for 2 s, then visible again)."""
        got = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=2,
                                            WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return got
            got += [m["Body"] for m in msgs]

    def test_a_full_disk_refuses_writes_loses_nothing_and_recovers_by_itself(self):
        url = self.sqs.create_queue(QueueName="full")["QueueUrl"]
        acknowledged = []
        for i in range(20):
            mid, err = self.send(url, f"before-{i}")
            self.assertIsNone(err)
            acknowledged.append(f"before-{i}")
        filler = fill(self.mnt)

        # Writes fail with SQS's own error shape; the failed bodies are never seen.
        failed = []
        for i in range(200):
            body = f"during-{i}-" + "x" * 4096
            mid, err = self.send(url, body)
            if err is None:
                acknowledged.append(body)
            else:
                failed.append(body)
                code = err.response["Error"]["Code"]
                status = err.response["ResponseMetadata"]["HTTPStatusCode"]
                self.assertIn(code, ("InternalError", "AWS.SimpleQueueService.InternalError", "InternalFailure"))
                self.assertEqual(status, 500)
                self.assertIn("full", err.response["Error"]["Message"].lower())
        self.assertGreater(len(failed), 150, "the disk was not full")

        # A receive changes the message (its receive count, its visibility), and a delete too:
        # while the disk is full each is either refused with a 500 (the message stays as it was)
        # or saved.
        try:
            msg = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"][0]
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            acknowledged.remove(msg["Body"])
        except Exception as e:
            self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 500)
            self.assertIn("full", e.response["Error"]["Message"])

        # Reads keep working.
        self.assertIn(url, self.sqs.list_queues()["QueueUrls"])
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        self.assertEqual(int(attrs["Attributes"]["ApproximateNumberOfMessages"]), len(acknowledged))
        self.assertEqual(self.esmd.http("GET", "/_esmd/health")[0], 200)

        # Space comes back: esmd recovers without a restart, and what it acknowledges is seen.
        os.remove(filler)
        wait_until(lambda: self.send(url, "after")[1] is None, timeout=10, message="a send succeeds again")
        acknowledged.append("after")
        seen = self.receive_all(url)
        self.assertEqual(sorted(seen), sorted(set(acknowledged)))
        self.assertFalse(set(seen) & set(failed))

        # And after a restart: the same messages, no more, no less.
        self.esmd.restart(kill=True)
        self.sqs = self.esmd.client("sqs")
        seen = set()
        wait_until(lambda: seen.update(self.receive_all(url)) or seen >= set(acknowledged), timeout=15,
                   message="every acknowledged message again after the restart")
        self.assertEqual(seen, set(acknowledged))


if __name__ == "__main__":
    unittest.main()
