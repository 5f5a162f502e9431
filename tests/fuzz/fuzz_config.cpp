// Fuzzes the agent's config: the strict JSON reading (duplicate keys,
// nesting, numbers out of range) and every check of parse_config. A config
// reloaded by SIGHUP must never take the agent down: nothing may be thrown
// out of parse_config_text, and every error line is one bounded, printable
// line (an error quotes at most a few dozen bytes of the config).
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "tokenwell/agent/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // No process environment: the same input always parses the same way.
  const tw::Environment env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "TOKENWELL_DIR") return std::string("/run/tokenwell");
    return std::nullopt;
  };
  tw::ConfigResult<tw::AgentConfig> result = tw::AgentConfig{};
  try {
    result = tw::parse_config_text(text, env);
  } catch (...) {
    std::abort();  // an exception escaped: a reload would have ended in terminate()
  }
  if (const auto* errors = std::get_if<tw::ConfigErrors>(&result)) {
    if (errors->lines.empty()) std::abort();
    for (const auto& line : errors->lines) {
      // Bounded by construction: a path longer than kMaxShownPath shows its
      // first and last keys (cut to 64 characters, escaped: 259 bytes each)
      // around "…", with at most 14 array indices (the depth limit): under
      // 800 bytes; the message quotes at most 120 escaped characters (about
      // 500 bytes). 1.5 KiB (8 KiB before the path was capped).
      if (line.empty() || line.size() > 1536) std::abort();
      for (unsigned char c : line)
        if (c < 0x20 || c == 0x7f) std::abort();
    }
  }
  return 0;
}
