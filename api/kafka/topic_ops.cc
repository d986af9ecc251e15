// The admin APIs for topics: CreateTopics, DeleteTopics, DescribeConfigs.
#include <spdlog/spdlog.h>

#include <map>

#include "api/kafka/ops.h"

namespace esm::api {
namespace {

using kafka_wire::Reader;
using kafka_wire::Writer;

// Kafka's wording for a topic name it refuses (org.apache.kafka.common.internals.Topic).
std::string invalid_name_message(const std::string& name) {
  if (name.empty()) return "Topic name is illegal, it can't be empty";
  if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
  if (name.size() > 249)
    return "Topic name is illegal, it can't be longer than 249 characters, topic name: " + name;
  return "Topic name \"" + name + "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
}

struct CreateTopic {
  std::string name;
  std::int32_t partitions = -1;
  std::int16_t replication_factor = -1;
  bool has_assignments = false;
  std::map<std::string, std::string> configs;
  bool duplicate = false;
  std::int16_t error = 0;
  std::string message;
};

}  // namespace

void KafkaOps::create_topics(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  auto topics = std::make_shared<std::vector<CreateTopic>>();
  const std::int32_t nt = r.array_length(12);
  for (std::int32_t i = 0; i < nt && r.ok(); ++i) {
    CreateTopic t;
    t.name = r.string();
    t.partitions = r.i32();
    t.replication_factor = r.i16();
    const std::int32_t na = r.array_length(8);
    for (std::int32_t j = 0; j < na && r.ok(); ++j) {
      r.i32();
      const std::int32_t nb = r.array_length(4);
      for (std::int32_t k = 0; k < nb && r.ok(); ++k) r.i32();
      t.has_assignments = true;
    }
    const std::int32_t nc = r.array_length(4);
    for (std::int32_t j = 0; j < nc && r.ok(); ++j) {
      std::string name = r.string();
      t.configs[name] = r.nullable_string().value_or("");
    }
    for (const auto& earlier : *topics)
      if (earlier.name == t.name) t.duplicate = true;
    topics->push_back(std::move(t));
  }
  r.i32();  // timeout_ms
  const bool validate_only = v >= 1 && r.boolean();
  if (!r.ok()) return call->close();
  auto respond = [call, topics](std::optional<std::int16_t> all_error) {
    Writer w = call->response();
    if (call->version >= 2) w.i32(0);  // throttle_time_ms
    w.array_length(topics->size());
    for (const auto& t : *topics) {
      const std::int16_t err = all_error.value_or(t.error);
      w.string(t.name).i16(err);
      if (call->version >= 1) {
        if (err) w.string(all_error ? "The server experienced an unexpected error when processing the request." : t.message);
        else w.null_string();
      }
    }
    return Call::done(w);
  };
  run(call, true,
      [call, topics, validate_only, respond](storage::Connection& c) {
        for (auto& t : *topics) {
          if (t.duplicate) {
            t.error = kafka_error::kInvalidRequest;
            t.message = "Create topics request from client `" + call->client_id +
                        "` contains multiple entries for the following topics: " + t.name;
            continue;
          }
          if (t.has_assignments) {
            // Manual replica assignments name brokers; one node can only accept itself.
            t.error = kafka_error::kInvalidRequest;
            t.message = "esmd's single-node broker does not take replica assignments; give a partition count.";
            continue;
          }
          auto made = log(call).create_topic(c, t.name, t.partitions, t.replication_factor, t.configs, validate_only,
                                             clock(call).now_ms());
          if (made) {
            if (!validate_only) spdlog::info("kafka: created topic {} ({} partitions)", t.name, (*made)->partitions.size());
            continue;
          }
          t.error = error_code(made.error());
          if (made.error() == kafka::LogError::kInvalidTopic) t.message = invalid_name_message(t.name);
          else if (made.error() == kafka::LogError::kInvalidReplicationFactor)
            t.message = "Replication factor: " + std::to_string(t.replication_factor) +
                        " larger than available brokers: 1.";
          else t.message = error_message(made.error(), t.name);
        }
        return respond(std::nullopt);
      },
      [respond] { return respond(kafka_error::kUnknownServerError); });
}

void KafkaOps::delete_topics(const CallPtr& call) {
  Reader& r = call->body;
  auto names = std::make_shared<std::vector<std::pair<std::string, std::int16_t>>>();
  const std::int32_t n = r.array_length(2);
  for (std::int32_t i = 0; i < n && r.ok(); ++i) names->push_back({r.string(), 0});
  r.i32();  // timeout_ms
  if (!r.ok()) return call->close();
  auto respond = [call, names](std::optional<std::int16_t> all_error) {
    Writer w = call->response();
    if (call->version >= 1) w.i32(0);  // throttle_time_ms
    w.array_length(names->size());
    for (const auto& [name, error] : *names) w.string(name).i16(all_error.value_or(error));
    return Call::done(w);
  };
  run(call, true,
      [call, names, respond](storage::Connection& c) {
        for (auto& [name, error] : *names) {
          auto gone = log(call).delete_topic(c, name);
          error = gone ? kafka_error::kNone : error_code(gone.error());
          if (gone) spdlog::info("kafka: deleted topic {}", name);
        }
        return respond(std::nullopt);
      },
      [respond] { return respond(kafka_error::kUnknownServerError); });
}

namespace {

constexpr std::int8_t kResourceTopic = 2;
constexpr std::int8_t kResourceBroker = 4;
constexpr std::int8_t kSourceDynamicTopic = 1;
constexpr std::int8_t kSourceStaticBroker = 4;
constexpr std::int8_t kSourceDefault = 5;

struct ConfigResource {
  std::int8_t type = 0;
  std::string name;
  std::optional<std::vector<std::string>> keys;
  std::int16_t error = 0;
  std::string message;
  std::vector<kafka::TopicConfig::Entry> entries;
  std::int8_t set_source = kSourceDynamicTopic;
};

std::vector<kafka::TopicConfig::Entry> broker_entries(const BrokerInfo& b) {
  return {{"auto.create.topics.enable", b.auto_create_topics ? "true" : "false", false},
          {"broker.id", std::to_string(b.node_id), false},
          {"default.replication.factor", "1", true},
          {"log.retention.hours", "168", true},
          {"message.max.bytes", "1048588", true},
          {"num.partitions", "1", true},
          {"offsets.topic.replication.factor", "1", false}};
}

}  // namespace

void KafkaOps::describe_configs(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  auto resources = std::make_shared<std::vector<ConfigResource>>();
  const std::int32_t n = r.array_length(7);
  for (std::int32_t i = 0; i < n && r.ok(); ++i) {
    ConfigResource res;
    res.type = r.i8();
    res.name = r.string();
    const std::int32_t nk = r.array_length(2);
    if (nk >= 0) {
      res.keys.emplace();
      for (std::int32_t j = 0; j < nk && r.ok(); ++j) res.keys->push_back(r.string());
    }
    resources->push_back(std::move(res));
  }
  if (v >= 1) r.boolean();  // include_synonyms
  if (v >= 3) r.boolean();  // include_documentation
  if (!r.ok()) return call->close();
  auto respond = [call, resources]() {
    const int ver = call->version;
    Writer w = call->response();
    w.i32(0).array_length(resources->size());
    for (const auto& res : *resources) {
      w.i16(res.error);
      if (res.error) w.string(res.message);
      else w.null_string();
      w.i8(res.type).string(res.name);
      std::vector<const kafka::TopicConfig::Entry*> shown;
      for (const auto& e : res.entries)
        if (!res.keys || std::find(res.keys->begin(), res.keys->end(), e.name) != res.keys->end()) shown.push_back(&e);
      w.array_length(shown.size());
      for (const auto* e : shown) {
        w.string(e->name).string(e->value).boolean(false);  // read_only
        if (ver == 0) w.boolean(e->is_default);
        else w.i8(e->is_default ? kSourceDefault : res.set_source);
        w.boolean(false);  // is_sensitive
        if (ver >= 1) w.array_length(0);  // synonyms
        if (ver >= 3) w.i8(0).null_string();  // config_type UNKNOWN, documentation
      }
    }
    return Call::done(w);
  };
  run(call, false,
      [call, resources, respond](storage::Connection&) {
        for (auto& res : *resources) {
          if (res.type == kResourceTopic) {
            const kafka::Topic* t = log(call).find(res.name);
            if (!t) {
              res.error = kafka_error::kUnknownTopicOrPartition;
              res.message = "Topic " + res.name + " does not exist.";
            } else {
              res.entries = t->config.entries();
            }
          } else if (res.type == kResourceBroker) {
            res.entries = broker_entries(broker(call));
            res.set_source = kSourceStaticBroker;
          } else {
            res.error = kafka_error::kInvalidRequest;
            res.message = "esmd describes the configs of topics and brokers only.";
          }
        }
        return respond();
      },
      [call] { return KafkaOutcome::close(); });
}

}  // namespace esm::api
