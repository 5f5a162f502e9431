// directory_watcher.cpp -- see directory_watcher.hpp.
#include "directory_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tokenwell/agent/common/log.hpp"

namespace tw {

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
