#include "server/config.h"

#include "api/admin_api.h"
#include "core/arn.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

namespace esm::server {
namespace {

Result<int> parse_int(std::string_view name, std::string_view v, int lo, int hi) {
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi)
    return invalid_parameter("--" + std::string(name) + " must be an integer in " + std::to_string(lo) + ".." +
                             std::to_string(hi) + ", got '" + std::string(v) + "'");
  return out;
}

Result<FunctionSpec> parse_function_flag(std::string_view v) {
  const auto eq = v.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return invalid_parameter("--function expects NAME=TARGET, got '" + std::string(v) + "'");
  FunctionSpec f;
  f.name = std::string(v.substr(0, eq));
  f.target = std::string(v.substr(eq + 1));
  if (!is_valid_function_name(f.name)) return invalid_parameter("--function: invalid function name '" + f.name + "'");
  if (auto k = parse_target(f.target); !k) return k.status();
  return f;
}

// One --msk-cluster value, ARN=HOST:PORT[,HOST:PORT...], added to `out` as ARN -> the endpoints
// comma-joined without blanks.
Status add_msk_cluster(std::string_view v, std::map<std::string, std::string>& out);

struct Flag {
  const char* name;
  bool takes_value;
};

constexpr Flag kFlags[] = {
    {"host", true},       {"port", true},          {"data-dir", true},   {"in-memory", false},
    {"region", true},     {"account-id", true},    {"log-level", true},  {"transition-delay-ms", true},
    {"function", true},   {"functions-file", true}, {"invoke-endpoint", true}, {"durability", true},
    {"invoke-endpoint-concurrency", true}, {"invoke-endpoint-timeout", true},
    {"threads", true},    {"kinesis-shard-limits", false}, {"kafka-port", true}, {"kafka-advertised-listener", true},
    {"kafka-auto-create-topics", true}, {"msk-cluster", true}, {"allow-api-exec", false}, {"cors-origins", true}, {"allowed-hosts", true},
    {"help", false}, {"version", false},
};

std::string env_name(std::string_view flag) {
  std::string out = "ESMD_";
  for (char c : flag) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

bool truthy(std::string_view v) { return v == "1" || v == "true" || v == "yes" || v == "on"; }

// A comma-separated list, items trimmed, empty items dropped.
std::vector<std::string> split_list(std::string_view v, bool lower_case) {
  std::vector<std::string> out;
  while (!v.empty()) {
    const auto comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (item.empty()) continue;
    std::string s(item);
    if (lower_case)
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::move(s));
  }
  return out;
}

Status apply(Config& c, std::string_view name, std::string_view v, std::vector<std::string>& functions_files) {
  if (name == "host") c.host = v;
  else if (name == "port") {
    auto p = parse_int(name, v, 0, 65535);
    if (!p) return p.status();
    c.port = *p;
  } else if (name == "data-dir") c.data_dir = v;
  else if (name == "in-memory") c.in_memory = truthy(v);
  else if (name == "region") c.region = v;
  else if (name == "account-id") {
    if (v.size() != 12 || v.find_first_not_of("0123456789") != std::string_view::npos)
      return invalid_parameter("--account-id must be 12 digits");
    c.account_id = v;
  } else if (name == "log-level") {
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    bool ok = false;
    for (auto l : kLevels) ok = ok || l == v;
    if (!ok) return invalid_parameter("--log-level must be one of trace, debug, info, warn, error, critical, off");
    c.log_level = v;
  } else if (name == "transition-delay-ms") {
    auto p = parse_int(name, v, 0, 600000);
    if (!p) return p.status();
    c.transition_delay_ms = *p;
  } else if (name == "function") {
    // The env var may hold several NAME=TARGET entries, one per line.
    std::istringstream lines{std::string(v)};
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      auto f = parse_function_flag(line);
      if (!f) return f.status();
      c.functions.push_back(*f);
    }
  } else if (name == "functions-file") functions_files.emplace_back(v);
  else if (name == "invoke-endpoint") {
    if (!v.starts_with("http://")) return invalid_parameter("--invoke-endpoint must be an http:// URL");
    c.invoke_endpoint = v;
  } else if (name == "invoke-endpoint-concurrency") {
    auto p = parse_int(name, v, 1, 1000);
    if (!p) return p.status();
    c.invoke_endpoint_concurrency = *p;
  } else if (name == "invoke-endpoint-timeout") {
    auto p = parse_int(name, v, 1, 900);
    if (!p) return p.status();
    c.invoke_endpoint_timeout_ms = *p * 1000;
  } else if (name == "durability") {
    if (v != "full" && v != "normal") return invalid_parameter("--durability must be full or normal");
    c.durability = v;
  } else if (name == "threads") {
    auto p = parse_int(name, v, 1, 64);
    if (!p) return p.status();
    c.threads = *p;
  } else if (name == "kinesis-shard-limits") c.kinesis_shard_limits = truthy(v);
  else if (name == "kafka-port") {
    if (v == "off") {
      c.kafka_port = -1;
    } else {
      auto p = parse_int(name, v, 0, 65535);
      if (!p) return invalid_parameter("--kafka-port must be a port number, 0 (a free port) or off");
      c.kafka_port = *p;
    }
  } else if (name == "kafka-advertised-listener") {
    const auto colon = v.rfind(':');
    const auto port = colon == std::string_view::npos ? std::string_view() : v.substr(colon + 1);
    if (colon == 0 || colon == std::string_view::npos || !parse_int(name, port, 1, 65535))
      return invalid_parameter("--kafka-advertised-listener must be HOST:PORT");
    c.kafka_advertised_listener = v;
  } else if (name == "kafka-auto-create-topics") {
    if (v != "on" && v != "off" && v != "true" && v != "false")
      return invalid_parameter("--kafka-auto-create-topics must be on or off");
    c.kafka_auto_create_topics = truthy(v);
  } else if (name == "msk-cluster") {
    // ESMD_MSK_CLUSTER may name several clusters, one ARN=HOST:PORT,... per line.
    std::istringstream lines{std::string(v)};
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      if (Status s = add_msk_cluster(line, c.msk_clusters); !s.is_ok()) return s;
    }
  }
  else if (name == "allow-api-exec") c.allow_api_exec = truthy(v);
  else if (name == "cors-origins") {
    c.cors_origins = split_list(v, false);
    for (const auto& o : c.cors_origins)
      if (o != "*" && !o.starts_with("http://") && !o.starts_with("https://") && o != "null")
        return invalid_parameter("--cors-origins takes origins such as http://localhost:3000 (or *), got '" + o + "'");
  } else if (name == "allowed-hosts") {
    c.allowed_hosts = split_list(v, true);
    for (const auto& h : c.allowed_hosts)
      if (h.find_first_of(":/ ") != std::string::npos && !h.starts_with('['))
        return invalid_parameter("--allowed-hosts takes host names without a port, got '" + h + "'");
  }
  else if (name == "help") c.show_help = true;
  else if (name == "version") c.show_version = true;
  return Status::ok();
}

Status add_msk_cluster(std::string_view v, std::map<std::string, std::string>& out) {
  const auto eq = v.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return invalid_parameter("--msk-cluster expects ARN=HOST:PORT[,HOST:PORT...], got '" + std::string(v) + "'");
  std::string arn(v.substr(0, eq));
  if (!is_msk_cluster_arn(arn))
    return invalid_parameter("--msk-cluster: '" + arn +
                             "' is not an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)");
  std::string brokers;
  for (const std::string& endpoint : split_list(v.substr(eq + 1), false)) {
    const auto colon = endpoint.rfind(':');
    const bool ok = colon != std::string::npos && colon != 0 && endpoint.find_first_of(" \t/=") == std::string::npos &&
                    parse_int("msk-cluster", std::string_view(endpoint).substr(colon + 1), 1, 65535);
    if (!ok)
      return invalid_parameter("--msk-cluster " + arn + ": '" + endpoint +
                               "' is not HOST:PORT with a port in 1..65535");
    if (!brokers.empty()) brokers += ',';
    brokers += endpoint;
  }
  if (brokers.empty())
    return invalid_parameter("--msk-cluster " + arn + " names no broker: expected ARN=HOST:PORT[,HOST:PORT...]");
  if (!out.emplace(arn, brokers).second) return invalid_parameter("--msk-cluster names " + arn + " twice");
  return Status::ok();
}

}  // namespace

Result<Config> parse_config(int argc, const char* const* argv, GetEnv getenv_fn) {
  Config c;
  std::vector<std::string> files;
  for (const Flag& f : kFlags) {
    if (std::string_view(f.name) == "help" || std::string_view(f.name) == "version") continue;
    if (const char* v = getenv_fn(env_name(f.name).c_str()); v && *v) {
      if (Status s = apply(c, f.name, v, files); !s.is_ok()) return Status(s.code(), env_name(f.name) + ": " + s.message());
    }
  }
  bool cli_functions = false;
  bool cli_files = false;
  bool cli_clusters = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) return invalid_parameter("unexpected argument '" + std::string(arg) + "' (see --help)");
    arg.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : kFlags)
      if (arg == f.name) flag = &f;
    if (!flag) return invalid_parameter("unknown flag --" + std::string(arg) + " (see --help)");
    if (flag->takes_value && !has_value) {
      if (i + 1 >= argc) return invalid_parameter("--" + std::string(arg) + " needs a value");
      value = argv[++i];
    } else if (!flag->takes_value && !has_value) {
      value = "true";
    }
    if (arg == "functions-file" && !cli_files) {
      files.clear();
      cli_files = true;
    }
    if (arg == "function" && !cli_functions) {
      // Flags replace what the environment said.
      c.functions.clear();
      cli_functions = true;
    }
    if (arg == "msk-cluster" && !cli_clusters) {
      c.msk_clusters.clear();
      cli_clusters = true;
    }
    if (Status s = apply(c, arg, value, files); !s.is_ok()) return s;
  }
  for (const auto& f : files)
    if (Status s = load_functions_file(f, c.functions); !s.is_ok()) return s;
  return c;
}

Status load_functions_file(const std::string& path, std::vector<FunctionSpec>& out) {
  std::ifstream in(path);
  if (!in) return invalid_parameter("--functions-file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject())
    return invalid_parameter("--functions-file " + path +
                             ": expected a JSON object {\"name\": \"TARGET\"} or {\"name\": {\"Target\": ...}}");
  for (const auto& m : d.GetObject()) {
    FunctionSpec f;
    f.name = m.name.GetString();
    if (!is_valid_function_name(f.name)) return invalid_parameter("--functions-file: invalid function name '" + f.name + "'");
    if (m.value.IsString()) {
      f.target = m.value.GetString();
    } else if (m.value.IsObject()) {
      // The same checks as PUT /_esmd/functions/{name}.
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      m.value.Accept(w);
      auto spec = api::parse_function_registration(f.name, std::string(buf.GetString(), buf.GetSize()));
      if (!spec) return invalid_parameter("--functions-file: function '" + f.name + "': " + spec.status().message());
      f = *spec;
    } else {
      return invalid_parameter("--functions-file: function '" + f.name + "' needs a TARGET string or {\"Target\": ...}");
    }
    if (auto k = parse_target(f.target); !k) return k.status();
    out.push_back(f);
  }
  return Status::ok();
}

std::string usage() {
  return R"(esmd — a local emulator of AWS Lambda event-source mappings

Usage: esmd [flags]          (every flag can also be set as ESMD_<NAME>, e.g. ESMD_PORT=9070)

  --host HOST                 address to listen on (default 127.0.0.1)
  --port PORT                 port to listen on (default 9070; 0 picks a free one)
  --data-dir DIR              where the SQLite database lives (default ./.esmd)
  --in-memory                 keep everything in memory; nothing is written to disk
  --region REGION             region for requests that carry none (default us-east-1)
  --account-id ID             12-digit account in every ARN (default 000000000000)
  --log-level LEVEL           trace|debug|info|warn|error|critical|off (default info)
  --transition-delay-ms MS    how long Creating/Updating/... last (default 500)
  --function NAME=TARGET      register a function (repeatable); TARGET is one of
                                http://HOST:PORT/PATH   a Lambda Invoke endpoint (e.g. an RIE)
                                exec:COMMAND            run per invocation: event on stdin
                                builtin:ok | builtin:fail
  --functions-file FILE       JSON {"name": "TARGET"} or {"name": {"Target": ..., "Timeout": s, "Concurrency": n}}
  --invoke-endpoint URL       invoke unregistered functions at URL/2015-03-31/functions/NAME/invocations
  --invoke-endpoint-concurrency N
                              parallel invocations of one such function (default 10, 1..1000)
  --invoke-endpoint-timeout S seconds such a function may run (default 900, Lambda's maximum: the
                              runtime behind the endpoint enforces the function's own timeout)
  --durability full|normal    full: fsync every commit (default); normal: survive kill -9 only
  --threads N                 I/O threads (default: one less than the CPUs, 1 to 8)
  --kinesis-shard-limits      Kinesis shards take at most 1 MiB/s and 1,000 records/s each, as in
                              AWS (ProvisionedThroughputExceededException); off by default
  --kafka-port PORT           the Kafka broker's port (default 9092; 0 picks a free one; off: no broker)
  --kafka-advertised-listener HOST:PORT
                              where Kafka clients are told to connect after bootstrap (default
                              HOST:PORT of the listener, localhost when --host is 0.0.0.0)
  --kafka-auto-create-topics on|off
                              create a topic a client asks metadata for (default on, 1 partition)
  --msk-cluster ARN=HOST:PORT[,HOST:PORT...]
                              the brokers of an MSK cluster (repeatable): its mappings read them and
                              `aws kafka get-bootstrap-brokers` answers them; any other MSK cluster
                              ARN is esmd's own broker
  --allow-api-exec            let PUT /_esmd/functions register exec: targets; off by default, since
                              anyone who reaches the port could then run commands as esmd's user
  --cors-origins LIST         comma-separated Origins a browser may call esmd from (* for any);
                              by default a request that carries an Origin is refused
  --allowed-hosts LIST        Host names accepted besides localhost and loopback addresses while
                              --host is a loopback address (other Hosts are refused: DNS rebinding)
  --help, --version
)";
}

}  // namespace esm::server
