// api_log.hpp -- where the listeners' few log lines go (a denied caller, the
// connection cap reached, accept() failing, a handler that threw). The agent
// points it at its structured log; by default a text line goes to stderr.
//
//   options.log = [](ApiLogLevel level, std::string_view msg, std::span<const ApiLogField> f) {
//     ... forward msg and f to the agent's JSON log ...
//   };
//
// Lines carry fixed messages, numbers (uid, gid, pid, counts) and error
// texts of the system -- never a request's content, a path, or a secret.
// Called on the io_context's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <variant>

namespace tw {

enum class ApiLogLevel { warn, error };

struct ApiLogField {
  std::string_view key;
  std::variant<std::int64_t, std::string_view> value;
};

using ApiLog =
    std::function<void(ApiLogLevel level, std::string_view message, std::span<const ApiLogField>)>;

// The default: `tokenwell-agent: warn: MESSAGE key=value ...` on stderr.
void log_api_to_stderr(ApiLogLevel level, std::string_view message,
                       std::span<const ApiLogField> fields);

}  // namespace tw
