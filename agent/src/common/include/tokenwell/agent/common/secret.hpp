// secret.hpp -- Secret: a string that cannot be logged by accident.
//
//   Secret token(read_file(path));
//   curl_form_add("client_secret", token.reveal());  // the one way in
//   spdlog::info("{}", token);                       // does not compile
//
// Secret has no operator<<, no fmt formatter and no implicit conversion, so
// no log line, error or metric can carry one unless a call site spells
// `reveal()`. The bytes are wiped when the Secret dies.
// Thread-compatible.
#pragma once

#include <string.h>

#include <string>
#include <string_view>
#include <utility>

namespace tw {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      value_ = std::move(other.value_);
      other.wipe();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  // The secret's bytes. Every call site is a place a secret leaves this type.
  std::string_view reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }

  friend bool operator==(const Secret& a, const Secret& b) { return a.value_ == b.value_; }

 private:
  void wipe() {
    if (!value_.empty()) explicit_bzero(value_.data(), value_.size());
    value_.clear();
  }
  std::string value_;
};

}  // namespace tw
