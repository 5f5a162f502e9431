// check_config.cpp -- see check_config.hpp.
#include "tokenwell/agent/app/check_config.hpp"

#include <unistd.h>

#include "tokenwell/agent/sources/entra/entra_source.hpp"

namespace tw {

std::vector<std::string> check_config_files(const AgentConfig& config) {
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < config.credentials.size(); ++i) {
    const auto& cred = config.credentials[i];
    const std::string path = "credentials[" + std::to_string(i) + "]";
    std::visit(
        [&](const auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, FileSourceConfig>) {
            if (access(s.path.c_str(), R_OK) != 0)
              lines.push_back(path + ".path: file not readable (" + s.path.string() + ")");
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
      if (access(f->directory.c_str(), R_OK | X_OK) != 0)
        lines.push_back(path + ".directory: directory not readable (" + f->directory.string() + ")");
    } else if (const auto* w = std::get_if<JwksKeysetConfig>(&ks.settings)) {
      if (!w->ca_file.empty() && access(w->ca_file.c_str(), R_OK) != 0)
        lines.push_back(path + ".ca_file: file not readable (" + w->ca_file.string() + ")");
    }
  }
  return lines;
}

}  // namespace tw
