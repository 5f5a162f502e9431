// file_source.cpp -- see file_source.hpp.
#include "tokenwell/agent/sources/file/file_source.hpp"

#include "tokenwell/agent/common/credential_text.hpp"
#include "tokenwell/agent/common/file_reader.hpp"

namespace tw {

Result<Secret> read_secret_file(const std::filesystem::path& path) {
  // One trailing newline is the file's, not the secret's (`echo pw > file`).
  return read_file(path, {.max_bytes = 64 * 1024, .trim = Trim::one_newline, .empty_is_error = true});
}

FetchResult<FetchedCredential> FileSource::fetch() {
  auto content = read_secret_file(config_.path);
  if (!content) return FetchError{content.error().message, std::nullopt, 0};
  // Clients put the value into a Redis AUTH as is: a CR, LF or space inside
  // it would let whoever writes the file inject a command.
  if (auto r = check_secret_text(content->reveal()); !r)
    return FetchError{config_.path.string() + ": " + r.error().message, std::nullopt, 0};
  FetchedCredential c;
  c.token = std::move(*content);
  c.username = config_.username;
  c.issued_at = 0;
  c.expires_at = 0;
  return c;
}

}  // namespace tw
