// file_source.cpp -- see file_source.hpp.
#include "tokenwell/agent/sources/file/file_source.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tokenwell/agent/common/log.hpp"

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

}  // namespace tw
