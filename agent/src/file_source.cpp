// file_source.cpp -- see file_source.hpp.
#include "tokenwell/agent/file_source.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tokenwell/agent/log.hpp"

namespace tw {

namespace {
constexpr std::size_t kMaxSecretBytes = 64 * 1024;
}

FetchResult<FetchedCredential> FileSource::fetch() {
  std::ifstream in(config_.path, std::ios::binary);
  if (!in) return FetchError{"cannot read " + config_.path.string() + ": " + std::strerror(errno)};
  std::string content;
  content.resize(kMaxSecretBytes + 1);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > kMaxSecretBytes)
    return FetchError{config_.path.string() + " is larger than 64 KiB"};
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) return FetchError{config_.path.string() + " is empty"};
  FetchedCredential c;
  c.token = Secret(std::move(content));
  c.username = config_.username;
  c.issued_at = 0;
  c.expires_at = 0;
  return c;
}

DirectoryWatcher::DirectoryWatcher(boost::asio::io_context& io, Callback on_change)
    : on_change_(std::move(on_change)), fd_(io) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd >= 0) {
    fd_.assign(fd);
    read();
  } else {
    log::warn("cannot create an inotify instance: file sources are re-read only on retry",
              {{"error", std::strerror(errno)}});
  }
}

DirectoryWatcher::~DirectoryWatcher() { close(); }

void DirectoryWatcher::close() {
  boost::system::error_code ec;
  fd_.close(ec);
  dirs_.clear();
}

Result<void> DirectoryWatcher::watch(const std::filesystem::path& dir) {
  if (!fd_.is_open()) return make_error("no inotify instance");
  for (const auto& [wd, d] : dirs_)
    if (d == dir) return {};
  const int wd = inotify_add_watch(fd_.native_handle(), dir.c_str(),
                                   IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                       IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
  if (wd < 0) return make_error("cannot watch " + dir.string() + ": " + std::strerror(errno));
  dirs_[wd] = dir;
  return {};
}

void DirectoryWatcher::unwatch(const std::filesystem::path& dir) {
  for (auto it = dirs_.begin(); it != dirs_.end(); ++it) {
    if (it->second != dir) continue;
    inotify_rm_watch(fd_.native_handle(), it->first);
    dirs_.erase(it);
    return;
  }
}

void DirectoryWatcher::read() {
  fd_.async_read_some(boost::asio::buffer(buffer_), [this](boost::system::error_code ec,
                                                           std::size_t n) {
    if (ec) return;  // closed
    std::map<int, std::filesystem::path> changed;
    for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
      inotify_event ev;
      std::memcpy(&ev, buffer_.data() + off, sizeof ev);
      if (auto it = dirs_.find(ev.wd); it != dirs_.end()) changed[ev.wd] = it->second;
      if (ev.mask & IN_IGNORED) dirs_.erase(ev.wd);  // directory gone; re-watched on retry
      off += sizeof(inotify_event) + ev.len;
    }
    for (const auto& [wd, dir] : changed) on_change_(dir);
    read();
  });
}

}  // namespace tw
