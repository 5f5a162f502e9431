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

// What a path that is not a regular file is, for the error message.
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// The phrase --check-config's lines have always used ("credentials[1].auth.
// secret_file: file not readable (...)"), with the reason.
Error unreadable(const std::filesystem::path& path, int err) {
  return make_error("file not readable (" + path.string() + ": " + std::strerror(err) + ")");
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<Secret> read_file(const std::filesystem::path& path, const ReadOptions& options) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (nor a device for
  // its carrier); the fstat below then refuses anything but a regular file,
  // whose reads never block. Symlinks are followed: Kubernetes mounts every
  // Secret file as a symlink through `..data`.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return unreadable(path, errno);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return unreadable(path, errno);
  if (!S_ISREG(st.st_mode))
    return make_error(path.string() + " is " + file_kind(st.st_mode) + ", not a regular file");
  const std::string too_large = path.string() + ": larger than " + size_text(options.max_bytes);
  if (static_cast<std::uint64_t>(st.st_size) > options.max_bytes) return make_error(too_large);

  // Still bounded while reading: the file may grow after the fstat.
  std::string data;
  // Room for the whole file and one more read, so the buffer (which will
  // hold a secret) is not reallocated, leaving a copy behind, as it grows.
  char buf[4096];
  data.reserve(static_cast<std::size_t>(st.st_size) + sizeof buf);
  Result<Secret> failed = make_error("");
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed = unreadable(path, errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > options.max_bytes) {
      failed = make_error(too_large);
      ok = false;
      break;
    }
  }
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
  Secret out(data.substr(begin, end - begin));
  explicit_bzero(data.data(), data.size());
  return out;
}

}  // namespace tw
