#include "server/kafka_listener.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <deque>
#include <map>
#include <optional>

#include "server/http_server.h"

namespace esm::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class KafkaListener::Connection : public std::enable_shared_from_this<KafkaListener::Connection> {
 public:
  Connection(tcp::socket socket, KafkaHandler handler)
      : socket_(std::move(socket)), idle_(socket_.get_executor()), handler_(std::move(handler)) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void run() {
    arm_idle();
    do_read_size();
  }

 private:
  void do_read_size() {
    if (reading_ || closing_) return;
    if (pending_.size() >= kMaxKafkaInFlight) return;  // resumed by flush()
    reading_ = true;
    net::async_read(socket_, net::buffer(size_buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->on_read_size(ec);
    });
  }

  void on_read_size(boost::system::error_code ec) {
    reading_ = false;
    if (ec) return close();
    const std::uint32_t raw = (std::uint32_t(size_buf_[0]) << 24) | (std::uint32_t(size_buf_[1]) << 16) |
                              (std::uint32_t(size_buf_[2]) << 8) | std::uint32_t(size_buf_[3]);
    const auto size = static_cast<std::int32_t>(raw);
    if (size < 0 || size > kMaxKafkaFrame) {
      // Also what an HTTP request sent here looks like ("GET " is 1.2 GB).
      spdlog::warn("kafka: {} sent a frame of {} bytes (the limit is {}): closing", peer_, size, kMaxKafkaFrame);
      return close();
    }
    // The frame grows as its bytes arrive: a size field alone does not make esmd hold 100 MiB.
    frame_ = std::make_shared<std::string>();
    frame_->reserve(std::min<std::size_t>(static_cast<std::size_t>(size), 64 * 1024));
    reading_ = true;
    net::async_read(socket_, net::dynamic_buffer(*frame_, static_cast<std::size_t>(size)),
                    net::transfer_exactly(static_cast<std::size_t>(size)),
                    [self = shared_from_this()](boost::system::error_code ec2, std::size_t) { self->on_read_frame(ec2); });
  }

  void on_read_frame(boost::system::error_code ec) {
    reading_ = false;
    if (ec) return close();
    if (close_after_writes_) return;  // an earlier request closes the connection
    arm_idle();
    const std::uint64_t seq = next_seq_++;
    pending_.emplace(seq, std::nullopt);
    std::weak_ptr<Connection> weak = shared_from_this();
    auto executor = socket_.get_executor();
    handler_(std::move(frame_), peer_host(), [weak, executor, seq](api::KafkaOutcome out) {
      net::post(executor, [weak, seq, out = std::move(out)]() mutable {
        if (auto self = weak.lock()) self->on_outcome(seq, std::move(out));
      });
    });
    do_read_size();
  }

  void on_outcome(std::uint64_t seq, api::KafkaOutcome out) {
    auto it = pending_.find(seq);
    if (it == pending_.end()) return;
    it->second = std::move(out);
    flush();
  }

  // Moves the answers that are next in request order to the write queue.
  void flush() {
    while (!pending_.empty() && pending_.begin()->second) {
      api::KafkaOutcome out = std::move(*pending_.begin()->second);
      pending_.erase(pending_.begin());
      if (out.kind == api::KafkaOutcome::Kind::kClose) {
        close_after_writes_ = true;
        pending_.clear();
        break;
      }
      if (out.kind == api::KafkaOutcome::Kind::kNoReply) continue;
      const auto n = static_cast<std::uint32_t>(out.bytes.size());
      Frame frame;
      frame.size = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                    static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
      frame.body = std::move(out.bytes);  // a fetch's answer can be megabytes: not copied
      writes_.push_back(std::move(frame));
    }
    do_write();
    if (!close_after_writes_) do_read_size();
  }

  void do_write() {
    if (writing_) return;
    if (writes_.empty()) {
      if (close_after_writes_) close();
      return;
    }
    writing_ = true;
    const Frame& f = writes_.front();
    const std::array<net::const_buffer, 2> buffers{net::buffer(f.size), net::buffer(f.body)};
    net::async_write(socket_, buffers, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec || self->closing_) return self->close();
      self->writes_.pop_front();
      self->arm_idle();
      self->do_write();
    });
  }

  void arm_idle() {
    idle_.expires_after(std::chrono::milliseconds(kKafkaIdleMs));
    idle_.async_wait([weak = std::weak_ptr<Connection>(shared_from_this())](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      if (self->pending_.empty() && !self->writing_) {
        spdlog::debug("kafka: closing idle connection from {}", self->peer_);
        self->close();
      } else {
        self->arm_idle();
      }
    });
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    idle_.cancel();
    pending_.clear();
    if (!writing_) writes_.clear();
  }

  std::string peer_host() const { return peer_.substr(0, peer_.rfind(':')); }

  tcp::socket socket_;
  net::steady_timer idle_;
  KafkaHandler handler_;
  std::string peer_;
  unsigned char size_buf_[4] = {};
  std::shared_ptr<std::string> frame_;
  std::uint64_t next_seq_ = 0;
  std::map<std::uint64_t, std::optional<api::KafkaOutcome>> pending_;
  struct Frame {
    std::array<unsigned char, 4> size{};
    std::string body;
  };
  std::deque<Frame> writes_;  // the front one is being written while writing_
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_after_writes_ = false;
};

KafkaListener::KafkaListener(net::io_context& ioc, KafkaHandler handler)
    : ioc_(ioc), handler_(std::move(handler)), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()) {}

KafkaListener::~KafkaListener() = default;

Status KafkaListener::listen(const std::string& host, int port) {
  if (Status st = open_acceptor(acceptor_, host, port, "Kafka "); !st.is_ok()) return st;
  port_ = acceptor_.local_endpoint().port();
  do_accept();
  return Status::ok();
}

void KafkaListener::stop() {
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
  });
}

void KafkaListener::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      retry_.expires_after(backoff_.failed(ec, "kafka "));
      retry_.async_wait([this](boost::system::error_code e) {
        if (!e && acceptor_.is_open()) do_accept();
      });
      return;
    }
    backoff_.succeeded();
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Connection>(std::move(socket), handler_)->run();
    do_accept();
  });
}

}  // namespace esm::server
