// The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups.
#include <spdlog/spdlog.h>

#include "api/kafka/ops.h"

namespace esm::api {
namespace {

using kafka_wire::Reader;
using kafka_wire::Writer;

constexpr std::size_t kMaxCommitMetadata = 4096;  // Kafka's offset.metadata.max.bytes
constexpr std::int16_t kOffsetMetadataTooLarge = 12;

}  // namespace

void KafkaOps::find_coordinator(const CallPtr& call) {
  Reader& r = call->body;
  r.string();  // key: every group (and transactional id) is coordinated by this one node
  if (call->version >= 1) r.i8();  // key_type
  if (!r.ok()) return call->close();
  const BrokerInfo& b = broker(call);
  Writer w = call->response();
  if (call->version >= 1) w.i32(0);
  w.i16(kafka_error::kNone);
  if (call->version >= 1) w.null_string();
  w.i32(b.node_id).string(b.host).i32(b.port);
  call->reply(w);
}

void KafkaOps::join_group(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  kafka::JoinRequest req;
  req.group_id = r.string();
  req.session_timeout_ms = r.i32();
  if (v >= 1) req.rebalance_timeout_ms = r.i32();
  req.member_id = r.string();
  if (v >= 5) req.group_instance_id = r.nullable_string();
  req.protocol_type = r.string();
  const std::int32_t n = r.array_length(6);
  for (std::int32_t i = 0; i < n && r.ok(); ++i) {
    kafka::GroupProtocol p;
    p.name = r.string();
    p.metadata = std::string(r.bytes());
    req.protocols.push_back(std::move(p));
  }
  if (!r.ok()) return call->close();
  req.client_id = call->client_id;
  req.client_host = "/" + call->client_host;
  req.require_known_member_id = v >= 4;  // MEMBER_ID_REQUIRED exists from v4 (reference T5)
  groups(call).join(std::move(req), [call](kafka::JoinResult res) {
    const int ver = call->version;
    Writer w = call->response();
    if (ver >= 2) w.i32(0);
    w.i16(error_code(res.error)).i32(res.generation_id).string(res.protocol_name).string(res.leader);
    w.string(res.member_id).array_length(res.members.size());
    for (const auto& m : res.members) {
      w.string(m.member_id);
      if (ver >= 5) w.nullable_string(m.group_instance_id);
      w.bytes(m.metadata);
    }
    call->reply(w);
  });
}

void KafkaOps::sync_group(const CallPtr& call) {
  Reader& r = call->body;
  kafka::SyncRequest req;
  req.group_id = r.string();
  req.generation_id = r.i32();
  req.member_id = r.string();
  if (call->version >= 3) req.group_instance_id = r.nullable_string();
  const std::int32_t n = r.array_length(6);
  for (std::int32_t i = 0; i < n && r.ok(); ++i) {
    std::string member = r.string();
    req.assignments[member] = std::string(r.bytes());
  }
  if (!r.ok()) return call->close();
  groups(call).sync(std::move(req), [call](kafka::SyncResult res) {
    Writer w = call->response();
    if (call->version >= 1) w.i32(0);
    w.i16(error_code(res.error)).bytes(res.assignment);
    call->reply(w);
  });
}

void KafkaOps::heartbeat(const CallPtr& call) {
  Reader& r = call->body;
  std::string group = r.string();
  const std::int32_t generation = r.i32();
  std::string member = r.string();
  if (call->version >= 3) r.nullable_string();  // group_instance_id
  if (!r.ok()) return call->close();
  const kafka::GroupError e = groups(call).heartbeat(group, member, generation);
  Writer w = call->response();
  if (call->version >= 1) w.i32(0);
  w.i16(error_code(e));
  call->reply(w);
}

void KafkaOps::leave_group(const CallPtr& call) {
  Reader& r = call->body;
  std::string group = r.string();
  std::vector<std::string> members;
  std::vector<std::optional<std::string>> instances;
  if (call->version <= 2) {
    members.push_back(r.string());
    instances.emplace_back();
  } else {
    const std::int32_t n = r.array_length(4);
    for (std::int32_t i = 0; i < n && r.ok(); ++i) {
      members.push_back(r.string());
      instances.push_back(r.nullable_string());
    }
  }
  if (!r.ok()) return call->close();
  kafka::LeaveResult res = groups(call).leave(group, members);
  Writer w = call->response();
  if (call->version >= 1) w.i32(0);
  if (call->version <= 2) {
    // One member: its own error is the answer.
    const kafka::GroupError e = res.error != kafka::GroupError::kNone || res.members.empty() ? res.error
                                                                                              : res.members[0].second;
    w.i16(error_code(e));
  } else {
    w.i16(error_code(res.error)).array_length(res.members.size());
    for (std::size_t i = 0; i < res.members.size(); ++i)
      w.string(res.members[i].first).nullable_string(i < instances.size() ? instances[i] : std::nullopt)
          .i16(error_code(res.members[i].second));
  }
  call->reply(w);
}

namespace {

struct CommitPartition {
  std::int32_t index = 0;
  std::int64_t offset = 0;
  std::optional<std::string> metadata;
  std::int16_t error = 0;
};
struct CommitTopic {
  std::string name;
  std::vector<CommitPartition> partitions;
};

}  // namespace

void KafkaOps::offset_commit(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  std::string group = r.string();
  const std::int32_t generation = r.i32();
  std::string member = r.string();
  if (v >= 7) r.nullable_string();  // group_instance_id
  if (v >= 2 && v <= 4) r.i64();    // retention_time_ms: esmd keeps commits until the group is deleted
  auto topics = std::make_shared<std::vector<CommitTopic>>();
  const std::int32_t nt = r.array_length(6);
  for (std::int32_t i = 0; i < nt && r.ok(); ++i) {
    CommitTopic t;
    t.name = r.string();
    const std::int32_t np = r.array_length(14);
    for (std::int32_t j = 0; j < np && r.ok(); ++j) {
      CommitPartition p;
      p.index = r.i32();
      p.offset = r.i64();
      if (v >= 6) r.i32();  // committed_leader_epoch
      p.metadata = r.nullable_string();
      t.partitions.push_back(std::move(p));
    }
    topics->push_back(std::move(t));
  }
  if (!r.ok()) return call->close();
  auto respond = [call, topics](std::optional<std::int16_t> all_error) {
    Writer w = call->response();
    if (call->version >= 3) w.i32(0);
    w.array_length(topics->size());
    for (const auto& t : *topics) {
      w.string(t.name).array_length(t.partitions.size());
      for (const auto& p : t.partitions) w.i32(p.index).i16(all_error.value_or(p.error));
    }
    return Call::done(w);
  };
  const kafka::GroupError check = groups(call).check_commit(group, member, generation);
  if (check != kafka::GroupError::kNone) return call->respond(respond(error_code(check)));
  run(call, true,
      [call, group, topics, respond](storage::Connection& c) {
        kafka::LogEngine& lg = log(call);
        const std::int64_t now = clock(call).now_ms();
        for (auto& t : *topics) {
          const kafka::Topic* topic = lg.find(t.name);
          for (auto& p : t.partitions) {
            if (!topic || p.index < 0 || static_cast<std::size_t>(p.index) >= topic->partitions.size()) {
              p.error = kafka_error::kUnknownTopicOrPartition;
            } else if (p.metadata && p.metadata->size() > kMaxCommitMetadata) {
              p.error = kOffsetMetadataTooLarge;
            } else if (auto done = lg.commit_offset(c, group, {t.name, p.index, p.offset, p.metadata}, now); !done) {
              p.error = error_code(done.error());
            }
          }
        }
        // The group exists (ListGroups, DescribeGroups, DeleteGroups) once its offsets do.
        db(call).defer([call, group](const Status& commit) {
          if (commit.is_ok()) groups(call).note_offsets(group);
        });
        return respond(std::nullopt);
      },
      [respond] { return respond(kafka_error::kUnknownServerError); });
}

void KafkaOps::offset_fetch(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  std::string group = r.string();
  // nullopt: every partition the group has committed (v2+ with a null array).
  auto wanted = std::make_shared<std::optional<std::vector<std::pair<std::string, std::vector<std::int32_t>>>>>();
  const std::int32_t nt = r.array_length(6);
  if (nt >= 0) {
    wanted->emplace();
    for (std::int32_t i = 0; i < nt && r.ok(); ++i) {
      std::string name = r.string();
      std::vector<std::int32_t> parts;
      const std::int32_t np = r.array_length(4);
      for (std::int32_t j = 0; j < np && r.ok(); ++j) parts.push_back(r.i32());
      (*wanted)->push_back({std::move(name), std::move(parts)});
    }
  } else if (v < 2) {
    return call->close();
  }
  if (!r.ok()) return call->close();
  run(call, false,
      [call, group, wanted](storage::Connection& c) {
        const int ver = call->version;
        auto committed = log(call).committed_offsets(c, group);
        std::int16_t top_error = committed ? kafka_error::kNone : kafka_error::kUnknownServerError;
        std::map<std::pair<std::string, std::int32_t>, const kafka::LogEngine::CommittedOffset*> by_key;
        std::vector<std::pair<std::string, std::vector<std::int32_t>>> answer;
        if (committed) {
          for (const auto& o : *committed) by_key[{o.topic, o.partition}] = &o;
          if (*wanted) {
            answer = **wanted;
          } else {
            for (const auto& o : *committed) {
              if (answer.empty() || answer.back().first != o.topic) answer.push_back({o.topic, {}});
              answer.back().second.push_back(o.partition);
            }
          }
        }
        Writer w = call->response();
        if (ver >= 3) w.i32(0);
        w.array_length(answer.size());
        for (const auto& [topic, parts] : answer) {
          w.string(topic).array_length(parts.size());
          for (std::int32_t p : parts) {
            auto it = by_key.find({topic, p});
            w.i32(p).i64(it == by_key.end() ? -1 : it->second->offset);  // -1: nothing committed
            if (ver >= 5) w.i32(-1);  // committed_leader_epoch
            w.nullable_string(it == by_key.end() ? std::optional<std::string>("") : it->second->metadata);
            w.i16(kafka_error::kNone);
          }
        }
        if (ver >= 2) w.i16(top_error);
        return Call::done(w);
      },
      [call] { return KafkaOutcome::close(); });
}

void KafkaOps::describe_groups(const CallPtr& call) {
  Reader& r = call->body;
  const int v = call->version;
  std::vector<std::string> names;
  const std::int32_t n = r.array_length(2);
  for (std::int32_t i = 0; i < n && r.ok(); ++i) names.push_back(r.string());
  if (v >= 3) r.boolean();  // include_authorized_operations
  if (!r.ok()) return call->close();
  Writer w = call->response();
  if (v >= 1) w.i32(0);
  w.array_length(names.size());
  for (const auto& name : names) {
    kafka::GroupDescription d = groups(call).describe(name);
    // An unknown group is described as Dead with no error, as Kafka does.
    const std::int16_t err = d.error == kafka::GroupError::kGroupIdNotFound ? 0 : error_code(d.error);
    w.i16(err).string(name).string(kafka::group_state_name(d.state)).string(d.protocol_type).string(d.protocol_name);
    w.array_length(d.members.size());
    for (const auto& m : d.members) {
      w.string(m.member_id);
      if (v >= 4) w.nullable_string(m.group_instance_id);
      w.string(m.client_id).string(m.client_host).bytes(m.metadata).bytes(m.assignment);
    }
    if (v >= 3) w.i32(INT32_MIN);  // authorized_operations: not requested
  }
  call->reply(w);
}

void KafkaOps::list_groups(const CallPtr& call) {
  Writer w = call->response();
  if (call->version >= 1) w.i32(0);
  auto listed = groups(call).list_groups();
  w.i16(kafka_error::kNone).array_length(listed.size());
  for (const auto& g : listed) w.string(g.group_id).string(g.protocol_type);
  call->reply(w);
}

void KafkaOps::delete_groups(const CallPtr& call) {
  Reader& r = call->body;
  auto results = std::make_shared<std::vector<std::pair<std::string, std::int16_t>>>();
  const std::int32_t n = r.array_length(2);
  for (std::int32_t i = 0; i < n && r.ok(); ++i) results->push_back({r.string(), 0});
  if (!r.ok()) return call->close();
  auto deleted = std::make_shared<std::vector<std::string>>();
  for (auto& [name, error] : *results) {
    const kafka::GroupError e = groups(call).delete_group(name);
    error = error_code(e);
    if (e == kafka::GroupError::kNone) deleted->push_back(name);
  }
  auto respond = [call, results](std::optional<std::int16_t> all_error) {
    Writer w = call->response();
    w.i32(0).array_length(results->size());
    for (const auto& [name, error] : *results) w.string(name).i16(error ? error : all_error.value_or(0));
    return Call::done(w);
  };
  run(call, true,
      [call, deleted, respond](storage::Connection& c) {
        for (const auto& g : *deleted)
          if (auto done = log(call).delete_group_offsets(c, g); !done) return respond(error_code(done.error()));
        return respond(std::nullopt);
      },
      [respond] { return respond(kafka_error::kUnknownServerError); });
}

}  // namespace esm::api
