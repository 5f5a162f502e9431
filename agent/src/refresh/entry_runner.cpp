// entry_runner.cpp -- see entry_runner.hpp.
#include "tokenwell/agent/refresh/entry_runner.hpp"

#include "tokenwell/agent/common/redaction.hpp"

namespace tw {

std::string status_error_text(std::string_view message) { return scrubbed_excerpt(message, kStatusErrorBytes); }

}  // namespace tw
