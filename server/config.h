#pragma once
// esmd's settings: command-line flags, each also readable from ESMD_<NAME> (flags win).

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/function.h"
#include "core/function_registry.h"
#include "core/status.h"

namespace esm::server {

// The default --threads for a machine of `cpus` CPUs (0: unknown).
constexpr int default_io_threads(unsigned cpus) {
  return cpus <= 2 ? 1 : cpus - 1 >= 8 ? 8 : static_cast<int>(cpus - 1);
}

struct Config {
  std::string host = "127.0.0.1";
  int port = 9070;
  std::string data_dir = "./.esmd";
  bool in_memory = false;
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  std::string log_level = "info";
  int transition_delay_ms = 500;
  std::vector<FunctionSpec> functions;
  std::string invoke_endpoint;
  // Parallel invocations of one unregistered (invoke-endpoint) function.
  int invoke_endpoint_concurrency = FunctionRegistry::kDefaultInvokeEndpointConcurrency;
  int invoke_endpoint_timeout_ms = FunctionRegistry::kDefaultInvokeEndpointTimeoutMs;
  std::string durability = "full";  // full | normal
  // I/O threads: by default one less than the CPUs (the database thread keeps one busy), at
  // least 1 and at most 8. On 2 cores one I/O thread serves more than two: no lock of Asio's
  // scheduler is contended between them and the database thread's completions.
  int threads = default_io_threads(std::thread::hardware_concurrency());
  // Kinesis shards refuse writes over AWS's 1 MiB/s or 1,000 records/s (off by default).
  bool kinesis_shard_limits = false;
  // The Kafka broker: its port (-1: off), the address Metadata advertises (empty: derived from
  // --host and the bound port) and whether Metadata creates unknown topics.
  int kafka_port = 9092;
  std::string kafka_advertised_listener;
  bool kafka_auto_create_topics = true;
  // --msk-cluster ARN=HOST:PORT,...: an MSK cluster ARN -> the brokers its mappings read.
  std::map<std::string, std::string> msk_clusters;
  // Security (README "Security"): exec: targets registered over HTTP (off: only the operator's
  // --function, ESMD_FUNCTION and functions files name commands), the Origins a browser may
  // call from, and Host names accepted besides loopback ones when --host is a loopback address.
  bool allow_api_exec = false;
  std::vector<std::string> cors_origins;
  std::vector<std::string> allowed_hosts;
  bool show_help = false;
  bool show_version = false;
};

// env: the process environment (getenv); taken as a function so that tests can pass their own.
using GetEnv = const char* (*)(const char*);
Result<Config> parse_config(int argc, const char* const* argv, GetEnv getenv_fn);
Status load_functions_file(const std::string& path, std::vector<FunctionSpec>& out);
std::string usage();

inline constexpr const char* kVersion = "0.1.0";

}  // namespace esm::server
