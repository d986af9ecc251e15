// Matches per second of EventFilter on one core: five filters of ten fields each (every
// operator family represented) against 1 KB JSON records, the records parsed once up front so
// the figure is the matcher's own. The parse (what a poller pays per record to build the view)
// is timed separately, and so is parse + match.
//
//   cmake -S . -B build -DESMD_BUILD_BENCH=ON && cmake --build build --target filter_bench
//   build/bench/filter_bench [--records N] [--seconds S] [--match-only]
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pollers/filter.h"

namespace {

using Clock = std::chrono::steady_clock;
using esm::pollers::EventFilter;

// Five filters of ten fields. Each rejects most records, so the typical record is tested
// against every filter (the costly case: no early accept).
const std::vector<std::string> kPatterns = {
    R"({"kind": ["order"], "region": [{"prefix": "eu-"}], "total": [{"numeric": [">", 900]}],
        "currency": ["EUR", "USD"], "customer": {"tier": [{"equals-ignore-case": "GOLD"}], "id": [{"exists": true}]},
        "ip": [{"cidr": "10.0.0.0/8"}], "channel": [{"anything-but": ["test", "staging"]}],
        "flags": {"fraud": [false]}, "items": {"sku": [{"prefix": "A-"}]}})",
    R"({"kind": ["refund"], "region": ["us-east-1", "us-west-2"], "total": [{"numeric": [">=", 0, "<", 50]}],
        "currency": [{"anything-but": "JPY"}], "customer": {"tier": ["silver"], "country": [{"suffix": "E"}]},
        "source": [{"wildcard": "web-*-prod"}], "channel": ["mobile"], "flags": {"manual": [true]},
        "note": [{"exists": false}]})",
    R"({"kind": ["order"], "region": [{"anything-but": {"prefix": "cn-"}}], "total": [{"numeric": ["=", 123.5]}],
        "currency": ["GBP"], "customer": {"id": [{"prefix": "c-9"}], "tier": [{"exists": true}]},
        "ip": [{"cidr": "192.168.0.0/16"}], "source": [{"prefix": {"equals-ignore-case": "API-"}}],
        "items": {"qty": [{"numeric": [">", 90]}]}, "flags": {"fraud": [true]}})",
    R"({"kind": ["cancel"], "region": ["eu-west-1"], "total": [{"numeric": ["<", 10]}], "currency": ["EUR"],
        "customer": {"tier": ["gold"], "country": ["DE", "FR"]}, "channel": [{"wildcard": "*-partner"}],
        "source": [{"suffix": "-prod"}], "items": {"sku": ["B-7"]}, "flags": {"manual": [false]}})",
    R"({"kind": [{"anything-but": ["order", "refund", "cancel"]}], "region": [{"exists": true}],
        "total": [{"numeric": [">", 0]}], "currency": [{"exists": true}], "customer": {"id": [{"exists": true}],
        "tier": [{"anything-but": {"equals-ignore-case": ["gold", "silver", "bronze"]}}]},
        "ip": [{"exists": true}], "channel": ["email"], "flags": {"fraud": [false]}, "items": {"sku": [{"exists": true}]}})",
};

std::string make_record(std::mt19937& rng, int i) {
  auto pick = [&](std::initializer_list<const char*> v) { return *(v.begin() + rng() % v.size()); };
  char buf[2048];
  std::string items;
  const int n_items = 2 + static_cast<int>(rng() % 3);
  for (int k = 0; k < n_items; ++k)
    items += std::string(k ? "," : "") + R"({"sku":")" + pick({"A-1", "A-2", "B-7", "C-3"}) + R"(","qty":)" +
             std::to_string(rng() % 100) + R"(,"price":)" + std::to_string(rng() % 5000 / 100.0) + "}";
  std::snprintf(buf, sizeof buf,
                R"({"id":"evt-%08d","kind":"%s","region":"%s","total":%.2f,"currency":"%s",)"
                R"("customer":{"id":"c-%06u","tier":"%s","country":"%s","email":"user%u@example.com"},)"
                R"("ip":"%s.%u.%u.%u","channel":"%s","source":"%s","flags":{"fraud":%s,"manual":%s},)"
                R"("items":[%s],"createdAt":"2026-11-27T19:%02u:%02u.000Z","tags":["t%u","t%u","t%u"],)",
                i, pick({"order", "order", "refund", "cancel", "ping"}),
                pick({"eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "cn-north-1"}),
                static_cast<double>(rng() % 100000) / 100.0, pick({"EUR", "USD", "GBP", "JPY"}),
                static_cast<unsigned>(rng() % 1000000), pick({"gold", "GOLD", "silver", "bronze", "platinum"}),
                pick({"DE", "FR", "US", "GB", "JP"}), static_cast<unsigned>(rng() % 10000),
                pick({"10", "192", "172", "8"}), static_cast<unsigned>(rng() % 256), static_cast<unsigned>(rng() % 256),
                static_cast<unsigned>(rng() % 256), pick({"web", "mobile", "email", "test", "shop-partner"}),
                pick({"web-eu-prod", "API-gw", "batch-prod", "web-us-dev"}), rng() % 10 ? "false" : "true",
                rng() % 2 ? "false" : "true", items.c_str(), static_cast<unsigned>(rng() % 60),
                static_cast<unsigned>(rng() % 60), static_cast<unsigned>(rng() % 50),
                static_cast<unsigned>(rng() % 50), static_cast<unsigned>(rng() % 50));
  std::string r = buf;
  // Pad with a free-text field the patterns never name, to 1 KB.
  const std::size_t target = 1024;
  const std::string head = R"("description":")", tail = "\"}";
  const std::size_t pad = r.size() + head.size() + tail.size() < target ? target - r.size() - head.size() - tail.size() : 0;
  std::string text;
  while (text.size() < pad) text += "lorem ipsum dolor sit amet ";
  text.resize(pad);
  return r + head + text + tail;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  int n_records = 2000;
  double seconds = 3.0;
  bool match_only = false;  // for profiling the matcher alone
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--records") && i + 1 < argc) n_records = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    if (!std::strcmp(argv[i], "--match-only")) match_only = true;
  }
  auto filter = EventFilter::compile(kPatterns);
  if (!filter) {
    std::fprintf(stderr, "patterns do not compile: %s\n", esm::pollers::filter_pattern_error(kPatterns[0]).c_str());
    return 1;
  }
  std::mt19937 rng(42);
  std::vector<std::string> texts;
  std::size_t bytes = 0;
  for (int i = 0; i < n_records; ++i) {
    texts.push_back(make_record(rng, i));
    bytes += texts.back().size();
  }
  std::vector<rapidjson::Document> docs(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i)
    if (!esm::pollers::parse_for_filter(docs[i], texts[i])) {
      std::fprintf(stderr, "record %zu is not JSON\n", i);
      return 1;
    }

  std::size_t kept = 0;
  for (const auto& d : docs) kept += filter->matches(d);  // also warms the scratch space

  // Match only, over the pre-parsed records.
  std::size_t matches = 0, hits = 0;
  auto t0 = Clock::now();
  double match_s = 0;
  do {
    for (const auto& d : docs) hits += filter->matches(d);
    matches += docs.size();
  } while ((match_s = seconds_since(t0)) < seconds);

  if (match_only) {
    std::printf("match only: %.0f matches/s\n", static_cast<double>(matches) / match_s);
    return hits == 0 ? 2 : 0;
  }

  // Parse only, and parse + match: what a poller pays per record.
  std::size_t parses = 0;
  t0 = Clock::now();
  double parse_s = 0;
  do {
    for (const auto& t : texts) {
      rapidjson::Document d;
      hits += esm::pollers::parse_for_filter(d, t);
    }
    parses += texts.size();
  } while ((parse_s = seconds_since(t0)) < seconds);
  std::size_t both = 0;
  t0 = Clock::now();
  double both_s = 0;
  do {
    for (const auto& t : texts) {
      rapidjson::Document d;
      esm::pollers::parse_for_filter(d, t);
      hits += filter->matches(d);
    }
    both += texts.size();
  } while ((both_s = seconds_since(t0)) < seconds);

  std::printf("records: %zu, average %.0f bytes; filters: %zu of 10 fields; kept %zu of %zu (%.1f %%)\n",
              texts.size(), static_cast<double>(bytes) / static_cast<double>(texts.size()), kPatterns.size(), kept,
              docs.size(), 100.0 * static_cast<double>(kept) / static_cast<double>(docs.size()));
  std::printf("match only:    %12.0f matches/s  (%.3f us/record)\n", static_cast<double>(matches) / match_s,
              match_s / static_cast<double>(matches) * 1e6);
  std::printf("parse only:    %12.0f records/s  (%.3f us/record, %.0f MB/s)\n", static_cast<double>(parses) / parse_s,
              parse_s / static_cast<double>(parses) * 1e6,
              static_cast<double>(bytes) * static_cast<double>(parses) / static_cast<double>(texts.size()) / parse_s / 1e6);
  std::printf("parse + match: %12.0f records/s  (%.3f us/record)\n", static_cast<double>(both) / both_s,
              both_s / static_cast<double>(both) * 1e6);
  return hits == 0 ? 2 : 0;  // keeps the loops from being optimised away
}
