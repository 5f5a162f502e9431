// log.cpp -- see log.hpp.
#include "tokenwell/agent/common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/clock.hpp"

namespace tw::log {
namespace {

std::mutex g_mutex;
Options g_options;
std::shared_ptr<spdlog::logger> g_logger;

const char* level_name(Level l) {
  switch (l) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

spdlog::level::level_enum to_spdlog(std::string_view level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return spdlog::level::info;
}

spdlog::level::level_enum to_spdlog(Level l) { return to_spdlog(level_name(l)); }

std::string rfc3339_ms(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // generous: the compiler cannot bound tm's fields
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::shared_ptr<spdlog::logger> logger() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_logger) {
    g_logger = std::make_shared<spdlog::logger>(
        "tokenwell", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    g_logger->set_pattern("%v");
    g_logger->set_level(to_spdlog(g_options.level));
    g_logger->flush_on(spdlog::level::trace);  // a sidecar's logs are read live
  }
  return g_logger;
}

}  // namespace

void init(const Options& options) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_options = options;
  }
  logger()->set_level(to_spdlog(options.level));
}

std::string format_line(const Options& options, Level level, std::string_view msg,
                        std::span<const Field> fields, std::int64_t unix_ms) {
  if (options.format == "text") {
    std::string line = rfc3339_ms(unix_ms) + " " + level_name(level) + " " + std::string(msg);
    for (const Field& f : fields) {
      line += " " + std::string(f.key()) + "=";
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) line += nlohmann::json(v).dump();
            else if constexpr (std::is_same_v<T, bool>) line += v ? "true" : "false";
            else line += nlohmann::json(v).dump();
          },
          f.value());
    }
    return line;
  }
  nlohmann::ordered_json j;
  j["ts"] = rfc3339_ms(unix_ms);
  j["level"] = level_name(level);
  j["msg"] = std::string(msg);
  for (const Field& f : fields)
    std::visit([&](const auto& v) { j[std::string(f.key())] = v; }, f.value());
  // Invalid UTF-8 (an IdP's error text, say) is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool enabled(Level level) { return logger()->should_log(to_spdlog(level)); }

void write(Level level, std::string_view msg, std::span<const Field> fields) {
  auto l = logger();
  if (!l->should_log(to_spdlog(level))) return;
  Options options;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    options = g_options;
  }
  const std::string line = format_line(options, level, msg, fields, system_clock().unix_millis());
  if (options.sink) {
    std::lock_guard<std::mutex> lock(g_mutex);
    options.sink(line);
    return;
  }
  l->log(to_spdlog(level), "{}", line);
}

}  // namespace tw::log
