// file_reader.hpp -- the one way the agent reads a file it was configured
// with (secrets, federated tokens, certificates, keys, CA bundles, the config
// itself): bounded in size, the bytes kept in a Secret and every buffer on
// the way wiped, trimming only when the caller says so.
//
//   auto secret = read_file(path, {.max_bytes = 64 * 1024, .trim = Trim::whitespace,
//                                  .empty_is_error = true});
//   if (!secret) return fail("auth.secret_file: " + secret.error().message);
//
// Only regular files are read (after following symlinks, so Kubernetes'
// `..data` links work): a FIFO, a directory or a device is refused at once,
// never waited on ("/s is a FIFO (named pipe), not a regular file"). Errors
// name the path and what failed ("file not readable (/s: Permission
// denied)", "/s: larger than 64 KiB"), never the content. Thread-safe.
#pragma once

#include <cstddef>
#include <filesystem>

#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

enum class Trim {
  none,         // the bytes as they are (keys, certificates, JSON)
  one_newline,  // one trailing "\n" or "\r\n" (a secret written by `echo`)
  whitespace,   // spaces, tabs, CR and LF at both ends (tokens, secrets)
};

struct ReadOptions {
  std::size_t max_bytes = 64 * 1024;  // more is an error
  Trim trim = Trim::none;
  bool empty_is_error = false;        // after trimming
};

Result<Secret> read_file(const std::filesystem::path& path, const ReadOptions& options);

}  // namespace tw
