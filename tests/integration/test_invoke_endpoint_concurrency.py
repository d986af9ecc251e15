"""Functions reached through --invoke-endpoint run invocations in parallel (issue 15, finding 1).

Lambda runs a function without reserved concurrency as often at once as its pollers ask, and
`sam local start-lambda` serves concurrent invocations; so an unregistered function behind
--invoke-endpoint takes up to --invoke-endpoint-concurrency (default 10) invocations at once,
and ScalingConfig.MaximumConcurrency and ParallelizationFactor decide how many a mapping has
open. A registered http target (an RIE) keeps one at a time unless its registration says more.

Each test starts its own esmd whose --invoke-endpoint is the test function's server, and creates
the queue, stream and mapping with boto3.
"""
import hashlib
import unittest

from esmd_harness import Esmd
from kinesis_poller_support import KinesisTestCase, data_of, unique
from sqs_poller_support import SqsFunction, slow


def lane(key, lanes):
    """The lane of a partition key (data-plane.md §3.7): its MD5 as an integer, modulo the lanes."""
    return int(hashlib.md5(key.encode()).hexdigest(), 16) % lanes


def keys_on_every_lane(lanes, per_lane):
    """per_lane partition keys for each of `lanes` lanes."""
    out = {i: [] for i in range(lanes)}
    n = 0
    while any(len(v) < per_lane for v in out.values()):
        k = f"key-{n}"
        n += 1
        if len(out[lane(k, lanes)]) < per_lane:
            out[lane(k, lanes)].append(k)
    return [k for v in out.values() for k in v]


class InvokeEndpointConcurrencyTest(KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        pass  # every test starts its own esmd, pointed at its own function server

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.fn = SqsFunction()
        self.addCleanup(self.fn.close)
        self.mappings = []
        self.start_esmd()
        self.function = unique("sam-fn")  # never registered: reached through --invoke-endpoint

    def start_esmd(self, *args):
        endpoint = f"http://127.0.0.1:{self.fn.server.port}"
        self.esmd = Esmd("--invoke-endpoint", endpoint, *args, in_memory=True, transition_delay_ms=50,
                         functions=()).start()
        self.addCleanup(self.esmd.cleanup)
        self.sqs = self.esmd.client("sqs")
        self.lam = self.esmd.client("lambda")
        self.kin = self.esmd.client("kinesis")

    # -- SQS ------------------------------------------------------------------------------
    def test_maximum_concurrency_2_keeps_exactly_2_batches_in_flight(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.3))
        bodies = [f"m{i}" for i in range(12)]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
        self.fn.wait_bodies(bodies, timeout=15)
        self.wait_empty(url)
        self.assertEqual(self.fn.max_concurrent, 2)
        self.assertEqual({c.function for c in self.fn.calls()}, {self.function})

    def test_without_scaling_config_the_pollers_default_of_5_applies(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.3))
        bodies = [f"d{i}" for i in range(20)]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=1)
        self.fn.wait_bodies(bodies, timeout=15)
        self.assertEqual(self.fn.max_concurrent, 5)

    def test_the_invoke_endpoint_concurrency_flag_caps_a_function(self):
        self.esmd.cleanup()
        self.start_esmd("--invoke-endpoint-concurrency", "3")
        url, arn = self.make_queue()
        self.fn.behave(slow(0.3))
        bodies = [f"c{i}" for i in range(12)]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=1, ScalingConfig={"MaximumConcurrency": 10})
        self.fn.wait_bodies(bodies, timeout=15)
        self.assertEqual(self.fn.max_concurrent, 3)

    def test_a_registered_rie_url_keeps_one_at_a_time_unless_its_registration_says_more(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.1))
        rie = self.fn.register(self.esmd, unique("rie"))  # no Concurrency: an RIE takes one
        self.make_mapping(arn, function=rie, Enabled=False, BatchSize=1, ScalingConfig={"MaximumConcurrency": 10})
        uuid = self.mappings[-1]
        bodies = [f"r{i}" for i in range(6)]
        self.send_batch(url, bodies)
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies(bodies, timeout=10)
        self.assertEqual(self.fn.max_concurrent, 1)

        self.fn.max_concurrent = 0
        self.fn.behave(slow(0.3))
        self.fn.register(self.esmd, rie, concurrency=3)
        more = [f"s{i}" for i in range(9)]
        self.send_batch(url, more)
        self.fn.wait_bodies(more, timeout=10)
        self.assertEqual(self.fn.max_concurrent, 3)

    # -- Kinesis --------------------------------------------------------------------------
    def test_parallelization_factor_4_runs_4_batches_of_one_shard_at_once(self):
        stream, arn = self.make_stream(1)
        keys = keys_on_every_lane(4, 4)
        datas = [f"k{i}" for i in range(len(keys) * 3)]
        self.put(stream, datas, keys=[keys[i % len(keys)] for i in range(len(datas))])
        self.fn.behave(slow(0.3))
        self.make_kinesis_mapping(arn, BatchSize=2, ParallelizationFactor=4)
        self.wait_delivered(datas, timeout=30)
        self.assertEqual(self.fn.max_concurrent, 4)
        self.assertEqual(sorted(self.delivered()), sorted(datas), "each record once")
        self.assertTrue(all(data_of(r) in datas for r in self.fn.records()))


if __name__ == "__main__":
    unittest.main()
