// esmd entry point: parse the configuration, set up logging, run the App until a signal.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "server/app.h"
#include "server/config.h"

int main(int argc, char** argv) {
  auto config = esm::server::parse_config(argc, argv, [](const char* n) -> const char* { return std::getenv(n); });
  if (!config) {
    std::cerr << "esmd: " << config.status().message() << "\n";
    return 2;
  }
  if (config->show_help) {
    std::cout << esm::server::usage();
    return 0;
  }
  if (config->show_version) {
    std::cout << "esmd " << esm::server::kVersion << "\n";
    return 0;
  }
  auto logger = spdlog::stderr_color_mt("esmd");
  logger->set_level(spdlog::level::from_str(config->log_level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);

  try {
    esm::server::App app(std::move(config).value());
    if (auto s = app.start(); !s.is_ok()) {
      spdlog::critical("cannot start: {}", s.message());
      return 1;
    }
    app.run_until_signal();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
  return 0;
}
