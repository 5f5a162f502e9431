// directory_watcher.hpp -- inotify on the agent's loop: tells the agent when
// a watched directory changed, so file sources and key_files keysets read
// their files again (internal to the app library).
//
//   DirectoryWatcher watcher(io, [&](const auto& dir) { registry.on_directory_changed(dir); });
//   watcher.watch(config.path.parent_path());
//
// It watches directories, not files: an atomic rename over a file and a
// Kubernetes Secret update (the kubelet renames a new `..data` symlink over
// the old one) both show up as events there. Lives on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <filesystem>
#include <functional>
#include <map>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

class DirectoryWatcher {
 public:
  using Callback = std::function<void(const std::filesystem::path& dir)>;
  DirectoryWatcher(boost::asio::io_context& io, Callback on_change);
  ~DirectoryWatcher();
  // Starts watching `dir` (idempotent). Fails if it cannot be watched.
  Result<void> watch(const std::filesystem::path& dir);
  void close();

 private:
  void read();
  Callback on_change_;
  boost::asio::posix::stream_descriptor fd_;
  std::map<int, std::filesystem::path> dirs_;  // watch descriptor -> directory
  std::array<char, 16384> buffer_{};
};

}  // namespace tw
