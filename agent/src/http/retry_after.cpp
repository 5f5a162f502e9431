// retry_after.cpp -- Retry-After (RFC 9110 10.2.3) and the HTTP-date it may
// carry; see http_client.hpp.
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "tokenwell/agent/http/http_client.hpp"

namespace tw {
namespace {

constexpr std::int64_t kMaxRetryAfter = 24 * 3600;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---- HTTP-date (RFC 9110 5.6.7): IMF-fixdate, RFC 850, asctime.

int month_index(std::string_view m) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (kMonths[static_cast<std::size_t>(i)] == m) return i;
  return -1;
}

bool read_int(std::string_view s, std::size_t& pos, std::size_t digits, int& out) {
  if (pos + digits > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += digits;
  out = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, std::string_view lit) {
  if (s.substr(pos, lit.size()) != lit) return false;
  pos += lit.size();
  return true;
}

bool read_time(std::string_view s, std::size_t& pos, tm& t) {
  return read_int(s, pos, 2, t.tm_hour) && expect(s, pos, ":") && read_int(s, pos, 2, t.tm_min) &&
         expect(s, pos, ":") && read_int(s, pos, 2, t.tm_sec);
}

std::optional<std::int64_t> parse_http_date(std::string_view s) {
  tm t{};
  std::size_t pos = 0;
  const auto comma = s.find(',');
  if (comma == 3) {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    pos = 5;
    if (s.size() != 29 || s[4] != ' ') return std::nullopt;
    if (!read_int(s, pos, 2, t.tm_mday) || !expect(s, pos, " ")) return std::nullopt;
    t.tm_mon = month_index(s.substr(pos, 3));
    pos += 3;
    if (t.tm_mon < 0 || !expect(s, pos, " ") || !read_int(s, pos, 4, t.tm_year) || !expect(s, pos, " ") ||
        !read_time(s, pos, t) || !expect(s, pos, " GMT"))
      return std::nullopt;
    t.tm_year -= 1900;
  } else if (comma != std::string_view::npos && comma > 3 && comma < 10) {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    pos = comma + 1;
    int yy = 0;
    if (!expect(s, pos, " ") || !read_int(s, pos, 2, t.tm_mday) || !expect(s, pos, "-")) return std::nullopt;
    t.tm_mon = month_index(s.substr(pos, 3));
    pos += 3;
    if (t.tm_mon < 0 || !expect(s, pos, "-") || !read_int(s, pos, 2, yy) || !expect(s, pos, " ") ||
        !read_time(s, pos, t) || !expect(s, pos, " GMT") || pos != s.size())
      return std::nullopt;
    t.tm_year = yy < 70 ? yy + 100 : yy;  // RFC 9110: two-digit years near now
  } else if (s.size() == 24) {  // asctime: Sun Nov  6 08:49:37 1994
    pos = 4;
    t.tm_mon = month_index(s.substr(pos, 3));
    pos += 3;
    if (t.tm_mon < 0 || !expect(s, pos, " ")) return std::nullopt;
    if (s[pos] == ' ') {
      ++pos;
      if (!read_int(s, pos, 1, t.tm_mday)) return std::nullopt;
    } else if (!read_int(s, pos, 2, t.tm_mday)) {
      return std::nullopt;
    }
    if (!expect(s, pos, " ") || !read_time(s, pos, t) || !expect(s, pos, " ") || !read_int(s, pos, 4, t.tm_year))
      return std::nullopt;
    t.tm_year -= 1900;
  } else {
    return std::nullopt;
  }
  if (t.tm_mday < 1 || t.tm_mday > 31 || t.tm_hour > 23 || t.tm_min > 59 || t.tm_sec > 60) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&t));
}

}  // namespace

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, Clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (all_digits(value)) {
    if (value.size() > 9) return std::chrono::seconds(kMaxRetryAfter);
    const auto v = std::strtoll(std::string(value).c_str(), nullptr, 10);
    return std::chrono::seconds(std::min<std::int64_t>(v, kMaxRetryAfter));
  }
  const auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return std::chrono::seconds(std::clamp<std::int64_t>(*when - now_s, 0, kMaxRetryAfter));
}

}  // namespace tw
