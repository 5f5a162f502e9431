// log.hpp -- the agent's structured logs: JSON lines by default
// ({"ts","level","msg",...fields}), or text; on stderr through spdlog.
//
//   log::init({.format = "json", .level = "info"});
//   log::info("token refreshed", {{"credential", name}, {"expires_in_s", 3599}});
//
// A Field holds a string, a number or a bool; tw::Secret converts to none of
// them, so a secret cannot reach a log line unless a call site spells
// `.reveal()` (and no call site does). Every part of the agent, the socket
// API's listeners included, logs here. Timestamps come from the process's
// SystemClock (clock.hpp). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace tw::log {

enum class Level { trace, debug, info, warn, error };

struct Options {
  std::string format = "json";  // json | text
  std::string level = "info";   // trace | debug | info | warn | error
  // Where lines go instead of stderr (a test's capture). Called under a lock.
  std::function<void(std::string_view line)> sink;
};

// Configures the process-wide logger (stderr). Safe to call again (reload).
void init(const Options& options);
// Whether a line of this level would be written (skip building costly fields).
bool enabled(Level level);

class Field {
 public:
  using Value = std::variant<std::string, std::int64_t, double, bool>;
  Field(std::string_view key, std::string_view v) : key_(key), value_(std::string(v)) {}
  Field(std::string_view key, const char* v) : key_(key), value_(std::string(v)) {}
  Field(std::string_view key, const std::string& v) : key_(key), value_(v) {}
  Field(std::string_view key, bool v) : key_(key), value_(v) {}
  Field(std::string_view key, double v) : key_(key), value_(v) {}
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
  Field(std::string_view key, I v) : key_(key), value_(static_cast<std::int64_t>(v)) {}

  std::string_view key() const { return key_; }
  const Value& value() const { return value_; }

 private:
  std::string_view key_;
  Value value_;
};

using Fields = std::initializer_list<Field>;

void write(Level level, std::string_view msg, std::span<const Field> fields);
inline void write(Level level, std::string_view msg, Fields fields = {}) {
  write(level, msg, std::span<const Field>(fields.begin(), fields.size()));
}
inline void trace(std::string_view msg, Fields f = {}) { write(Level::trace, msg, f); }
inline void debug(std::string_view msg, Fields f = {}) { write(Level::debug, msg, f); }
inline void info(std::string_view msg, Fields f = {}) { write(Level::info, msg, f); }
inline void warn(std::string_view msg, Fields f = {}) { write(Level::warn, msg, f); }
inline void error(std::string_view msg, Fields f = {}) { write(Level::error, msg, f); }

// Formats one line without writing it (for tests).
std::string format_line(const Options& options, Level level, std::string_view msg,
                        std::span<const Field> fields, std::int64_t unix_ms);
inline std::string format_line(const Options& options, Level level, std::string_view msg, Fields fields,
                               std::int64_t unix_ms) {
  return format_line(options, level, msg, std::span<const Field>(fields.begin(), fields.size()), unix_ms);
}

}  // namespace tw::log
