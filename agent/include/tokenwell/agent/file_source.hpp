// file_source.hpp -- `source: file`: a static secret (a plain Redis password
// an operator rotates) read from a mounted file, and the inotify watcher that
// tells the agent when to read it again.
//
//   FileSource source(config);                 // fetch() reads the file
//   DirectoryWatcher watcher(io, [&](auto& dir) { runner.fetch_now(); });
//   watcher.watch(config.path.parent_path());
//
// The watcher watches the file's directory, not the file: an atomic rename
// over the file and a Kubernetes Secret update (the kubelet renames a new
// `..data` symlink over the old one) both show up as events there.
// FileSource is used by one thread at a time; DirectoryWatcher lives on the
// io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <filesystem>
#include <functional>
#include <map>

#include "tokenwell/agent/config.hpp"
#include "tokenwell/agent/result.hpp"
#include "tokenwell/agent/source.hpp"

namespace tw {

class FileSource final : public CredentialSource {
 public:
  explicit FileSource(FileSourceConfig config) : config_(std::move(config)) {}
  // The file's content without one trailing newline; expires_at 0. An empty
  // or unreadable file is an error (the last good value stays published).
  FetchResult<FetchedCredential> fetch() override;

 private:
  FileSourceConfig config_;
};

class DirectoryWatcher {
 public:
  using Callback = std::function<void(const std::filesystem::path& dir)>;
  DirectoryWatcher(boost::asio::io_context& io, Callback on_change);
  ~DirectoryWatcher();
  // Starts watching `dir` (idempotent). Fails if it cannot be watched.
  Result<void> watch(const std::filesystem::path& dir);
  void unwatch(const std::filesystem::path& dir);
  void close();

 private:
  void read();
  Callback on_change_;
  boost::asio::posix::stream_descriptor fd_;
  std::map<int, std::filesystem::path> dirs_;  // watch descriptor -> directory
  std::array<char, 16384> buffer_{};
};

}  // namespace tw
