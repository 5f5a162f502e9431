// temporary_file.hpp -- a new private file beside the one it will replace,
// under a name nobody can guess: the runtime directory may be writable by
// other users (an emptyDir is 0777), who must not be able to plant a symlink
// or a file of theirs under the next name and receive what is written.
//
//   auto tmp = create_temporary_file(dir, "segment.tmp.");  // dir/segment.tmp.3f9c0a1b2d4e5f60
//   ... write tmp->fd, then rename(tmp->path, dir / "segment") ...
#pragma once

#include <filesystem>
#include <string_view>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

struct TemporaryFile {
  int fd = -1;  // O_RDWR | O_CLOEXEC, mode 0600; the caller closes it
  std::filesystem::path path;
};

// DIR/PREFIX followed by 16 random hex digits, created with O_CREAT | O_EXCL
// | O_NOFOLLOW (a few names are tried if one exists). Errors name the path.
Result<TemporaryFile> create_temporary_file(const std::filesystem::path& dir, std::string_view prefix);

}  // namespace tw
