#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/uuid.h"
#include "server/config.h"

using namespace esm;
using namespace esm::server;

namespace {

// parse_config takes a plain function pointer for the environment, so the fake environment
// lives in one map that every test resets through parse().
std::map<std::string, std::string>& fake_env() {
  static std::map<std::string, std::string> env;
  return env;
}

const char* fake_getenv(const char* name) {
  auto it = fake_env().find(name);
  return it == fake_env().end() ? nullptr : it->second.c_str();
}

Result<Config> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  fake_env() = std::move(env);
  std::vector<const char*> argv{"esmd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data(), fake_getenv);
}

std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  auto r = parse(std::move(args), std::move(env));
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kInvalidParameter);
  return r.status().message();
}

// A file in the temp directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& content)
      : path_((std::filesystem::temp_directory_path() / ("esmd-config-test-" + new_uuid() + ".json")).string()) {
    std::ofstream(path_) << content;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

TEST_CASE("without flags or environment every setting has its documented default") {
  auto c = parse({});
  REQUIRE(c);
  CHECK(c->host == "127.0.0.1");
  CHECK(c->port == 9070);
  CHECK(c->data_dir == "./.esmd");
  CHECK_FALSE(c->in_memory);
  CHECK(c->region == "us-east-1");
  CHECK(c->account_id == "000000000000");
  CHECK(c->log_level == "info");
  CHECK(c->transition_delay_ms == 500);
  CHECK(c->functions.empty());
  CHECK(c->invoke_endpoint.empty());
  CHECK(c->invoke_endpoint_concurrency == 10);
  CHECK(c->invoke_endpoint_timeout_ms == 900'000);
  CHECK(c->durability == "full");
  CHECK(c->threads == default_io_threads(std::thread::hardware_concurrency()));
  CHECK_FALSE(c->show_help);
  CHECK_FALSE(c->show_version);
}

TEST_CASE("the default I/O threads leave a CPU to the database thread, at least 1 and at most 8") {
  CHECK(default_io_threads(0) == 1);  // unknown
  CHECK(default_io_threads(1) == 1);
  CHECK(default_io_threads(2) == 1);
  CHECK(default_io_threads(3) == 2);
  CHECK(default_io_threads(4) == 3);
  CHECK(default_io_threads(9) == 8);
  CHECK(default_io_threads(64) == 8);
}

TEST_CASE("every flag sets its setting, with the value as the next argument") {
  auto c = parse({"--host", "0.0.0.0", "--port", "1234", "--data-dir", "/tmp/x", "--in-memory", "--region",
                  "eu-west-1", "--account-id", "123456789012", "--log-level", "debug", "--transition-delay-ms", "0",
                  "--function", "f=builtin:ok", "--invoke-endpoint", "http://127.0.0.1:3001",
                  "--invoke-endpoint-concurrency", "32", "--invoke-endpoint-timeout", "30", "--durability", "normal", "--threads", "4", "--help",
                  "--version"});
  REQUIRE(c);
  CHECK(c->host == "0.0.0.0");
  CHECK(c->port == 1234);
  CHECK(c->data_dir == "/tmp/x");
  CHECK(c->in_memory);
  CHECK(c->region == "eu-west-1");
  CHECK(c->account_id == "123456789012");
  CHECK(c->log_level == "debug");
  CHECK(c->transition_delay_ms == 0);
  REQUIRE(c->functions.size() == 1);
  CHECK(c->functions[0].name == "f");
  CHECK(c->functions[0].target == "builtin:ok");
  CHECK(c->invoke_endpoint == "http://127.0.0.1:3001");
  CHECK(c->invoke_endpoint_concurrency == 32);
  CHECK(c->invoke_endpoint_timeout_ms == 30000);
  CHECK(c->durability == "normal");
  CHECK(c->threads == 4);
  CHECK(c->show_help);
  CHECK(c->show_version);
}

TEST_CASE("flags also take their value after an equals sign") {
  auto c = parse({"--port=8080", "--region=ap-south-1", "--in-memory=false", "--function=g=exec:cat"});
  REQUIRE(c);
  CHECK(c->port == 8080);
  CHECK(c->region == "ap-south-1");
  CHECK_FALSE(c->in_memory);
  REQUIRE(c->functions.size() == 1);
  CHECK(c->functions[0].name == "g");
  CHECK(c->functions[0].target == "exec:cat");
}

TEST_CASE("every setting is read from its ESMD_ environment variable") {
  auto c = parse({}, {{"ESMD_HOST", "0.0.0.0"},
                      {"ESMD_PORT", "8081"},
                      {"ESMD_DATA_DIR", "/var/esmd"},
                      {"ESMD_IN_MEMORY", "1"},
                      {"ESMD_REGION", "eu-central-1"},
                      {"ESMD_ACCOUNT_ID", "111122223333"},
                      {"ESMD_LOG_LEVEL", "warn"},
                      {"ESMD_TRANSITION_DELAY_MS", "25"},
                      {"ESMD_INVOKE_ENDPOINT", "http://sam:3001"},
                      {"ESMD_INVOKE_ENDPOINT_CONCURRENCY", "7"},
                      {"ESMD_DURABILITY", "normal"},
                      {"ESMD_THREADS", "3"}});
  REQUIRE(c);
  CHECK(c->host == "0.0.0.0");
  CHECK(c->port == 8081);
  CHECK(c->data_dir == "/var/esmd");
  CHECK(c->in_memory);
  CHECK(c->region == "eu-central-1");
  CHECK(c->account_id == "111122223333");
  CHECK(c->log_level == "warn");
  CHECK(c->transition_delay_ms == 25);
  CHECK(c->invoke_endpoint == "http://sam:3001");
  CHECK(c->invoke_endpoint_concurrency == 7);
  CHECK(c->durability == "normal");
  CHECK(c->threads == 3);
}

TEST_CASE("ESMD_IN_MEMORY is true only for 1, true, yes or on") {
  for (const char* v : {"1", "true", "yes", "on"}) CHECK(parse({}, {{"ESMD_IN_MEMORY", v}})->in_memory);
  for (const char* v : {"0", "false", "no", "off"}) CHECK_FALSE(parse({}, {{"ESMD_IN_MEMORY", v}})->in_memory);
}

TEST_CASE("an empty environment variable counts as unset") {
  auto c = parse({}, {{"ESMD_PORT", ""}, {"ESMD_REGION", ""}});
  REQUIRE(c);
  CHECK(c->port == 9070);
  CHECK(c->region == "us-east-1");
}

TEST_CASE("ESMD_HELP and ESMD_VERSION are not read from the environment") {
  auto c = parse({}, {{"ESMD_HELP", "1"}, {"ESMD_VERSION", "1"}});
  REQUIRE(c);
  CHECK_FALSE(c->show_help);
  CHECK_FALSE(c->show_version);
}

TEST_CASE("flags win over the environment") {
  auto c = parse({"--port", "9000", "--region", "us-west-2"}, {{"ESMD_PORT", "8080"}, {"ESMD_REGION", "eu-west-1"}});
  REQUIRE(c);
  CHECK(c->port == 9000);
  CHECK(c->region == "us-west-2");
}

TEST_CASE("the function flag is repeatable and keeps the order given") {
  auto c = parse({"--function", "a=builtin:ok", "--function", "b=builtin:fail", "--function",
                  "c=http://127.0.0.1:8080/2015-03-31/functions/function/invocations"});
  REQUIRE(c);
  REQUIRE(c->functions.size() == 3);
  CHECK(c->functions[0].name == "a");
  CHECK(c->functions[1].target == "builtin:fail");
  CHECK(c->functions[2].target == "http://127.0.0.1:8080/2015-03-31/functions/function/invocations");
}

TEST_CASE("a function target may itself contain equals signs") {
  auto c = parse({"--function", "f=exec:env A=1 ./run.sh"});
  REQUIRE(c);
  CHECK(c->functions[0].target == "exec:env A=1 ./run.sh");
}

TEST_CASE("ESMD_FUNCTION holds one NAME=TARGET per line") {
  auto c = parse({}, {{"ESMD_FUNCTION", "a=builtin:ok\n\nb=exec:cat\n"}});
  REQUIRE(c);
  REQUIRE(c->functions.size() == 2);
  CHECK(c->functions[0].name == "a");
  CHECK(c->functions[1].name == "b");
}

TEST_CASE("function flags replace the functions of ESMD_FUNCTION") {
  auto c = parse({"--function", "x=builtin:ok"}, {{"ESMD_FUNCTION", "a=builtin:ok\nb=builtin:ok"}});
  REQUIRE(c);
  REQUIRE(c->functions.size() == 1);
  CHECK(c->functions[0].name == "x");
}

TEST_CASE("bad flag values are refused with a message naming the flag and the value") {
  CHECK(error_of({"--port", "abc"}) == "--port must be an integer in 0..65535, got 'abc'");
  CHECK(error_of({"--port", "70000"}) == "--port must be an integer in 0..65535, got '70000'");
  CHECK(error_of({"--port", "80x"}) == "--port must be an integer in 0..65535, got '80x'");
  CHECK(error_of({"--transition-delay-ms", "-1"}) == "--transition-delay-ms must be an integer in 0..600000, got '-1'");
  CHECK(error_of({"--threads", "0"}) == "--threads must be an integer in 1..64, got '0'");
  CHECK(error_of({"--account-id", "123"}) == "--account-id must be 12 digits");
  CHECK(error_of({"--account-id", "12345678901a"}) == "--account-id must be 12 digits");
  CHECK(error_of({"--log-level", "loud"}) == "--log-level must be one of trace, debug, info, warn, error, critical, off");
  CHECK(error_of({"--durability", "maybe"}) == "--durability must be full or normal");
  CHECK(error_of({"--invoke-endpoint", "https://x"}) == "--invoke-endpoint must be an http:// URL");
  CHECK(error_of({"--invoke-endpoint-concurrency", "0"}) ==
        "--invoke-endpoint-concurrency must be an integer in 1..1000, got '0'");
}

TEST_CASE("bad function flag values are refused with a clear message") {
  CHECK(error_of({"--function", "noequals"}) == "--function expects NAME=TARGET, got 'noequals'");
  CHECK(error_of({"--function", "=builtin:ok"}) == "--function expects NAME=TARGET, got '=builtin:ok'");
  CHECK(error_of({"--function", "bad name=builtin:ok"}) == "--function: invalid function name 'bad name'");
  CHECK(error_of({"--function", "f=ftp://x"}) ==
        "Unsupported function target 'ftp://x': use http://HOST:PORT/PATH, exec:COMMAND, builtin:ok or builtin:fail");
  CHECK(error_of({"--function", "f=exec:"}) == "exec: target needs a command");
}

TEST_CASE("a bad environment value is refused naming the variable") {
  CHECK(error_of({}, {{"ESMD_PORT", "abc"}}) == "ESMD_PORT: --port must be an integer in 0..65535, got 'abc'");
  CHECK(error_of({}, {{"ESMD_FUNCTION", "oops"}}) == "ESMD_FUNCTION: --function expects NAME=TARGET, got 'oops'");
}

TEST_CASE("unknown flags, positional arguments and missing values are refused") {
  CHECK(error_of({"--nope"}) == "unknown flag --nope (see --help)");
  CHECK(error_of({"serve"}) == "unexpected argument 'serve' (see --help)");
  CHECK(error_of({"-p", "1"}) == "unexpected argument '-p' (see --help)");
  CHECK(error_of({"--port"}) == "--port needs a value");
}

TEST_CASE("a functions file maps names to a target string or to an object") {
  TempFile f(R"({"plain": "builtin:ok",
                 "rie": {"Target": "http://127.0.0.1:8080/2015-03-31/functions/function/invocations", "Timeout": 2.5, "Concurrency": 4},
                 "bare": {"Target": "exec:cat"}})");
  auto c = parse({"--functions-file", f.path()});
  REQUIRE(c);
  REQUIRE(c->functions.size() == 3);
  std::map<std::string, FunctionSpec> by_name;
  for (const auto& fn : c->functions) by_name[fn.name] = fn;
  CHECK(by_name["plain"].target == "builtin:ok");
  CHECK(by_name["plain"].timeout_ms == 3000);
  CHECK(by_name["rie"].target == "http://127.0.0.1:8080/2015-03-31/functions/function/invocations");
  CHECK(by_name["rie"].timeout_ms == 2500);
  CHECK(by_name["rie"].concurrency == 4);
  CHECK(by_name["bare"].target == "exec:cat");
  CHECK(by_name["bare"].concurrency == 1);
}

TEST_CASE("a functions file adds to the function flags, and ESMD_FUNCTIONS_FILE is read too") {
  TempFile a(R"({"from-file": "builtin:ok"})");
  auto c = parse({"--function", "flag=builtin:ok", "--functions-file", a.path()});
  REQUIRE(c);
  REQUIRE(c->functions.size() == 2);
  CHECK(c->functions[0].name == "flag");
  CHECK(c->functions[1].name == "from-file");
  auto e = parse({}, {{"ESMD_FUNCTIONS_FILE", a.path()}});
  REQUIRE(e);
  REQUIRE(e->functions.size() == 1);
  CHECK(e->functions[0].name == "from-file");
}

TEST_CASE("a functions-file flag replaces ESMD_FUNCTIONS_FILE") {
  // Flags win over the environment; for --function the code says so explicitly, but both files
  // are loaded here.
  TempFile env_file(R"({"from-env": "builtin:ok"})");
  TempFile flag_file(R"({"from-flag": "builtin:ok"})");
  auto c = parse({"--functions-file", flag_file.path()}, {{"ESMD_FUNCTIONS_FILE", env_file.path()}});
  REQUIRE(c);
  REQUIRE(c->functions.size() == 1);
  CHECK(c->functions[0].name == "from-flag");
}

TEST_CASE("bad functions files are refused with a message naming the file or the function") {
  CHECK(error_of({"--functions-file", "/nonexistent/esmd/functions.json"}) ==
        "--functions-file: cannot read /nonexistent/esmd/functions.json");
  TempFile not_json("{nope");
  CHECK(error_of({"--functions-file", not_json.path()}) ==
        "--functions-file " + not_json.path() +
            ": expected a JSON object {\"name\": \"TARGET\"} or {\"name\": {\"Target\": ...}}");
  TempFile array(R"(["a"])");
  CHECK_THAT(error_of({"--functions-file", array.path()}), Catch::StartsWith("--functions-file " + array.path()));
  TempFile bad_name(R"({"bad name": "builtin:ok"})");
  CHECK(error_of({"--functions-file", bad_name.path()}) == "--functions-file: invalid function name 'bad name'");
  TempFile no_target(R"({"f": {"Timeout": 3}})");
  CHECK(error_of({"--functions-file", no_target.path()}) ==
        "--functions-file: function 'f': Target is required and must be a string");
  TempFile number(R"({"f": 5})");
  CHECK(error_of({"--functions-file", number.path()}) ==
        "--functions-file: function 'f' needs a TARGET string or {\"Target\": ...}");
  TempFile bad_target(R"({"f": "ftp://x"})");
  CHECK_THAT(error_of({"--functions-file", bad_target.path()}), Catch::StartsWith("Unsupported function target 'ftp://x'"));
}

TEST_CASE("a functions-file entry with an out-of-range Timeout or Concurrency is refused") {
  // PUT /_esmd/functions/{name} refuses these (api/admin_api.cc); the file accepts them.
  for (const char* entry : {R"({"f": {"Target": "builtin:ok", "Timeout": -1}})",
                            R"({"f": {"Target": "builtin:ok", "Timeout": 0}})",
                            R"({"f": {"Target": "builtin:ok", "Timeout": 901}})",
                            R"({"f": {"Target": "builtin:ok", "Concurrency": 0}})",
                            R"({"f": {"Target": "builtin:ok", "Timeout": "3"}})"}) {
    INFO(entry);
    TempFile file(entry);
    auto r = parse({"--functions-file", file.path()});
    CHECK_FALSE(r);
  }
}

TEST_CASE("usage lists every flag") {
  const std::string u = usage();
  for (const char* flag : {"--host", "--port", "--data-dir", "--in-memory", "--region", "--account-id", "--log-level",
                           "--transition-delay-ms", "--function", "--functions-file", "--invoke-endpoint",
                           "--invoke-endpoint-concurrency", "--help", "--version"}) {
    INFO(flag);
    CHECK_THAT(u, Catch::Contains(flag));
  }
}

TEST_CASE("the Kafka broker listens on 9092 with topic auto-creation unless told otherwise") {
  auto c = parse({});
  REQUIRE(c);
  CHECK(c->kafka_port == 9092);
  CHECK(c->kafka_advertised_listener.empty());
  CHECK(c->kafka_auto_create_topics);
  auto set = parse({"--kafka-port", "0", "--kafka-advertised-listener", "localhost:19092", "--kafka-auto-create-topics",
                    "off"});
  REQUIRE(set);
  CHECK(set->kafka_port == 0);
  CHECK(set->kafka_advertised_listener == "localhost:19092");
  CHECK_FALSE(set->kafka_auto_create_topics);
  auto off = parse({}, {{"ESMD_KAFKA_PORT", "off"}, {"ESMD_KAFKA_ADVERTISED_LISTENER", "esmd:9092"}});
  REQUIRE(off);
  CHECK(off->kafka_port == -1);
  CHECK(off->kafka_advertised_listener == "esmd:9092");
}

TEST_CASE("a Kafka port, advertised listener or auto-create value out of shape is refused with the flag's name") {
  CHECK(error_of({"--kafka-port", "70000"}) == "--kafka-port must be a port number, 0 (a free port) or off");
  CHECK(error_of({"--kafka-port", "kafka"}) == "--kafka-port must be a port number, 0 (a free port) or off");
  CHECK(error_of({"--kafka-advertised-listener", "localhost"}) == "--kafka-advertised-listener must be HOST:PORT");
  CHECK(error_of({"--kafka-advertised-listener", ":9092"}) == "--kafka-advertised-listener must be HOST:PORT");
  CHECK(error_of({"--kafka-advertised-listener", "host:0"}) == "--kafka-advertised-listener must be HOST:PORT");
  CHECK(error_of({"--kafka-auto-create-topics", "maybe"}) == "--kafka-auto-create-topics must be on or off");
}

TEST_CASE("security flags: exec over HTTP off, no CORS origin and no extra Host unless named") {
  auto c = parse({});
  REQUIRE(c);
  CHECK_FALSE(c->allow_api_exec);
  CHECK(c->cors_origins.empty());
  CHECK(c->allowed_hosts.empty());
  auto set = parse({"--allow-api-exec", "--cors-origins", "http://localhost:3000, https://app.example", "--allowed-hosts",
                    "ESMD.Local,esmd"});
  REQUIRE(set);
  CHECK(set->allow_api_exec);
  CHECK(set->cors_origins == std::vector<std::string>{"http://localhost:3000", "https://app.example"});
  CHECK(set->allowed_hosts == std::vector<std::string>{"esmd.local", "esmd"});
  auto env = parse({}, {{"ESMD_ALLOW_API_EXEC", "1"}, {"ESMD_CORS_ORIGINS", "*"}});
  REQUIRE(env);
  CHECK(env->allow_api_exec);
  CHECK(env->cors_origins == std::vector<std::string>{"*"});
  CHECK(error_of({"--cors-origins", "localhost:3000"}) ==
        "--cors-origins takes origins such as http://localhost:3000 (or *), got 'localhost:3000'");
  CHECK(error_of({"--allowed-hosts", "esmd:9070"}) == "--allowed-hosts takes host names without a port, got 'esmd:9070'");
  for (const char* flag : {"--allow-api-exec", "--cors-origins", "--allowed-hosts"}) {
    INFO(flag);
    CHECK_THAT(usage(), Catch::Contains(flag));
  }
}

namespace {
const std::string kOrders = "arn:aws:kafka:us-east-1:000000000000:cluster/orders/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f-1";
const std::string kPayments = "arn:aws:kafka:eu-west-1:000000000000:cluster/payments/abc-2";
}  // namespace

TEST_CASE("msk-cluster is repeatable and maps each cluster ARN to its endpoints, joined without blanks") {
  CHECK(parse({})->msk_clusters.empty());
  auto c = parse({"--msk-cluster", kOrders + "=b-1.orders:9092, b-2.orders:9092 ,", "--msk-cluster=" + kPayments +
                  "=[::1]:9094"});
  REQUIRE(c);
  CHECK(c->msk_clusters == std::map<std::string, std::string>{{kOrders, "b-1.orders:9092,b-2.orders:9092"},
                                                              {kPayments, "[::1]:9094"}});
}

TEST_CASE("ESMD_MSK_CLUSTER names one cluster per line, and msk-cluster flags replace them") {
  auto env = parse({}, {{"ESMD_MSK_CLUSTER", kOrders + "=a:1\n\n" + kPayments + "=b:2\n"}});
  REQUIRE(env);
  CHECK(env->msk_clusters == std::map<std::string, std::string>{{kOrders, "a:1"}, {kPayments, "b:2"}});
  auto flags = parse({"--msk-cluster", kPayments + "=c:3"}, {{"ESMD_MSK_CLUSTER", kOrders + "=a:1"}});
  REQUIRE(flags);
  CHECK(flags->msk_clusters == std::map<std::string, std::string>{{kPayments, "c:3"}});
}

TEST_CASE("an msk-cluster value that is not ARN=HOST:PORT,... is refused with the flag, the ARN and the endpoint") {
  CHECK(error_of({"--msk-cluster", "b-1:9092"}) == "--msk-cluster expects ARN=HOST:PORT[,HOST:PORT...], got 'b-1:9092'");
  CHECK(error_of({"--msk-cluster", "=b-1:9092"}) == "--msk-cluster expects ARN=HOST:PORT[,HOST:PORT...], got '=b-1:9092'");
  CHECK(error_of({"--msk-cluster", "arn:aws:kinesis:us-east-1:000000000000:stream/s=b:1"}) ==
        "--msk-cluster: 'arn:aws:kinesis:us-east-1:000000000000:stream/s' is not an MSK cluster ARN "
        "(arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)");
  for (const char* endpoint : {"b-1", ":9092", "b-1:0", "b-1:65536", "b-1:port", "b 1:9092", "b-1:9092/x"}) {
    INFO(endpoint);
    CHECK(error_of({"--msk-cluster", kOrders + "=a:1," + endpoint}) ==
          "--msk-cluster " + kOrders + ": '" + endpoint + "' is not HOST:PORT with a port in 1..65535");
  }
  CHECK(error_of({"--msk-cluster", kOrders + "= , "}) ==
        "--msk-cluster " + kOrders + " names no broker: expected ARN=HOST:PORT[,HOST:PORT...]");
  CHECK(error_of({"--msk-cluster", kOrders + "=a:1", "--msk-cluster", kOrders + "=b:2"}) ==
        "--msk-cluster names " + kOrders + " twice");
  CHECK(error_of({}, {{"ESMD_MSK_CLUSTER", "oops"}}) ==
        "ESMD_MSK_CLUSTER: --msk-cluster expects ARN=HOST:PORT[,HOST:PORT...], got 'oops'");
  CHECK_THAT(usage(), Catch::Contains("--msk-cluster ARN=HOST:PORT[,HOST:PORT...]"));
}
