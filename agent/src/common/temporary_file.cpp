// temporary_file.cpp -- see temporary_file.hpp.
#include "tokenwell/agent/common/temporary_file.hpp"

#include <fcntl.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tw {

Result<TemporaryFile> create_temporary_file(const std::filesystem::path& dir, std::string_view prefix) {
  static constexpr char kHex[] = "0123456789abcdef";
  TemporaryFile file;
  for (int attempt = 0; attempt < 8; ++attempt) {
    unsigned char bytes[8];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
      return make_error(std::string("getrandom: ") + std::strerror(errno));
    std::string name(prefix);
    for (unsigned char b : bytes) {
      name += kHex[b >> 4];
      name += kHex[b & 15];
    }
    file.path = dir / name;
    file.fd = ::open(file.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (file.fd >= 0) return file;
    if (errno != EEXIST) break;
  }
  return make_error("cannot create " + file.path.string() + ": " + std::strerror(errno));
}

}  // namespace tw
