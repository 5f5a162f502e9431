// json_object.cpp -- see json_object.hpp.
#include "tokenwell/agent/common/json_object.hpp"

#include <cmath>
#include <cstdlib>

namespace tw {

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
      return make_error("expected a duration like \"90s\", \"5m\", \"1h\", got \"" + s + "\"");
    if (unit.empty() || unit == "s") seconds = n;
    else if (unit == "ms") seconds = n / 1000;
    else if (unit == "m") seconds = n * 60;
    else if (unit == "h") seconds = n * 3600;
    else if (unit == "d") seconds = n * 86400;
    else return make_error("unknown duration unit '" + unit + "' in \"" + s + "\" (use ms, s, m, h or d)");
  } else {
    return make_error(std::string("expected a duration (\"90s\" or a number of seconds), got ") +
                      value.type_name());
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 365.0 * 86400)
    return make_error("duration must be between 0 and 365 days, got " + value.dump());
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

}  // namespace tw
