/* mock_kafka_cluster: librdkafka's in-memory mock cluster as "someone else's Kafka" for the
 * Kafka poller's integration tests (tests/integration/mock_kafka.py drives it).
 *
 *   mock_kafka_cluster [--brokers N] [--topic NAME:PARTITIONS]... [--debug CONTEXTS]
 *
 * Starts N brokers (default 1, ids 1..N) on a producer handle, creates the --topic topics (the
 * replication factor is min(N, 3), as for the mock's auto-created topics), prints ONE line
 *
 *   BOOTSTRAP 127.0.0.1:PORT[,127.0.0.1:PORT...]
 *
 * on stdout, then reads commands from stdin, one a line, and answers each with one line:
 *
 *   down       every broker refuses connections and drops the open ones   -> OK
 *   up         every broker accepts connections again                     -> OK
 *   down ID    / up ID: one broker only                                   -> OK
 *   anything else, or a broker id the cluster lacks                        -> ERR <reason>
 *
 * EOF on stdin, SIGTERM or SIGINT destroy the cluster and exit 0. Exit 2 on bad arguments,
 * 1 when the cluster cannot start. librdkafka logs warnings and errors to stderr; `--debug mock`
 * (librdkafka's `debug` property) also logs every request the mock receives.
 *
 * What librdkafka 2.0.2's mock supports (src/rdkafka_mock*.c at tag v2.0.2, and
 * tests/integration/test_mock_kafka_cluster.py, which checks the claims marked [TEST]):
 * - Consumer groups: yes. FindCoordinator 0-2, JoinGroup 0-5, SyncGroup 0-3, Heartbeat 0-3,
 *   LeaveGroup 0-1, OffsetCommit 0-7 and OffsetFetch 0-5 are served; confluent-kafka's
 *   subscribe() joins, commits, and a new member of the same group resumes after the committed
 *   offsets [TEST]. Timing traps of its group coordinator (src/rdkafka_mock_cgrp.c):
 *   - the first join of a new group waits 3 s (its fixed group.initial.rebalance.delay.ms);
 *   - when the last member leaves (LeaveGroup), the group waits for rejoins for the leaver's
 *     session.timeout.ms - 1 s before it elects a leader: with the default 45 s a new member's
 *     JoinGroup stalls 44 s (a 30 s read deadline ran out while this test was written). Give
 *     test consumers a short session.timeout.ms (6 s -> 5 s).
 *   Committed offsets live with the partition in memory: they survive down/up [TEST], not a
 *   restart of this program. Groups and offsets are freed only with the cluster (no expiry).
 * - No CreateTopics, DeleteTopics, DescribeConfigs, ListGroups or DescribeGroups: admin clients
 *   fail. Topics come from --topic or from auto-creation by Metadata (4 partitions).
 * - It keeps about 5 MB per partition; older records are dropped (low watermark moves).
 * - down/up: rd_kafka_mock_broker_set_down/_set_up exist in 2.0.2 (and take -1 for all
 *   brokers; this program names each id). set_down closes the listening socket and at once
 *   binds a new one to the same address (SO_REUSEADDR) without listen(): while down, connects
 *   are refused and open connections are closed. set_up listen()s on that socket. So the
 *   bootstrap address stays the same across down/up [TEST], and rd_kafka_mock_cluster_bootstraps
 *   is fixed at creation. set_down does not move partition leadership, and the group
 *   coordinator keeps counting session timeouts while its broker is down.
 * - Clients, not the mock: a new librdkafka client fails at once while every broker is down
 *   ("All broker connections are down"; kcat exits 1) [TEST]; a live producer's records fail
 *   with _MSG_TIMED_OUT [TEST], no sooner than message.timeout.ms and, between reconnect
 *   attempts, up to the reconnect backoff later (9.8 s for 3 s with the defaults); after `up` a
 *   live client reconnects only when its backoff (reconnect.backoff.max.ms, 10 s by default in
 *   2.0.2) has run out: the test lowers it to 0.5 s [TEST].
 * - The calls are synchronous (they wait for the mock's thread), so OK means the state holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MAX_TOPICS 64
#define LINE_MAX_LEN 1024

struct topic_arg {
  char name[256];
  int partitions;
};

struct options {
  const char *debug;
  int brokers;
  int topic_count;
  struct topic_arg topics[MAX_TOPICS];
};

static void usage(void) {
  fprintf(stderr, "usage: mock_kafka_cluster [--brokers N] [--topic NAME:PARTITIONS]... [--debug CONTEXTS]\n");
}

/* A decimal integer in [lo, hi], the whole string; -1 otherwise (lo is never negative here). */
static long parse_count(const char *text, long lo, long hi) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < lo || v > hi) return -1;
  return v;
}

static int parse_topic(const char *arg, struct topic_arg *out) {
  const char *colon = strrchr(arg, ':');
  if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof out->name) return -1;
  long partitions = parse_count(colon + 1, 1, 100000);
  if (partitions < 0) return -1;
  memcpy(out->name, arg, (size_t)(colon - arg));
  out->name[colon - arg] = '\0';
  out->partitions = (int)partitions;
  return 0;
}

static int parse_args(int argc, char **argv, struct options *opt) {
  opt->debug = NULL;
  opt->brokers = 1;
  opt->topic_count = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      long n = parse_count(argv[++i], 1, 64);
      if (n < 0) {
        fprintf(stderr, "mock_kafka_cluster: --brokers wants 1..64, not %s\n", argv[i]);
        return -1;
      }
      opt->brokers = (int)n;
    } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
      if (opt->topic_count == MAX_TOPICS) {
        fprintf(stderr, "mock_kafka_cluster: at most %d --topic\n", MAX_TOPICS);
        return -1;
      }
      if (parse_topic(argv[++i], &opt->topics[opt->topic_count]) != 0) {
        fprintf(stderr, "mock_kafka_cluster: --topic wants NAME:PARTITIONS, not %s\n", argv[i]);
        return -1;
      }
      opt->topic_count++;
    } else if (strcmp(argv[i], "--debug") == 0 && i + 1 < argc) {
      opt->debug = argv[++i];
    } else {
      usage();
      return -1;
    }
  }
  return 0;
}

/* Writes one answer line and flushes it; -1 when stdout is gone (the driver died). */
__attribute__((format(printf, 1, 2))) static int answer(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int written = vprintf(fmt, ap);
  va_end(ap);
  if (written < 0 || putchar('\n') == EOF || fflush(stdout) != 0) return -1;
  return 0;
}

/* Sets brokers first..last up or down; stops at the first error. */
static rd_kafka_resp_err_t set_brokers(rd_kafka_mock_cluster_t *mc, int first, int last, int up) {
  for (int id = first; id <= last; id++) {
    rd_kafka_resp_err_t err =
        up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
    if (err) return err;
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Runs one command line; -1 when the answer cannot be written. */
static int run_command(rd_kafka_mock_cluster_t *mc, int brokers, char *line) {
  char *save = NULL;
  char *verb = strtok_r(line, " \t\r", &save);
  char *arg = verb ? strtok_r(NULL, " \t\r", &save) : NULL;
  char *extra = arg ? strtok_r(NULL, " \t\r", &save) : NULL;
  if (!verb) return answer("ERR empty command");
  int up = strcmp(verb, "up") == 0;
  if (!up && strcmp(verb, "down") != 0) return answer("ERR unknown command: %s", verb);
  if (extra) return answer("ERR %s takes at most one broker id", verb);
  int first = 1, last = brokers;
  if (arg) {
    long id = parse_count(arg, 0, INT_MAX);
    if (id < 0) return answer("ERR bad broker id: %s", arg);
    first = last = (int)id;
  }
  rd_kafka_resp_err_t err = set_brokers(mc, first, last, up);
  if (err) return answer("ERR %s", rd_kafka_err2str(err));
  return answer("OK");
}

/* Serves stdin until EOF or a termination signal (read from sfd). Returns the exit code. */
static int serve(rd_kafka_mock_cluster_t *mc, int brokers, int sfd) {
  char buf[LINE_MAX_LEN];
  size_t len = 0;
  int eof = 0;
  while (!eof) {
    struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      perror("mock_kafka_cluster: poll");
      return 1;
    }
    if (fds[1].revents & POLLIN) return 0; /* SIGTERM or SIGINT */
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      perror("mock_kafka_cluster: read");
      return 1;
    }
    if (n == 0) eof = 1;
    len += (size_t)n;
    buf[len] = '\0';
    /* Every complete line; at EOF also an unterminated last one. */
    char *start = buf;
    char *nl;
    while ((nl = strchr(start, '\n')) != NULL || (eof && *start)) {
      if (nl) *nl = '\0';
      if (run_command(mc, brokers, start) != 0) return 0;
      start = nl ? nl + 1 : start + strlen(start);
    }
    len = (size_t)(buf + len - start);
    memmove(buf, start, len);
    if (len == sizeof buf - 1) {
      if (answer("ERR line too long") != 0) return 0;
      len = 0;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  struct options opt;
  if (parse_args(argc, argv, &opt) != 0) return 2;

  /* Blocked before librdkafka starts its threads, which inherit the mask: the signals then
   * reach only the signalfd that serve() polls, never a thread of librdkafka's. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  if (sigprocmask(SIG_BLOCK, &term, NULL) != 0) {
    perror("mock_kafka_cluster: sigprocmask");
    return 1;
  }
  int sfd = signalfd(-1, &term, SFD_CLOEXEC);
  if (sfd < 0) {
    perror("mock_kafka_cluster: signalfd");
    return 1;
  }
  /* A driver that died leaves a closed pipe: a failed write ends the program, not SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);

  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* The handle only hosts the cluster: its notice that it has no bootstrap.servers is noise. */
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
      (opt.debug && rd_kafka_conf_set(conf, "debug", opt.debug, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)) {
    fprintf(stderr, "mock_kafka_cluster: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "mock_kafka_cluster: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, opt.brokers);
  if (!mc) {
    fprintf(stderr, "mock_kafka_cluster: could not start a mock cluster of %d brokers\n", opt.brokers);
    rd_kafka_destroy(rk);
    return 1;
  }
  int code = 0;
  int replication = opt.brokers < 3 ? opt.brokers : 3;
  for (int i = 0; i < opt.topic_count && code == 0; i++) {
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(mc, opt.topics[i].name, opt.topics[i].partitions, replication);
    if (err) {
      fprintf(stderr, "mock_kafka_cluster: topic %s: %s\n", opt.topics[i].name, rd_kafka_err2str(err));
      code = 1;
    }
  }
  if (code == 0) {
    if (printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc)) < 0 || fflush(stdout) != 0)
      code = 1;
    else
      code = serve(mc, opt.brokers, sfd);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  close(sfd);
  return code;
}
