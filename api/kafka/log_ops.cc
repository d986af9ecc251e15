// The log's APIs: Metadata, Produce, Fetch, ListOffsets, InitProducerId.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>

#include "api/kafka/ops.h"

namespace esm::api {
namespace {

using kafka_wire::Reader;
using kafka_wire::Writer;

// A fetch waits at most this long, whatever it asks (its client has given up long before).
constexpr std::int32_t kMaxFetchWaitMs = 300000;

// Metadata's answer for one topic (v0-v8).
void write_topic_metadata(Writer& w, int version, std::int16_t error, const std::string& name,
                          const kafka::Topic* t, std::int32_t node_id) {
  w.i16(error).string(name);
  if (version >= 1) w.boolean(false);  // is_internal
  const std::size_t n = t ? t->partitions.size() : 0;
  w.array_length(n);
  for (std::size_t p = 0; p < n; ++p) {
    w.i16(kafka_error::kNone).i32(static_cast<std::int32_t>(p)).i32(node_id);
    if (version >= 7) w.i32(-1);  // leader_epoch: esmd has none (reference T10)
    w.array_length(1).i32(node_id);  // replica_nodes
    w.array_length(1).i32(node_id);  // isr_nodes
    if (version >= 5) w.array_length(0);  // offline_replicas
  }
  if (version >= 8) w.i32(INT32_MIN);  // topic_authorized_operations: not requested
}

}  // namespace

void KafkaOps::metadata(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  std::optional<std::vector<std::string>> wanted;  // nullopt: every topic
  std::int32_t n = r.array_length(2);
  if (n >= 0 && !(v == 0 && n == 0)) {  // v0: an empty list means every topic
    wanted.emplace();
    for (std::int32_t i = 0; i < n && r.ok(); ++i) wanted->push_back(r.string());
  }
  bool auto_create = broker(call).auto_create_topics;
  if (v >= 4) auto_create = r.boolean() && auto_create;
  if (v >= 8) {
    r.boolean();
    r.boolean();
  }
  if (!r.ok()) return call->close();
  run(call, true,
      [call, wanted, auto_create, v](storage::Connection& c) {
        const BrokerInfo& b = broker(call);
        Writer w = call->response();
        if (v >= 3) w.i32(0);  // throttle_time_ms
        w.array_length(1).i32(b.node_id).string(b.host).i32(b.port);
        if (v >= 1) w.null_string();  // rack
        if (v >= 2) w.string(b.cluster_id);
        if (v >= 1) w.i32(b.node_id);  // controller_id: this broker (reference T4)
        kafka::LogEngine& lg = log(call);
        if (!wanted) {
          auto all = lg.topics();
          w.array_length(all.size());
          for (const kafka::Topic* t : all) write_topic_metadata(w, v, kafka_error::kNone, t->name, t, b.node_id);
        } else {
          w.array_length(wanted->size());
          for (const std::string& name : *wanted) {
            const kafka::Topic* t = lg.find(name);
            std::int16_t err = kafka_error::kNone;
            if (!t && !kafka::LogEngine::valid_topic_name(name)) {
              err = kafka_error::kInvalidTopicException;
            } else if (!t && auto_create) {
              auto made = lg.create_topic(c, name, 1, 1, {}, false, clock(call).now_ms());
              if (made) {
                t = *made;
                spdlog::info("kafka: created topic {} (1 partition) for a client's metadata request", name);
              } else {
                err = error_code(made.error());
              }
            } else if (!t) {
              err = kafka_error::kUnknownTopicOrPartition;
            }
            write_topic_metadata(w, v, err, name, t, b.node_id);
          }
        }
        if (v >= 8) w.i32(INT32_MIN);  // cluster_authorized_operations
        return Call::done(w);
      },
      [] { return KafkaOutcome::close(); });
}

namespace {

struct ProducePartition {
  std::int32_t index = 0;
  std::string_view records;
  std::int16_t error = 0;
  kafka::LogEngine::Appended appended;
};
struct ProduceTopic {
  std::string name;
  std::vector<ProducePartition> partitions;
};

std::string produce_response(const Call& call, const std::vector<ProduceTopic>& topics,
                             std::optional<std::int16_t> all_error) {
  Writer w = call.response();
  w.array_length(topics.size());
  for (const auto& t : topics) {
    w.string(t.name).array_length(t.partitions.size());
    for (const auto& p : t.partitions) {
      const std::int16_t err = all_error.value_or(p.error);
      w.i32(p.index).i16(err).i64(err ? -1 : p.appended.base_offset);
      if (call.version >= 2) w.i64(err ? -1 : p.appended.log_append_time);
      if (call.version >= 5) w.i64(err ? -1 : p.appended.log_start);
    }
  }
  w.i32(0);  // throttle_time_ms
  return w.take();
}

}  // namespace

void KafkaOps::produce(const CallPtr& call) {
  Reader& r = call->body;
  r.nullable_string();  // transactional_id: esmd has no transactions; such batches are refused
  const std::int16_t acks = r.i16();
  r.i32();  // timeout_ms: an append is committed at once
  auto topics = std::make_shared<std::vector<ProduceTopic>>();
  const std::int32_t nt = r.array_length(6);
  for (std::int32_t i = 0; i < nt && r.ok(); ++i) {
    ProduceTopic t;
    t.name = r.string();
    const std::int32_t np = r.array_length(8);
    for (std::int32_t j = 0; j < np && r.ok(); ++j) {
      ProducePartition p;
      p.index = r.i32();
      p.records = r.bytes();
      t.partitions.push_back(p);
    }
    topics->push_back(std::move(t));
  }
  if (!r.ok()) return call->close();
  const bool acks_valid = acks == 0 || acks == 1 || acks == -1;
  run(call, true,
      [call, topics, acks, acks_valid](storage::Connection& c) {
        kafka::LogEngine& lg = log(call);
        const std::int64_t now = clock(call).now_ms();
        for (auto& t : *topics) {
          kafka::Topic* topic = lg.find(t.name);
          for (auto& p : t.partitions) {
            if (!acks_valid) {
              p.error = kafka_error::kInvalidRequiredAcks;
            } else if (!topic) {
              p.error = kafka_error::kUnknownTopicOrPartition;
            } else {
              auto appended = lg.append(c, *topic, p.index, p.records, now);
              if (appended) p.appended = *appended;
              else p.error = error_code(appended.error());
            }
          }
        }
        if (acks == 0) return KafkaOutcome::none();  // acks=0 is never answered
        return KafkaOutcome::reply(produce_response(*call, *topics, std::nullopt));
      },
      [call, topics, acks] {
        if (acks == 0) return KafkaOutcome::none();
        return KafkaOutcome::reply(produce_response(*call, *topics, kafka_error::kKafkaStorageError));
      });
}

namespace {

struct FetchPartition {
  std::int32_t index = 0;
  std::int64_t offset = 0;
  std::int32_t max_bytes = 0;
  std::int16_t error = 0;
  std::int64_t high_watermark = -1;
  std::int64_t log_start = -1;
  std::string records;
};
struct FetchTopic {
  std::string name;
  std::vector<FetchPartition> partitions;
};
struct FetchRequest {
  std::int32_t max_wait_ms = 0;
  std::int32_t min_bytes = 0;
  std::int32_t max_bytes = INT32_MAX;
  std::vector<FetchTopic> topics;
};

// Reads every partition of the request from the log; the bytes read in all.
std::size_t read_fetch(kafka::LogEngine& lg, storage::Connection& c, FetchRequest& req) {
  std::size_t total = 0;
  for (auto& t : req.topics)
    for (auto& p : t.partitions) {
      p.records.clear();
      const std::size_t budget = static_cast<std::size_t>(std::max(0, req.max_bytes)) > total
                                     ? static_cast<std::size_t>(req.max_bytes) - total
                                     : 0;
      // KIP-74: the first batch is returned however large, so the consumer makes progress;
      // once the request's budget is spent, the other partitions answer without records.
      std::size_t limit = std::min<std::size_t>(budget, static_cast<std::size_t>(std::max(0, p.max_bytes)));
      if (total == 0 && limit == 0) limit = 1;
      kafka::LogEngine::Read read = lg.read(c, t.name, p.index, p.offset, limit);  // 0: no records
      p.error = error_code(read.error);
      p.high_watermark = read.high_watermark;
      p.log_start = read.log_start;
      p.records = std::move(read.records);
      total += p.records.size();
    }
  return total;
}

bool fetch_has_error(const FetchRequest& req) {
  for (const auto& t : req.topics)
    for (const auto& p : t.partitions)
      if (p.error) return true;
  return false;
}

std::string fetch_response(const Call& call, const FetchRequest& req, std::int16_t all_error) {
  const int v = call.version;
  Writer w = call.response();
  std::size_t size = 64;
  for (const auto& t : req.topics) {
    size += t.name.size() + 8;
    for (const auto& p : t.partitions) size += 64 + p.records.size();
  }
  w.buffer().reserve(size);
  w.i32(0);  // throttle_time_ms
  if (v >= 7) w.i16(kafka_error::kNone).i32(0);  // error_code, session_id: no fetch sessions
  w.array_length(req.topics.size());
  for (const auto& t : req.topics) {
    w.string(t.name).array_length(t.partitions.size());
    for (const auto& p : t.partitions) {
      const std::int16_t err = all_error ? all_error : p.error;
      w.i32(p.index).i16(err).i64(p.high_watermark);
      if (v >= 4) w.i64(p.high_watermark);  // last_stable_offset: no transactions
      if (v >= 5) w.i64(p.log_start);
      if (v >= 4) w.array_length(0);  // aborted_transactions
      if (v >= 11) w.i32(-1);  // preferred_read_replica
      w.bytes(err ? std::string_view() : std::string_view(p.records));
    }
  }
  return w.take();
}

// A fetch waiting for data: answered once, by whichever comes first of the data (a waiter
// woken after a commit), the deadline, or a failed commit's recovery. The deadline's handler
// keeps it alive; the log engine's waiters hold it weakly.
struct FetchWait {
  CallPtr call;
  std::shared_ptr<FetchRequest> req;
  std::atomic<bool> fired{false};
  std::vector<kafka::LogEngine::WaitHandle> handles;  // DbWorker thread only
};

void fire(const std::shared_ptr<FetchWait>& wait) {
  if (wait->fired.exchange(true)) return;
  const CallPtr& call = wait->call;
  auto req = wait->req;
  KafkaOps::run(call, false,
                [call, req, wait](storage::Connection& c) {
                  wait->handles.clear();
                  read_fetch(KafkaOps::log(call), c, *req);
                  return KafkaOutcome::reply(fetch_response(*call, *req, kafka_error::kNone));
                },
                [call, req] { return KafkaOutcome::reply(fetch_response(*call, *req, kafka_error::kUnknownServerError)); });
}

}  // namespace

void KafkaOps::fetch(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  auto req = std::make_shared<FetchRequest>();
  r.i32();  // replica_id
  req->max_wait_ms = r.i32();
  req->min_bytes = r.i32();
  if (v >= 3) req->max_bytes = r.i32();
  if (v >= 4) r.i8();  // isolation_level: without transactions both levels read the same
  if (v >= 7) {
    r.i32();  // session_id
    r.i32();  // session_epoch
  }
  const std::int32_t nt = r.array_length(6);
  for (std::int32_t i = 0; i < nt && r.ok(); ++i) {
    FetchTopic t;
    t.name = r.string();
    const std::int32_t np = r.array_length(16);
    for (std::int32_t j = 0; j < np && r.ok(); ++j) {
      FetchPartition p;
      p.index = r.i32();
      if (v >= 9) r.i32();  // current_leader_epoch
      p.offset = r.i64();
      if (v >= 5) r.i64();  // log_start_offset (a follower's)
      p.max_bytes = r.i32();
      t.partitions.push_back(p);
    }
    req->topics.push_back(std::move(t));
  }
  if (v >= 7) {
    const std::int32_t nf = r.array_length(6);
    for (std::int32_t i = 0; i < nf && r.ok(); ++i) {
      r.string();
      const std::int32_t np = r.array_length(4);
      for (std::int32_t j = 0; j < np && r.ok(); ++j) r.i32();
    }
  }
  if (v >= 11) r.string();  // rack_id
  if (!r.ok()) return call->close();

  auto wait = std::make_shared<FetchWait>();
  wait->call = call;
  wait->req = req;
  auto error_reply = [call, req] {
    return KafkaOutcome::reply(fetch_response(*call, *req, kafka_error::kUnknownServerError));
  };
  db(call).submit_relaxed(
      [call, req, wait, error_reply](storage::Connection& c) -> storage::DbWorker::Done {
        kafka::LogEngine& lg = log(call);
        const std::size_t total = read_fetch(lg, c, *req);
        const bool enough = total >= static_cast<std::size_t>(std::max(1, req->min_bytes)) ||
                            req->max_wait_ms <= 0 || fetch_has_error(*req);
        if (enough) {
          auto out = std::make_shared<std::string>(fetch_response(*call, *req, kafka_error::kNone));
          return [call, out, error_reply](const Status& commit) {
            call->respond(commit.is_ok() ? KafkaOutcome::reply(std::move(*out)) : error_reply());
          };
        }
        // Not enough yet: wake on the first append to any of the partitions, or at the deadline.
        std::weak_ptr<FetchWait> weak = wait;
        for (const auto& t : req->topics)
          if (const kafka::Topic* topic = lg.find(t.name))
            for (const auto& p : t.partitions)
              wait->handles.push_back(lg.wait_for_data(*topic, p.index, [weak] {
                if (auto w = weak.lock()) fire(w);
              }));
        return [call, req, wait](const Status& commit) {
          if (!commit.is_ok()) return fire(wait);
          auto timer = std::make_shared<boost::asio::steady_timer>(timers(call),
                                                                   std::chrono::milliseconds(std::min(req->max_wait_ms, kMaxFetchWaitMs)));
          timer->async_wait([wait, timer](const boost::system::error_code&) { fire(wait); });
        };
      },
      [call, error_reply](const Status&) { call->respond(error_reply()); });
}

namespace {

struct ListOffsetsPartition {
  std::int32_t index = 0;
  std::int64_t timestamp = 0;
  std::int16_t error = 0;
  std::int64_t found_timestamp = -1;
  std::int64_t offset = -1;
};
struct ListOffsetsTopic {
  std::string name;
  std::vector<ListOffsetsPartition> partitions;
};

// -1: the latest offset (the high watermark, which is also the last stable offset here);
// -2: the earliest (the log start); otherwise the first record at or after the time.
void list_offset(kafka::LogEngine& lg, storage::Connection& c, const std::string& topic, ListOffsetsPartition& p) {
  const kafka::Topic* t = lg.find(topic);
  if (!t || p.index < 0 || static_cast<std::size_t>(p.index) >= t->partitions.size()) {
    p.error = kafka_error::kUnknownTopicOrPartition;
    return;
  }
  const kafka::Partition& part = t->partitions[static_cast<std::size_t>(p.index)];
  if (p.timestamp == -1) {
    p.offset = part.next_offset;
  } else if (p.timestamp == -2) {
    p.offset = part.log_start;
  } else {
    auto found = lg.offset_for_time(c, *t, p.index, p.timestamp);
    if (!found) {
      p.error = error_code(found.error());
      return;
    }
    p.offset = found->offset;
    p.found_timestamp = found->timestamp;
  }
}

}  // namespace

void KafkaOps::list_offsets(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  r.i32();  // replica_id
  if (v >= 2) r.i8();  // isolation_level: the same answer without transactions
  auto topics = std::make_shared<std::vector<ListOffsetsTopic>>();
  const std::int32_t nt = r.array_length(6);
  for (std::int32_t i = 0; i < nt && r.ok(); ++i) {
    ListOffsetsTopic t;
    t.name = r.string();
    const std::int32_t np = r.array_length(12);
    for (std::int32_t j = 0; j < np && r.ok(); ++j) {
      ListOffsetsPartition p;
      p.index = r.i32();
      if (v >= 4) r.i32();  // current_leader_epoch
      p.timestamp = r.i64();
      t.partitions.push_back(p);
    }
    topics->push_back(std::move(t));
  }
  if (!r.ok()) return call->close();
  auto respond = [call, topics](std::optional<std::int16_t> all_error) {
    Writer w = call->response();
    if (call->version >= 2) w.i32(0);  // throttle_time_ms
    w.array_length(topics->size());
    for (const auto& t : *topics) {
      w.string(t.name).array_length(t.partitions.size());
      for (const auto& p : t.partitions) {
        const std::int16_t err = all_error.value_or(p.error);
        w.i32(p.index).i16(err).i64(err ? -1 : p.found_timestamp).i64(err ? -1 : p.offset);
        if (call->version >= 4) w.i32(-1);  // leader_epoch
      }
    }
    return Call::done(w);
  };
  run(call, false,
      [call, topics, respond](storage::Connection& c) {
        for (auto& t : *topics)
          for (auto& p : t.partitions) list_offset(log(call), c, t.name, p);
        return respond(std::nullopt);
      },
      [respond] { return respond(kafka_error::kUnknownServerError); });
}

void KafkaOps::init_producer_id(const CallPtr& call) {
  Reader& r = call->body;
  std::optional<std::string> transactional_id = r.nullable_string();
  r.i32();  // transaction_timeout_ms
  if (!r.ok()) return call->close();
  auto respond = [call](std::int16_t error, std::int64_t id) {
    Writer w = call->response();
    w.i32(0).i16(error).i64(id).i16(error ? -1 : 0);
    return Call::done(w);
  };
  if (transactional_id) {
    // esmd has no transactions (the transaction APIs are not advertised); an idempotent
    // producer sends no transactional id.
    spdlog::warn("kafka: {} asked for a transactional producer id ({}); esmd has no transactions", call->client_host,
                 *transactional_id);
    return call->respond(respond(kafka_error::kInvalidRequest, -1));
  }
  run(call, true,
      [call, respond](storage::Connection& c) {
        auto id = log(call).new_producer_id(c);
        if (!id) return respond(error_code(id.error()), -1);
        return respond(kafka_error::kNone, *id);
      },
      [respond] { return respond(kafka_error::kUnknownServerError, -1); });
}

}  // namespace esm::api
