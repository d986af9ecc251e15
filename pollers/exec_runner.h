#pragma once
// ExecRunner: runs an exec: function target, `/bin/sh -c COMMAND`, once per invocation, with the
// event on stdin and the result on stdout, without blocking an I/O thread.
//
// The child is started with posix_spawn in its own process group, with default signal
// dispositions, an empty signal mask and no file descriptor of esmd's but its three pipes.
// The pipes and a pidfd (the child's exit) are asio descriptors on one strand per child, so
// stdin is written while stdout and stderr are read: an event of several MB cannot deadlock
// against a child that writes before it has read everything. When the shell exits, what is
// left of its process group is killed (Lambda freezes an environment after the handler
// returns; nothing keeps running here either) and the pipes are drained. After the timeout
// the whole group is killed.
//
// The first ExecRunner makes esmd ignore SIGPIPE: a child that exits without reading its
// stdin must fail the write with EPIPE, not kill esmd. (Sockets are unaffected: asio sends
// with MSG_NOSIGNAL.)
//
// Thread safety: run() from any thread; `done` runs once, on the child's strand, never inline.
// Lifetime: create with std::make_shared; pending children keep the runner alive.

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pollers/classify.h"

namespace esm::pollers {

struct ExecRequest {
  std::string command;                                      // run as /bin/sh -c COMMAND
  std::vector<std::pair<std::string, std::string>> env;     // set on top of esmd's environment
  std::shared_ptr<const std::string> input;                 // written to stdin, then closed
  int timeout_ms = 3000;
};

class ExecRunner : public std::enable_shared_from_this<ExecRunner> {
 public:
  using Done = std::function<void(ExecResult)>;
  // stderr beyond this is dropped: it only feeds an errorMessage.
  static constexpr std::size_t kMaxStderrBytes = 64 * 1024;

  explicit ExecRunner(boost::asio::io_context& ioc);

  void run(ExecRequest req, Done done);
  // SIGKILLs every running child's process group and reaps it; their `done` does not run if
  // the io_context is already stopped. For shutdown.
  void kill_all();
  std::size_t running() const;

 private:
  class Child;

  void add(pid_t pid);
  // Kills what is left of pid's group and reaps pid if it exited. Returns false while it
  // still runs; a child reaped by kill_all() reads as killed by SIGKILL.
  bool reap(pid_t pid, int& wait_status);
  // SIGKILL to pid's process group, unless it was reaped already (so the id cannot be reused).
  void kill_group(pid_t pid);

  boost::asio::io_context& ioc_;
  mutable std::mutex mu_;
  std::set<pid_t> children_;  // spawned and not yet reaped
};

}  // namespace esm::pollers
