"""MSK clusters (issue 12): `--msk-cluster ARN=HOST:PORT,...` names the brokers of an MSK
cluster, and `aws kafka get-bootstrap-brokers` answers them on esmd's HTTP port; any other well
formed MSK cluster ARN is esmd's own broker, as health reports it, unless esmd runs no broker.
Errors come in the kafka service's REST-JSON shape (x-amzn-ErrorType, {"message", ...}); bad
--msk-cluster values stop esmd at start-up with exit code 2 and a message naming the flag."""
import json
import os
import subprocess
import unittest

from botocore.exceptions import ClientError

from esmd_harness import ACCOUNT, ESMD_BIN, Esmd, free_port
from lambda_support import msk_arn

ORDERS = msk_arn("orders")
PAYMENTS = msk_arn("payments", region="eu-west-1")
UNNAMED = msk_arn("somewhere-else")
ORDERS_BROKERS = "b-1.orders.example:9092,b-2.orders.example:9092"


def brokers_path(arn):
    from urllib.parse import quote
    return "/v1/clusters/" + quote(arn, safe="") + "/bootstrap-brokers"


class KafkaClient:
    """Helpers for a test class whose `esmd` is running."""

    @property
    def kafka(self):
        if getattr(self, "_kafka_of", None) is not self.esmd:
            self._kafka, self._kafka_of = self.esmd.client("kafka"), self.esmd
        return self._kafka

    def cli_brokers(self, arn):
        rc, out, err = self.esmd.aws("kafka", "get-bootstrap-brokers", "--cluster-arn", arn)
        self.assertEqual(rc, 0, err)
        return out

    def assert_client_error(self, call, code, status):
        with self.assertRaises(ClientError) as e:
            call()
        self.assertEqual(e.exception.response["Error"]["Code"], code)
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return e.exception.response["Error"]["Message"]

    def assert_wire_error(self, path, error_type, status, invalid_parameter):
        got_status, headers, body = self.esmd.http("GET", path)
        self.assertEqual(got_status, status, body)
        self.assertEqual({k.lower(): v for k, v in headers.items()}.get("x-amzn-errortype"), error_type)
        doc = json.loads(body)
        self.assertEqual(set(doc), {"message", "invalidParameter"} if invalid_parameter else {"message"}, doc)
        if invalid_parameter:
            self.assertEqual(doc["invalidParameter"], invalid_parameter)
        return doc["message"]


class NamedClustersTest(KafkaClient, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd("--msk-cluster", f"{ORDERS}={ORDERS_BROKERS}",
                        "--msk-cluster", f"{PAYMENTS}= 10.0.0.7:9094 ", in_memory=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def own_broker(self):
        status, _, body = self.esmd.http("GET", "/_esmd/health")
        self.assertEqual(status, 200)
        return json.loads(body)["kafka"]["advertised"]

    def test_a_named_cluster_answers_the_brokers_its_flag_gave(self):
        self.assertEqual(self.cli_brokers(ORDERS), {"BootstrapBrokerString": ORDERS_BROKERS})
        self.assertEqual(self.cli_brokers(PAYMENTS), {"BootstrapBrokerString": "10.0.0.7:9094"})
        got = self.kafka.get_bootstrap_brokers(ClusterArn=ORDERS)
        self.assertEqual(got["BootstrapBrokerString"], ORDERS_BROKERS)
        # Only the plaintext string is sent, under the model's wire name.
        status, _, body = self.esmd.http("GET", brokers_path(ORDERS))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"bootstrapBrokerString": ORDERS_BROKERS})

    def test_an_unnamed_cluster_answers_esmds_own_broker_as_health_reports_it(self):
        own = self.own_broker()
        self.assertEqual(own, f"127.0.0.1:{self.esmd.kafka_port}")
        self.assertEqual(self.cli_brokers(UNNAMED), {"BootstrapBrokerString": own})
        self.assertEqual(self.kafka.get_bootstrap_brokers(ClusterArn=msk_arn("x", "ap-south-1"))
                         ["BootstrapBrokerString"], own)

    def test_a_malformed_cluster_arn_is_a_bad_request(self):
        for arn in ("not-an-arn", f"arn:aws:kafka:us-east-1:{ACCOUNT}:cluster/orders",
                    f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders", f"arn:aws:kafka:us-east-1:123:cluster/a/b"):
            with self.subTest(arn=arn):
                message = self.assert_client_error(lambda: self.kafka.get_bootstrap_brokers(ClusterArn=arn),
                                                   "BadRequestException", 400)
                self.assertIn(arn, message)
                self.assertEqual(self.assert_wire_error(brokers_path(arn), "BadRequestException", 400, "clusterArn"),
                                 message)
        rc, _, err = self.esmd.aws("kafka", "get-bootstrap-brokers", "--cluster-arn", "not-an-arn")
        self.assertNotEqual(rc, 0)
        self.assertIn("An error occurred (BadRequestException) when calling the GetBootstrapBrokers operation", err)

    def test_kafka_operations_esmd_does_not_serve_get_unknown_operation_in_the_kafka_shape(self):
        rc, _, err = self.esmd.aws("kafka", "list-clusters")
        self.assertNotEqual(rc, 0)
        self.assertIn("(UnknownOperationException) when calling the ListClusters operation", err)
        self.assertIn("GetBootstrapBrokers", err)
        self.assert_client_error(lambda: self.kafka.describe_cluster(ClusterArn=ORDERS),
                                 "UnknownOperationException", 404)
        self.assert_client_error(lambda: self.kafka.list_clusters_v2(), "UnknownOperationException", 404)
        self.assert_wire_error("/v1/clusters", "UnknownOperationException", 404, None)

    def test_lambdas_routes_are_still_answered_beside_the_kafka_ones(self):
        rc, out, err = self.esmd.aws("lambda", "list-event-source-mappings")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["EventSourceMappings"], [])
        rc, out, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", "fn",
                                     "--event-source-arn", ORDERS, "--topics", "t", "--starting-position", "LATEST")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["EventSourceArn"], ORDERS)
        rc, _, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", out["UUID"])
        self.assertEqual(rc, 0, err)


class NoBrokerTest(KafkaClient, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd("--kafka-port", "off", "--msk-cluster", f"{ORDERS}={ORDERS_BROKERS}", in_memory=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def test_without_a_broker_an_unnamed_cluster_is_not_found_and_a_named_one_still_answers(self):
        message = self.assert_client_error(lambda: self.kafka.get_bootstrap_brokers(ClusterArn=UNNAMED),
                                           "NotFoundException", 404)
        self.assertIn(UNNAMED, message)
        self.assert_wire_error(brokers_path(UNNAMED), "NotFoundException", 404, "clusterArn")
        rc, _, err = self.esmd.aws("kafka", "get-bootstrap-brokers", "--cluster-arn", UNNAMED)
        self.assertNotEqual(rc, 0)
        self.assertIn("(NotFoundException) when calling the GetBootstrapBrokers operation", err)
        self.assertEqual(self.cli_brokers(ORDERS), {"BootstrapBrokerString": ORDERS_BROKERS})


class EnvironmentTest(KafkaClient, unittest.TestCase):
    """ESMD_MSK_CLUSTER, one ARN=HOST:PORT,... per line, is the setting's environment form;
    --msk-cluster flags replace what it says."""

    def test_esmd_msk_cluster_names_one_cluster_per_line(self):
        with Esmd(in_memory=True, env={"ESMD_MSK_CLUSTER": f"{ORDERS}={ORDERS_BROKERS}\n\n{PAYMENTS}=pay:9096\n"}) as esmd:
            self.esmd = esmd
            self.assertEqual(self.cli_brokers(ORDERS), {"BootstrapBrokerString": ORDERS_BROKERS})
            self.assertEqual(self.kafka.get_bootstrap_brokers(ClusterArn=PAYMENTS)["BootstrapBrokerString"],
                             "pay:9096")

    def test_flags_replace_the_environments_clusters(self):
        with Esmd("--msk-cluster", f"{PAYMENTS}=flag:9097", in_memory=True,
                  env={"ESMD_MSK_CLUSTER": f"{ORDERS}={ORDERS_BROKERS}"}) as esmd:
            self.esmd = esmd
            self.assertEqual(self.cli_brokers(PAYMENTS), {"BootstrapBrokerString": "flag:9097"})
            self.assertEqual(self.cli_brokers(ORDERS), {"BootstrapBrokerString": f"127.0.0.1:{esmd.kafka_port}"})


class StartupErrorsTest(unittest.TestCase):
    def run_esmd(self, *args, env=None):
        cmd = [ESMD_BIN, "--in-memory", "--port", str(free_port()), "--kafka-port", "off", *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                                  env=dict(os.environ, **(env or {})))
        except subprocess.TimeoutExpired:
            self.fail(f"esmd started with {args} {env}")

    def test_bad_msk_cluster_values_stop_esmd_with_a_message_naming_the_flag(self):
        kinesis = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders"
        cases = (
            (("--msk-cluster", "b-1:9092"), "esmd: --msk-cluster expects ARN=HOST:PORT[,HOST:PORT...], got 'b-1:9092'"),
            (("--msk-cluster", f"{kinesis}=b-1:9092"),
             f"esmd: --msk-cluster: '{kinesis}' is not an MSK cluster ARN "
             "(arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)"),
            (("--msk-cluster", f"{ORDERS}=b-1"),
             f"esmd: --msk-cluster {ORDERS}: 'b-1' is not HOST:PORT with a port in 1..65535"),
            (("--msk-cluster", f"{ORDERS}=b-1:9092,b-2:0"),
             f"esmd: --msk-cluster {ORDERS}: 'b-2:0' is not HOST:PORT with a port in 1..65535"),
            (("--msk-cluster", f"{ORDERS}=b-1:65536"),
             f"esmd: --msk-cluster {ORDERS}: 'b-1:65536' is not HOST:PORT with a port in 1..65535"),
            (("--msk-cluster", f"{ORDERS}=:9092"),
             f"esmd: --msk-cluster {ORDERS}: ':9092' is not HOST:PORT with a port in 1..65535"),
            (("--msk-cluster", f"{ORDERS}="),
             f"esmd: --msk-cluster {ORDERS} names no broker: expected ARN=HOST:PORT[,HOST:PORT...]"),
            (("--msk-cluster", f"{ORDERS}=a:1", "--msk-cluster", f"{ORDERS}=b:2"),
             f"esmd: --msk-cluster names {ORDERS} twice"),
            (("--msk-cluster",), "esmd: --msk-cluster needs a value"),
        )
        for args, message in cases:
            with self.subTest(args=args):
                r = self.run_esmd(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.strip(), message)

    def test_a_bad_esmd_msk_cluster_names_the_variable(self):
        r = self.run_esmd(env={"ESMD_MSK_CLUSTER": f"{ORDERS}=b-1:9092\n{ORDERS}=x"})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip(),
                         f"esmd: ESMD_MSK_CLUSTER: --msk-cluster {ORDERS}: 'x' is not HOST:PORT with a port in 1..65535")


if __name__ == "__main__":
    unittest.main()
