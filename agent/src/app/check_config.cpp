// check_config.cpp -- see check_config.hpp.
#include "tokenwell/agent/app/check_config.hpp"

#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/keysets/key_files.hpp"
#include "tokenwell/agent/segment/runtime_dir.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"
#include "tokenwell/agent/sources/file/file_source.hpp"

namespace tw {

std::vector<std::string> check_config_files(const AgentConfig& config) {
  std::vector<std::string> lines;
  // Each file is read the way the agent will read it (common/file_reader):
  // a FIFO, a directory or an oversized file is named here, not at a fetch.
  const auto check = [&](const std::string& at, const auto& read) {
    if (!read) lines.push_back(at + ": " + read.error().message);
  };
  // The runtime directory as the agent will find it at start: another user
  // who may write there could take over the segment (runtime_dir.hpp).
  if (auto dir = check_runtime_dir(config.runtime_dir, {config.runtime_dir_read_only_for_others}); !dir)
    lines.push_back(dir.error().message);
  for (std::size_t i = 0; i < config.credentials.size(); ++i) {
    const auto& cred = config.credentials[i];
    const std::string path = "credentials[" + std::to_string(i) + "]";
    std::visit(
        [&](const auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, FileSourceConfig>) {
            check(path + ".path", read_secret_file(s.path));
          } else {
            if (auto r = check_files(s, path); !r) lines.push_back(r.error().message);
          }
        },
        cred.settings);
  }
  for (std::size_t i = 0; i < config.keysets.size(); ++i) {
    const std::string path = "keysets[" + std::to_string(i) + "]";
    const auto& ks = config.keysets[i];
    if (const auto* f = std::get_if<KeyFilesKeysetConfig>(&ks.settings)) {
      check(path + ".directory", load_key_files(f->directory));
    } else if (const auto* w = std::get_if<JwksKeysetConfig>(&ks.settings)) {
      if (!w->ca_file.empty()) check(path + ".ca_file", read_ca_bundle(w->ca_file));
    }
  }
  return lines;
}

}  // namespace tw
