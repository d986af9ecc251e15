"""What esmd keeps in SQLite: mappings, their states and tags, and functions registered at run
time survive a restart and a kill -9 right after the 202; a transition cut short by a crash
completes after start-up; many concurrent clients never see a 500."""
import collections
import signal
import socket
import threading
import unittest

from botocore.exceptions import ClientError

from esmd_harness import Esmd, wait_until
from lambda_support import (MAPPINGS, call, create_mapping, create_queue, create_stream, function_arn, get_mapping,
                            get_raw, kafka_body, mapping_arn_of, settle, settle_raw, strip, unique)


def state_or_gone(lam, uuid):
    try:
        return lam.get_event_source_mapping(UUID=uuid)["State"]
    except lam.exceptions.ResourceNotFoundException:
        return "gone"


CONNECTION_PROBLEM = "PROBLEM: Connection error. Please check your event source connection configuration."

class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.esmd = Esmd(transition_delay_ms=0, functions=("fn=builtin:ok", "fn2=builtin:ok")).start()
        self.lam = self.esmd.client("lambda")

    def tearDown(self):
        self.esmd.cleanup()

    def reopen(self, kill=False, transition_delay_ms=None):
        if transition_delay_ms is not None:
            self.esmd.transition_delay_ms = transition_delay_ms
        self.esmd.restart(kill=kill)
        self.lam = self.esmd.client("lambda")

    def test_a_restart_keeps_mappings_states_configuration_tags_and_run_time_functions(self):
        queue = create_queue(self.esmd, unique("q"))
        sqs = create_mapping(
            self.esmd, self.lam, FunctionName="fn:live", EventSourceArn=queue, BatchSize=50,
            MaximumBatchingWindowInSeconds=3, FilterCriteria={"Filters": [{"Pattern": '{"body":["a"]}'}]},
            ScalingConfig={"MaximumConcurrency": 4}, FunctionResponseTypes=["ReportBatchItemFailures"],
            Tags={"team": "a"})
        kafka = create_mapping(self.esmd, self.lam, **kafka_body(servers=(f"{unique('k')}:9092",),
                                                                 ProvisionedPollerConfig={"MinimumPollers": 1}))
        stream = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=create_stream(self.esmd, unique("s")),
                                                      StartingPosition="LATEST", Enabled=False,
                                                      MaximumRetryAttempts=7)
        status, _, _ = call(self.esmd, "PUT", "/_esmd/functions/runtime", {"Target": "builtin:ok", "Timeout": 9})
        self.assertEqual(status, 200)
        status, _, _ = call(self.esmd, "PUT", "/_esmd/functions/dropped", {"Target": "builtin:ok"})
        self.assertEqual(call(self.esmd, "DELETE", "/_esmd/functions/dropped")[0], 204)
        before = {u: settle(self.lam, u) for u in (sqs["UUID"], kafka["UUID"], stream["UUID"])}
        before = {u: strip(m) for u, m in before.items()}
        # Raw too: an older boto3 drops the members its model lacks (ScalingConfig, ...).
        before_raw = {u: settle_raw(self.esmd, u) for u in before}
        self.assertEqual(before_raw[sqs["UUID"]]["ScalingConfig"], {"MaximumConcurrency": 4})
        self.assertEqual(before_raw[kafka["UUID"]]["ProvisionedPollerConfig"], {"MinimumPollers": 1})

        self.reopen()
        for uuid, config in before.items():
            after, after_raw = strip(self.lam.get_event_source_mapping(UUID=uuid)), get_raw(self.esmd, uuid)
            if uuid == kafka["UUID"]:
                # Its servers do not resolve: the poller may report AWS's connection problem at
                # any moment, before the restart or after it.
                for doc in (config, after, before_raw[uuid], after_raw):
                    self.assertIn(doc.pop("LastProcessingResult"), ("No records processed", CONNECTION_PROBLEM))
            self.assertEqual(after, config)
            self.assertEqual(after_raw, before_raw[uuid])
        self.assertEqual(self.lam.list_tags(Resource=mapping_arn_of(self.lam, sqs))["Tags"], {"team": "a"})
        status, _, spec = call(self.esmd, "GET", "/_esmd/functions/runtime")
        self.assertEqual((status, spec["Target"], spec["Timeout"]), (200, "builtin:ok", 9.0))
        self.assertEqual(call(self.esmd, "GET", "/_esmd/functions/dropped")[0], 404)
        self.lam.create_event_source_mapping(FunctionName="runtime", EventSourceArn=create_stream(self.esmd, unique("s")),
                                             StartingPosition="LATEST")

    def test_kill_9_right_after_each_202_loses_nothing(self):
        queue = create_queue(self.esmd, unique("q"))
        created = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=queue)
        self.reopen(kill=True)
        self.assertEqual(self.lam.get_event_source_mapping(UUID=created["UUID"])["EventSourceArn"], queue)

        settle(self.lam, created["UUID"])
        self.lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=4, FunctionName="fn2")
        self.reopen(kill=True)
        got = self.lam.get_event_source_mapping(UUID=created["UUID"])
        self.assertEqual((got["BatchSize"], got["FunctionArn"]), (4, function_arn("fn2")))

        arn = mapping_arn_of(self.lam, created)
        self.lam.tag_resource(Resource=arn, Tags={"k": "v"})
        self.reopen(kill=True)
        self.assertEqual(self.lam.list_tags(Resource=arn)["Tags"], {"k": "v"})

        self.assertEqual(call(self.esmd, "PUT", "/_esmd/functions/late", {"Target": "builtin:ok"})[0], 200)
        self.reopen(kill=True)
        self.assertEqual(call(self.esmd, "GET", "/_esmd/functions/late")[0], 200)

        settle(self.lam, created["UUID"])
        self.lam.delete_event_source_mapping(UUID=created["UUID"])
        self.reopen(kill=True)
        wait_until(lambda: state_or_gone(self.lam, created["UUID"]) == "gone", message="deleted after kill -9")

    def test_kill_9_during_transitions_then_restart_completes_them(self):
        # Three mappings reach a stable state fast; then esmd restarts slow enough to crash mid-way.
        stream = create_stream(self.esmd, unique("s"))
        disabled = self.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                                        StartingPosition="LATEST", Enabled=False)["UUID"]
        doomed = self.lam.create_event_source_mapping(FunctionName="fn2", EventSourceArn=stream,
                                                      StartingPosition="LATEST")["UUID"]
        enabled = self.lam.create_event_source_mapping(FunctionName="fn:1", EventSourceArn=stream,
                                                       StartingPosition="LATEST")["UUID"]
        for uuid in (disabled, doomed, enabled):
            settle(self.lam, uuid)
        self.reopen(transition_delay_ms=1500)

        creating = self.lam.create_event_source_mapping(FunctionName="fn:2", EventSourceArn=stream,
                                                        StartingPosition="LATEST")["UUID"]
        self.assertEqual(self.lam.update_event_source_mapping(UUID=disabled, Enabled=True)["State"], "Enabling")
        self.assertEqual(self.lam.update_event_source_mapping(UUID=enabled, BatchSize=9)["State"], "Updating")
        self.assertEqual(self.lam.delete_event_source_mapping(UUID=doomed)["State"], "Deleting")
        self.reopen(kill=True)

        want = {creating: "Enabled", disabled: "Enabled", enabled: "Enabled", doomed: "gone"}
        early = {u: state_or_gone(self.lam, u) for u in want}
        self.assertIn(early[creating], ("Creating", "Enabled"))
        self.assertIn(early[doomed], ("Deleting", "gone"))
        wait_until(lambda: {u: state_or_gone(self.lam, u) for u in want} == want, timeout=10,
                   message="transitions completed after the crash")
        self.assertEqual(self.lam.get_event_source_mapping(UUID=enabled)["BatchSize"], 9)

    def test_sigint_and_sigterm_shut_down_at_once_with_connections_open_and_lose_nothing(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig):
                uuid = self.lam.create_event_source_mapping(FunctionName="fn", StartingPosition="LATEST",
                                                            EventSourceArn=create_stream(self.esmd, unique("s")))["UUID"]
                idle = socket.create_connection(("127.0.0.1", self.esmd.port))
                partial = socket.create_connection(("127.0.0.1", self.esmd.port))
                partial.sendall(f"PUT {MAPPINGS}/{uuid} HTTP/1.1\r\nHost: esmd\r\nContent-Length: 50\r\n\r\n{{"
                                .encode())
                self.esmd.proc.send_signal(sig)
                self.assertEqual(self.esmd.proc.wait(timeout=10), 0)
                idle.close()
                partial.close()
                self.esmd.proc = None
                self.esmd.start(self.esmd.port)
                self.lam = self.esmd.client("lambda")
                self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["UUID"], uuid)

    def test_concurrent_clients_never_get_a_500_and_state_stays_consistent(self):
        statuses = collections.Counter()
        problems = []
        lock = threading.Lock()

        def record(status):
            with lock:
                statuses[status] += 1

        def worker(n):
            lam = self.esmd.client("lambda")
            try:
                mine = []
                for i in range(6):
                    created = create_mapping(
                        self.esmd, lam, FunctionName="fn", EventSourceArn=create_stream(self.esmd, f"load-{n}-{i}"),
                        StartingPosition="LATEST", Tags={"worker": str(n)})
                    record(created["ResponseMetadata"]["HTTPStatusCode"])
                    mine.append(created["UUID"])
                for uuid in mine:
                    for call_ in (lambda: lam.update_event_source_mapping(UUID=uuid, BatchSize=5),
                                  lambda: lam.get_event_source_mapping(UUID=uuid),
                                  lambda: lam.list_event_source_mappings(MaxItems=20),
                                  lambda: lam.list_tags(Resource=get_mapping(
                                      self.esmd, lam, uuid, reads=["EventSourceMappingArn"])["EventSourceMappingArn"])):
                        try:
                            record(call_()["ResponseMetadata"]["HTTPStatusCode"])
                        except ClientError as e:
                            record(e.response["ResponseMetadata"]["HTTPStatusCode"])
                status, _, _ = call(self.esmd, "PUT", f"{MAPPINGS}/{mine[0]}", "{broken")
                record(status)

                def delete():
                    try:
                        record(lam.delete_event_source_mapping(UUID=mine[-1])["ResponseMetadata"]["HTTPStatusCode"])
                        return True
                    except lam.exceptions.ResourceInUseException as e:
                        record(e.response["ResponseMetadata"]["HTTPStatusCode"])
                        return False
                wait_until(delete, message="delete accepted once stable")
            except Exception as e:  # noqa: BLE001 - any failure is reported below
                with lock:
                    problems.append(repr(e))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(problems, [])
        self.assertFalse([s for s in statuses if s >= 500], statuses)
        self.assertEqual(statuses[202] >= 72, True, statuses)
        listed = []
        page = {"NextMarker": None}
        while "NextMarker" in page:
            args = {"Marker": page["NextMarker"]} if page["NextMarker"] else {}
            page = self.lam.list_event_source_mappings(**args)
            listed += [m["UUID"] for m in page["EventSourceMappings"]]
        self.assertEqual(len(listed), len(set(listed)))
        wait_until(lambda: sum(1 for u in listed if state_or_gone(self.lam, u) != "gone") == 60,
                   message="one mapping per worker deleted")
        self.reopen(kill=True)
        total = 0
        page = {"NextMarker": None}
        while "NextMarker" in page:
            args = {"Marker": page["NextMarker"]} if page["NextMarker"] else {}
            page = self.lam.list_event_source_mappings(**args)
            total += len(page["EventSourceMappings"])
        self.assertEqual(total, 60)


if __name__ == "__main__":
    unittest.main()
