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

// 16 lowercase hex digits of a random 64-bit number, appended to out.
void append_nonce(std::string& out) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t n = gen();
  char buf[16];
  for (int i = 15; i >= 0; --i, n >>= 4) buf[i] = kHex[n & 15];
  out.append(buf, sizeof buf);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

Slot slot_of(const Message& m) {
  Slot s;
  s.rowid = m.rowid;
  s.sent_ms = m.sent_ms;
  s.visible_at_ms = m.visible_at_ms;
  s.receive_count = m.receive_count;
  s.id_hash = message_id_hash(m.message_id);
  return s;
}

Expected<Message, Status> message_of(storage::MessageRow row) {
  auto attributes = decode_attributes(row.attributes);
  if (!attributes)
    return internal_error("message row " + std::to_string(row.rowid) + " has an unreadable attributes column");
  Message m;
  m.rowid = row.rowid;
  m.message_id = std::move(row.message_id);
  m.body = std::move(row.body);
  m.attributes = std::move(*attributes);
  // md5_body and md5_attributes: the reader's (fill_digests), off the DbWorker thread.
  m.sent_ms = row.sent_ms;
  m.visible_at_ms = row.visible_at_ms;
  m.first_receive_ms = row.first_receive_ms;
  m.receive_count = row.receive_count;
  m.group_id = std::move(row.group_id);
  m.dedup_id = std::move(row.dedup_id);
  m.sequence_number = std::move(row.sequence_number);
  m.sender_id = std::move(row.sender_id);
  m.trace_header = std::move(row.trace_header);
  m.dlq_source_arn = std::move(row.dlq_source_arn);
  return m;
}

// The whole message behind a slot, from its row.
Expected<Message, Status> read_message(Connection& c, std::int64_t rowid) {
  auto row = storage::load_message_row(c, rowid);
  if (!row) return row.status();
  if (!*row) return internal_error("message row " + std::to_string(rowid) + " is missing");
  return message_of(std::move(**row));
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

Status QueueEngine::remove_message(Connection& c, Queue& q, std::int64_t rowid) {
  if (Status s = storage::delete_message_row(c, rowid); !s.is_ok()) return s;
  q.remove(rowid);
  return Status::ok();
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
  q.add(slot_of(m), m.group_id, now_ms);
  if (Status s = serve_waiters(c, q, now_ms); !s.is_ok()) return Error::internal(s);
  // A first message starts the retention clock; a delayed one must wake a waiting long poll.
  if (q.size() == 1 || !q.waiters.empty()) touch(q);
  return r;
}

std::string QueueEngine::receipt_for(const Queue& q, const Message& m) const {
  // esmd:<queue id>:<rowid>:<nonce>:<message id>, in base64
  std::string raw;
  raw.reserve(64 + m.message_id.size());
  raw += "esmd:";
  append_int(raw, q.id);
  raw += ':';
  append_int(raw, m.rowid);
  raw += ':';
  append_nonce(raw);
  raw += ':';
  raw += m.message_id;
  return base64_encode(raw);
}

Expected<Slot*, Error> QueueEngine::decode_receipt(Queue& q, const std::string& handle) {
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
  Slot* s = q.find(rowid);
  if (s == nullptr || s->id_hash != message_id_hash(message_id)) return static_cast<Slot*>(nullptr);
  return s;
}

Expected<bool, Error> QueueEngine::redrive(Connection& c, Queue& q, std::int64_t rowid, std::int64_t now_ms,
                                           std::vector<Queue*>& redriven_to) {
  Queue* dlq = find_by_arn(q.redrive->dead_letter_arn);
  if (!dlq || dlq == &q) return false;
  auto read = read_message(c, rowid);
  if (!read) return Error::internal(read.error());
  // ApproximateReceiveCount counts receives across all queues, so the count and the first
  // receive travel with the message.
  Message moved = std::move(*read);
  moved.rowid = 0;
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
  dlq->add(slot_of(moved), moved.group_id, now_ms);
  redriven_to.push_back(dlq);
  if (Status s = remove_message(c, q, rowid); !s.is_ok()) return Error::internal(s);
  return true;
}

Expected<std::vector<Received>, Error> QueueEngine::take_visible(Connection& c, Queue& q, const ReceiveOptions& opt,
                                                                 std::int64_t now_ms) {
  std::vector<Received> out;
  std::vector<Queue*> redriven_to;
  const int vt = opt.visibility_timeout_s.value_or(q.visibility_timeout_s);
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  // Messages whose visibility timeout ended are released first: on a FIFO queue the first of
  // several that ended together would otherwise still see the others holding its group.
  q.promote(now_ms);
  if (Status s = expire(c, q, now_ms); !s.is_ok()) return Error::internal(s);
  // Takes one ready message: false when it was dropped instead (retention, dead-letter queue).
  auto take = [&](std::int64_t rowid) -> Expected<bool, Error> {
    ++take_visits_;
    Slot* s = q.find(rowid);
    if (s->sent_ms + retention_ms <= now_ms) {
      if (Status st = remove_message(c, q, rowid); !st.is_ok()) return Error::internal(st);
      return false;
    }
    if (q.redrive && s->receive_count >= q.redrive->max_receive_count) {
      auto moved = redrive(c, q, rowid, now_ms, redriven_to);
      if (!moved) return moved.error();
      if (*moved) return false;
      s = q.find(rowid);
    }
    // The row is read before it is written, so a failed read leaves disk and memory as they were.
    auto m = read_message(c, rowid);
    if (!m) return Error::internal(m.error());
    const std::int64_t first = m->first_receive_ms == 0 ? now_ms : m->first_receive_ms;
    const std::int64_t visible_at = now_ms + static_cast<std::int64_t>(vt) * 1000;
    if (Status st = storage::update_message_receive(c, rowid, visible_at, first, s->receive_count + 1); !st.is_ok())
      return Error::internal(st);
    ++s->receive_count;
    q.mark_received(*s, visible_at);
    m->receive_count = s->receive_count;
    m->first_receive_ms = first;
    m->visible_at_ms = visible_at;
    std::string handle = receipt_for(q, *m);
    out.push_back(Received{std::move(*m), std::move(handle)});
    return true;
  };
  if (!q.fifo) {
    while (static_cast<int>(out.size()) < opt.max_messages) {
      const std::int64_t rowid = q.first_ready();
      if (rowid == 0) break;
      if (auto r = take(rowid); !r) return r.error();
    }
  } else {
    // The ready groups by their oldest message, merged with the groups this receive already
    // took from (no longer ready: they have messages in flight), whose next messages follow in
    // send order while they are ready.
    std::set<std::pair<std::int64_t, Group*>> taken;
    while (static_cast<int>(out.size()) < opt.max_messages) {
      const bool from_taken =
          !taken.empty() && (q.ready_groups.empty() || taken.begin()->first < q.ready_groups.begin()->first);
      if (!from_taken && q.ready_groups.empty()) break;
      const auto [rowid, g] = from_taken ? *taken.begin() : *q.ready_groups.begin();
      if (from_taken) taken.erase(taken.begin());
      auto r = take(rowid);
      if (!r) return r.error();
      // A group this receive took from keeps messages in flight, so it outlives the removal
      // of one of its messages; a ready group that lost its head is back in ready_groups.
      if (!from_taken && !*r) continue;
      auto next = g->rowids.upper_bound(rowid);
      if (next == g->rowids.end()) continue;
      const Slot* s = q.find(*next);
      if (s && s->ready) taken.emplace(*next, g);
    }
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
  if (Status s = remove_message(c, q, (*r)->rowid); !s.is_ok()) return Error::internal(s);
  // The rest of the group may now be received: the tick serves the waiting long polls.
  if (unlocks_group && !q.waiters.empty()) touch(q);
  return {};
}

Expected<std::size_t, Error> QueueEngine::delete_messages(Connection& c, Queue& q,
                                                         const std::vector<std::string>& receipt_handles) {
  db_.assert_on_worker();
  std::vector<std::int64_t> rowids;
  rowids.reserve(receipt_handles.size());
  std::size_t missed = 0;
  bool unlocks_group = false;
  for (const auto& h : receipt_handles) {
    auto r = decode_receipt(q, h);
    if (!r || *r == nullptr) {
      ++missed;
      continue;
    }
    unlocks_group = unlocks_group || (q.fifo && (*r)->in_flight);
    rowids.push_back((*r)->rowid);
  }
  std::sort(rowids.begin(), rowids.end());
  rowids.erase(std::unique(rowids.begin(), rowids.end()), rowids.end());
  // Every row of a run [first, last] is one of these messages, so the range names no other row.
  for (std::size_t i = 0; i < rowids.size();) {
    std::size_t j = i + 1;
    while (j < rowids.size() && rowids[j] == rowids[j - 1] + 1) ++j;
    Status s = j - i == 1 ? storage::delete_message_row(c, rowids[i])
                          : storage::delete_message_range(c, rowids[i], rowids[j - 1]);
    if (!s.is_ok()) return Error::internal(s);
    for (std::size_t k = i; k < j; ++k) q.remove(rowids[k]);
    i = j;
  }
  if (unlocks_group && !q.waiters.empty()) touch(q);
  return missed;
}

Expected<void, Error> QueueEngine::change_visibility(Connection& c, Queue& q, const std::string& receipt_handle,
                                                     int timeout_s, std::int64_t now_ms) {
  db_.assert_on_worker();
  if (timeout_s < 0 || timeout_s > kMaxVisibilityTimeoutS)
    return Error{ErrorKind::kOutOfRange, "VisibilityTimeout", {}, timeout_s, 0, kMaxVisibilityTimeoutS};
  auto r = decode_receipt(q, receipt_handle);
  if (!r) return r.error();
  Slot* m = *r;
  if (m == nullptr || !m->in_flight || m->visible_at_ms <= now_ms) return Error{ErrorKind::kMessageNotInflight};
  const std::int64_t visible_at = now_ms + static_cast<std::int64_t>(timeout_s) * 1000;
  if (Status s = storage::update_message_visible_at(c, m->rowid, visible_at); !s.is_ok()) return Error::internal(s);
  q.set_visible_at(*m, visible_at);
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
