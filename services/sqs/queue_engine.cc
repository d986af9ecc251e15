#include "services/sqs/queue_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/codec.h"
#include "core/uuid.h"
#include "services/sqs/rules.h"
#include "storage/queue_store.h"

namespace esm::sqs {

storage::QueueRow QueueEngine::row_of(const Queue& q) {
  return storage::QueueRow{q.id, q.region, q.account, q.name, q.attributes, q.tags, q.created_ms, q.modified_ms,
                           q.next_sequence};
}

namespace {

std::unique_ptr<Queue> queue_of(storage::QueueRow row) {
  auto q = std::make_unique<Queue>();
  q->id = row.id;
  q->region = std::move(row.region);
  q->account = std::move(row.account);
  q->name = std::move(row.name);
  q->attributes = std::move(row.attributes);
  q->tags = std::move(row.tags);
  q->created_ms = row.created_ms;
  q->modified_ms = row.modified_ms;
  q->next_sequence = row.next_sequence;
  q->fifo = q->name.ends_with(".fifo");
  q->arn = "arn:aws:sqs:" + q->region + ":" + q->account + ":" + q->name;
  apply_attributes(*q);
  return q;
}

}  // namespace

const char* kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::kNonExistentQueue: return "NonExistentQueue";
    case ErrorKind::kQueueAlreadyExists: return "QueueAlreadyExists";
    case ErrorKind::kInvalidQueueName: return "InvalidQueueName";
    case ErrorKind::kInvalidAttributeName: return "InvalidAttributeName";
    case ErrorKind::kInvalidAttributeValue: return "InvalidAttributeValue";
    case ErrorKind::kInvalidTag: return "InvalidTag";
    case ErrorKind::kTooManyTags: return "TooManyTags";
    case ErrorKind::kDeadLetterTargetMissing: return "DeadLetterTargetMissing";
    case ErrorKind::kDeadLetterTargetWrongType: return "DeadLetterTargetWrongType";
    case ErrorKind::kMissingParameter: return "MissingParameter";
    case ErrorKind::kTooManyMessageAttributes: return "TooManyMessageAttributes";
    case ErrorKind::kInvalidMessageAttributeName: return "InvalidMessageAttributeName";
    case ErrorKind::kInvalidMessageAttributeType: return "InvalidMessageAttributeType";
    case ErrorKind::kMessageAttributeValueMissing: return "MessageAttributeValueMissing";
    case ErrorKind::kMessageAttributeNotNumber: return "MessageAttributeNotNumber";
    case ErrorKind::kMessageAttributeInvalidText: return "MessageAttributeInvalidText";
    case ErrorKind::kMessageTooLong: return "MessageTooLong";
    case ErrorKind::kInvalidMessageContents: return "InvalidMessageContents";
    case ErrorKind::kInvalidTraceHeader: return "InvalidTraceHeader";
    case ErrorKind::kParameterNotForQueueType: return "ParameterNotForQueueType";
    case ErrorKind::kMissingDeduplicationId: return "MissingDeduplicationId";
    case ErrorKind::kInvalidGroupOrDeduplicationId: return "InvalidGroupOrDeduplicationId";
    case ErrorKind::kOutOfRange: return "OutOfRange";
    case ErrorKind::kInvalidReceiptHandle: return "InvalidReceiptHandle";
    case ErrorKind::kMessageNotInflight: return "MessageNotInflight";
    case ErrorKind::kPurgeQueueInProgress: return "PurgeQueueInProgress";
    case ErrorKind::kInternal: return "Internal";
  }
  return "Unknown";
}

void QueueEngine::clear() {
  queues_.clear();
  by_arn_.clear();
  wakeups_.clear();
  dirty_.clear();
  next_queue_id_ = 1;
}

Status QueueEngine::load(Connection& c, std::int64_t now_ms) {
  db_.assert_on_worker();
  auto rows = storage::load_queue_rows(c);
  if (!rows) return rows.status();
  std::unordered_map<std::int64_t, Queue*> by_id;
  for (auto& row : *rows) {
    auto q = queue_of(std::move(row));
    next_queue_id_ = std::max(next_queue_id_, q->id + 1);
    by_id[q->id] = q.get();
    by_arn_[q->arn] = q.get();
    queues_[{q->region, q->name}] = std::move(q);
  }
  // Only the index columns: the bodies stay on disk until a receive reads them.
  std::size_t n = 0;
  Status loaded = storage::for_each_message_index(c, [&](storage::MessageIndexRow& row) {
    auto it = by_id.find(row.queue_id);
    if (it == by_id.end()) return Status::ok();
    Queue& q = *it->second;
    Slot s;
    s.rowid = row.rowid;
    s.sent_ms = row.sent_ms;
    s.visible_at_ms = row.visible_at_ms;
    s.receive_count = row.receive_count;
    s.id_hash = message_id_hash(row.message_id);
    // A message that was in flight when esmd stopped is visible again when its timeout ends,
    // as it would be in SQS; its FIFO group stays locked until then (Queue::add).
    q.add(s, row.group_id, now_ms);
    // The deduplication ids of messages still queued outlive a restart (those of deleted
    // messages do not: the schema has no table for them).
    if (q.fifo && !row.dedup_id.empty() && !row.moved_in && row.sent_ms + kDedupWindowMs > now_ms)
      q.dedup[dedup_key_of(q, row.group_id, row.dedup_id)] =
          Queue::Dedup{row.sent_ms + kDedupWindowMs, std::move(row.message_id), std::move(row.sequence_number)};
    ++n;
    return Status::ok();
  });
  if (!loaded.is_ok()) return loaded;
  for (auto& [_, q] : queues_)
    if (q->size() > 0) dirty_.insert(q.get());  // schedules their retention
  if (!queues_.empty()) spdlog::info("sqs: loaded {} queues, {} messages", queues_.size(), n);
  return Status::ok();
}

Status QueueEngine::recover(Connection& c, std::int64_t now_ms) {
  db_.assert_on_worker();
  // Not deferred: no commit is coming while the worker recovers, and these callers must hear now.
  for (auto& [_, q] : queues_) {
    for (auto& w : q->waiters) {
      if (w->done) continue;
      w->done = true;
      w->callback(Error{ErrorKind::kInternal});
    }
  }
  clear();
  return load(c, now_ms);
}

Status QueueEngine::persist_queue(Connection& c, const Queue& q) { return storage::put_queue_row(c, row_of(q)); }


Expected<void, Error> QueueEngine::check_dead_letter_target(const std::string& policy, bool fifo) {
  if (policy.empty()) return {};
  const std::string arn = dead_letter_arn_of(policy);
  const Queue* dlq = arn.empty() ? nullptr : find_by_arn(arn);
  if (!dlq) return Error{ErrorKind::kDeadLetterTargetMissing, "RedrivePolicy", policy};
  if (dlq->fifo != fifo) return Error{ErrorKind::kDeadLetterTargetWrongType, "RedrivePolicy", policy};
  return {};
}

Expected<Queue*, Error> QueueEngine::create_queue(Connection& c, const std::string& region, const std::string& name,
                                                  const std::map<std::string, std::string>& attributes,
                                                  const std::map<std::string, std::string>& tags,
                                                  std::int64_t now_ms) {
  db_.assert_on_worker();
  const auto fifo_attr = attributes.find("FifoQueue");
  const bool fifo = fifo_attr != attributes.end() && fifo_attr->second == "true";
  if (name.ends_with(".fifo") && !fifo) return Error{ErrorKind::kInvalidQueueName, "QueueName", name};
  if (!valid_queue_name(name, fifo)) {
    Error e{ErrorKind::kInvalidQueueName, "QueueName", name};
    e.fifo = fifo && !name.ends_with(".fifo");
    return e;
  }
  for (const auto& [k, v] : attributes) {
    if (auto r = check_attribute(k, v); !r) return r.error();
    if (!fifo && fifo_only_attribute(k)) return Error{ErrorKind::kInvalidAttributeName, k};
  }
  if (auto r = check_tags(tags); !r) return r.error();
  std::map<std::string, std::string> attrs = attributes;
  if (fifo_attr != attributes.end() && !fifo) attrs.erase("FifoQueue");
  auto key = std::make_pair(region, name);
  if (auto it = queues_.find(key); it != queues_.end()) {
    // SQS compares the values in effect, so naming a default value matches a queue created
    // without it.
    const auto current = effective_attributes(*it->second);
    for (const auto& [k, v] : attrs) {
      auto e = current.find(k);
      if (e == current.end() ? !v.empty() : e->second != v) return Error{ErrorKind::kQueueAlreadyExists, k};
    }
    return it->second.get();
  }
  if (auto it = attrs.find("RedrivePolicy"); it != attrs.end())
    if (auto r = check_dead_letter_target(it->second, fifo); !r) return r.error();
  auto q = std::make_unique<Queue>();
  q->id = next_queue_id_;
  q->region = region;
  q->account = account_;
  q->name = name;
  q->fifo = fifo;
  q->arn = "arn:aws:sqs:" + region + ":" + account_ + ":" + name;
  q->attributes = attrs;
  q->tags = tags;
  q->created_ms = q->modified_ms = now_ms;
  apply_attributes(*q);
  if (Status s = persist_queue(c, *q); !s.is_ok()) return Error::internal(s);
  ++next_queue_id_;
  Queue* raw = q.get();
  by_arn_[raw->arn] = raw;
  queues_[key] = std::move(q);
  spdlog::info("sqs: queue {} created", raw->arn);
  return raw;
}

Expected<Queue*, Error> QueueEngine::find(const std::string& region, const std::string& name) {
  auto it = queues_.find({region, name});
  if (it == queues_.end()) return Error{ErrorKind::kNonExistentQueue};
  return it->second.get();
}

Queue* QueueEngine::find_by_arn(const std::string& arn) {
  auto it = by_arn_.find(arn);
  return it == by_arn_.end() ? nullptr : it->second;
}

Expected<void, Error> QueueEngine::delete_queue(Connection& c, Queue& q) {
  db_.assert_on_worker();
  if (Status s = storage::delete_queue_row(c, q.id); !s.is_ok()) return Error::internal(s);
  for (auto& w : q.waiters)
    if (!w->done) answer_after_commit(*w, Error{ErrorKind::kNonExistentQueue});
  spdlog::info("sqs: queue {} deleted", q.arn);
  schedule(q, std::nullopt);
  dirty_.erase(&q);
  by_arn_.erase(q.arn);
  queues_.erase({q.region, q.name});
  return {};
}

std::vector<const Queue*> QueueEngine::list(const std::string& region, const std::string& prefix) const {
  std::vector<const Queue*> out;
  for (const auto& [key, q] : queues_)
    if (key.first == region && std::string_view(q->name).starts_with(prefix)) out.push_back(q.get());
  return out;
}

Expected<std::map<std::string, std::string>, Error> QueueEngine::get_attributes(
    Queue& q, const std::vector<std::string>& names, std::int64_t now_ms) {
  std::map<std::string, std::string> all = effective_attributes(q);
  all["QueueArn"] = q.arn;
  all["CreatedTimestamp"] = std::to_string(q.created_ms / 1000);
  all["LastModifiedTimestamp"] = std::to_string(q.modified_ms / 1000);
  long long visible = 0, in_flight = 0, delayed = 0;
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  for (const Slot& m : q.slots) {
    if (m.gone || m.sent_ms + retention_ms <= now_ms) continue;  // expired, deleted at the next sweep
    if (m.in_flight && m.visible_at_ms > now_ms) ++in_flight;
    else if (m.visible_at_ms > now_ms) ++delayed;
    else ++visible;
  }
  all["ApproximateNumberOfMessages"] = std::to_string(visible);
  all["ApproximateNumberOfMessagesNotVisible"] = std::to_string(in_flight);
  all["ApproximateNumberOfMessagesDelayed"] = std::to_string(delayed);
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    if (n == "All") return all;
    auto it = all.find(n);
    if (it != all.end()) {
      out.insert(*it);
      continue;
    }
    if (!known_unset_attribute(n)) return Error{ErrorKind::kInvalidAttributeName, n};
  }
  return out;
}

Expected<void, Error> QueueEngine::set_attributes(Connection& c, Queue& q,
                                                  const std::map<std::string, std::string>& attributes,
                                                  std::int64_t now_ms) {
  db_.assert_on_worker();
  for (const auto& [k, v] : attributes) {
    if (auto r = check_attribute(k, v); !r) return r.error();
    if (k == "FifoQueue" && (v == "true") != q.fifo) return Error{ErrorKind::kInvalidAttributeValue, k};
    if (!q.fifo && fifo_only_attribute(k)) return Error{ErrorKind::kInvalidAttributeName, k};
    if (k == "RedrivePolicy")
      if (auto r = check_dead_letter_target(v, q.fifo); !r) return r.error();
  }
  auto row = row_of(q);  // the row as it will be; memory follows once it is written
  for (const auto& [k, v] : attributes) {
    if (k == "FifoQueue") continue;
    if (v.empty() && (k == "RedrivePolicy" || k == "Policy" || k == "RedriveAllowPolicy"))
      row.attributes.erase(k);
    else
      row.attributes[k] = v;
  }
  row.modified_ms = now_ms;
  if (Status s = storage::put_queue_row(c, row); !s.is_ok()) return Error::internal(s);
  q.attributes = std::move(row.attributes);
  q.modified_ms = now_ms;
  apply_attributes(q);
  touch(q);  // the retention period may have changed
  return {};
}

Expected<void, Error> QueueEngine::tag(Connection& c, Queue& q, const std::map<std::string, std::string>& tags) {
  db_.assert_on_worker();
  if (auto r = check_tags(tags); !r) return r.error();
  auto row = row_of(q);
  for (const auto& [k, v] : tags) row.tags[k] = v;
  if (row.tags.size() > kMaxTags)
    return Error{ErrorKind::kTooManyTags, q.name, {}, static_cast<long long>(row.tags.size()), 0, kMaxTags};
  if (Status s = storage::put_queue_row(c, row); !s.is_ok()) return Error::internal(s);
  q.tags = std::move(row.tags);
  return {};
}

Expected<void, Error> QueueEngine::untag(Connection& c, Queue& q, const std::vector<std::string>& keys) {
  db_.assert_on_worker();
  auto row = row_of(q);
  for (const auto& k : keys) row.tags.erase(k);
  if (Status s = storage::put_queue_row(c, row); !s.is_ok()) return Error::internal(s);
  q.tags = std::move(row.tags);
  return {};
}

Expected<void, Error> QueueEngine::purge(Connection& c, Queue& q, std::int64_t now_ms) {
  db_.assert_on_worker();
  if (q.purged_ms && now_ms - *q.purged_ms < kPurgeIntervalMs) return Error{ErrorKind::kPurgeQueueInProgress, q.name};
  if (Status s = storage::delete_message_rows_of(c, q.id); !s.is_ok()) return Error::internal(s);
  q.clear_messages();
  q.purged_ms = now_ms;
  return {};
}

void QueueEngine::cancel_waiters(const std::string& owner) {
  db_.assert_on_worker();
  for (auto& [_, q] : queues_)
    for (auto& w : q->waiters)
      if (!w->done && w->options.owner == owner) answer_after_commit(*w, std::vector<Received>{});
}

void QueueEngine::answer_after_commit(Waiter& w, ReceiveResult r) {
  w.done = true;
  db_.defer([cb = w.callback, r = std::move(r)](const Status& commit) mutable {
    if (!commit.is_ok()) return cb(Error::internal(commit));
    cb(std::move(r));
  });
}

void QueueEngine::touch(Queue& q) {
  if (dirty_.insert(&q).second) db_.poke();
}

void QueueEngine::schedule(Queue& q, std::optional<std::int64_t> at) {
  if (q.wakeup) {
    wakeups_.erase(*q.wakeup);
    q.wakeup.reset();
  }
  if (at) q.wakeup = wakeups_.emplace(*at, &q);
}

Status QueueEngine::expire(Connection& c, Queue& q, std::int64_t now_ms) {
  // Messages are kept in send order, so the expired ones lead; a message moved in from a
  // source queue keeps its older timestamp and may sit behind younger ones until a receive
  // (take_visible) or this sweep reaches it.
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  std::size_t n = 0;
  while (!q.slots.empty() && q.slots.front().sent_ms + retention_ms <= now_ms) {
    if (Status s = remove_message(c, q, q.slots.front().rowid); !s.is_ok()) return s;
    ++n;
  }
  if (n > 0) spdlog::debug("sqs: {} messages in {} passed the retention period", n, q.name);
  return Status::ok();
}

Status QueueEngine::process(Connection& c, Queue& q, std::int64_t now_ms) {
  std::optional<std::int64_t> next;
  auto consider = [&](std::int64_t t) {
    if (!next || t < *next) next = t;
  };
  q.promote(now_ms);
  Status s = expire(c, q, now_ms);
  if (!q.slots.empty()) consider(q.slots.front().sent_ms + static_cast<std::int64_t>(q.retention_s) * 1000);
  for (auto& w : q.waiters)
    if (!w->done && w->deadline_ms <= now_ms) answer_after_commit(*w, std::vector<Received>{});
  while (!q.waiters.empty() && q.waiters.front()->done) q.waiters.pop_front();
  if (s.is_ok() && !q.waiters.empty()) s = serve_waiters(c, q, now_ms);
  if (!q.waiters.empty()) {
    for (auto& w : q.waiters)
      if (!w->done) consider(w->deadline_ms);
    // Wake when the next invisible message becomes visible again.
    if (auto at = q.next_visible_at()) consider(*at);
  }
  // After a failed write, look again soon rather than never.
  if (!s.is_ok()) consider(now_ms + storage::DbWorker::kRecoveryRetryMs);
  schedule(q, next);
  return s;
}

std::optional<std::int64_t> QueueEngine::tick(Connection& c, std::int64_t now_ms) {
  db_.assert_on_worker();
  while (!wakeups_.empty() && wakeups_.begin()->first <= now_ms) {
    Queue* q = wakeups_.begin()->second;
    wakeups_.erase(wakeups_.begin());
    q->wakeup.reset();
    dirty_.insert(q);
  }
  std::set<Queue*> due;
  due.swap(dirty_);
  for (Queue* q : due)
    if (Status s = process(c, *q, now_ms); !s.is_ok())
      spdlog::error("sqs: timed work on {} failed: {}", q->name, s.message());
  if (wakeups_.empty()) return std::nullopt;
  return wakeups_.begin()->first;
}

}  // namespace esm::sqs
