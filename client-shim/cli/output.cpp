// output.cpp -- what the CLI prints: stdout writes that are checked, the
// pieces of one-line messages, and the words and table of `list` and `status`.
#include <algorithm>
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

std::string_view kind_name(tw::EntryKind kind) {
  switch (kind) {
    case tw::EntryKind::credential: return "credential";
    case tw::EntryKind::keyset: return "keyset";
  }
  return "unknown";  // a kind added by a newer agent
}

std::string_view state_name(tw::EntryState state) {
  switch (state) {
    case tw::EntryState::valid: return "valid";
    case tw::EntryState::expired: return "expired";
    case tw::EntryState::pending: return "pending";
  }
  return "unknown";
}

std::string aligned_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& cells : rows) {
    widths.resize(std::max(widths.size(), cells.size()), 0);
    for (std::size_t c = 0; c < cells.size(); ++c) widths[c] = std::max(widths[c], cells[c].size());
  }
  std::string out;
  for (const auto& cells : rows) {
    for (std::size_t c = 0; c + 1 < cells.size(); ++c)
      out += cells[c] + std::string(widths[c] - cells[c].size() + 2, ' ');
    if (!cells.empty()) out += cells.back();
    out += '\n';
  }
  return out;
}

}  // namespace tw::cli
