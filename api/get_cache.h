#pragma once
// GetCache: the 200 bodies of GetEventSourceMapping, kept while the mappings table is
// unchanged. A Get that finds its mapping here answers without a read transaction or the
// encoder; anything that writes the table (Create, Update, Delete, a settle, a poller's
// LastProcessingResult, ...) bumps version() after its commit, through the writer connection's
// watch on the table (storage::Connection::watch_table), and every entry read before the bump
// stops counting. So a client that heard a change answered (after its commit) never reads the
// older body. A mapping whose transition is due is read again, as before the cache: a Get
// that runs on the DbWorker settles it first.
//
// Bounded: kMaxBytes of bodies; past it the cache starts again empty.
//
// Thread safety: any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace esm::api {

class GetCache {
 public:
  static constexpr std::size_t kMaxBytes = 8u << 20;

  struct Entry {
    std::string region;
    std::string body;
    // A transitional state's settle time (epoch ms; 0: none). From then on the entry is not
    // used: the read that replaces it goes where the transition settles first.
    std::int64_t settle_at_ms = 0;
  };

  // Bumped after each commit that changed the table.
  std::atomic<std::uint64_t>& version() { return version_; }
  // Take the version before reading, and give the same one to put().
  std::uint64_t current() const { return version_.load(std::memory_order_acquire); }

  // The entry of uuid, if it was read at version (the current one) and no transition of its
  // is due at now_ms.
  std::optional<Entry> find(std::string_view uuid, std::uint64_t version, std::int64_t now_ms);
  // Keeps what a read that began at version found; dropped if the table changed since.
  void put(std::uint64_t version, std::string_view uuid, Entry e);

  // For tests.
  std::size_t hits() const { return hits_.load(); }
  std::size_t size();

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::atomic<std::uint64_t> version_{0};
  std::atomic<std::size_t> hits_{0};
  std::mutex mu_;
  std::uint64_t held_ = 0;  // the version of every entry
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

}  // namespace esm::api
