// environment.cpp -- see environment.hpp.
#include "tokenwell/agent/common/environment.hpp"

#include <cstdlib>

namespace tw {

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace tw
