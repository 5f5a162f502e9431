// output.cpp -- what the CLI prints: stdout writes that are checked, and the
// pieces of one-line messages.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "cli.hpp"

namespace tw::cli {

void write_stdout(std::string_view text) {
  // A script doing `tokenwell get redis > file` must not see success when the
  // token never reached the file (a full disk, a closed descriptor).
  errno = 0;
  const bool written = std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
  if (!written || std::fflush(stdout) != 0) {
    const int err = errno;
    throw Failure{kInvalid, std::string("cannot write to standard output: ") +
                                (err != 0 ? std::strerror(err) : "write error")};
  }
}

std::string quote(std::string_view name) {
  std::string out = "'";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  out += '\'';
  return out;
}

std::string format_expiry(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  char text[32];
  if (gmtime_r(&t, &utc) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
    return std::to_string(unix_seconds);
  return text;
}

}  // namespace tw::cli
