// api_log.cpp -- the default ApiLog (see api_log.hpp).
#include "tokenwell/agent/api/api_log.hpp"

#include <cstdio>
#include <string>

namespace tw {

void log_api_to_stderr(ApiLogLevel level, std::string_view message,
                       std::span<const ApiLogField> fields) {
  std::string line = "tokenwell-agent: ";
  line += level == ApiLogLevel::error ? "error: " : "warn: ";
  line += message;
  for (const ApiLogField& f : fields) {
    line.append(" ").append(f.key).append("=");
    if (const auto* n = std::get_if<std::int64_t>(&f.value)) line += std::to_string(*n);
    else line += std::get<std::string_view>(f.value);
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);  // one call: lines from threads do not interleave
}

}  // namespace tw
