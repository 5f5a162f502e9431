// check_config.hpp -- `tokenwell-agent --check-config`: after the config
// parsed, the files it names exist and are usable now. Each source checks its
// own files (a certificate must load); this walks the config and names the
// JSON path of every problem.
//
//   for (const auto& line : check_config_files(config)) std::cerr << line << "\n";
//
// Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "tokenwell/agent/config/config.hpp"

namespace tw {

// "credentials[1].auth.secret_file: file not readable (/s)", one per problem.
std::vector<std::string> check_config_files(const AgentConfig& config);

}  // namespace tw
