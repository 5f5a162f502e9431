// main.cpp -- tokenwell-agent's command line (DESIGN.md, "Agent"):
//   tokenwell-agent --config FILE [--check-config] [--once] [--log-level LEVEL]
//   tokenwell-agent --print-config-schema
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "tokenwell/agent/app/agent.hpp"
#include "tokenwell/agent/app/check_config.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/config/config_schema.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/tokenwell.h"

namespace {

constexpr const char* kUsage =
    "usage: tokenwell-agent --config FILE [--check-config] [--once] [--log-level LEVEL]\n"
    "  --config FILE      the agent's JSON config (required)\n"
    "  --check-config     validate the config and the files it names, print each problem\n"
    "                     with its JSON path, exit 0 (ok) or 1\n"
    "  --once             fetch every credential once, publish, exit 0 (non-zero if any failed)\n"
    "  --log-level LEVEL  trace, debug, info, warn or error (overrides log.level)\n"
    "  --print-config-schema  print the config file's JSON Schema and exit\n"
    "  --version, --help\n"
    "Signals: SIGTERM/SIGINT stop gracefully (the segment stays readable), SIGHUP reloads.\n";

int usage_error(const std::string& what) {
  std::cerr << "tokenwell-agent: " << what << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, log_level;
  bool check = false, once = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (a == "--config") {
      if (!value(config_path)) return usage_error("--config needs a FILE");
    } else if (a.starts_with("--config=")) {
      config_path = std::string(a.substr(9));
    } else if (a == "--log-level") {
      if (!value(log_level)) return usage_error("--log-level needs a LEVEL");
    } else if (a.starts_with("--log-level=")) {
      log_level = std::string(a.substr(12));
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--once") {
      once = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--print-config-schema") {
      std::cout << tw::config_schema::json_schema().dump(2) << "\n";
      return 0;
    } else if (a == "--version") {
      std::cout << "tokenwell-agent " << TOKENWELL_VERSION_STRING << "\n";
      return 0;
    } else {
      return usage_error("unknown argument '" + std::string(a) + "'");
    }
  }
  if (config_path.empty()) return usage_error("--config FILE is required");
  if (!log_level.empty() && log_level != "trace" && log_level != "debug" && log_level != "info" &&
      log_level != "warn" && log_level != "error")
    return usage_error("unknown log level '" + log_level + "'");
  if (check && once) return usage_error("--check-config and --once exclude each other");

  const auto env = tw::process_environment();
  auto loaded = tw::load_config(config_path, env);
  if (auto* errors = std::get_if<tw::ConfigErrors>(&loaded)) {
    for (const auto& line : errors->lines) std::cerr << line << "\n";
    return 1;
  }
  auto& config = std::get<tw::AgentConfig>(loaded);
  if (check) {
    const auto problems = tw::check_config_files(config);
    for (const auto& line : problems) std::cerr << line << "\n";
    if (!problems.empty()) return 1;
    std::cout << "config ok: " << config.credentials.size() << " credential(s), "
              << config.keysets.size() << " keyset(s)\n";
    return 0;
  }
  tw::log::init({config.log.format, log_level.empty() ? config.log.level : log_level});

  tw::Agent agent(config, config_path, env, {.log_level = log_level});
  return once ? agent.run_once() : agent.run();
}
