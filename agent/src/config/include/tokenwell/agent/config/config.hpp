// config.hpp -- the agent's configuration file (DESIGN.md, "Config"): parsed
// completely, validated, and every problem reported as one line that names
// its JSON path, e.g. "credentials[1].auth.secret_file: file not readable".
// All config parsing lives in this library: the top level, credentials and
// their `refresh` blocks, the entra/oauth2 auth (entra_config.hpp) and the
// keysets (keyset_config.hpp). It reads only the config file itself; the
// files a config names are checked by app/check_config.hpp.
//
//   auto loaded = load_config("/etc/tokenwell/config.json", process_environment());
//   if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
//     for (const auto& line : errors->lines) std::cerr << line << "\n";
//     return 1;
//   }
//   const AgentConfig& config = std::get<AgentConfig>(loaded);
//
// Each `source` has its own parser in a registry (source_parsers() in
// config.cpp); adding a source is one entry there and one in
// app/source_factory.cpp. Thread-compatible.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/config/entra_config.hpp"
#include "tokenwell/agent/config/keyset_config.hpp"
#include "tokenwell/agent/config/refresh_settings.hpp"
#include "tokenwell/agent/common/result.hpp"

namespace tw {

// source: file -- a static secret from a mounted file, watched for changes.
struct FileSourceConfig {
  std::filesystem::path path;
  std::string username;
};

using SourceSettings = std::variant<FileSourceConfig, EntraConfig, OAuth2Config>;

struct CredentialConfig {
  std::string name;
  std::string source;  // "file" | "entra" | "oauth2"
  RefreshSettings refresh;
  SourceSettings settings;
  std::string fingerprint;  // the entry's canonical JSON: equal <=> unchanged
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error
  std::string format = "json";  // json | text
};

// Who may read credentials: on the socket and in the segment alike, held to
// what file permissions can say (access.hpp, docs/security.md).
struct AllowConfig {
  std::vector<uid_t> uids;  // the agent's own uid only (always allowed: it owns the segment)
  std::vector<gid_t> gids;  // at most one: the segment's group; default: the agent's own gid
};

struct AgentConfig {
  std::filesystem::path runtime_dir;  // config, else $TOKENWELL_DIR, else /run/tokenwell
  // Every container but the agent's mounts runtime_dir read-only, so a mode
  // that lets others write (a Kubernetes emptyDir's 0777) is accepted
  // (segment/runtime_dir.hpp).
  bool runtime_dir_read_only_for_others = false;
  std::string listen = "0.0.0.0:9464";  // "" disables the TCP listener
  LogConfig log;
  AllowConfig allow;
  std::vector<CredentialConfig> credentials;
  std::vector<KeysetConfig> keysets;
};

// Every problem found, one line each.
struct ConfigErrors {
  std::vector<std::string> lines;
};

template <typename T>
using ConfigResult = std::variant<T, ConfigErrors>;

// Parses a whole config document. `env` supplies TOKENWELL_DIR and the
// Azure Workload Identity variables (tests pass their own). Nothing throws:
// every problem is a line of ConfigErrors.
ConfigResult<AgentConfig> parse_config(const nlohmann::json& doc, const Environment& env);
// Parses the config's text strictly (common/json_object.hpp's
// parse_json_document: duplicate keys, nesting, numbers out of range and
// syntax errors name their JSON path), then as above.
ConfigResult<AgentConfig> parse_config_text(std::string_view text, const Environment& env);
// Reads the file (a regular file of at most 1 MiB, symlinks followed; a
// FIFO or device is refused without blocking) and parses it.
ConfigResult<AgentConfig> load_config(const std::filesystem::path& file, const Environment& env);

}  // namespace tw
