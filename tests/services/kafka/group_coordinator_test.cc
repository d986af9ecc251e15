#include "services/kafka/group_coordinator.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/fakes/fake_scheduler.h"

using esm::kafka::CoordinatorOptions;
using esm::kafka::GroupCoordinator;
using esm::kafka::GroupError;
using esm::kafka::GroupProtocol;
using esm::kafka::GroupState;
using esm::kafka::JoinRequest;
using esm::kafka::JoinResult;
using esm::kafka::SyncRequest;
using esm::kafka::SyncResult;
using esm::testing::FakeScheduler;

namespace {

constexpr std::int32_t kSessionMs = 10000;
constexpr std::int32_t kRebalanceMs = 30000;

JoinRequest join_req(std::string member_id = "", std::vector<GroupProtocol> protocols = {{"range", "sub"}}) {
  JoinRequest r;
  r.group_id = "g";
  r.member_id = std::move(member_id);
  r.client_id = "client";
  r.client_host = "/127.0.0.1";
  r.session_timeout_ms = kSessionMs;
  r.rebalance_timeout_ms = kRebalanceMs;
  r.protocol_type = "consumer";
  r.protocols = std::move(protocols);
  return r;
}

struct JoinReply {
  std::optional<JoinResult> result;
  int calls = 0;
};

struct SyncReply {
  std::optional<SyncResult> result;
  int calls = 0;
};

std::shared_ptr<JoinReply> join(GroupCoordinator& gc, JoinRequest r) {
  auto out = std::make_shared<JoinReply>();
  gc.join(std::move(r), [out](JoinResult res) {
    ++out->calls;
    out->result = std::move(res);
  });
  return out;
}

std::shared_ptr<SyncReply> sync(GroupCoordinator& gc, const std::string& member_id, std::int32_t generation,
                                std::map<std::string, std::string> assignments = {}) {
  SyncRequest r;
  r.group_id = "g";
  r.member_id = member_id;
  r.generation_id = generation;
  r.assignments = std::move(assignments);
  auto out = std::make_shared<SyncReply>();
  gc.sync(std::move(r), [out](SyncResult res) {
    ++out->calls;
    out->result = std::move(res);
  });
  return out;
}

std::vector<std::string> member_ids(const JoinResult& r) {
  std::vector<std::string> ids;
  for (const auto& m : r.members) ids.push_back(m.member_id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Two members in a Stable group at generation 2, the first one leading; a's assignment is "pa",
// b's "pb".
struct StablePair {
  std::string a, b;
  std::int32_t generation = 0;
};

StablePair stable_pair(GroupCoordinator& gc) {
  StablePair p;
  auto a = join(gc, join_req());
  REQUIRE(a->result);
  p.a = a->result->member_id;
  auto b = join(gc, join_req());
  REQUIRE_FALSE(b->result);
  auto a2 = join(gc, join_req(p.a));
  REQUIRE(a2->result);
  REQUIRE(b->result);
  REQUIRE(b->result->error == GroupError::kNone);
  p.b = b->result->member_id;
  p.generation = a2->result->generation_id;
  auto sa = sync(gc, p.a, p.generation, {{p.a, "pa"}, {p.b, "pb"}});
  auto sb = sync(gc, p.b, p.generation);
  REQUIRE(sa->result);
  REQUIRE(sb->result);
  REQUIRE(sb->result->assignment == "pb");
  return p;
}

}  // namespace

TEST_CASE("the first member of a group gets generation 1, leads it and sees its own metadata") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto r = join(gc, join_req("", {{"range", "sub-a"}}));

  REQUIRE(r->calls == 1);
  const JoinResult& j = *r->result;
  CHECK(j.error == GroupError::kNone);
  CHECK(j.generation_id == 1);
  CHECK(j.leader == j.member_id);
  CHECK(j.member_id.rfind("client-", 0) == 0);
  CHECK(j.member_id.size() == std::string("client-").size() + 36);
  CHECK(j.protocol_type == "consumer");
  CHECK(j.protocol_name == "range");
  REQUIRE(j.members.size() == 1);
  CHECK(j.members[0].member_id == j.member_id);
  CHECK(j.members[0].metadata == "sub-a");
  CHECK(gc.describe("g").state == GroupState::kCompletingRebalance);
}

TEST_CASE("two members joining within the initial delay end in one generation with one leader that sees both") {
  FakeScheduler clock;
  CoordinatorOptions opt;
  opt.initial_rebalance_delay_ms = 3000;
  GroupCoordinator gc(clock, opt);
  auto a = join(gc, join_req("", {{"range", "sub-a"}}));
  clock.advance_ms(1000);
  auto b = join(gc, join_req("", {{"range", "sub-b"}}));
  CHECK_FALSE(a->result);
  CHECK_FALSE(b->result);

  clock.advance_ms(3000);  // the delay was extended once, for b
  CHECK_FALSE(a->result);
  clock.advance_ms(3000);
  REQUIRE(a->result);
  REQUIRE(b->result);
  CHECK(a->result->generation_id == 1);
  CHECK(b->result->generation_id == 1);
  CHECK(a->result->leader == a->result->member_id);
  CHECK(b->result->leader == a->result->member_id);
  CHECK(member_ids(*a->result) == sorted({a->result->member_id, b->result->member_id}));
  CHECK(b->result->members.empty());
}

TEST_CASE("two members joining at once without an initial delay end in one generation after the first rejoins") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  const std::string id_a = a->result->member_id;
  auto b = join(gc, join_req());
  CHECK_FALSE(b->result);

  // a got generation 1 before b arrived: its SyncGroup tells it to rejoin.
  auto sa = sync(gc, id_a, 1, {{id_a, "x"}});
  REQUIRE(sa->result);
  CHECK(sa->result->error == GroupError::kRebalanceInProgress);
  auto a2 = join(gc, join_req(id_a));

  REQUIRE(a2->result);
  REQUIRE(b->result);
  CHECK(a2->result->generation_id == 2);
  CHECK(b->result->generation_id == 2);
  CHECK(a2->result->leader == id_a);
  CHECK(b->result->leader == id_a);
  CHECK(member_ids(*a2->result) == sorted({id_a, b->result->member_id}));
  CHECK(b->result->members.empty());
}

TEST_CASE("a member joining a stable group makes the others' heartbeats ask for a rejoin, which completes the generation") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  CHECK(gc.heartbeat("g", p.a, p.generation) == GroupError::kNone);
  CHECK(gc.describe("g").state == GroupState::kStable);

  auto c = join(gc, join_req());
  CHECK_FALSE(c->result);
  CHECK(gc.describe("g").state == GroupState::kPreparingRebalance);
  CHECK(gc.heartbeat("g", p.a, p.generation) == GroupError::kRebalanceInProgress);
  CHECK(gc.heartbeat("g", p.b, p.generation) == GroupError::kRebalanceInProgress);

  auto a = join(gc, join_req(p.a));
  CHECK_FALSE(c->result);
  auto b = join(gc, join_req(p.b));
  REQUIRE(a->result);
  REQUIRE(b->result);
  REQUIRE(c->result);
  CHECK(a->result->generation_id == p.generation + 1);
  CHECK(c->result->generation_id == p.generation + 1);
  CHECK(c->result->leader == p.a);
  CHECK(member_ids(*a->result) == sorted({p.a, p.b, c->result->member_id}));
}

TEST_CASE("a member leaving starts a rebalance that the others complete by rejoining") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);

  auto left = gc.leave("g", {p.b, "nobody"});
  CHECK(left.error == GroupError::kNone);
  REQUIRE(left.members.size() == 2);
  CHECK(left.members[0] == std::make_pair(p.b, GroupError::kNone));
  CHECK(left.members[1] == std::make_pair(std::string("nobody"), GroupError::kUnknownMemberId));
  CHECK(gc.heartbeat("g", p.a, p.generation) == GroupError::kRebalanceInProgress);
  CHECK(gc.heartbeat("g", p.b, p.generation) == GroupError::kUnknownMemberId);

  auto a = join(gc, join_req(p.a));
  REQUIRE(a->result);
  CHECK(a->result->generation_id == p.generation + 1);
  CHECK(member_ids(*a->result) == std::vector<std::string>{p.a});
}

TEST_CASE("the last member leaving empties the group, which stays listed until deleted") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  auto left = gc.leave("g", {a->result->member_id});
  CHECK(left.members[0].second == GroupError::kNone);

  auto d = gc.describe("g");
  CHECK(d.state == GroupState::kEmpty);
  CHECK(d.members.empty());
  CHECK(gc.delete_group("g") == GroupError::kNone);
  CHECK(gc.describe("g").error == GroupError::kGroupIdNotFound);
}

TEST_CASE("a silent member's session expires and the others rebalance without it") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);

  for (int i = 0; i < 3; ++i) {
    clock.advance_ms(3000);
    REQUIRE(gc.heartbeat("g", p.a, p.generation) == GroupError::kNone);
  }
  clock.advance_ms(3000);  // b has been silent for 12 s, past its 10 s session
  CHECK(gc.heartbeat("g", p.b, p.generation) == GroupError::kUnknownMemberId);
  CHECK(gc.heartbeat("g", p.a, p.generation) == GroupError::kRebalanceInProgress);
  auto a = join(gc, join_req(p.a));
  REQUIRE(a->result);
  CHECK(a->result->generation_id == p.generation + 1);
  CHECK(member_ids(*a->result) == std::vector<std::string>{p.a});
}

TEST_CASE("the session expiry of the only member empties the group") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  auto s = sync(gc, a->result->member_id, 1, {});
  REQUIRE(s->result);
  clock.advance_ms(kSessionMs);
  CHECK(gc.describe("g").state == GroupState::kEmpty);
  CHECK(gc.heartbeat("g", a->result->member_id, 1) == GroupError::kUnknownMemberId);
}

TEST_CASE("a member that does not rejoin within the rebalance timeout is removed and the rest complete") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  auto c = join(gc, join_req());
  // b keeps heartbeating (its session never expires) but never rejoins.
  auto a = join(gc, join_req(p.a));
  for (int i = 0; i < 9; ++i) {
    clock.advance_ms(3000);
    REQUIRE(gc.heartbeat("g", p.b, p.generation) == GroupError::kRebalanceInProgress);
  }
  CHECK_FALSE(a->result);
  clock.advance_ms(3000);  // 30 s: the rebalance timeout

  REQUIRE(a->result);
  REQUIRE(c->result);
  CHECK(a->result->generation_id == p.generation + 1);
  CHECK(member_ids(*a->result) == sorted({p.a, c->result->member_id}));
  CHECK(gc.heartbeat("g", p.b, p.generation) == GroupError::kUnknownMemberId);
}

TEST_CASE("the leader that does not rejoin in time is replaced by the oldest member that did") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  auto c = join(gc, join_req());
  auto b = join(gc, join_req(p.b));
  for (int i = 0; i < 9; ++i) {  // the leader stays alive but does not rejoin
    clock.advance_ms(3000);
    REQUIRE(gc.heartbeat("g", p.a, p.generation) == GroupError::kRebalanceInProgress);
  }
  CHECK_FALSE(b->result);
  clock.advance_ms(3000);

  REQUIRE(b->result);
  CHECK(b->result->leader == p.b);
  CHECK(member_ids(*b->result) == sorted({p.b, c->result->member_id}));
  CHECK(c->result->members.empty());
}

TEST_CASE("members waiting for their JoinGroup answer do not expire") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  auto c = join(gc, join_req());
  auto a = join(gc, join_req(p.a));
  // a and c wait silently for 15 s, past their 10 s sessions, while b heartbeats.
  for (int i = 0; i < 5; ++i) {
    clock.advance_ms(3000);
    REQUIRE(gc.heartbeat("g", p.b, p.generation) == GroupError::kRebalanceInProgress);
  }
  CHECK_FALSE(a->result);
  auto b = join(gc, join_req(p.b));
  REQUIRE(a->result);
  REQUIRE(c->result);
  CHECK(a->result->error == GroupError::kNone);
  CHECK(member_ids(*a->result) == sorted({p.a, p.b, c->result->member_id}));
}

TEST_CASE("MEMBER_ID_REQUIRED is answered only to a v4+ join without member id or instance id") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);

  SECTION("v4+: the new id comes back with the error and the rejoin with it is accepted") {
    JoinRequest r = join_req();
    r.require_known_member_id = true;
    auto first = join(gc, r);
    REQUIRE(first->result);
    CHECK(first->result->error == GroupError::kMemberIdRequired);
    CHECK(first->result->member_id.rfind("client-", 0) == 0);
    CHECK(first->result->generation_id == -1);

    r.member_id = first->result->member_id;
    auto second = join(gc, r);
    REQUIRE(second->result);
    CHECK(second->result->error == GroupError::kNone);
    CHECK(second->result->member_id == first->result->member_id);
    CHECK(second->result->generation_id == 1);
  }
  SECTION("v0-v3: the member joins at once") {
    auto r = join(gc, join_req());
    REQUIRE(r->result);
    CHECK(r->result->error == GroupError::kNone);
    CHECK(r->result->generation_id == 1);
  }
  SECTION("a static member (group instance id) joins at once even on v4+") {
    JoinRequest r = join_req();
    r.require_known_member_id = true;
    r.group_instance_id = "instance-1";
    auto j = join(gc, r);
    REQUIRE(j->result);
    CHECK(j->result->error == GroupError::kNone);
    CHECK(j->result->member_id.rfind("instance-1-", 0) == 0);
  }
  SECTION("a handed-out id that is not used within the session timeout is forgotten") {
    JoinRequest r = join_req();
    r.require_known_member_id = true;
    auto first = join(gc, r);
    clock.advance_ms(kSessionMs);
    r.member_id = first->result->member_id;
    auto late = join(gc, r);
    REQUIRE(late->result);
    CHECK(late->result->error == GroupError::kUnknownMemberId);
  }
}

TEST_CASE("a handed-out member id holds the rebalance until its member joins") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  JoinRequest r = join_req();
  r.require_known_member_id = true;
  auto first = join(gc, r);
  REQUIRE(first->result->error == GroupError::kMemberIdRequired);
  // A leader rejoin starts a rebalance; the handed-out id counts as a member still to come.
  auto a = join(gc, join_req(p.a));
  auto b = join(gc, join_req(p.b));
  CHECK_FALSE(a->result);
  r.member_id = first->result->member_id;
  auto c = join(gc, r);
  REQUIRE(a->result);
  REQUIRE(c->result);
  CHECK(member_ids(*a->result).size() == 3);
}

TEST_CASE("a follower's SyncGroup waits for the leader's and gets its own assignment") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  const std::string id_a = a->result->member_id;
  auto b = join(gc, join_req());
  auto a2 = join(gc, join_req(id_a));
  const std::string id_b = b->result->member_id;
  const std::int32_t gen = a2->result->generation_id;

  auto sb = sync(gc, id_b, gen);
  CHECK_FALSE(sb->result);
  CHECK(gc.heartbeat("g", id_b, gen) == GroupError::kNone);  // Kafka answers NONE in CompletingRebalance
  auto sa = sync(gc, id_a, gen, {{id_a, "pa"}, {id_b, "pb"}});

  REQUIRE(sa->result);
  REQUIRE(sb->result);
  CHECK(sb->calls == 1);
  CHECK(sa->result->error == GroupError::kNone);
  CHECK(sa->result->assignment == "pa");
  CHECK(sb->result->assignment == "pb");
  CHECK(sb->result->protocol_type == "consumer");
  CHECK(sb->result->protocol_name == "range");
  CHECK(gc.describe("g").state == GroupState::kStable);

  // Once Stable, a SyncGroup is answered at once with the stored assignment.
  auto again = sync(gc, id_b, gen);
  REQUIRE(again->result);
  CHECK(again->result->assignment == "pb");
}

TEST_CASE("a member the leader left out of the assignment gets empty bytes") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  const std::string id_a = a->result->member_id;
  auto b = join(gc, join_req());
  auto a2 = join(gc, join_req(id_a));
  const std::int32_t gen = a2->result->generation_id;
  auto sb = sync(gc, b->result->member_id, gen);
  auto sa = sync(gc, id_a, gen, {{id_a, "everything"}, {"not-a-member", "x"}});
  REQUIRE(sb->result);
  CHECK(sb->result->error == GroupError::kNone);
  CHECK(sb->result->assignment.empty());
}

TEST_CASE("a SyncGroup during PreparingRebalance is told to rejoin, and a waiting one when a rebalance starts") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  const std::string id_a = a->result->member_id;
  auto b = join(gc, join_req());
  auto a2 = join(gc, join_req(id_a));
  const std::int32_t gen = a2->result->generation_id;
  auto sb = sync(gc, b->result->member_id, gen);
  CHECK_FALSE(sb->result);

  auto c = join(gc, join_req());  // a new member: the waiting sync hears of the rebalance
  REQUIRE(sb->result);
  CHECK(sb->result->error == GroupError::kRebalanceInProgress);
  auto sa = sync(gc, id_a, gen, {});
  REQUIRE(sa->result);
  CHECK(sa->result->error == GroupError::kRebalanceInProgress);
}

TEST_CASE("members that do not send SyncGroup within the rebalance timeout are removed") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req());
  const std::string id_a = a->result->member_id;
  auto b = join(gc, join_req());
  auto a2 = join(gc, join_req(id_a));
  const std::int32_t gen = a2->result->generation_id;
  auto sb = sync(gc, b->result->member_id, gen);
  for (int i = 0; i < 9; ++i) {  // the leader heartbeats but never syncs
    clock.advance_ms(3000);
    REQUIRE(gc.heartbeat("g", id_a, gen) == GroupError::kNone);
  }
  CHECK_FALSE(sb->result);
  clock.advance_ms(3000);

  REQUIRE(sb->result);
  CHECK(sb->result->error == GroupError::kRebalanceInProgress);
  CHECK(gc.heartbeat("g", id_a, gen) == GroupError::kUnknownMemberId);
  auto b2 = join(gc, join_req(b->result->member_id));
  REQUIRE(b2->result);
  CHECK(b2->result->leader == b->result->member_id);
}

TEST_CASE("a stale generation is refused with ILLEGAL_GENERATION") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  CHECK(gc.heartbeat("g", p.a, p.generation - 1) == GroupError::kIllegalGeneration);
  auto s = sync(gc, p.b, p.generation - 1);
  REQUIRE(s->result);
  CHECK(s->result->error == GroupError::kIllegalGeneration);
  CHECK(gc.check_commit("g", p.a, p.generation + 1) == GroupError::kIllegalGeneration);
}

TEST_CASE("an unknown member or group is refused with UNKNOWN_MEMBER_ID") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  CHECK(gc.heartbeat("g", "stranger", p.generation) == GroupError::kUnknownMemberId);
  CHECK(gc.heartbeat("other", p.a, p.generation) == GroupError::kUnknownMemberId);
  auto s = sync(gc, "stranger", p.generation);
  REQUIRE(s->result);
  CHECK(s->result->error == GroupError::kUnknownMemberId);
  auto j = join(gc, join_req("stranger"));
  REQUIRE(j->result);
  CHECK(j->result->error == GroupError::kUnknownMemberId);
  JoinRequest r = join_req("stranger");
  r.group_id = "other";
  auto j2 = join(gc, r);
  CHECK(j2->result->error == GroupError::kUnknownMemberId);
  CHECK(gc.describe("other").error == GroupError::kGroupIdNotFound);
  CHECK(gc.check_commit("g", "stranger", p.generation) == GroupError::kUnknownMemberId);
}

TEST_CASE("a join with another protocol type or no protocol in common is inconsistent") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  auto a = join(gc, join_req("", {{"range", "s"}, {"roundrobin", "s"}}));
  REQUIRE(a->result->error == GroupError::kNone);

  JoinRequest other_type = join_req();
  other_type.protocol_type = "connect";
  CHECK(join(gc, other_type)->result->error == GroupError::kInconsistentGroupProtocol);
  CHECK(join(gc, join_req("", {{"sticky", "s"}}))->result->error == GroupError::kInconsistentGroupProtocol);
  CHECK(join(gc, join_req(a->result->member_id, {{"sticky", "s"}}))->result->error ==
        GroupError::kInconsistentGroupProtocol);

  JoinRequest nothing = join_req();
  nothing.group_id = "fresh";
  nothing.protocols.clear();
  CHECK(join(gc, nothing)->result->error == GroupError::kInconsistentGroupProtocol);
  CHECK(gc.describe("fresh").error == GroupError::kGroupIdNotFound);  // the refused join left nothing behind
}

TEST_CASE("the protocol most members prefer among those all support is chosen") {
  FakeScheduler clock;
  CoordinatorOptions opt;
  opt.initial_rebalance_delay_ms = 100;
  GroupCoordinator gc(clock, opt);
  // "roundrobin" is the common protocol two of three members prefer; "sticky" is not common.
  auto a = join(gc, join_req("", {{"sticky", "a"}, {"range", "a"}, {"roundrobin", "a"}}));
  auto b = join(gc, join_req("", {{"roundrobin", "b"}, {"range", "b"}}));
  auto c = join(gc, join_req("", {{"roundrobin", "c"}, {"range", "c"}, {"sticky", "c"}}));
  clock.advance_ms(1000);
  REQUIRE(a->result);
  CHECK(a->result->protocol_name == "roundrobin");
  CHECK(b->result->protocol_name == "roundrobin");
  REQUIRE(a->result->members.size() == 3);
  CHECK(a->result->members[1].metadata == "b");
}

TEST_CASE("a follower rejoining a stable group with unchanged metadata keeps the generation; the leader's rejoin rebalances") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);

  auto b = join(gc, join_req(p.b));
  REQUIRE(b->result);
  CHECK(b->result->generation_id == p.generation);
  CHECK(b->result->members.empty());
  CHECK(gc.describe("g").state == GroupState::kStable);

  SECTION("the leader") {
    auto a = join(gc, join_req(p.a));
    CHECK_FALSE(a->result);
    CHECK(gc.describe("g").state == GroupState::kPreparingRebalance);
  }
  SECTION("a follower with new metadata") {
    auto b2 = join(gc, join_req(p.b, {{"range", "new topics"}}));
    CHECK_FALSE(b2->result);
    CHECK(gc.describe("g").state == GroupState::kPreparingRebalance);
  }
}

TEST_CASE("a session timeout outside the bounds and an empty group id are refused") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  JoinRequest r = join_req();
  r.session_timeout_ms = 5999;
  CHECK(join(gc, r)->result->error == GroupError::kInvalidSessionTimeout);
  r.session_timeout_ms = 1800001;
  CHECK(join(gc, r)->result->error == GroupError::kInvalidSessionTimeout);
  r = join_req();
  r.group_id.clear();
  CHECK(join(gc, r)->result->error == GroupError::kInvalidGroupId);
  CHECK(gc.heartbeat("", "m", 1) == GroupError::kInvalidGroupId);
  CHECK(gc.leave("", {"m"}).error == GroupError::kInvalidGroupId);
  CHECK(gc.list_groups().empty());
}

TEST_CASE("check_commit accepts simple commits only without members and members' commits by generation and state") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);

  SECTION("a group esmd does not know") {
    CHECK(gc.check_commit("g", "", -1) == GroupError::kNone);
    CHECK(gc.check_commit("g", "m", 3) == GroupError::kIllegalGeneration);
  }
  SECTION("an empty group") {
    gc.note_offsets("g");
    CHECK(gc.check_commit("g", "", -1) == GroupError::kNone);
    CHECK(gc.check_commit("g", "m", 0) == GroupError::kUnknownMemberId);
  }
  SECTION("a group with members") {
    auto a = join(gc, join_req());
    const std::string id_a = a->result->member_id;
    CHECK(gc.check_commit("g", "", -1) == GroupError::kUnknownMemberId);
    CHECK(gc.check_commit("g", id_a, 1) == GroupError::kRebalanceInProgress);  // CompletingRebalance
    REQUIRE(sync(gc, id_a, 1, {{id_a, "p"}})->result);
    CHECK(gc.check_commit("g", id_a, 1) == GroupError::kNone);                 // Stable
    CHECK(gc.check_commit("g", id_a, 0) == GroupError::kIllegalGeneration);
    CHECK(gc.check_commit("g", "stranger", 1) == GroupError::kUnknownMemberId);
    auto b = join(gc, join_req());
    CHECK(gc.check_commit("g", id_a, 1) == GroupError::kNone);  // PreparingRebalance: Kafka accepts
  }
}

TEST_CASE("groups are listed, described and deleted as Kafka does") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  gc.note_offsets("offsets-only");

  auto groups = gc.list_groups();
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].group_id == "g");
  CHECK(groups[0].protocol_type == "consumer");
  CHECK(groups[0].state == GroupState::kStable);
  CHECK(groups[1].group_id == "offsets-only");
  CHECK(groups[1].protocol_type.empty());
  CHECK(groups[1].state == GroupState::kEmpty);

  auto d = gc.describe("g");
  CHECK(d.error == GroupError::kNone);
  CHECK(d.state == GroupState::kStable);
  CHECK(d.protocol_name == "range");
  REQUIRE(d.members.size() == 2);
  CHECK(d.members[0].member_id == p.a);
  CHECK(d.members[0].client_id == "client");
  CHECK(d.members[0].client_host == "/127.0.0.1");
  CHECK(d.members[0].metadata == "sub");
  CHECK(d.members[0].assignment == "pa");

  auto unknown = gc.describe("nope");
  CHECK(unknown.error == GroupError::kGroupIdNotFound);
  CHECK(unknown.state == GroupState::kDead);

  CHECK(gc.delete_group("g") == GroupError::kNonEmptyGroup);
  CHECK(gc.delete_group("nope") == GroupError::kGroupIdNotFound);
  CHECK(gc.delete_group("offsets-only") == GroupError::kNone);
  CHECK(gc.list_groups().size() == 1);
  CHECK(std::string(esm::kafka::group_state_name(GroupState::kCompletingRebalance)) == "CompletingRebalance");
}

TEST_CASE("shutdown answers waiting joins and syncs with COORDINATOR_NOT_AVAILABLE") {
  FakeScheduler clock;
  auto gc = std::make_unique<GroupCoordinator>(clock);
  StablePair p = stable_pair(*gc);
  auto c = join(*gc, join_req());
  auto a = join(*gc, join_req(p.a));
  CHECK_FALSE(a->result);

  gc->shutdown();
  REQUIRE(a->result);
  REQUIRE(c->result);
  CHECK(a->result->error == GroupError::kCoordinatorNotAvailable);
  CHECK(c->result->error == GroupError::kCoordinatorNotAvailable);
  CHECK_FALSE(clock.next_due());  // every timer cancelled
  CHECK(gc->heartbeat("g", p.b, p.generation) == GroupError::kCoordinatorNotAvailable);
  CHECK(join(*gc, join_req())->result->error == GroupError::kCoordinatorNotAvailable);

  SECTION("the destructor of a coordinator with a waiting SyncGroup answers it") {
    auto gc2 = std::make_unique<GroupCoordinator>(clock);
    auto x = join(*gc2, join_req());
    auto y = join(*gc2, join_req());
    auto x2 = join(*gc2, join_req(x->result->member_id));
    auto sy = sync(*gc2, y->result->member_id, x2->result->generation_id);
    CHECK_FALSE(sy->result);
    gc2.reset();
    REQUIRE(sy->result);
    CHECK(sy->result->error == GroupError::kCoordinatorNotAvailable);
    CHECK(sy->calls == 1);
    clock.advance_ms(kRebalanceMs * 10);  // nothing left to fire
  }
}

TEST_CASE("each waiting callback is answered once") {
  FakeScheduler clock;
  GroupCoordinator gc(clock);
  StablePair p = stable_pair(gc);
  auto c = join(gc, join_req());
  auto a = join(gc, join_req(p.a));
  auto b = join(gc, join_req(p.b));
  clock.advance_ms(kRebalanceMs * 4);
  gc.shutdown();
  CHECK(a->calls == 1);
  CHECK(b->calls == 1);
  CHECK(c->calls == 1);
}
