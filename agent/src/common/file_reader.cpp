// file_reader.cpp -- see file_reader.hpp.
#include "tokenwell/agent/common/file_reader.hpp"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tw {
namespace {

std::string size_text(std::size_t bytes) {
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

const char* file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

}  // namespace

Result<Secret> read_file(const std::filesystem::path& path, const ReadOptions& options) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the type check
  // below refuses it (and devices such as /dev/zero) before any read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return make_error("cannot read " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error("cannot read " + path.string() + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path.string() + ": not a regular file (it is " + file_type(st.st_mode) + ")");
  }
  if (static_cast<std::uint64_t>(st.st_size) > options.max_bytes) {
    ::close(fd);
    return make_error(path.string() + ": larger than " + size_text(options.max_bytes));
  }
  std::string data;
  data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[4096];
  Result<Secret> failed = make_error("");
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed = make_error("cannot read " + path.string() + ": " + std::strerror(errno));
      ok = false;
      break;
    }
    if (n == 0) break;
    // Bounded even if the file grows while it is read.
    if (data.size() + static_cast<std::size_t>(n) > options.max_bytes) {
      failed = make_error(path.string() + ": larger than " + size_text(options.max_bytes));
      ok = false;
      break;
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  explicit_bzero(buf, sizeof buf);
  if (!ok) {
    explicit_bzero(data.data(), data.size());
    return failed;
  }
  std::size_t begin = 0, end = data.size();
  if (options.trim == Trim::whitespace) {
    while (begin < end && is_space(data[begin])) ++begin;
    while (end > begin && is_space(data[end - 1])) --end;
  } else if (options.trim == Trim::one_newline) {
    if (end > begin && data[end - 1] == '\n') --end;
    if (end > begin && data[end - 1] == '\r') --end;
  }
  if (begin == end && options.empty_is_error) {
    explicit_bzero(data.data(), data.size());
    return make_error(path.string() + ": file is empty");
  }
  Secret out(std::string_view(data).substr(begin, end - begin));
  explicit_bzero(data.data(), data.size());
  return out;
}

}  // namespace tw
