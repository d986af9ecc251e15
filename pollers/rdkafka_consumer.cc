#include "pollers/rdkafka_consumer.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "pollers/rdkafka_library.h"

namespace esm::pollers {
namespace {

// kafka.md B.7: what AWS reports for a cluster it cannot reach.
constexpr const char* kConnectionProblem =
    "PROBLEM: Connection error. Please check your event source connection configuration.";
constexpr int kBlockingCallMs = 10000;

// Set when esmd stops without waiting for the last destroys: librdkafka's threads may still
// call the log callback while the process exits, and must not log through spdlog then.
std::atomic<bool> g_quiet{false};

// Applies the settings to conf; on a refusal destroys conf and says which setting.
template <std::size_t N>
std::optional<std::string> configure(rd_kafka_conf_t* conf, const std::pair<const char*, std::string> (&settings)[N]) {
  char err[512];
  for (const auto& [name, value] : settings)
    if (rdkafka().rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rdkafka().rd_kafka_conf_destroy(conf);
      return std::string(name) + ": " + err;
    }
  return std::nullopt;
}

using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, decltype(&rd_kafka_topic_partition_list_destroy)>;

// Destroys librdkafka handles on a thread of its own. rd_kafka_destroy joins librdkafka's
// threads, which may first wait for a broker's answer to a request in flight; when the broker
// is esmd's own, its answer needs the I/O threads, so an I/O thread must never wait for it.
class Reaper {
 public:
  // Never destroyed: at exit a destroy still waiting for a cluster that went away is not
  // waited for, and the thread ends with the process.
  static Reaper& instance() {
    static Reaper* r = new Reaper;
    return *r;
  }

  void add(std::function<void()> destroy) {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(destroy));
      ++pending_;
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    cv_.notify_all();
  }

  bool drain(std::chrono::milliseconds limit) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [this] { return pending_ == 0; });
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return !jobs_.empty(); });
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lk.unlock();
      const auto start = std::chrono::steady_clock::now();
      job();
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      if (ms.count() >= 1000 && !g_quiet) spdlog::warn("Kafka: a librdkafka handle took {} ms to destroy", ms.count());
      lk.lock();
      --pending_;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::size_t pending_ = 0;
  std::thread thread_;
};

// What a consumer shares with its assigner thread (under mu). A rebalance callback bumps the
// generation, so that an assignment resolved for an earlier one is dropped.
struct AssignJob {
  std::uint64_t generation;
  PartitionList parts;
};
struct Assigner {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<AssignJob> jobs;
  std::uint64_t generation = 0;
  bool running = false;
  std::atomic<bool> stop{false};               // also read without the lock, between its calls
  std::atomic<bool> topic_was_missing{false};  // before the first assignment (set by poll)
};

class RdKafkaConsumer final : public KafkaConsumer {
 public:
  explicit RdKafkaConsumer(KafkaConsumerConfig config) : config_(std::move(config)) {}
  // Not closed through close_step() (esmd shutting down with a batch in flight, or a cluster
  // that never answered the close): destroyed without leaving the group, which does not wait;
  // the group notices at its session timeout, and what was not committed comes again.
  ~RdKafkaConsumer() override {
    close_producer();
    // The assigner may be waiting for the cluster: it is told to stop and joined by the reaper,
    // before the handle it uses is destroyed.
    signal_assigner_stop();
    if (!rk_) {
      if (assigner_ && assigner_->joinable()) assigner_->join();
      return;
    }
    for (rd_kafka_queue_t** q : {&queue_, &close_queue_})
      if (*q) {
        rdkafka().rd_kafka_queue_cb_event_enable(*q, nullptr, nullptr);
        rdkafka().rd_kafka_queue_destroy(*q);
      }
    Reaper::instance().add([rk = rk_, assigner = std::move(assigner_)] {
      if (assigner && assigner->joinable()) assigner->join();
      rdkafka().rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    });
  }

  std::optional<std::string> open(std::function<void()> wake) override {
#ifdef ESMD_RDKAFKA_OFF
    (void)wake;
    return std::string("this is a ThreadSanitizer build, where librdkafka's threads cannot run");
#endif
    if (auto missing = load_rdkafka()) return missing;
    wake_ = std::move(wake);
    char err[512];
    rd_kafka_conf_t* conf = rdkafka().rd_kafka_conf_new();
    const std::pair<const char*, std::string> settings[] = {
        {"bootstrap.servers", config_.bootstrap},
        {"group.id", config_.group_id},
        {"client.id", config_.client_id.empty() ? "esmd" : config_.client_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", config_.starting_position == "LATEST" ? "latest" : "earliest"},
        {"allow.auto.create.topics", "false"},
        // A topic created after the mapping is read within a second or two.
        {"topic.metadata.refresh.interval.ms", "1000"},
        // The poller polls only while the next batch has room: a batch retried for hours must
        // not cost the group its member.
        {"max.poll.interval.ms", "86400000"},
        // Bounds what is fetched ahead of the poller (per mapping).
        {"queued.max.messages.kbytes", "16384"},
        {"fetch.wait.max.ms", "100"},
        {"reconnect.backoff.max.ms", "2000"},
        {"log.connection.close", "false"},
    };
    if (auto refused = configure(conf, settings)) return refused;
    rdkafka().rd_kafka_conf_set_opaque(conf, this);
    rdkafka().rd_kafka_conf_set_rebalance_cb(conf, &RdKafkaConsumer::on_rebalance);
    rdkafka().rd_kafka_conf_set_error_cb(conf, &RdKafkaConsumer::on_error);
    rdkafka().rd_kafka_conf_set_offset_commit_cb(conf, &RdKafkaConsumer::on_commit);
    rdkafka().rd_kafka_conf_set_log_cb(conf, &RdKafkaConsumer::on_log);
    rk_ = rdkafka().rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk_) {
      rdkafka().rd_kafka_conf_destroy(conf);
      return std::string(err);
    }
    rdkafka().rd_kafka_poll_set_consumer(rk_);
    queue_ = rdkafka().rd_kafka_queue_get_consumer(rk_);
    rdkafka().rd_kafka_queue_cb_event_enable(queue_, &RdKafkaConsumer::on_queue_event, this);
    PartitionList topics(rdkafka().rd_kafka_topic_partition_list_new(1), rdkafka().rd_kafka_topic_partition_list_destroy);
    rdkafka().rd_kafka_topic_partition_list_add(topics.get(), config_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t e = rdkafka().rd_kafka_subscribe(rk_, topics.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::string("subscribe: ") + rdkafka().rd_kafka_err2str(e);
    return std::nullopt;
  }

  KafkaPoll poll(std::size_t max) override {
    KafkaPoll out;
    if (producer_) rdkafka().rd_kafka_poll(producer_, 0);  // delivery reports of send()
    while (rk_ && out.messages.size() < max) {
      rd_kafka_message_t* m = rdkafka().rd_kafka_consumer_poll(rk_, 0);
      if (!m) break;
      if (m->err) {
        note_message_error(*m);
      } else {
        out.messages.push_back(convert(*m));
        problem_.reset();
      }
      rdkafka().rd_kafka_message_destroy(m);
    }
    out.problem = problem_;
    out.revoked = std::exchange(revoked_, {});
    return out;
  }

  // Commits are cumulative: while one is in flight the next offsets are merged, and go out in
  // one request when it is answered. One commit per batch unbounded would flood the group
  // coordinator (a batch of 100 records is done every few milliseconds).
  void commit(const std::vector<KafkaOffset>& offsets) override {
    if (!rk_) return;
    for (const auto& o : offsets) {
      auto& next = to_commit_[{o.topic, o.partition}];
      next = std::max(next, o.next);
    }
    send_commit();
  }

  void send(const std::string& topic, std::optional<std::string> key, std::string value,
            std::function<void(const std::string&)> done) override {
    if (!producer_) {
      if (auto refused = open_producer()) return done(*refused);
    }
    auto* callback = new std::function<void(const std::string&)>(std::move(done));
    // The macros below cast their arguments textually: plain variables only.
    const void* key_data = key ? key->data() : nullptr;
    const std::size_t key_size = key ? key->size() : 0;
    rd_kafka_resp_err_t e = rdkafka().rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key_data, key_size),
        RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_OPAQUE(callback), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::unique_ptr<std::function<void(const std::string&)>> owned(callback);
      (*owned)(rdkafka().rd_kafka_err2str(e));
    }
  }

  bool close_step() override {
    if (!rk_) return true;
    if (!close_queue_) {
      // An assignment being resolved ends first (its calls are bounded): it uses the handle.
      if (assigner_busy()) return false;
      signal_assigner_stop();
      if (assigner_ && assigner_->joinable()) assigner_->join();  // idle: it returns at once
      // The last commits first (bounded): serve their answers, dropping what is fetched meanwhile.
      if (commit_in_flight_ || !to_commit_.empty()) {
        if (!close_deadline_) close_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        if (std::chrono::steady_clock::now() < *close_deadline_) {
          send_commit();
          while (rd_kafka_message_t* m = rdkafka().rd_kafka_consumer_poll(rk_, 0)) rdkafka().rd_kafka_message_destroy(m);
          if (commit_in_flight_ || !to_commit_.empty()) return false;
        } else {
          spdlog::warn("Kafka group {}: the last commit was not answered in 5 s", config_.group_id);
        }
      }
      close_producer();
      // librdkafka's own blocking close, unrolled: the close runs in the background and its
      // callbacks (the final revoke) are served from this queue, whose wake-up is the poller's.
      close_queue_ = rdkafka().rd_kafka_queue_new(rk_);
      rdkafka().rd_kafka_queue_cb_event_enable(close_queue_, &RdKafkaConsumer::on_queue_event, this);
      if (rd_kafka_error_t* e = rdkafka().rd_kafka_consumer_close_queue(rk_, close_queue_)) {
        spdlog::debug("Kafka group {}: close: {}", config_.group_id, rdkafka().rd_kafka_error_string(e));
        rdkafka().rd_kafka_error_destroy(e);
      }
    }
    rdkafka().rd_kafka_queue_poll_callback(close_queue_, 0);
    if (!rdkafka().rd_kafka_consumer_closed(rk_)) return false;
    for (rd_kafka_queue_t** q : {&queue_, &close_queue_}) {
      rdkafka().rd_kafka_queue_cb_event_enable(*q, nullptr, nullptr);
      rdkafka().rd_kafka_queue_destroy(*q);
      *q = nullptr;
    }
    Reaper::instance().add([rk = rk_] { rdkafka().rd_kafka_destroy(rk); });
    rk_ = nullptr;
    return true;
  }

 private:
  void send_commit() {
    if (commit_in_flight_ || to_commit_.empty()) return;
    PartitionList list(rdkafka().rd_kafka_topic_partition_list_new(static_cast<int>(to_commit_.size())),
                       rdkafka().rd_kafka_topic_partition_list_destroy);
    for (const auto& [tp, next] : to_commit_)
      rdkafka().rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = next;
    to_commit_.clear();
    if (rd_kafka_resp_err_t e = rdkafka().rd_kafka_commit(rk_, list.get(), 1); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("Kafka group {}: commit not sent: {}", config_.group_id, rdkafka().rd_kafka_err2str(e));
      return;
    }
    commit_in_flight_ = true;
  }

  void close_producer() {
    if (!producer_) return;
    rdkafka().rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rdkafka().rd_kafka_poll(producer_, 0);  // the purged records' reports free their callbacks
    rdkafka().rd_kafka_queue_cb_event_enable(producer_queue_, nullptr, nullptr);
    rdkafka().rd_kafka_queue_destroy(producer_queue_);
    Reaper::instance().add([rk = producer_] { rdkafka().rd_kafka_destroy(rk); });
    producer_ = nullptr;
  }

  // The producer of kafka:// destinations: same cluster, every replica acknowledges.
  std::optional<std::string> open_producer() {
    if (auto missing = load_rdkafka()) return missing;
    char err[512];
    rd_kafka_conf_t* conf = rdkafka().rd_kafka_conf_new();
    const std::pair<const char*, std::string> settings[] = {
        {"bootstrap.servers", config_.bootstrap},
        {"client.id", (config_.client_id.empty() ? std::string("esmd") : config_.client_id) + "-failures"},
        {"acks", "all"},
        {"linger.ms", "0"},
        {"message.timeout.ms", "30000"},
        {"log.connection.close", "false"},
    };
    if (auto refused = configure(conf, settings)) return refused;
    rdkafka().rd_kafka_conf_set_opaque(conf, this);
    rdkafka().rd_kafka_conf_set_dr_msg_cb(conf, &RdKafkaConsumer::on_delivered);
    rdkafka().rd_kafka_conf_set_log_cb(conf, &RdKafkaConsumer::on_log);
    producer_ = rdkafka().rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!producer_) {
      rdkafka().rd_kafka_conf_destroy(conf);
      return std::string(err);
    }
    producer_queue_ = rdkafka().rd_kafka_queue_get_main(producer_);
    rdkafka().rd_kafka_queue_cb_event_enable(producer_queue_, &RdKafkaConsumer::on_queue_event, this);
    return std::nullopt;
  }

  static void on_delivered(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    std::unique_ptr<std::function<void(const std::string&)>> done(
        static_cast<std::function<void(const std::string&)>*>(m->_private));
    if (done) (*done)(m->err ? rdkafka().rd_kafka_err2str(m->err) : "");
  }

  static RdKafkaConsumer& of(void* opaque) { return *static_cast<RdKafkaConsumer*>(opaque); }

  static void on_queue_event(rd_kafka_t*, void* opaque) { of(opaque).wake_(); }

  static void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
    if (g_quiet) return;
    if (level <= 3)
      spdlog::warn("librdkafka {}: {}", fac, buf);
    else
      spdlog::debug("librdkafka {}: {}", fac, buf);
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto& self = of(opaque);
    const auto e = static_cast<rd_kafka_resp_err_t>(err);
    if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        e == RD_KAFKA_RESP_ERR__RESOLVE || e == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
      if (!self.problem_) spdlog::warn("Kafka group {}: {} ({})", self.config_.group_id, reason, self.config_.bootstrap);
      self.problem_ = kConnectionProblem;
    } else {
      spdlog::warn("Kafka group {}: {}", self.config_.group_id, reason);
    }
  }

  static void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto& self = of(opaque);
    self.commit_in_flight_ = false;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      spdlog::warn("Kafka group {}: commit failed: {}", self.config_.group_id, rdkafka().rd_kafka_err2str(err));
      // Again with the next one (unless a later commit of the partition supersedes it).
      for (int i = 0; parts && i < parts->cnt; ++i) {
        auto& next = self.to_commit_[{parts->elems[i].topic, parts->elems[i].partition}];
        next = std::max(next, parts->elems[i].offset);
      }
    }
    self.send_commit();
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    auto& self = of(opaque);
    Assigner& as = *self.assign_;
    std::unique_lock lk(as.mu);
    ++as.generation;  // an assignment still being resolved is stale
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self.problem_.reset();
      self.assigned_once_ = true;
      // Resolving the starting positions asks the cluster (and waits): not on the poller's
      // thread, which is an I/O thread that may also be serving the cluster (esmd's own broker).
      as.jobs.push_back(
          {as.generation,
           PartitionList(rdkafka().rd_kafka_topic_partition_list_copy(parts), rdkafka().rd_kafka_topic_partition_list_destroy)});
      if (!self.assigner_)
        self.assigner_ = std::make_shared<std::thread>([a = self.assign_, rk, config = self.config_] {
          run_assigner(*a, rk, config);
        });
      lk.unlock();
      as.cv.notify_one();
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
      for (int i = 0; i < parts->cnt; ++i) self.revoked_.emplace_back(parts->elems[i].topic, parts->elems[i].partition);
    rdkafka().rd_kafka_assign(rk, nullptr);
  }

  // The assigner thread: resolves each assignment's starting positions (blocking calls to the
  // cluster, bounded by kBlockingCallMs each) and assigns it, unless a later rebalance made it
  // stale. rd_kafka_assign may be called outside the rebalance callback: the group waits for it.
  // It uses only the shared Assigner, the handle and a copy of the configuration, so that the
  // consumer may be gone while it finishes (the reaper joins it before destroying the handle).
  static void run_assigner(Assigner& a, rd_kafka_t* rk, const KafkaConsumerConfig& config) {
    std::unique_lock lk(a.mu);
    for (;;) {
      a.cv.wait(lk, [&a] { return a.stop || !a.jobs.empty(); });
      if (a.stop) return;
      AssignJob job = std::move(a.jobs.front());
      a.jobs.pop_front();
      if (job.generation != a.generation) continue;
      a.running = true;
      lk.unlock();
      PartitionList at = resolve_start(a, rk, config, job.parts.get());
      lk.lock();
      a.running = false;
      if (job.generation == a.generation && !a.stop) rdkafka().rd_kafka_assign(rk, at.get());
    }
  }

  bool assigner_busy() {
    std::lock_guard lk(assign_->mu);
    return assign_->running || !assign_->jobs.empty();
  }

  void signal_assigner_stop() {
    {
      std::lock_guard lk(assign_->mu);
      assign_->stop = true;
      assign_->jobs.clear();
    }
    assign_->cv.notify_one();
  }

  // What to assign: the group's committed offsets; where it has none, the starting position,
  // resolved now and committed so that it is taken once (data-plane.md §4, kafka.md B.4).
  // Assigner thread.
  static PartitionList resolve_start(Assigner& a, rd_kafka_t* rk, const KafkaConsumerConfig& config_,
                                     const rd_kafka_topic_partition_list_t* parts) {
    PartitionList at(rdkafka().rd_kafka_topic_partition_list_copy(parts), rdkafka().rd_kafka_topic_partition_list_destroy);
    if (rd_kafka_resp_err_t e = rdkafka().rd_kafka_committed(rk, at.get(), kBlockingCallMs); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("Kafka group {}: committed offsets not read ({}): auto.offset.reset applies", config_.group_id,
                   rdkafka().rd_kafka_err2str(e));
      return PartitionList(rdkafka().rd_kafka_topic_partition_list_copy(parts), rdkafka().rd_kafka_topic_partition_list_destroy);
    }
    PartitionList fresh(rdkafka().rd_kafka_topic_partition_list_new(at->cnt), rdkafka().rd_kafka_topic_partition_list_destroy);
    for (int i = 0; i < at->cnt && !a.stop; ++i) {
      auto& p = at->elems[i];
      if (p.offset >= 0) continue;
      std::int64_t low = 0, high = 0;
      if (rdkafka().rd_kafka_query_watermark_offsets(rk, p.topic, p.partition, &low, &high, kBlockingCallMs) !=
          RD_KAFKA_RESP_ERR_NO_ERROR)
        continue;  // auto.offset.reset applies
      // LATEST is the end of the partition when the mapping began to read; a topic that did not
      // exist then holds only records produced since, so it is read from its start.
      p.offset = config_.starting_position == "LATEST" && !a.topic_was_missing ? high : low;
      if (config_.starting_position == "AT_TIMESTAMP") {
        PartitionList when(rdkafka().rd_kafka_topic_partition_list_new(1), rdkafka().rd_kafka_topic_partition_list_destroy);
        rdkafka().rd_kafka_topic_partition_list_add(when.get(), p.topic, p.partition)->offset = config_.start_timestamp_ms;
        if (rdkafka().rd_kafka_offsets_for_times(rk, when.get(), kBlockingCallMs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            when->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
          p.offset = when->elems[0].offset >= 0 ? when->elems[0].offset : high;
      }
      rdkafka().rd_kafka_topic_partition_list_add(fresh.get(), p.topic, p.partition)->offset = p.offset;
    }
    if (fresh->cnt > 0) {
      if (rd_kafka_resp_err_t e = rdkafka().rd_kafka_commit(rk, fresh.get(), 0); e != RD_KAFKA_RESP_ERR_NO_ERROR)
        spdlog::warn("Kafka group {}: starting position not committed: {}", config_.group_id, rdkafka().rd_kafka_err2str(e));
      for (int i = 0; i < fresh->cnt; ++i)
        spdlog::info("Kafka group {}: {}-{} starts at offset {} ({})", config_.group_id, fresh->elems[i].topic,
                     fresh->elems[i].partition, fresh->elems[i].offset, config_.starting_position);
    }
    return at;
  }

  void note_message_error(const rd_kafka_message_t& m) {
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    const std::string what = rdkafka().rd_kafka_message_errstr(&m);
    if (m.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      if (!unknown_topic_logged_)
        spdlog::warn("Kafka group {}: topic {} does not exist (yet): {}", config_.group_id, config_.topic, what);
      unknown_topic_logged_ = true;
      if (!assigned_once_) assign_->topic_was_missing = true;
      return;
    }
    spdlog::warn("Kafka group {}: {}", config_.group_id, what);
  }

  static KafkaMessage convert(const rd_kafka_message_t& m) {
    KafkaMessage out;
    out.topic = rdkafka().rd_kafka_topic_name(m.rkt);
    out.partition = m.partition;
    out.offset = m.offset;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    out.timestamp_ms = rdkafka().rd_kafka_message_timestamp(&m, &type);
    out.log_append_time = type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME;
    if (m.key) out.key.emplace(static_cast<const char*>(m.key), m.key_len);
    if (m.payload) out.value.emplace(static_cast<const char*>(m.payload), m.len);
    rd_kafka_headers_t* headers = nullptr;
    if (rdkafka().rd_kafka_message_headers(&m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers) {
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0; rdkafka().rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        KafkaHeader h{name, std::nullopt};
        if (value) h.value.emplace(static_cast<const char*>(value), size);
        out.headers.push_back(std::move(h));
      }
    }
    return out;
  }

  KafkaConsumerConfig config_;
  std::function<void()> wake_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  rd_kafka_queue_t* close_queue_ = nullptr;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_queue_t* producer_queue_ = nullptr;
  // Written by the callbacks, which librdkafka runs inside poll() (on the caller's thread).
  std::optional<std::string> problem_;
  std::vector<std::pair<std::string, int>> revoked_;
  bool unknown_topic_logged_ = false;
  std::map<std::pair<std::string, int>, std::int64_t> to_commit_;  // next offsets not sent yet
  bool commit_in_flight_ = false;
  std::optional<std::chrono::steady_clock::time_point> close_deadline_;
  bool assigned_once_ = false;
  std::shared_ptr<Assigner> assign_ = std::make_shared<Assigner>();
  std::shared_ptr<std::thread> assigner_;  // started by the first assignment
};

}  // namespace

std::unique_ptr<KafkaConsumer> make_rdkafka_consumer(const KafkaConsumerConfig& config) {
  return std::make_unique<RdKafkaConsumer>(config);
}

bool drain_rdkafka_destroys(std::chrono::milliseconds limit) {
  if (Reaper::instance().drain(limit)) return true;
  g_quiet = true;
  return false;
}

}  // namespace esm::pollers
