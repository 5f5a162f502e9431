// secret.hpp -- Secret: a string that cannot be logged by accident and does
// not end up in a core dump.
//
//   Secret token(read_file(path));
//   curl_form_add("client_secret", token.reveal());  // the one way in
//   spdlog::info("{}", token);                       // does not compile
//
// Secret has no operator<<, no fmt formatter and no implicit conversion, so
// no log line, error or metric can carry one unless a call site spells
// `reveal()`. Its bytes live in pages of their own that are marked
// MADV_DONTDUMP (left out of core dumps, like the segment's mapping) and are
// wiped when the Secret dies. A Secret made from a std::string rvalue wipes
// that string's bytes too.
// Thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tw {

// Where Secrets keep their bytes: anonymous pages excluded from core dumps.
// allocate() throws std::bad_alloc when the kernel refuses; release() wipes.
namespace secret_storage {
struct Block {
  char* data = nullptr;
  std::size_t capacity = 0;  // the mapping's length, a whole number of pages
};
Block allocate(std::size_t bytes);
void release(Block block) noexcept;
}  // namespace secret_storage

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view value) { assign(value); }
  explicit Secret(const char* value) : Secret(std::string_view(value)) {}
  // Takes the bytes and wipes the string they came in.
  explicit Secret(std::string&& value);
  Secret(const Secret& other) { assign(other.reveal()); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      reset();
      assign(other.reveal());
    }
    return *this;
  }
  Secret(Secret&& other) noexcept : block_(other.block_), size_(other.size_) {
    other.block_ = {};
    other.size_ = 0;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      reset();
      block_ = other.block_;
      size_ = other.size_;
      other.block_ = {};
      other.size_ = 0;
    }
    return *this;
  }
  ~Secret() { reset(); }

  // The secret's bytes. Every call site is a place a secret leaves this type.
  std::string_view reveal() const { return {block_.data, size_}; }
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  friend bool operator==(const Secret& a, const Secret& b) { return a.reveal() == b.reveal(); }

 private:
  void assign(std::string_view value);
  void reset() noexcept {
    secret_storage::release(block_);
    block_ = {};
    size_ = 0;
  }
  secret_storage::Block block_;
  std::size_t size_ = 0;
};

}  // namespace tw
