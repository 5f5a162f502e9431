// secret.cpp -- see secret.hpp. One anonymous mapping per Secret: few live
// at a time (a value per entry, the request being made), and a mapping of
// its own is what madvise() can keep out of a core dump.
#include "tokenwell/agent/common/secret.hpp"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>

namespace tw {
namespace secret_storage {

Block allocate(std::size_t bytes) {
  if (bytes == 0) return {};
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = (bytes + page - 1) / page * page;
  void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Best effort: a kernel without MADV_DONTDUMP still has the non-dumpable
  // process (app/main.cpp) between a secret and a core file.
  (void)::madvise(p, length, MADV_DONTDUMP);
  return {static_cast<char*>(p), length};
}

void release(Block block) noexcept {
  if (block.data == nullptr) return;
  explicit_bzero(block.data, block.capacity);
  ::munmap(block.data, block.capacity);
}

}  // namespace secret_storage

Secret::Secret(std::string&& value) {
  assign(value);
  explicit_bzero(value.data(), value.size());
  value.clear();
}

void Secret::assign(std::string_view value) {
  block_ = secret_storage::allocate(value.size());
  if (!value.empty()) std::memcpy(block_.data, value.data(), value.size());
  size_ = value.size();
}

}  // namespace tw
