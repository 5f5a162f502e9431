// json_object.cpp -- see json_object.hpp.
#include "tokenwell/agent/common/json_object.hpp"

#include <cmath>
#include <cstdlib>
#include <set>
#include <vector>

namespace tw {
namespace {

using nlohmann::json;

// The parts of a path (each a key and its array indices) joined, or, past
// kMaxShownPath bytes, the first part, "…" and as many of the last parts as
// fit (at least the last one): the depth limit times a key's escaped length
// made a 4 KiB error line. printable() escapes every non-ASCII byte, so no
// key can show a "…".
std::string shown_path(const std::vector<std::string>& parts) {
  static constexpr std::string_view kElided = ".\xe2\x80\xa6";  // ".…" in UTF-8
  std::size_t total = 0;
  for (const auto& part : parts) total += part.size();
  std::string path = parts.front();
  if (total <= kMaxShownPath) {
    for (std::size_t i = 1; i < parts.size(); ++i) path += parts[i];
    return path;
  }
  std::size_t first_kept = parts.size() - 1;
  std::size_t kept = parts.back().size();
  while (first_kept > 1 && path.size() + kElided.size() + kept + parts[first_kept - 1].size() <= kMaxShownPath)
    kept += parts[--first_kept].size();
  path += kElided;
  for (std::size_t i = first_kept; i < parts.size(); ++i) path += parts[i];
  return path;
}

// Where the parser is, as a JSON path ("credentials[0].refresh.ratio"), kept
// up to date from nlohmann's parse callbacks.
class PathTracker {
 public:
  // A located problem found from inside a callback; ends the parse.
  struct Problem {
    std::string message;
  };

  explicit PathTracker(std::size_t max_depth) : max_depth_(max_depth) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (levels_.size() >= max_depth_)
          throw Problem{where() + ": nested deeper than " + std::to_string(max_depth_) + " levels"};
        levels_.push_back({event == json::parse_event_t::object_start, 0, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        levels_.pop_back();
        element_done();
        break;
      case json::parse_event_t::key: {
        Level& top = levels_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second)
          throw Problem{where() + ": duplicate key (each key may appear once in an object)"};
        break;
      }
      case json::parse_event_t::value:
        element_done();
        break;
    }
    return true;
  }

  // The path of the value being read: the last key of each object, the
  // index of the element being read of each array; "config" at the top.
  std::string where() const {
    std::vector<std::string> parts;  // "credentials[0]", ".refresh": a key and its indices
    for (const Level& l : levels_) {
      if (l.object) {
        if (l.key.empty() && l.keys.empty()) break;  // before the object's first key
        // Keys are config text: escaped and cut.
        parts.push_back((parts.empty() ? "" : ".") + printable(l.key));
      } else if (const std::string index = "[" + std::to_string(l.elements) + "]"; parts.empty()) {
        parts.push_back(index);
      } else {
        parts.back() += index;
      }
    }
    return parts.empty() ? "config" : shown_path(parts);
  }

 private:
  struct Level {
    bool object;
    std::size_t elements;  // arrays: elements read in full
    std::string key;       // objects: the key being read
    std::set<std::string> keys;
  };

  void element_done() {
    if (!levels_.empty() && !levels_.back().object) ++levels_.back().elements;
  }

  std::size_t max_depth_;
  std::vector<Level> levels_;
};

// nlohmann's what() without its "[json.exception.parse_error.101] " prefix.
std::string without_prefix(const char* what) {
  std::string_view s(what);
  if (s.starts_with("[json.exception.")) {
    const auto close = s.find("] ");
    if (close != std::string_view::npos) s.remove_prefix(close + 2);
  }
  return std::string(s);
}

// The text between the first pair of single quotes of `what`, if any.
std::string_view first_quoted(std::string_view what) {
  const auto open = what.find('\'');
  if (open == std::string_view::npos) return {};
  const auto close = what.find('\'', open + 1);
  if (close == std::string_view::npos) return {};
  return what.substr(open + 1, close - open - 1);
}

}  // namespace

Result<nlohmann::json> parse_json_document(std::string_view text, JsonDocumentLimits limits) {
  PathTracker tracker(limits.max_depth);
  try {
    return json::parse(text, [&tracker](int, json::parse_event_t event, json& parsed) {
      return tracker.on_event(event, parsed);
    });
  } catch (const PathTracker::Problem& p) {
    return make_error(p.message);
  } catch (const json::out_of_range& e) {
    // 406: a number beyond double's range ("1e400").
    return make_error(tracker.where() + ": number out of range (" + printable(first_quoted(e.what()), 40) + ")");
  } catch (const json::parse_error& e) {
    // "parse error at line 1, column 9: syntax error while parsing value -
    // invalid literal; last read: '...'": the last read token can be long.
    std::string what = without_prefix(e.what());
    if (const auto last = what.find("; last read: '"); last != std::string::npos) {
      const std::string_view token = first_quoted(std::string_view(what).substr(last));
      what = what.substr(0, last) + "; last read: " + quote(token, 40);
    }
    return make_error(tracker.where() + ": not valid JSON: " + what);
  } catch (const std::exception& e) {
    // Out of memory, or nlohmann refusing something else: still one line.
    return make_error(tracker.where() + ": cannot be read (" + quote(without_prefix(e.what()), 120) + ")");
  }
}

std::string printable(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  std::size_t shown = 0;
  for (unsigned char c : text) {
    if (shown == max) {
      out += "...";
      break;
    }
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    ++shown;
  }
  return out;
}

std::string quote(std::string_view text, std::size_t max) { return "'" + printable(text, max) + "'"; }

Result<std::chrono::milliseconds> parse_duration(const nlohmann::json& value) {
  double seconds = 0;
  if (value.is_number()) {
    seconds = value.get<double>();
  } else if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    const char* begin = s.c_str();
    char* end = nullptr;
    const double n = std::strtod(begin, &end);
    const std::string unit(end);
    if (end == begin || s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.'))
      return make_error("expected a duration like \"90s\", \"5m\", \"1h\", got \"" + printable(s) + "\"");
    if (unit.empty() || unit == "s") seconds = n;
    else if (unit == "ms") seconds = n / 1000;
    else if (unit == "m") seconds = n * 60;
    else if (unit == "h") seconds = n * 3600;
    else if (unit == "d") seconds = n * 86400;
    else return make_error("unknown duration unit " + quote(unit, 16) + " in \"" + printable(s) + "\" (use ms, s, m, h or d)");
  } else {
    return make_error(std::string("expected a duration (\"90s\" or a number of seconds), got ") +
                      value.type_name());
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 365.0 * 86400)
    return make_error("duration must be between 0 and 365 days, got " + printable(value.dump(), 40));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

}  // namespace tw
