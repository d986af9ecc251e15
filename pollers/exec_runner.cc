#include "pollers/exec_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>

namespace esm::pollers {

namespace net = boost::asio;
using error_code = boost::system::error_code;

namespace {

// After the shell exits and its group is killed, the pipes normally reach EOF at once; a
// process that left the group (setsid) may still hold them, so stop waiting after this.
constexpr auto kDrainGrace = std::chrono::milliseconds(500);
// Without pidfd (Linux < 5.3), how often to ask waitpid.
constexpr auto kWaitPollInterval = std::chrono::milliseconds(10);

// Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C", and older ones lack it all.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  int take(int i) { return std::exchange(fd[i], -1); }
};

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    std::string_view name = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const auto& [k, v] : extra) overridden = overridden || k == name;
    if (!overridden) out.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

// One running child. Every member is touched only on strand_.
class ExecRunner::Child : public std::enable_shared_from_this<Child> {
 public:
  Child(std::shared_ptr<ExecRunner> runner, ExecRequest req, Done done)
      : runner_(std::move(runner)),
        req_(std::move(req)),
        done_(std::move(done)),
        strand_(net::make_strand(runner_->ioc_)),
        stdin_(strand_),
        stdout_(strand_),
        stderr_(strand_),
        pidfd_(strand_),
        timer_(strand_) {}

  void start() {
    if (!spawn()) {
      return net::post(strand_, [self = shared_from_this()] { self->finish(); });
    }
    net::dispatch(strand_, [self = shared_from_this()] { self->begin(); });
  }

 private:
  bool spawn() {
    Pipe in, out, err;
    if (::pipe2(in.fd, O_CLOEXEC) != 0 || ::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0)
      return spawn_failed("pipe2", errno);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, in.fd[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.fd[1], STDERR_FILENO);
    // esmd's sockets are not close-on-exec; a child holding one would keep a client's
    // connection (or the listening port) open after esmd closed it.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<std::string> env = child_environment(req_.env);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c";
    std::array<char*, 4> argv = {sh.data(), dash_c.data(), req_.command.data(), nullptr};

    pid_t pid = -1;
    const int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return spawn_failed("posix_spawn /bin/sh", rc);
    pid_ = pid;
    runner_->add(pid);

    const int pidfd = open_pidfd(pid);
    if (pidfd >= 0) pidfd_.assign(pidfd);
    stdin_.assign(in.take(1));
    stdout_.assign(out.take(0));
    stderr_.assign(err.take(0));
    return true;  // the child's ends close with the Pipes
  }

  bool spawn_failed(const char* what, int err) {
    result_.spawned = false;
    result_.spawn_error = std::string(what) + ": " + std::strerror(err);
    return false;
  }

  void begin() {
    if (req_.input && !req_.input->empty()) {
      net::async_write(stdin_, net::buffer(*req_.input),
                       [self = shared_from_this()](error_code, std::size_t) { self->close_stdin(); });
    } else {
      close_stdin();
    }
    read_stdout();
    read_stderr();
    wait_exit();
    timer_.expires_after(std::chrono::milliseconds(req_.timeout_ms));
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_timeout(ec); });
  }

  // A write error (EPIPE: the command did not read its input) is the command's business.
  void close_stdin() {
    error_code ignored;
    stdin_.close(ignored);
  }

  void read_stdout() {
    stdout_.async_read_some(net::buffer(out_buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
      auto& r = self->result_;
      if (r.out.size() + n > kMaxResponseBytes) {
        r.stdout_too_large = true;  // keep draining so that the command does not block
      } else {
        r.out.append(self->out_buf_.data(), n);
      }
      if (ec) {
        self->stdout_open_ = false;
        self->maybe_finish();
        return;
      }
      self->read_stdout();
    });
  }

  void read_stderr() {
    stderr_.async_read_some(net::buffer(err_buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
      auto& r = self->result_;
      r.err.append(self->err_buf_.data(), std::min(n, kMaxStderrBytes - std::min(kMaxStderrBytes, r.err.size())));
      if (ec) {
        self->stderr_open_ = false;
        self->maybe_finish();
        return;
      }
      self->read_stderr();
    });
  }

  void wait_exit() {
    if (pidfd_.is_open()) {
      pidfd_.async_wait(net::posix::stream_descriptor::wait_read,
                        [self = shared_from_this()](error_code ec) { self->on_maybe_exited(ec); });
      return;
    }
    poll_timer_.emplace(strand_);
    poll_timer_->expires_after(kWaitPollInterval);
    poll_timer_->async_wait([self = shared_from_this()](error_code ec) { self->on_maybe_exited(ec); });
  }

  void on_maybe_exited(error_code ec) {
    if (ec == net::error::operation_aborted || finished_) return;
    int status = 0;
    if (!runner_->reap(pid_, status)) return wait_exit();
    exited_ = true;
    if (WIFEXITED(status)) result_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_.signal = WTERMSIG(status);
    error_code ignored;
    pidfd_.close(ignored);
    if (maybe_finish()) return;
    timer_.expires_after(kDrainGrace);
    timer_.async_wait([self = shared_from_this()](error_code e) {
      if (e) return;
      // Something outside the group still holds the pipes: finish with what was read.
      self->stdout_open_ = self->stderr_open_ = false;
      self->maybe_finish();
    });
  }

  void on_timeout(error_code ec) {
    if (ec || exited_ || finished_) return;
    result_.timed_out = true;
    runner_->kill_group(pid_);
  }

  bool maybe_finish() {
    if (finished_) return true;
    if (!exited_ || stdout_open_ || stderr_open_) return false;
    finish();
    return true;
  }

  void finish() {
    finished_ = true;
    error_code ignored;
    timer_.cancel();
    if (poll_timer_) poll_timer_->cancel();
    stdin_.close(ignored);
    stdout_.close(ignored);
    stderr_.close(ignored);
    pidfd_.close(ignored);
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(result_));
  }

  std::shared_ptr<ExecRunner> runner_;
  ExecRequest req_;
  Done done_;
  net::strand<net::io_context::executor_type> strand_;
  net::posix::stream_descriptor stdin_, stdout_, stderr_, pidfd_;
  net::steady_timer timer_;
  std::optional<net::steady_timer> poll_timer_;
  std::array<char, 64 * 1024> out_buf_{};
  std::array<char, 16 * 1024> err_buf_{};
  pid_t pid_ = -1;
  bool stdout_open_ = true;
  bool stderr_open_ = true;
  bool exited_ = false;
  bool finished_ = false;
  ExecResult result_;
};

ExecRunner::ExecRunner(net::io_context& ioc) : ioc_(ioc) { std::signal(SIGPIPE, SIG_IGN); }

void ExecRunner::run(ExecRequest req, Done done) {
  auto child = std::make_shared<Child>(shared_from_this(), std::move(req), std::move(done));
  // Spawning is one clone(CLONE_VFORK): short enough for an I/O thread, but posted anyway so
  // that done never runs inside run().
  net::post(ioc_, [child] { child->start(); });
}

void ExecRunner::add(pid_t pid) {
  std::lock_guard lk(mu_);
  children_.insert(pid);
}

bool ExecRunner::reap(pid_t pid, int& wait_status) {
  std::lock_guard lk(mu_);
  if (!children_.contains(pid)) {
    wait_status = SIGKILL;  // reaped by kill_all(); reads as WIFSIGNALED with SIGKILL
    return true;
  }
  siginfo_t info{};
  // WNOWAIT first: the exited leader stays a zombie, so its id (= the group id) cannot be
  // reused while the rest of its group is killed.
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0)
    return false;
  ::kill(-pid, SIGKILL);
  if (::waitpid(pid, &wait_status, 0) != pid) wait_status = SIGKILL;
  children_.erase(pid);
  return true;
}

void ExecRunner::kill_group(pid_t pid) {
  std::lock_guard lk(mu_);
  if (children_.contains(pid)) ::kill(-pid, SIGKILL);
}

void ExecRunner::kill_all() {
  std::lock_guard lk(mu_);
  for (pid_t pid : children_) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  children_.clear();
}

std::size_t ExecRunner::running() const {
  std::lock_guard lk(mu_);
  return children_.size();
}

}  // namespace esm::pollers
