/* librdkafka's in-memory mock cluster as a stand-alone broker, the benchmark's reference point:
 * starts one broker, prints its bootstrap address on stdout and serves until stdin closes or a
 * signal arrives. Arguments TOPIC:PARTITIONS create topics up front (the mock would auto-create
 * them with its default partition count).
 * Build: cc -O2 -o kafka_mock kafka_mock.c -lrdkafka */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "kafka_mock: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) {
    fprintf(stderr, "kafka_mock: could not start the mock cluster\n");
    return 1;
  }
  for (int i = 1; i < argc; i++) {
    char *colon = strrchr(argv[i], ':');
    int partitions = colon ? atoi(colon + 1) : 1;
    if (colon) *colon = '\0';
    if (rd_kafka_mock_topic_create(mc, argv[i], partitions, 1)) {
      fprintf(stderr, "kafka_mock: could not create topic %s\n", argv[i]);
      return 1;
    }
  }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char buf[256];
  while (fread(buf, 1, sizeof buf, stdin) > 0) {
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
