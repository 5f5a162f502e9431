// json_object.hpp -- reading the config's JSON with errors that name the
// JSON path: "credentials[1].refresh.ratio: must be between 0 and 1".
//
//   auto doc = parse_json_document(text);        // duplicate keys, depth, overflow
//   if (!doc) return fail(doc.error());         // "log.level: number out of range (1e400)"
//   JsonObject o(j, "credentials[0].refresh");
//   if (auto only = o.only({"ratio", "jitter"}); !only) return only.error();
//   TW_TRY(ratio, o.number("ratio"));            // std::optional<double>
//   TW_TRY(wait, o.duration("retry_min"));       // "90s", "5m", "1h", "250ms" or seconds
//
// Thread-compatible. The object must outlive the JsonObject.
#pragma once

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/result.hpp"

// TW_TRY(x, expr): x = *expr, or return its error (Result has no monadic helpers).
#define TW_TRY(var, expr)                         \
  auto var##_result = (expr);                     \
  if (!var##_result) return var##_result.error(); \
  auto var = std::move(*var##_result)

namespace tw {

struct JsonDocumentLimits {
  std::size_t max_depth = 16;  // objects and arrays inside each other
};

// The longest path parse_json_document shows whole; a longer one keeps its
// first and last keys (with their array indices) around "…" ("a[0].….y.z"),
// so an error line is bounded however deep and long-keyed the document: two
// keys cut to 64 characters and escaped (259 bytes each), "…", and at most
// 14 array indices (the depth limit).
inline constexpr std::size_t kMaxShownPath = 256;

// Parses one JSON document strictly: a key twice in one object, nesting
// deeper than `limits.max_depth` and numbers out of double's range are
// errors, and every error -- syntax ones too -- names the JSON path where it
// happened ("log.level: duplicate key", "credentials[0]: not valid JSON:
// ..."; "config: ..." at the top; see kMaxShownPath). Never throws; quotes at
// most a few dozen characters of the input.
Result<nlohmann::json> parse_json_document(std::string_view text, JsonDocumentLimits limits = {});

// `text` for an error line: control and non-ASCII bytes as \xNN, cut to
// `max` characters with "..." -- a config value echoed back never floods a
// log line or a terminal. quote() adds single quotes.
std::string printable(std::string_view text, std::size_t max = 64);
std::string quote(std::string_view text, std::size_t max = 64);

// "90s", "5m", "1h", "250ms", "1d", or a plain number of seconds ("30", 30,
// 1.5). Negative values and other units are errors.
Result<std::chrono::milliseconds> parse_duration(const nlohmann::json& value);

class JsonObject {
 public:
  JsonObject(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }
  // "path.key", or just "key" at the top level (path ""). A key comes from
  // the config as written: escaped and cut like any value echoed back.
  std::string at(std::string_view key) const {
    return path_.empty() ? printable(key) : path_ + "." + printable(key);
  }
  Error error(std::string_view key, std::string_view what) const {
    return make_error(at(key) + ": " + std::string(what));
  }

  // Every key is one of `allowed` (typos must not pass silently).
  Result<void> only(std::span<const std::string_view> allowed) const {
    for (const auto& [key, value] : j_.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return error(key, "unknown key (expected one of: " + list + ")");
    }
    return {};
  }
  Result<void> only(std::initializer_list<std::string_view> allowed) const {
    return only(std::span<const std::string_view>(allowed.begin(), allowed.size()));
  }

  bool has(std::string_view key) const { return j_.contains(key); }
  const nlohmann::json* find(std::string_view key) const {
    const auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

  // A non-empty string, or nullopt when absent.
  Result<std::optional<std::string>> string(std::string_view key) const {
    const nlohmann::json* v = find(key);
    if (!v) return std::optional<std::string>{};
    if (!v->is_string()) return error(key, std::string("expected a string, got ") + v->type_name());
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty()) return error(key, "must not be empty");
    return std::optional<std::string>{s};
  }

  Result<std::optional<bool>> boolean(std::string_view key) const {
    const nlohmann::json* v = find(key);
    if (!v) return std::optional<bool>{};
    if (!v->is_boolean()) return error(key, std::string("expected true or false, got ") + v->type_name());
    return std::optional<bool>{v->get<bool>()};
  }

  // A number within [lo, hi], or nullopt when absent.
  Result<std::optional<double>> number(std::string_view key, double lo, double hi) const {
    const nlohmann::json* v = find(key);
    if (!v) return std::optional<double>{};
    if (!v->is_number()) return error(key, std::string("expected a number, got ") + v->type_name());
    const double d = v->get<double>();
    if (!(d >= lo && d <= hi))
      return error(key, "must be between " + trim_number(lo) + " and " + trim_number(hi) + ", got " +
                            v->dump());
    return std::optional<double>{d};
  }

  Result<std::optional<std::chrono::milliseconds>> duration(std::string_view key) const {
    const nlohmann::json* v = find(key);
    if (!v) return std::optional<std::chrono::milliseconds>{};
    auto d = parse_duration(*v);
    if (!d) return error(key, d.error().message);
    return std::optional<std::chrono::milliseconds>{*d};
  }

  // A nested object, or nullopt when absent.
  Result<std::optional<JsonObject>> object(std::string_view key) const {
    const nlohmann::json* v = find(key);
    if (!v) return std::optional<JsonObject>{};
    if (!v->is_object()) return error(key, std::string("expected an object, got ") + v->type_name());
    return std::optional<JsonObject>{JsonObject(*v, at(key))};
  }

 private:
  static std::string trim_number(double d) {
    std::string s = nlohmann::json(d).dump();
    if (s.ends_with(".0")) s.resize(s.size() - 2);
    return s;
  }
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace tw
