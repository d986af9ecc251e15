#include "services/kafka/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

#include "core/uuid.h"

namespace esm::kafka {

namespace {

// Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: a member that joined for the first time and
// waits for the join phase cannot heartbeat yet (it has no generation), so its session timeout
// does not apply; this bounds how long such a member, whose client may be gone, delays the
// rebalance.
constexpr std::int32_t kNewMemberJoinTimeoutMs = 5 * 60 * 1000;

// What a call does once the mutex is released: the callbacks it answers.
using Effects = std::vector<std::function<void()>>;

void run(Effects& fx) {
  for (auto& f : fx) f();
}

struct Deadline {
  std::uint64_t id = 0;  // 0: none; a fired timer whose id is no longer current does nothing
  Scheduler::TimerHandle handle;

  void cancel() {
    if (handle) handle->cancel();
    handle.reset();
    id = 0;
  }
};

struct Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  std::int32_t session_timeout_ms = 0;
  std::int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<GroupProtocol> protocols;  // in the member's order of preference
  std::string assignment;
  std::function<void(JoinResult)> join_cb;  // set while its JoinGroup waits
  std::function<void(SyncResult)> sync_cb;  // set while its SyncGroup waits
  // Joined in the current join phase for the first time (Kafka's MemberMetadata.isNew).
  bool is_new = false;
  Deadline session_timer;

  bool matches(const std::vector<GroupProtocol>& other) const {
    if (other.size() != protocols.size()) return false;
    for (std::size_t i = 0; i < other.size(); ++i)
      if (other[i].name != protocols[i].name || other[i].metadata != protocols[i].metadata) return false;
    return true;
  }
  bool supports(const std::string& name) const {
    return std::any_of(protocols.begin(), protocols.end(), [&](const GroupProtocol& p) { return p.name == name; });
  }
  std::string metadata(const std::string& name) const {
    for (const auto& p : protocols)
      if (p.name == name) return p.metadata;
    return {};
  }
};


}  // namespace

struct GroupCoordinator::Group {
  std::string id;
  GroupState state = GroupState::kEmpty;
  std::int32_t generation = 0;
  // Set by the first member and kept after the members left (Kafka lists an Empty group with
  // its protocol type).
  std::string protocol_type;
  std::string protocol_name;  // "" outside a generation with members
  std::string leader;         // "" without members
  std::vector<std::unique_ptr<Member>> members;  // in join order: the leader's successor is the oldest
  // Member ids handed out with kMemberIdRequired, waiting for the member's second JoinGroup.
  std::map<std::string, Deadline> pending;
  // Members of the current generation that have not sent SyncGroup yet.
  std::set<std::string> pending_sync;
  bool has_offsets = false;

  // The join phase's deadline: Kafka's DelayedJoin (the rebalance timeout), or for a group that
  // was Empty its InitialDelayedJoin, which waits for more members and cannot complete early.
  Deadline join_timer;
  bool join_is_initial = false;
  std::int32_t initial_delay_ms = 0;
  std::int32_t initial_remaining_ms = 0;
  bool new_member_added = false;
  // Kafka's DelayedSync: members that do not send SyncGroup within the rebalance timeout are removed.
  Deadline sync_timer;

  Member* find(const std::string& member_id) const {
    for (const auto& m : members)
      if (m->id == member_id) return m.get();
    return nullptr;
  }

  bool all_joined() const {
    return pending.empty() && std::all_of(members.begin(), members.end(), [](const auto& m) { return bool(m->join_cb); });
  }

  std::int32_t rebalance_timeout_ms() const {
    std::int32_t t = 0;
    for (const auto& m : members) t = std::max(t, m->rebalance_timeout_ms);
    return t;
  }

  // Kafka's GroupMetadata.supportsProtocols: an Empty group takes any non-empty type and list;
  // otherwise the type must match and one protocol must be one every member supports.
  bool supports(const std::string& type, const std::vector<GroupProtocol>& protocols) const {
    if (state == GroupState::kEmpty) return !type.empty() && !protocols.empty();
    if (type != protocol_type) return false;
    return std::any_of(protocols.begin(), protocols.end(), [&](const GroupProtocol& p) {
      return std::all_of(members.begin(), members.end(), [&](const auto& m) { return m->supports(p.name); });
    });
  }

  // Kafka's GroupMetadata.selectProtocol: each member votes for its most preferred protocol
  // among those every member supports; most votes wins. Kafka breaks ties arbitrarily (a hash
  // map); here the protocol voted for first, in join order, wins.
  std::string select_protocol() const {
    std::vector<std::pair<std::string, int>> votes;
    for (const auto& m : members) {
      for (const auto& p : m->protocols) {
        bool common = std::all_of(members.begin(), members.end(), [&](const auto& o) { return o->supports(p.name); });
        if (!common) continue;
        auto it = std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == p.name; });
        if (it == votes.end())
          votes.emplace_back(p.name, 1);
        else
          ++it->second;
        break;
      }
    }
    auto best = std::max_element(votes.begin(), votes.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    return best == votes.end() ? std::string() : best->first;
  }

  JoinResult join_result(const Member& m) const {
    JoinResult r;
    r.generation_id = generation;
    r.protocol_type = protocol_type;
    r.protocol_name = protocol_name;
    r.leader = leader;
    r.member_id = m.id;
    if (m.id == leader)
      for (const auto& o : members) r.members.push_back(JoinMember{o->id, o->instance_id, o->metadata(protocol_name)});
    return r;
  }

  void elect_leader_if_gone() {
    if (!leader.empty() && find(leader)) return;
    leader = members.empty() ? std::string() : members.front()->id;
  }

  // Nothing in it and nothing ever happened in it: a group a refused JoinGroup created.
  bool unused() const {
    return state == GroupState::kEmpty && members.empty() && pending.empty() && !has_offsets && generation == 0;
  }
};

struct GroupCoordinator::State : std::enable_shared_from_this<State> {
  State(Scheduler& s, CoordinatorOptions o) : scheduler(s), options(o) {}

  Scheduler& scheduler;
  const CoordinatorOptions options;
  std::mutex mu;
  bool shut_down = false;
  std::map<std::string, std::unique_ptr<Group>> groups;
  std::uint64_t next_timer_id = 1;

  Group* find(const std::string& group_id) const {
    auto it = groups.find(group_id);
    return it == groups.end() ? nullptr : it->second.get();
  }

  // ---- answering waiters -------------------------------------------------------------------

  static void answer_join(Member& m, JoinResult r, Effects& fx) {
    if (!m.join_cb) return;
    fx.push_back([cb = std::move(m.join_cb), r = std::move(r)]() mutable { cb(std::move(r)); });
    m.join_cb = nullptr;
  }

  static void answer_sync(Member& m, SyncResult r, Effects& fx) {
    if (!m.sync_cb) return;
    fx.push_back([cb = std::move(m.sync_cb), r = std::move(r)]() mutable { cb(std::move(r)); });
    m.sync_cb = nullptr;
  }

  static JoinResult join_error(GroupError e, std::string member_id) {
    JoinResult r;
    r.error = e;
    r.member_id = std::move(member_id);
    return r;
  }

  static SyncResult sync_error(GroupError e) {
    SyncResult r;
    r.error = e;
    return r;
  }

  // ---- timers ------------------------------------------------------------------------------

  Deadline start_timer(std::int64_t delay_ms, std::function<void(State&, std::uint64_t)> on_fire) {
    Deadline t;
    t.id = next_timer_id++;
    t.handle = scheduler.run_at(scheduler.now_ms() + delay_ms,
                                [weak = weak_from_this(), id = t.id, on_fire = std::move(on_fire)] {
                                  if (auto s = weak.lock()) on_fire(*s, id);
                                });
    return t;
  }

  // Kafka's completeAndScheduleNextExpiration: a heartbeat (or join, sync, commit) moves the
  // member's deadline.
  void schedule_session(Group& g, Member& m, std::int32_t timeout_ms) {
    m.session_timer.cancel();
    m.session_timer = start_timer(timeout_ms, [gid = g.id, mid = m.id](State& s, std::uint64_t id) {
      s.on_session_expired(gid, mid, id);
    });
  }

  void start_join_timer(Group& g, std::int64_t delay_ms) {
    g.join_timer.cancel();
    g.join_timer = start_timer(delay_ms, [gid = g.id](State& s, std::uint64_t id) { s.on_join_timer(gid, id); });
  }

  void start_sync_timer(Group& g) {
    g.sync_timer.cancel();
    g.sync_timer = start_timer(g.rebalance_timeout_ms(),
                               [gid = g.id](State& s, std::uint64_t id) { s.on_sync_timer(gid, id); });
  }

  void cancel_timers(Group& g) {
    g.join_timer.cancel();
    g.sync_timer.cancel();
    for (auto& [id, t] : g.pending) t.cancel();
    for (auto& m : g.members) m->session_timer.cancel();
  }

  // ---- transitions -------------------------------------------------------------------------

  // Kafka's prepareRebalance: Empty, CompletingRebalance or Stable -> PreparingRebalance.
  void prepare_rebalance(Group& g, Effects& fx) {
    if (g.state == GroupState::kCompletingRebalance) propagate_error(g, GroupError::kRebalanceInProgress, fx);
    g.pending_sync.clear();
    g.sync_timer.cancel();
    const bool was_empty = g.state == GroupState::kEmpty;
    g.state = GroupState::kPreparingRebalance;
    spdlog::debug("kafka: group {} prepares a rebalance from generation {}", g.id, g.generation);
    if (was_empty) {
      g.join_is_initial = true;
      g.new_member_added = false;
      g.initial_delay_ms = std::max(options.initial_rebalance_delay_ms, 0);
      g.initial_remaining_ms = std::max(g.rebalance_timeout_ms() - g.initial_delay_ms, 0);
      if (g.initial_delay_ms == 0) {
        complete_join(g, fx);
        return;
      }
      start_join_timer(g, g.initial_delay_ms);
      return;
    }
    g.join_is_initial = false;
    start_join_timer(g, g.rebalance_timeout_ms());
    try_complete_join(g, fx);
  }

  void maybe_prepare_rebalance(Group& g, Effects& fx) {
    if (g.state != GroupState::kPreparingRebalance) prepare_rebalance(g, fx);
  }

  void try_complete_join(Group& g, Effects& fx) {
    if (g.state == GroupState::kPreparingRebalance && !g.join_is_initial && g.all_joined()) complete_join(g, fx);
  }

  // Kafka's onCompleteJoin: PreparingRebalance -> CompletingRebalance (or Empty).
  void complete_join(Group& g, Effects& fx) {
    g.join_timer.cancel();
    g.join_is_initial = false;
    for (auto it = g.members.begin(); it != g.members.end();) {
      if ((*it)->join_cb) {
        ++it;
        continue;
      }
      spdlog::info("kafka: group {} removes member {}, which did not rejoin in time", g.id, (*it)->id);
      (*it)->session_timer.cancel();
      answer_sync(**it, sync_error(GroupError::kUnknownMemberId), fx);
      it = g.members.erase(it);
    }
    g.elect_leader_if_gone();
    ++g.generation;
    if (g.members.empty()) {
      g.protocol_name.clear();
      g.state = GroupState::kEmpty;
      spdlog::info("kafka: group {} is empty at generation {}", g.id, g.generation);
      return;
    }
    g.protocol_name = g.select_protocol();
    g.state = GroupState::kCompletingRebalance;
    spdlog::info("kafka: group {} generation {} has {} members, leader {}, protocol {}", g.id, g.generation,
                 g.members.size(), g.leader, g.protocol_name);
    for (auto& m : g.members) {
      answer_join(*m, g.join_result(*m), fx);
      schedule_session(g, *m, m->session_timeout_ms);
      m->is_new = false;
      g.pending_sync.insert(m->id);
    }
    start_sync_timer(g);
  }

  // Kafka's resetAndPropagateAssignmentError: the waiting SyncGroups hear `error`.
  void propagate_error(Group& g, GroupError error, Effects& fx) {
    for (auto& m : g.members) {
      m->assignment.clear();
      if (!m->sync_cb) continue;
      answer_sync(*m, sync_error(error), fx);
      schedule_session(g, *m, m->session_timeout_ms);
    }
  }

  // Kafka's setAndPropagateAssignment: CompletingRebalance -> Stable.
  void propagate_assignment(Group& g, const std::map<std::string, std::string>& assignments, Effects& fx) {
    for (auto& m : g.members) {
      auto it = assignments.find(m->id);
      m->assignment = it == assignments.end() ? std::string() : it->second;
      if (!m->sync_cb) continue;
      answer_sync(*m, SyncResult{GroupError::kNone, g.protocol_type, g.protocol_name, m->assignment}, fx);
      schedule_session(g, *m, m->session_timeout_ms);
    }
    g.state = GroupState::kStable;
  }

  // Kafka's removeMemberAndUpdateGroup (LeaveGroup, session expiry).
  void remove_member(Group& g, const std::string& member_id, Effects& fx) {
    auto it = std::find_if(g.members.begin(), g.members.end(), [&](const auto& m) { return m->id == member_id; });
    if (it == g.members.end()) return;
    answer_join(**it, join_error(GroupError::kUnknownMemberId, ""), fx);
    answer_sync(**it, sync_error(GroupError::kUnknownMemberId), fx);
    (*it)->session_timer.cancel();
    g.members.erase(it);
    g.pending_sync.erase(member_id);
    g.elect_leader_if_gone();
    switch (g.state) {
      case GroupState::kStable:
      case GroupState::kCompletingRebalance:
        prepare_rebalance(g, fx);
        break;
      case GroupState::kPreparingRebalance:
        try_complete_join(g, fx);
        break;
      case GroupState::kEmpty:
      case GroupState::kDead:
        break;
    }
  }

  void remove_pending(Group& g, const std::string& member_id, Effects& fx) {
    auto it = g.pending.find(member_id);
    if (it == g.pending.end()) return;
    it->second.cancel();
    g.pending.erase(it);
    try_complete_join(g, fx);
  }

  // ---- timer callbacks (the scheduler's thread) --------------------------------------------

  void on_session_expired(const std::string& group_id, const std::string& member_id, std::uint64_t timer_id) {
    Effects fx;
    {
      std::lock_guard lk(mu);
      Group* g = shut_down ? nullptr : find(group_id);
      Member* m = g ? g->find(member_id) : nullptr;
      if (!m || m->session_timer.id != timer_id) return;
      m->session_timer.handle.reset();
      // Kafka's MemberMetadata.hasSatisfiedHeartbeat: a known member waiting for its JoinGroup
      // or SyncGroup answer is alive by definition; its deadline is set again when it is answered.
      if (!m->is_new && (m->join_cb || m->sync_cb)) return;
      spdlog::info("kafka: group {} removes member {}: its session expired", group_id, member_id);
      remove_member(*g, member_id, fx);
    }
    run(fx);
  }

  void on_pending_expired(const std::string& group_id, const std::string& member_id, std::uint64_t timer_id) {
    Effects fx;
    {
      std::lock_guard lk(mu);
      Group* g = shut_down ? nullptr : find(group_id);
      if (!g) return;
      auto it = g->pending.find(member_id);
      if (it == g->pending.end() || it->second.id != timer_id) return;
      remove_pending(*g, member_id, fx);
    }
    run(fx);
  }

  void on_join_timer(const std::string& group_id, std::uint64_t timer_id) {
    Effects fx;
    {
      std::lock_guard lk(mu);
      Group* g = shut_down ? nullptr : find(group_id);
      if (!g || g->join_timer.id != timer_id || g->state != GroupState::kPreparingRebalance) return;
      g->join_timer.handle.reset();
      // Kafka's InitialDelayedJoin: while new members keep arriving, wait another delay, up to
      // the rebalance timeout.
      if (g->join_is_initial && g->new_member_added && g->initial_remaining_ms != 0) {
        g->new_member_added = false;
        const std::int32_t delay = std::min(std::max(options.initial_rebalance_delay_ms, 0), g->initial_remaining_ms);
        g->initial_remaining_ms = std::max(g->initial_remaining_ms - g->initial_delay_ms, 0);
        g->initial_delay_ms = delay;
        start_join_timer(*g, delay);
      } else {
        complete_join(*g, fx);
      }
    }
    run(fx);
  }

  void on_sync_timer(const std::string& group_id, std::uint64_t timer_id) {
    Effects fx;
    {
      std::lock_guard lk(mu);
      Group* g = shut_down ? nullptr : find(group_id);
      if (!g || g->sync_timer.id != timer_id) return;
      g->sync_timer.handle.reset();
      if (g->state != GroupState::kCompletingRebalance && g->state != GroupState::kStable) return;
      if (g->pending_sync.empty()) return;
      const std::set<std::string> late = std::move(g->pending_sync);
      g->pending_sync.clear();
      for (const auto& id : late) {
        spdlog::info("kafka: group {} removes member {}, which did not send SyncGroup in time", group_id, id);
        auto it = std::find_if(g->members.begin(), g->members.end(), [&](const auto& m) { return m->id == id; });
        if (it == g->members.end()) continue;
        answer_join(**it, join_error(GroupError::kUnknownMemberId, ""), fx);
        (*it)->session_timer.cancel();
        g->members.erase(it);
      }
      g->elect_leader_if_gone();
      prepare_rebalance(*g, fx);
    }
    run(fx);
  }

  // ---- JoinGroup -----------------------------------------------------------------------------

  void add_member_and_rebalance(Group& g, const JoinRequest& req, std::string member_id,
                                std::function<void(JoinResult)> done, Effects& fx) {
    auto m = std::make_unique<Member>();
    m->id = std::move(member_id);
    m->instance_id = req.group_instance_id;
    m->client_id = req.client_id;
    m->client_host = req.client_host;
    m->session_timeout_ms = req.session_timeout_ms;
    m->rebalance_timeout_ms = req.rebalance_timeout_ms;
    m->protocol_type = req.protocol_type;
    m->protocols = req.protocols;
    m->join_cb = std::move(done);
    m->is_new = true;
    if (g.state == GroupState::kPreparingRebalance && g.generation == 0) g.new_member_added = true;
    if (g.members.empty()) g.protocol_type = req.protocol_type;
    if (g.leader.empty()) g.leader = m->id;
    if (auto p = g.pending.find(m->id); p != g.pending.end()) {
      p->second.cancel();
      g.pending.erase(p);
    }
    Member& added = *m;
    g.members.push_back(std::move(m));
    spdlog::debug("kafka: member {} joins group {}", added.id, g.id);
    schedule_session(g, added, kNewMemberJoinTimeoutMs);
    maybe_prepare_rebalance(g, fx);
  }

  void join_new_member(Group& g, const JoinRequest& req, std::function<void(JoinResult)>& done, Effects& fx) {
    if (!g.supports(req.protocol_type, req.protocols)) {
      fx.push_back([done = std::move(done)] { done(join_error(GroupError::kInconsistentGroupProtocol, "")); });
      return;
    }
    std::string id = (req.group_instance_id ? *req.group_instance_id : req.client_id) + "-" + new_uuid();
    if (req.require_known_member_id && !req.group_instance_id) {
      // Kafka's doDynamicNewMemberJoinGroup: the id is remembered so that the rejoin with it is
      // accepted; it is forgotten after a session timeout without that rejoin.
      Deadline t = start_timer(req.session_timeout_ms, [gid = g.id, id](State& s, std::uint64_t tid) {
        s.on_pending_expired(gid, id, tid);
      });
      g.pending.emplace(id, std::move(t));
      fx.push_back([done = std::move(done), id] { done(join_error(GroupError::kMemberIdRequired, id)); });
      return;
    }
    add_member_and_rebalance(g, req, std::move(id), std::move(done), fx);
  }

  // Kafka's updateMemberAndRebalance. A second JoinGroup of a member whose first still waits
  // replaces it (Kafka drops the first callback); the first hears kRebalanceInProgress, so
  // that it is answered once.
  void update_member_and_rebalance(Group& g, Member& m, const JoinRequest& req, std::function<void(JoinResult)> done,
                                   Effects& fx) {
    answer_join(m, join_error(GroupError::kRebalanceInProgress, m.id), fx);
    m.protocols = req.protocols;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    m.join_cb = std::move(done);
    maybe_prepare_rebalance(g, fx);
  }

  void join_known_member(Group& g, const JoinRequest& req, std::function<void(JoinResult)>& done, Effects& fx) {
    auto reply = [&](JoinResult r) { fx.push_back([done = std::move(done), r = std::move(r)] { done(r); }); };
    if (!g.supports(req.protocol_type, req.protocols)) return reply(join_error(GroupError::kInconsistentGroupProtocol, req.member_id));
    if (g.pending.count(req.member_id)) return add_member_and_rebalance(g, req, req.member_id, std::move(done), fx);
    Member* m = g.find(req.member_id);
    if (!m) return reply(join_error(GroupError::kUnknownMemberId, req.member_id));
    switch (g.state) {
      case GroupState::kPreparingRebalance:
        return update_member_and_rebalance(g, *m, req, std::move(done), fx);
      case GroupState::kCompletingRebalance:
        // The same metadata: the member probably missed the JoinGroup answer; it gets it again.
        if (!m->matches(req.protocols)) return update_member_and_rebalance(g, *m, req, std::move(done), fx);
        schedule_session(g, *m, m->session_timeout_ms);
        return reply(g.join_result(*m));
      case GroupState::kStable:
        // Kafka rebalances when the leader rejoins (its client saw a change that affects the
        // assignment, such as new partitions) or when the metadata changed; a follower with
        // unchanged metadata gets the current generation and goes on to SyncGroup.
        if (m->id == g.leader || !m->matches(req.protocols))
          return update_member_and_rebalance(g, *m, req, std::move(done), fx);
        schedule_session(g, *m, m->session_timeout_ms);
        return reply(g.join_result(*m));
      case GroupState::kEmpty:
      case GroupState::kDead:
        return reply(join_error(GroupError::kUnknownMemberId, req.member_id));
    }
  }

  // ---- SyncGroup ---------------------------------------------------------------------------

  // Returns the immediate answer, or nullopt when `done` was kept (or answered through fx).
  std::optional<SyncResult> sync(SyncRequest& req, std::function<void(SyncResult)>& done, Effects& fx) {
    if (req.group_id.empty()) return sync_error(GroupError::kInvalidGroupId);
    if (shut_down) return sync_error(GroupError::kCoordinatorNotAvailable);
    Group* g = find(req.group_id);
    Member* m = g ? g->find(req.member_id) : nullptr;
    if (!m) return sync_error(GroupError::kUnknownMemberId);
    if (req.generation_id != g->generation) return sync_error(GroupError::kIllegalGeneration);
    switch (g->state) {
      case GroupState::kPreparingRebalance:
        return sync_error(GroupError::kRebalanceInProgress);
      case GroupState::kCompletingRebalance:
        // A repeated SyncGroup replaces the waiting one (Kafka drops the first callback).
        answer_sync(*m, sync_error(GroupError::kRebalanceInProgress), fx);
        m->sync_cb = std::move(done);
        if (g->pending_sync.erase(m->id) && g->pending_sync.empty()) g->sync_timer.cancel();
        if (m->id == g->leader) propagate_assignment(*g, req.assignments, fx);
        return std::nullopt;
      case GroupState::kStable:
        if (g->pending_sync.erase(m->id) && g->pending_sync.empty()) g->sync_timer.cancel();
        schedule_session(*g, *m, m->session_timeout_ms);
        return SyncResult{GroupError::kNone, g->protocol_type, g->protocol_name, m->assignment};
      case GroupState::kEmpty:
      case GroupState::kDead:
        break;
    }
    return sync_error(GroupError::kUnknownMemberId);
  }

  // ---- OffsetCommit ------------------------------------------------------------------------

  // Kafka's validateOffsetCommit and doCommitOffsets' state check.
  GroupError check_commit(const std::string& group_id, const std::string& member_id, std::int32_t generation_id) {
    if (shut_down) return GroupError::kCoordinatorNotAvailable;
    Group* g = find(group_id);
    // No group: a commit without group management creates one (the caller notes its offsets);
    // any other commit comes from a generation esmd does not know.
    if (!g) return generation_id < 0 ? GroupError::kNone : GroupError::kIllegalGeneration;
    if (generation_id < 0 && g->state == GroupState::kEmpty) return GroupError::kNone;
    if (generation_id < 0 && member_id.empty()) return GroupError::kUnknownMemberId;  // only members commit
    Member* m = g->find(member_id);
    if (!m) return GroupError::kUnknownMemberId;
    if (generation_id != g->generation) return GroupError::kIllegalGeneration;
    switch (g->state) {
      case GroupState::kCompletingRebalance:
        // The member has the new generation but not its assignment yet.
        return GroupError::kRebalanceInProgress;
      case GroupState::kStable:
      case GroupState::kPreparingRebalance:
        // Kafka accepts a commit of the current generation during PreparingRebalance: the
        // member learns of the rebalance from its heartbeat and may commit before rejoining.
        schedule_session(*g, *m, m->session_timeout_ms);
        return GroupError::kNone;
      case GroupState::kEmpty:
      case GroupState::kDead:
        break;
    }
    return GroupError::kNone;
  }
};

GroupCoordinator::GroupCoordinator(Scheduler& scheduler, CoordinatorOptions options)
    : state_(std::make_shared<State>(scheduler, options)) {}

GroupCoordinator::~GroupCoordinator() { shutdown(); }

void GroupCoordinator::join(JoinRequest req, std::function<void(JoinResult)> done) {
  if (req.rebalance_timeout_ms < 0) req.rebalance_timeout_ms = req.session_timeout_ms;  // JoinGroup v0
  State& s = *state_;
  Effects fx;
  {
    std::lock_guard lk(s.mu);
    GroupError early = GroupError::kNone;
    if (req.group_id.empty())
      early = GroupError::kInvalidGroupId;
    else if (s.shut_down)
      early = GroupError::kCoordinatorNotAvailable;
    else if (req.session_timeout_ms < s.options.min_session_timeout_ms ||
             req.session_timeout_ms > s.options.max_session_timeout_ms)
      early = GroupError::kInvalidSessionTimeout;
    Group* g = early == GroupError::kNone ? s.find(req.group_id) : nullptr;
    // Kafka's getOrMaybeCreateGroup: only a member without an id creates the group.
    if (early == GroupError::kNone && !g && !req.member_id.empty()) early = GroupError::kUnknownMemberId;
    if (early != GroupError::kNone) {
      fx.push_back([done = std::move(done), r = State::join_error(early, req.member_id)] { done(r); });
    } else {
      if (!g) {
        auto created = std::make_unique<Group>();
        created->id = req.group_id;
        g = created.get();
        s.groups.emplace(req.group_id, std::move(created));
      }
      if (req.member_id.empty())
        s.join_new_member(*g, req, done, fx);
      else
        s.join_known_member(*g, req, done, fx);
      s.try_complete_join(*g, fx);
      if (g->unused()) s.groups.erase(req.group_id);
    }
  }
  run(fx);
}

void GroupCoordinator::sync(SyncRequest req, std::function<void(SyncResult)> done) {
  State& s = *state_;
  Effects fx;
  std::optional<SyncResult> now;
  {
    std::lock_guard lk(s.mu);
    now = s.sync(req, done, fx);
  }
  run(fx);
  if (now) done(std::move(*now));
}

GroupError GroupCoordinator::heartbeat(const std::string& group_id, const std::string& member_id,
                                       std::int32_t generation_id) {
  State& s = *state_;
  std::lock_guard lk(s.mu);
  if (group_id.empty()) return GroupError::kInvalidGroupId;
  if (s.shut_down) return GroupError::kCoordinatorNotAvailable;
  Group* g = s.find(group_id);
  Member* m = g ? g->find(member_id) : nullptr;
  if (!m) return GroupError::kUnknownMemberId;
  if (generation_id != g->generation) return GroupError::kIllegalGeneration;
  switch (g->state) {
    case GroupState::kPreparingRebalance:
      s.schedule_session(*g, *m, m->session_timeout_ms);
      return GroupError::kRebalanceInProgress;
    case GroupState::kCompletingRebalance:
      // Kafka: clients may heartbeat between their JoinGroup and SyncGroup answers; that is a
      // normal heartbeat.
    case GroupState::kStable:
      s.schedule_session(*g, *m, m->session_timeout_ms);
      return GroupError::kNone;
    case GroupState::kEmpty:
    case GroupState::kDead:
      break;
  }
  return GroupError::kUnknownMemberId;
}

LeaveResult GroupCoordinator::leave(const std::string& group_id, const std::vector<std::string>& member_ids) {
  State& s = *state_;
  LeaveResult out;
  Effects fx;
  {
    std::lock_guard lk(s.mu);
    if (group_id.empty()) {
      out.error = GroupError::kInvalidGroupId;
      return out;
    }
    if (s.shut_down) {
      out.error = GroupError::kCoordinatorNotAvailable;
      return out;
    }
    Group* g = s.find(group_id);
    for (const auto& id : member_ids) {
      GroupError e = GroupError::kUnknownMemberId;
      if (g && g->pending.count(id)) {
        s.remove_pending(*g, id, fx);
        e = GroupError::kNone;
      } else if (g && g->find(id)) {
        spdlog::info("kafka: member {} leaves group {}", id, group_id);
        s.remove_member(*g, id, fx);
        e = GroupError::kNone;
      }
      out.members.emplace_back(id, e);
    }
  }
  run(fx);
  return out;
}

GroupError GroupCoordinator::check_commit(const std::string& group_id, const std::string& member_id,
                                          std::int32_t generation_id) {
  std::lock_guard lk(state_->mu);
  return state_->check_commit(group_id, member_id, generation_id);
}

void GroupCoordinator::note_offsets(const std::string& group_id) {
  State& s = *state_;
  std::lock_guard lk(s.mu);
  if (s.shut_down) return;
  auto& g = s.groups[group_id];
  if (!g) {
    g = std::make_unique<Group>();
    g->id = group_id;
  }
  g->has_offsets = true;
}

std::vector<GroupListing> GroupCoordinator::list_groups() const {
  State& s = *state_;
  std::lock_guard lk(s.mu);
  std::vector<GroupListing> out;
  if (s.shut_down) return out;
  for (const auto& [id, g] : s.groups) out.push_back(GroupListing{id, g->protocol_type, g->state});
  return out;
}

GroupDescription GroupCoordinator::describe(const std::string& group_id) const {
  State& s = *state_;
  std::lock_guard lk(s.mu);
  GroupDescription d;
  d.group_id = group_id;
  if (s.shut_down) {
    d.error = GroupError::kCoordinatorNotAvailable;
    return d;
  }
  const Group* g = s.find(group_id);
  if (!g) {
    d.error = GroupError::kGroupIdNotFound;
    return d;
  }
  d.state = g->state;
  d.protocol_type = g->protocol_type;
  // Kafka's GroupMetadata.summary: the protocol, metadata and assignments only when Stable.
  const bool stable = g->state == GroupState::kStable;
  if (stable) d.protocol_name = g->protocol_name;
  for (const auto& m : g->members) {
    MemberDescription md{m->id, m->instance_id, m->client_id, m->client_host, {}, {}};
    if (stable) {
      md.metadata = m->metadata(g->protocol_name);
      md.assignment = m->assignment;
    }
    d.members.push_back(std::move(md));
  }
  return d;
}

GroupError GroupCoordinator::delete_group(const std::string& group_id) {
  State& s = *state_;
  std::lock_guard lk(s.mu);
  if (s.shut_down) return GroupError::kCoordinatorNotAvailable;
  auto it = s.groups.find(group_id);
  if (it == s.groups.end()) return GroupError::kGroupIdNotFound;
  // Kafka deletes only an Empty group; one with members, or rebalancing with only handed-out
  // member ids, is not empty.
  if (it->second->state != GroupState::kEmpty) return GroupError::kNonEmptyGroup;
  s.cancel_timers(*it->second);
  s.groups.erase(it);
  spdlog::info("kafka: group {} deleted", group_id);
  return GroupError::kNone;
}

void GroupCoordinator::shutdown() {
  State& s = *state_;
  Effects fx;
  {
    std::lock_guard lk(s.mu);
    if (s.shut_down) return;
    s.shut_down = true;
    for (auto& [id, g] : s.groups) {
      s.cancel_timers(*g);
      for (auto& m : g->members) {
        State::answer_join(*m, State::join_error(GroupError::kCoordinatorNotAvailable, m->id), fx);
        State::answer_sync(*m, State::sync_error(GroupError::kCoordinatorNotAvailable), fx);
      }
    }
    s.groups.clear();
  }
  run(fx);
}

const char* group_state_name(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kDead:
      return "Dead";
  }
  return "Dead";
}

}  // namespace esm::kafka
