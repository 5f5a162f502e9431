// file_source.hpp -- `source: file`: a static secret (a plain Redis password
// an operator rotates) read from a mounted file. The agent watches the file's
// directory (app/directory_watcher.hpp) and fetches again when it changes.
//
//   FileSource source(config);                 // fetch() reads the file
//   auto r = source.fetch();                   // FetchedCredential or FetchError
//
// Used by one thread at a time (CredentialSource's contract).
#pragma once

#include <filesystem>

#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/refresh/source.hpp"

namespace tw {

// The secret in `path` as fetch() reads it: a regular file of at most 64 KiB
// without one trailing newline; empty is an error. --check-config reads it
// the same way.
Result<Secret> read_secret_file(const std::filesystem::path& path);

class FileSource final : public CredentialSource {
 public:
  explicit FileSource(FileSourceConfig config) : config_(std::move(config)) {}
  // The file's content without one trailing newline; expires_at 0. An empty
  // or unreadable file is an error (the last good value stays published).
  FetchResult<FetchedCredential> fetch() override;

 private:
  FileSourceConfig config_;
};

}  // namespace tw
