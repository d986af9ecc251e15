#pragma once
// GroupCoordinator: Kafka's classic consumer-group protocol for esmd's single-node broker
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the membership checks of OffsetCommit).
// Membership lives in memory only, as in Kafka, where members rejoin after a coordinator
// moves; committed offsets are durable and belong to the log engine (services/kafka/
// log_engine.h), which tells the coordinator which groups have them (note_offsets()).
//
// States of one group (Kafka's GroupMetadata; reference/kafka.md A.4.7):
//
//   Empty               --join------------------------------------------> PreparingRebalance
//   PreparingRebalance  --every known member rejoined, or rebalance
//                         timeout (members that did not rejoin are removed)-> CompletingRebalance
//                                                                          (Empty if none left)
//   CompletingRebalance --the leader's SyncGroup-------------------------> Stable
//   CompletingRebalance,
//   Stable              --a new member joins, a member leaves, a member's
//                         session expires, a member rejoins with new
//                         protocols------------------------------------> PreparingRebalance
//   any                 --delete_group() on a group with no members-----> Dead (forgotten)
//
// A rebalance bumps the generation id. JoinGroup and a follower's SyncGroup are long polls:
// their callbacks run when the phase completes. A member whose Heartbeat, JoinGroup or
// SyncGroup stops for its session timeout is removed, which starts a rebalance.
//
// Errors are kinds (GroupError); the Kafka error codes are api/kafka's business.
//
// Threading: every member function may be called from any thread (one mutex). Callbacks run
// with the mutex released, on the calling thread or on a scheduler thread; callers hand them
// off to their own executor. Timers go through the Scheduler seam (core/scheduler.h), so
// tests move time with tests/fakes/fake_scheduler.h.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/scheduler.h"

namespace esm::kafka {

enum class GroupError {
  kNone,
  kUnknownMemberId,            // the member is not in the group
  kIllegalGeneration,          // a stale generation id
  kRebalanceInProgress,        // the member must rejoin
  kInconsistentGroupProtocol,  // no protocol in common, or another protocol type
  kInvalidGroupId,             // an empty group id
  kMemberIdRequired,           // JoinGroup v4+: rejoin with the member id handed out
  kInvalidSessionTimeout,      // outside [min_session_timeout_ms, max_session_timeout_ms]
  kGroupIdNotFound,            // DeleteGroups / DescribeGroups of a group esmd does not know
  kNonEmptyGroup,              // DeleteGroups of a group that has members
  kCoordinatorNotAvailable,    // the coordinator is shutting down
};

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };

struct GroupProtocol {
  std::string name;
  std::string metadata;  // opaque subscription bytes
};

struct JoinRequest {
  std::string group_id;
  std::string member_id;  // empty for a new member
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::int32_t session_timeout_ms = 10000;
  std::int32_t rebalance_timeout_ms = -1;  // -1 (JoinGroup v0): the session timeout
  std::string protocol_type;
  std::vector<GroupProtocol> protocols;
  // JoinGroup v4+: a new member without a member id gets kMemberIdRequired and its new id in
  // JoinResult::member_id (never for v0-v3, where clients do not expect it).
  bool require_known_member_id = false;
};

struct JoinMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;  // the protocol's metadata this member sent for the chosen protocol
};

struct JoinResult {
  GroupError error = GroupError::kNone;
  std::int32_t generation_id = -1;
  std::string protocol_type;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<JoinMember> members;  // for the leader only; followers get none
};

struct SyncRequest {
  std::string group_id;
  std::string member_id;
  std::int32_t generation_id = -1;
  std::optional<std::string> group_instance_id;
  std::map<std::string, std::string> assignments;  // the leader's: member id -> opaque bytes
};

struct SyncResult {
  GroupError error = GroupError::kNone;
  std::string protocol_type;
  std::string protocol_name;
  std::string assignment;  // empty bytes (not null) for a member the leader left out
};

struct LeaveResult {
  GroupError error = GroupError::kNone;                 // the group's (kInvalidGroupId, ...)
  std::vector<std::pair<std::string, GroupError>> members;  // per member id, in request order
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  GroupState state = GroupState::kEmpty;
};

struct MemberDescription {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::string metadata;    // for the chosen protocol
  std::string assignment;  // the last SyncGroup's
};

struct GroupDescription {
  GroupError error = GroupError::kNone;  // kGroupIdNotFound is reported as state Dead by Kafka
  std::string group_id;
  GroupState state = GroupState::kDead;
  std::string protocol_type;
  std::string protocol_name;
  std::vector<MemberDescription> members;
};

struct CoordinatorOptions {
  // Kafka's group.min/max.session.timeout.ms.
  std::int32_t min_session_timeout_ms = 6000;
  std::int32_t max_session_timeout_ms = 1800000;
  // Kafka's group.initial.rebalance.delay.ms is 3000; esmd waits this long for more members
  // of a new group before completing its first rebalance (0: complete at once).
  std::int32_t initial_rebalance_delay_ms = 0;
};

class GroupCoordinator {
 public:
  GroupCoordinator(Scheduler& scheduler, CoordinatorOptions options = {});
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // The callback runs once, when the join phase completes (or at once for an error).
  void join(JoinRequest req, std::function<void(JoinResult)> done);
  // The callback runs once: for the leader and for members whose assignment is known, at
  // once; for followers, when the leader's SyncGroup arrives (or a rebalance starts:
  // kRebalanceInProgress).
  void sync(SyncRequest req, std::function<void(SyncResult)> done);
  GroupError heartbeat(const std::string& group_id, const std::string& member_id, std::int32_t generation_id);
  LeaveResult leave(const std::string& group_id, const std::vector<std::string>& member_ids);

  // OffsetCommit's membership check. generation_id -1 with an empty member id is a "simple"
  // commit (manual assignment), accepted when the group has no members.
  GroupError check_commit(const std::string& group_id, const std::string& member_id, std::int32_t generation_id);

  // Groups that have committed offsets exist (state Empty) without members.
  void note_offsets(const std::string& group_id);
  std::vector<GroupListing> list_groups() const;
  GroupDescription describe(const std::string& group_id) const;
  // kNone when the group had no members (it is forgotten; the caller removes its offsets),
  // kNonEmptyGroup when it has members, kGroupIdNotFound when esmd does not know it.
  GroupError delete_group(const std::string& group_id);

  // Answers every waiting join and sync with kCoordinatorNotAvailable and cancels the timers.
  void shutdown();

 private:
  struct Group;
  struct State;
  std::shared_ptr<State> state_;  // shared with the timers' callbacks
};

// Kafka's state names (ListGroups, DescribeGroups).
const char* group_state_name(GroupState s);

}  // namespace esm::kafka
