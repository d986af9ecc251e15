// QueueEngine's message operations: send, receive (with redrive and FIFO group locks), delete,
// change visibility, and the receipt handles that name a message's receive.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>

#include "core/codec.h"
#include "core/uuid.h"
#include "services/sqs/queue_engine.h"
#include "services/sqs/rules.h"
#include "storage/queue_store.h"

namespace esm::sqs {
namespace {

std::string random_nonce() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string QueueEngine::next_sequence_number(Queue& q) {
  char seq[32];
  std::snprintf(seq, sizeof seq, "%020lld", static_cast<long long>(q.next_sequence + 1));
  return seq;
}

Status QueueEngine::insert_message(Connection& c, Queue& q, Message& m) {
  storage::MessageRow row{0,           q.id,          m.message_id,      m.body,       encode_attributes(m.attributes),
                          m.sent_ms,   m.visible_at_ms, m.first_receive_ms, m.receive_count, m.group_id,
                          m.dedup_id,  m.sequence_number, m.sender_id,    m.trace_header, m.dlq_source_arn};
  auto rowid = storage::insert_message_row(c, row);
  if (!rowid) return rowid.status();
  m.rowid = *rowid;
  return Status::ok();
}

Status QueueEngine::remove_message(Connection& c, Queue& q, std::map<std::int64_t, Message>::iterator it) {
  if (Status s = storage::delete_message_row(c, it->first); !s.is_ok()) return s;
  release_group(q, it->second);
  q.messages.erase(it);
  return Status::ok();
}

void QueueEngine::release_group(Queue& q, Message& m) {
  if (!q.fifo || !m.in_flight) return;
  auto it = q.groups_in_flight.find(m.group_id);
  if (it != q.groups_in_flight.end() && --it->second <= 0) q.groups_in_flight.erase(it);
}

Expected<SendResult, Error> QueueEngine::send(Connection& c, Queue& q, SendInput in, std::int64_t now_ms) {
  db_.assert_on_worker();
  if (auto r = check_message(q, in); !r) return r.error();
  std::string md5_system;
  if (!in.trace_header.empty())
    md5_system = md5_of_attributes({MessageAttribute{"AWSTraceHeader", "String", in.trace_header, false}});
  std::sort(in.attributes.begin(), in.attributes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  Message m;
  m.body = std::move(in.body);
  m.attributes = std::move(in.attributes);
  m.md5_body = md5_hex(m.body);
  m.md5_attributes = md5_of_attributes(m.attributes);
  m.sent_ms = now_ms;
  m.visible_at_ms = now_ms + static_cast<std::int64_t>(in.delay_s.value_or(q.delay_s)) * 1000;
  m.group_id = std::move(in.group_id);
  m.sender_id = std::move(in.sender_id);
  m.trace_header = std::move(in.trace_header);
  m.message_id = new_uuid();
  std::string key;
  if (q.fifo) {
    m.dedup_id = in.dedup_id.empty() ? sha256_hex(m.body) : in.dedup_id;
    key = dedup_key_of(q, m);
    auto it = q.dedup.find(key);
    if (it != q.dedup.end() && it->second.expires_ms > now_ms)
      return SendResult{it->second.message_id, m.md5_body, m.md5_attributes, it->second.sequence_number, md5_system};
    m.sequence_number = next_sequence_number(q);
    auto row = row_of(q);
    ++row.next_sequence;
    if (Status s = storage::put_queue_row(c, row); !s.is_ok()) return Error::internal(s);
  }
  if (Status s = insert_message(c, q, m); !s.is_ok()) return Error::internal(s);
  if (q.fifo) {
    ++q.next_sequence;
    if (q.dedup.size() > 100000)
      for (auto d = q.dedup.begin(); d != q.dedup.end();) d = d->second.expires_ms <= now_ms ? q.dedup.erase(d) : std::next(d);
    q.dedup[key] = {now_ms + kDedupWindowMs, m.message_id, m.sequence_number};
  }
  SendResult r{m.message_id, m.md5_body, m.md5_attributes, m.sequence_number, md5_system};
  q.messages.emplace(m.rowid, std::move(m));
  if (Status s = serve_waiters(c, q, now_ms); !s.is_ok()) return Error::internal(s);
  // A first message starts the retention clock; a delayed one must wake a waiting long poll.
  if (q.messages.size() == 1 || !q.waiters.empty()) touch(q);
  return r;
}

std::string QueueEngine::receipt_for(const Queue& q, const Message& m) const {
  return base64_encode("esmd:" + std::to_string(q.id) + ":" + std::to_string(m.rowid) + ":" + m.receipt_nonce + ":" +
                       m.message_id);
}

Expected<Message*, Error> QueueEngine::decode_receipt(Queue& q, const std::string& handle) {
  const Error invalid{ErrorKind::kInvalidReceiptHandle, "ReceiptHandle", handle};
  auto raw = base64_decode(handle);
  if (!raw || !raw->starts_with("esmd:")) return invalid;
  std::string_view rest = std::string_view(*raw).substr(5);
  auto next = [&](std::int64_t& out) {
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) return false;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + colon, out);
    const bool ok = ec == std::errc() && p == rest.data() + colon;
    rest.remove_prefix(colon + 1);
    return ok;
  };
  std::int64_t qid = 0, rowid = 0;
  if (!next(qid) || !next(rowid)) return invalid;
  const auto nonce_end = rest.find(':');
  if (nonce_end == std::string_view::npos) return invalid;
  const std::string_view message_id = rest.substr(nonce_end + 1);
  if (qid != q.id) return invalid;
  // SQLite may give a deleted message's rowid to a new one: the message id tells them apart.
  auto it = q.messages.find(rowid);
  if (it == q.messages.end() || it->second.message_id != message_id) return static_cast<Message*>(nullptr);
  return &it->second;
}

Expected<bool, Error> QueueEngine::redrive(Connection& c, Queue& q, std::map<std::int64_t, Message>::iterator it,
                                           std::int64_t now_ms, std::vector<Queue*>& redriven_to) {
  Queue* dlq = find_by_arn(q.redrive->dead_letter_arn);
  if (!dlq || dlq == &q) return false;
  // ApproximateReceiveCount counts receives across all queues, so the count and the first
  // receive travel with the message.
  Message moved = it->second;
  moved.rowid = 0;
  moved.in_flight = false;
  moved.visible_at_ms = now_ms;
  moved.dlq_source_arn = q.arn;
  if (dlq->fifo) {
    // A FIFO dead-letter queue restarts the retention clock; a standard one does not.
    moved.sent_ms = now_ms;
    moved.sequence_number = next_sequence_number(*dlq);
    auto row = row_of(*dlq);
    ++row.next_sequence;
    if (Status s = storage::put_queue_row(c, row); !s.is_ok()) return Error::internal(s);
    ++dlq->next_sequence;
  }
  if (Status s = insert_message(c, *dlq, moved); !s.is_ok()) return Error::internal(s);
  spdlog::debug("sqs: message {} moved from {} to dead-letter queue {}", moved.message_id, q.name, dlq->name);
  dlq->messages.emplace(moved.rowid, std::move(moved));
  redriven_to.push_back(dlq);
  if (Status s = remove_message(c, q, it); !s.is_ok()) return Error::internal(s);
  return true;
}

Expected<std::vector<Received>, Error> QueueEngine::take_visible(Connection& c, Queue& q, const ReceiveOptions& opt,
                                                                 std::int64_t now_ms) {
  std::vector<Received> out;
  std::vector<std::string> blocked_groups;
  std::vector<std::string> taken_groups;
  std::vector<Queue*> redriven_to;
  const int vt = opt.visibility_timeout_s.value_or(q.visibility_timeout_s);
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  // A FIFO group is locked while any of its messages is in flight. Messages whose visibility
  // timeout ended are released first: otherwise the first of several that ended together
  // would still see the others holding its group.
  if (q.fifo && !q.groups_in_flight.empty()) {
    std::size_t remaining = 0;
    for (const auto& [_, n] : q.groups_in_flight) remaining += static_cast<std::size_t>(n);
    for (auto it = q.messages.begin(); it != q.messages.end() && remaining > 0; ++it) {
      Message& m = it->second;
      if (!m.in_flight) continue;
      --remaining;
      if (m.visible_at_ms <= now_ms) {
        release_group(q, m);
        m.in_flight = false;
      }
    }
  }
  for (auto it = q.messages.begin(); it != q.messages.end() && static_cast<int>(out.size()) < opt.max_messages;) {
    Message& m = it->second;
    auto next = std::next(it);
    if (m.sent_ms + retention_ms <= now_ms) {
      if (Status s = remove_message(c, q, it); !s.is_ok()) return Error::internal(s);
      it = next;
      continue;
    }
    if (m.visible_at_ms > now_ms) {
      if (q.fifo && !contains(blocked_groups, m.group_id)) blocked_groups.push_back(m.group_id);
      it = next;
      continue;
    }
    if (m.in_flight) {
      release_group(q, m);
      m.in_flight = false;
    }
    if (q.fifo && (contains(blocked_groups, m.group_id) ||
                   (q.groups_in_flight.count(m.group_id) && !contains(taken_groups, m.group_id)))) {
      if (!contains(blocked_groups, m.group_id)) blocked_groups.push_back(m.group_id);
      it = next;
      continue;
    }
    if (q.redrive && m.receive_count >= q.redrive->max_receive_count) {
      auto moved = redrive(c, q, it, now_ms, redriven_to);
      if (!moved) return moved.error();
      if (*moved) {
        it = next;
        continue;
      }
    }
    const std::int64_t first = m.first_receive_ms == 0 ? now_ms : m.first_receive_ms;
    const std::int64_t visible_at = now_ms + static_cast<std::int64_t>(vt) * 1000;
    if (Status s = storage::update_message_receive(c, m.rowid, visible_at, first, m.receive_count + 1); !s.is_ok())
      return Error::internal(s);
    ++m.receive_count;
    m.first_receive_ms = first;
    m.visible_at_ms = visible_at;
    m.in_flight = true;
    m.receipt_nonce = random_nonce();
    if (q.fifo) {
      ++q.groups_in_flight[m.group_id];
      if (!contains(taken_groups, m.group_id)) taken_groups.push_back(m.group_id);
    }
    out.push_back(Received{m, receipt_for(q, m)});
    it = next;
  }
  for (Queue* dlq : redriven_to) {
    if (Status s = serve_waiters(c, *dlq, now_ms); !s.is_ok()) return Error::internal(s);
    touch(*dlq);
  }
  return out;
}

Status QueueEngine::serve_waiters(Connection& c, Queue& q, std::int64_t now_ms) {
  while (!q.waiters.empty()) {
    auto w = q.waiters.front();
    if (w->done) {
      q.waiters.pop_front();
      continue;
    }
    auto got = take_visible(c, q, w->options, now_ms);
    if (!got) {
      answer_after_commit(*w, got.error());
      q.waiters.pop_front();
      return internal_error(got.error().value);
    }
    if (got->empty()) return Status::ok();
    q.waiters.pop_front();
    answer_after_commit(*w, std::move(*got));
  }
  return Status::ok();
}

void QueueEngine::receive(Connection& c, Queue& q, const ReceiveOptions& opt, std::int64_t now_ms,
                          ReceiveCallback cb) {
  db_.assert_on_worker();
  auto w = std::make_shared<Waiter>();
  w->options = opt;
  w->deadline_ms = now_ms + opt.wait_ms;
  w->callback = std::move(cb);
  // Earlier long polls are served first, as SQS serves its oldest waiting request.
  if (Status s = serve_waiters(c, q, now_ms); !s.is_ok()) return answer_after_commit(*w, Error::internal(s));
  auto got = take_visible(c, q, opt, now_ms);
  if (!got || !got->empty() || opt.wait_ms <= 0) return answer_after_commit(*w, std::move(got));
  q.waiters.push_back(w);
  if (Status s = serve_waiters(c, q, now_ms); !s.is_ok())
    spdlog::error("sqs: serving the long polls of {} failed: {}", q.name, s.message());
  touch(q);  // the tick must learn this waiter's deadline
}

Expected<void, Error> QueueEngine::delete_message(Connection& c, Queue& q, const std::string& receipt_handle) {
  db_.assert_on_worker();
  auto r = decode_receipt(q, receipt_handle);
  if (!r) return r.error();
  if (*r == nullptr) return {};
  const bool unlocks_group = q.fifo && (*r)->in_flight;
  if (Status s = remove_message(c, q, q.messages.find((*r)->rowid)); !s.is_ok()) return Error::internal(s);
  // The rest of the group may now be received: the tick serves the waiting long polls.
  if (unlocks_group && !q.waiters.empty()) touch(q);
  return {};
}

Expected<void, Error> QueueEngine::change_visibility(Connection& c, Queue& q, const std::string& receipt_handle,
                                                     int timeout_s, std::int64_t now_ms) {
  db_.assert_on_worker();
  if (timeout_s < 0 || timeout_s > kMaxVisibilityTimeoutS)
    return Error{ErrorKind::kOutOfRange, "VisibilityTimeout", {}, timeout_s, 0, kMaxVisibilityTimeoutS};
  auto r = decode_receipt(q, receipt_handle);
  if (!r) return r.error();
  Message* m = *r;
  if (m == nullptr || !m->in_flight || m->visible_at_ms <= now_ms) return Error{ErrorKind::kMessageNotInflight};
  const std::int64_t visible_at = now_ms + static_cast<std::int64_t>(timeout_s) * 1000;
  if (Status s = storage::update_message_visible_at(c, m->rowid, visible_at); !s.is_ok()) return Error::internal(s);
  m->visible_at_ms = visible_at;
  if (timeout_s == 0)
    if (Status s = serve_waiters(c, q, now_ms); !s.is_ok()) return Error::internal(s);
  if (!q.waiters.empty()) touch(q);
  return {};
}

Expected<void, Error> QueueEngine::release(Connection& c, Queue& q, const std::vector<std::string>& receipt_handles,
                                           std::int64_t now_ms) {
  for (const auto& h : receipt_handles) {
    auto r = change_visibility(c, q, h, 0, now_ms);
    // A message deleted or timed out meanwhile needs no release.
    if (!r && r.error().kind == ErrorKind::kInternal) return r;
  }
  return {};
}

}  // namespace esm::sqs
