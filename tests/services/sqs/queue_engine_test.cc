#include <catch2/catch.hpp>

#include "core/codec.h"
#include "services/sqs/rules.h"
#include "tests/services/sqs/queue_fixture.h"

using namespace esm;
using namespace esm::testing;

TEST_CASE("a received message is invisible for its visibility timeout and comes back after it") {
  QueueFixture f;
  f.create("orders");
  f.send_ok("orders", "a");
  auto first = f.receive_ok("orders", 10, 30);
  REQUIRE(first.size() == 1);
  CHECK(first[0].message.receive_count == 1);
  CHECK(f.receive_ok("orders").empty());
  f.advance_s(29);
  CHECK(f.receive_ok("orders").empty());
  f.advance_s(1);
  auto again = f.receive_ok("orders");
  REQUIRE(again.size() == 1);
  CHECK(again[0].message.receive_count == 2);
  CHECK(again[0].message.first_receive_ms == first[0].message.first_receive_ms);
}

TEST_CASE("a delayed message is not received before its delay ends") {
  QueueFixture f;
  f.create("orders", {{"DelaySeconds", "10"}});
  f.send_ok("orders", "a");
  CHECK(f.count("orders", "ApproximateNumberOfMessagesDelayed") == 1);
  CHECK(f.receive_ok("orders").empty());
  f.advance_s(10);
  CHECK(f.receive_ok("orders").size() == 1);
}

TEST_CASE("a deleted message is gone from memory and disk, and deleting it again succeeds") {
  QueueFixture f;
  f.create("orders");
  f.send_ok("orders", "a");
  auto got = f.receive_ok("orders");
  REQUIRE(got.size() == 1);
  CHECK(f.rows("orders") == 1);
  REQUIRE(f.delete_message("orders", got[0].receipt_handle));
  CHECK(f.rows("orders") == 0);
  CHECK(f.messages_in_memory("orders") == 0);
  CHECK(f.delete_message("orders", got[0].receipt_handle));
}

TEST_CASE("a receipt handle that esmd did not issue is an invalid receipt handle with the handle as value") {
  QueueFixture f;
  f.create("orders");
  auto r = f.delete_message("orders", "not-a-handle");
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kInvalidReceiptHandle);
  CHECK(r.error().value == "not-a-handle");
}

TEST_CASE("changing the visibility of a message that is not in flight is kMessageNotInflight") {
  QueueFixture f;
  f.create("orders");
  f.send_ok("orders", "a");
  auto got = f.receive_ok("orders", 1, 5);
  REQUIRE(got.size() == 1);
  CHECK(f.change_visibility("orders", got[0].receipt_handle, 60));
  f.advance_s(59);
  CHECK(f.receive_ok("orders").empty());
  f.advance_s(1);
  auto r = f.change_visibility("orders", got[0].receipt_handle, 60);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kMessageNotInflight);
}

TEST_CASE("a visibility timeout outside 0 to 43200 is kOutOfRange with the parameter, value and range") {
  QueueFixture f;
  f.create("orders");
  f.send_ok("orders", "a");
  auto got = f.receive_ok("orders");
  auto r = f.change_visibility("orders", got[0].receipt_handle, 43201);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kOutOfRange);
  CHECK(r.error().name == "VisibilityTimeout");
  CHECK(r.error().number == 43201);
  CHECK(r.error().min == 0);
  CHECK(r.error().max == 43200);
}

TEST_CASE("a message past maxReceiveCount moves to the dead-letter queue with its receive count") {
  QueueFixture f;
  f.create("dlq");
  f.create("orders", {{"RedrivePolicy",
                       R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":2})"}});
  f.send_ok("orders", "a");
  CHECK(f.receive_ok("orders", 1, 0).size() == 1);
  CHECK(f.receive_ok("orders", 1, 0).size() == 1);
  CHECK(f.receive_ok("orders", 1, 0).empty());
  CHECK(f.rows("orders") == 0);
  CHECK(f.rows("dlq") == 1);
  auto moved = f.receive_ok("dlq");
  REQUIRE(moved.size() == 1);
  CHECK(moved[0].message.body == "a");
  CHECK(moved[0].message.receive_count == 3);
  CHECK(moved[0].message.dlq_source_arn == "arn:aws:sqs:us-east-1:123456789012:orders");
}

TEST_CASE("a RedrivePolicy naming a missing queue is kDeadLetterTargetMissing with the policy") {
  QueueFixture f;
  const std::string policy = R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope","maxReceiveCount":2})";
  auto r = f.db.run_sync([&](Connection& c) {
    return f.engine.create_queue(c, kRegion, "orders", {{"RedrivePolicy", policy}}, {}, f.clock.now_ms());
  });
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kDeadLetterTargetMissing);
  CHECK(r.error().value == policy);
}

TEST_CASE("an unknown queue attribute is kInvalidAttributeName with its name") {
  QueueFixture f;
  auto r = f.db.run_sync([&](Connection& c) {
    return f.engine.create_queue(c, kRegion, "orders", {{"Colour", "red"}}, {}, f.clock.now_ms());
  });
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kInvalidAttributeName);
  CHECK(r.error().name == "Colour");
}

TEST_CASE("a FIFO group is locked while one of its messages is in flight, other groups are not") {
  QueueFixture f;
  f.create("jobs.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  f.send_ok("jobs.fifo", "a1", "a");
  f.send_ok("jobs.fifo", "a2", "a");
  f.send_ok("jobs.fifo", "b1", "b");
  auto first = f.receive_ok("jobs.fifo", 1, 30);
  REQUIRE(first.size() == 1);
  CHECK(first[0].message.body == "a1");
  auto second = f.receive_ok("jobs.fifo", 10, 30);
  REQUIRE(second.size() == 1);
  CHECK(second[0].message.body == "b1");
  REQUIRE(f.delete_message("jobs.fifo", first[0].receipt_handle));
  auto third = f.receive_ok("jobs.fifo", 10, 30);
  REQUIRE(third.size() == 1);
  CHECK(third[0].message.body == "a2");
}

TEST_CASE("a FIFO send with a deduplication id seen in the last five minutes answers the first message") {
  QueueFixture f;
  f.create("jobs.fifo", {{"FifoQueue", "true"}});
  SendInput in;
  in.body = "x";
  in.group_id = "g";
  in.dedup_id = "d1";
  auto first = f.send("jobs.fifo", in);
  REQUIRE(first);
  in.body = "y";
  auto again = f.send("jobs.fifo", in);
  REQUIRE(again);
  CHECK(again->message_id == first->message_id);
  CHECK(again->sequence_number == first->sequence_number);
  CHECK(f.rows("jobs.fifo") == 1);
  f.advance_s(300);
  auto later = f.send("jobs.fifo", in);
  REQUIRE(later);
  CHECK(later->message_id != first->message_id);
  CHECK(later->sequence_number > first->sequence_number);
}

TEST_CASE("a FIFO send without a deduplication id or content-based deduplication is kMissingDeduplicationId") {
  QueueFixture f;
  f.create("jobs.fifo", {{"FifoQueue", "true"}});
  SendInput in;
  in.body = "x";
  in.group_id = "g";
  auto r = f.send("jobs.fifo", in);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kMissingDeduplicationId);
}

TEST_CASE("a message over MaximumMessageSize is kMessageTooLong with the limit") {
  QueueFixture f;
  f.create("orders", {{"MaximumMessageSize", "1024"}});
  SendInput in;
  in.body = std::string(1025, 'x');
  auto r = f.send("orders", in);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::kMessageTooLong);
  CHECK(r.error().max == 1024);
}

TEST_CASE("a long poll is answered by the message that arrives during it") {
  QueueFixture f;
  f.create("orders");
  ReceiveOptions opt;
  opt.max_messages = 1;
  opt.wait_ms = 20000;
  auto poll = f.receive_async("orders", opt);
  CHECK(poll.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  f.send_ok("orders", "a");
  REQUIRE(poll.wait_for(kWaitDeadline) == std::future_status::ready);
  auto got = poll.get();
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].message.body == "a");
}

TEST_CASE("a long poll with no message ends empty at its deadline") {
  QueueFixture f;
  f.create("orders");
  ReceiveOptions opt;
  opt.wait_ms = 20000;
  auto poll = f.receive_async("orders", opt);
  f.advance_s(19);
  CHECK(poll.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  f.advance_s(1);
  REQUIRE(poll.wait_for(kWaitDeadline) == std::future_status::ready);
  auto got = poll.get();
  REQUIRE(got);
  CHECK(got->empty());
}

TEST_CASE("deleting a queue answers its long polls with kNonExistentQueue") {
  QueueFixture f;
  f.create("orders");
  ReceiveOptions opt;
  opt.wait_ms = 20000;
  auto poll = f.receive_async("orders", opt);
  auto r = f.on_queue("orders", [&](Connection& c, Queue& q) { return f.engine.delete_queue(c, q); });
  REQUIRE(r);
  REQUIRE(poll.wait_for(kWaitDeadline) == std::future_status::ready);
  auto got = poll.get();
  REQUIRE(!got);
  CHECK(got.error().kind == ErrorKind::kNonExistentQueue);
}

TEST_CASE("cancel_waiters ends only the long polls of that owner") {
  QueueFixture f;
  f.create("orders");
  ReceiveOptions mine;
  mine.wait_ms = 20000;
  mine.owner = "poller-1";
  ReceiveOptions theirs = mine;
  theirs.owner = "poller-2";
  auto a = f.receive_async("orders", mine);
  auto b = f.receive_async("orders", theirs);
  REQUIRE(f.db.run_sync([&](Connection&) {
                f.engine.cancel_waiters("poller-1");
                return Status::ok();
              }).is_ok());
  REQUIRE(a.wait_for(kWaitDeadline) == std::future_status::ready);
  CHECK(a.get()->empty());
  CHECK(b.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  f.send_ok("orders", "x");
  REQUIRE(b.wait_for(kWaitDeadline) == std::future_status::ready);
  CHECK(b.get()->size() == 1);
}

TEST_CASE("messages past the retention period are dropped from memory and disk") {
  QueueFixture f;
  f.create("orders", {{"MessageRetentionPeriod", "60"}});
  f.send_ok("orders", "a");
  f.advance_s(59);
  CHECK(f.count("orders", "ApproximateNumberOfMessages") == 1);
  f.advance_s(1);
  CHECK(f.count("orders", "ApproximateNumberOfMessages") == 0);
  CHECK(f.rows("orders") == 0);
}

TEST_CASE("purge removes every message from memory and disk") {
  QueueFixture f;
  f.create("orders");
  for (int i = 0; i < 5; ++i) f.send_ok("orders", "m" + std::to_string(i));
  auto r = f.on_queue("orders", [&](Connection& c, Queue& q) { return f.engine.purge(c, q, f.clock.now_ms()); });
  REQUIRE(r);
  CHECK(f.rows("orders") == 0);
  CHECK(f.messages_in_memory("orders") == 0);
}

TEST_CASE("a second purge within a minute is kPurgeQueueInProgress and one a minute later purges") {
  QueueFixture f;
  f.create("orders");
  auto purge = [&] { return f.on_queue("orders", [&](Connection& c, Queue& q) { return f.engine.purge(c, q, f.clock.now_ms()); }); };
  REQUIRE(purge());
  f.send_ok("orders", "kept");
  f.advance_s(59);
  auto again = purge();
  REQUIRE_FALSE(again);
  CHECK(again.error().kind == ErrorKind::kPurgeQueueInProgress);
  CHECK(again.error().name == "orders");
  CHECK(f.rows("orders") == 1);
  f.advance_s(1);
  REQUIRE(purge());
  CHECK(f.rows("orders") == 0);
}

TEST_CASE("a reload from disk keeps in-flight messages invisible until their timeout") {
  QueueFixture f;
  f.create("orders");
  f.send_ok("orders", "a");
  f.send_ok("orders", "b");
  REQUIRE(f.receive_ok("orders", 1, 30).size() == 1);
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.recover(c, f.clock.now_ms()); }).is_ok());
  CHECK(f.count("orders", "ApproximateNumberOfMessages") == 1);
  CHECK(f.count("orders", "ApproximateNumberOfMessagesNotVisible") == 1);
  f.advance_s(30);
  CHECK(f.count("orders", "ApproximateNumberOfMessages") == 2);
}

TEST_CASE("a receive looks only at the message it takes, however many are in flight or delayed") {
  QueueFixture f;
  f.create("orders");
  for (int i = 0; i < 1000; ++i) f.send_ok("orders", "m" + std::to_string(i));
  for (int i = 0; i < 100; ++i) REQUIRE(f.receive_ok("orders", 10, 60).size() == 10);
  SendInput delayed;
  delayed.body = "later";
  delayed.delay_s = 30;
  for (int i = 0; i < 100; ++i) REQUIRE(f.send("orders", delayed));
  f.send_ok("orders", "new");
  const std::size_t before = f.take_visits("orders");
  auto got = f.receive_ok("orders", 10, 60);
  REQUIRE(got.size() == 1);
  CHECK(got[0].message.body == "new");
  CHECK(f.take_visits("orders") - before == 1);
  // Their timeouts end: they are back, oldest first, with their bodies read from disk.
  f.advance_s(60);
  auto back = f.receive_ok("orders", 10, 60);
  REQUIRE(back.size() == 10);
  CHECK(back[0].message.body == "m0");
  CHECK(back[0].message.receive_count == 2);
  CHECK(back[0].message.md5_body.empty());  // the reader's to compute
  sqs::fill_digests(back[0].message);
  CHECK(back[0].message.md5_body == md5_hex("m0"));
}

TEST_CASE("a FIFO receive skips a locked group without looking at its messages") {
  QueueFixture f;
  f.create("jobs.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  for (int i = 0; i < 500; ++i) f.send_ok("jobs.fifo", "a" + std::to_string(i), "a");
  REQUIRE(f.receive_ok("jobs.fifo", 10, 60).size() == 10);
  f.send_ok("jobs.fifo", "b0", "b");
  const std::size_t before = f.take_visits("jobs.fifo");
  auto got = f.receive_ok("jobs.fifo", 10, 60);
  REQUIRE(got.size() == 1);
  CHECK(got[0].message.body == "b0");
  CHECK(f.take_visits("jobs.fifo") - before == 1);
}

TEST_CASE("a receipt handle of a deleted message does not name the message that reused its rowid") {
  QueueFixture f;
  f.create("orders");
  f.send_ok("orders", "a");
  f.send_ok("orders", "b");
  auto got = f.receive_ok("orders", 10, 60);
  REQUIRE(got.size() == 2);
  REQUIRE(f.delete_message("orders", got[1].receipt_handle));
  f.send_ok("orders", "c");  // SQLite gives it b's rowid, the largest free one
  CHECK(f.delete_message("orders", got[1].receipt_handle));
  CHECK(f.messages_in_memory("orders") == 2);
  CHECK(f.change_visibility("orders", got[1].receipt_handle, 10).error().kind == ErrorKind::kMessageNotInflight);
  auto c = f.receive_ok("orders", 10, 60);
  REQUIRE(c.size() == 1);
  CHECK(c[0].message.body == "c");
  CHECK(c[0].message.rowid == got[1].message.rowid);
}

TEST_CASE("a batch delete removes exactly the messages its handles name, runs of rowids at once") {
  QueueFixture f;
  f.create("orders");
  for (const char* body : {"a", "b", "c", "d", "e", "f"}) f.send_ok("orders", body);
  auto got = f.receive_ok("orders", 10, 60);
  REQUIRE(got.size() == 6);
  REQUIRE(f.delete_message("orders", got[5].receipt_handle));  // f: a stale handle below
  // a, b, c (a run), e (alone), f (already gone), a handle esmd never issued; d stays.
  std::vector<std::string> handles{got[2].receipt_handle, got[0].receipt_handle, got[1].receipt_handle,
                                   got[4].receipt_handle, got[5].receipt_handle, "not-a-handle"};
  auto missed = f.on_queue("orders", [&](Connection& c, Queue& q) { return f.engine.delete_messages(c, q, handles); });
  REQUIRE(missed);
  CHECK(*missed == 2);
  CHECK(f.rows("orders") == 1);
  CHECK(f.messages_in_memory("orders") == 1);
  f.advance_s(60);
  auto left = f.receive_ok("orders");
  REQUIRE(left.size() == 1);
  CHECK(left[0].message.body == "d");
}
