// tokenwell.hpp -- header-only C++ RAII wrapper over libtokenwell (tokenwell.h).
//
//   auto client = tw::Client::open();  // $TOKENWELL_DIR, else /run/tokenwell
//   if (!client) return fail(client.error().message());
//   auto cred = client->get("redis");
//   if (cred) redis_auth(cred->username, cred->token);
//   else if (cred.code() == TOKENWELL_ENOVALUE) retry_later();
//
// Errors are values, not exceptions: every call returns a [[nodiscard]]
// tw::ClientResult<T> holding the value or the TOKENWELL_* code, because "not
// fetched yet" or "agent not started" are ordinary states a caller handles,
// not exceptional ones. The only exceptions are std::bad_alloc and
// std::bad_variant_access from value()/error() on the wrong alternative.
// libtokenwell never calls back into C++, so no exception can cross into C.
//
// Thread safety: one Client may be used by any number of threads at once;
// only its destruction and assignment must not race with other calls.
//
// C++17 or later; links libtokenwell (CMake: tokenwell::cpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tokenwell/tokenwell.h"

namespace tw {

// A TOKENWELL_* return code other than TOKENWELL_OK.
class ClientError {
 public:
  explicit ClientError(int code) noexcept : code_(code) {}
  int code() const noexcept { return code_; }
  // Static text from tokenwell_strerror(); never holds a secret.
  const char* message() const noexcept { return tokenwell_strerror(code_); }
  friend bool operator==(ClientError a, ClientError b) noexcept { return a.code_ == b.code_; }
  friend bool operator!=(ClientError a, ClientError b) noexcept { return !(a == b); }

 private:
  int code_;
};

// A value or the ClientError that prevented it.
template <typename T>
class [[nodiscard]] ClientResult {
 public:
  ClientResult(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  ClientResult(ClientError error) : v_(error) {}   // NOLINT
  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // TOKENWELL_OK or the error's code: convenient in a switch.
  int code() const noexcept { return ok() ? TOKENWELL_OK : std::get<1>(v_).code(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  ClientError error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ClientError> v_;
};

// The current value of a credential.
struct Credential {
  std::string username;
  std::string token;
  std::int64_t expires_at = 0;  // unix seconds; 0 = does not expire
  std::uint64_t generation = 0;
};

enum class EntryKind : int {
  credential = TOKENWELL_KIND_CREDENTIAL,
  keyset = TOKENWELL_KIND_KEYSET,
};

enum class EntryState {
  valid,    // has a value that has not expired
  expired,  // its last value expired and no new one was published
  pending,  // known to the agent, no value published yet
};

// What stat() knows about an entry, without its secret.
struct EntryInfo {
  EntryKind kind = EntryKind::credential;
  EntryState state = EntryState::pending;
  std::int64_t expires_at = 0;  // unix seconds; 0 = does not expire
  std::uint64_t generation = 0;
  std::int64_t updated_ms = 0;  // unix milliseconds when the value was published
};

// The public part of an entry (for a keyset: its public JWKS).
struct PublicValue {
  std::string data;
  std::uint64_t generation = 0;
};

namespace detail {

// A NUL-terminated copy of an entry name, on the stack so reads stay free of
// allocations. A name with an embedded NUL is refused: passed on, it would
// silently become a shorter, different name.
class CName {
 public:
  explicit CName(std::string_view name) noexcept
      : valid_(!name.empty() && name.size() <= TOKENWELL_NAME_MAX &&
               name.find('\0') == std::string_view::npos) {
    const std::size_t n = valid_ ? name.size() : 0;
    std::memcpy(buf_, name.data(), n);
    buf_[n] = '\0';
  }
  bool valid() const noexcept { return valid_; }
  const char* c_str() const noexcept { return buf_; }

 private:
  bool valid_;
  char buf_[TOKENWELL_NAME_MAX + 1];
};

// Calls read(buffer, size, &len) with a growing std::string until the value
// fits (TOKENWELL_ETOOSMALL reports the length needed). The value may grow
// again between two calls; after a few rounds that is reported as EBUSY.
template <typename Read>
int read_growing(std::string& out, std::size_t initial_size, Read read) {
  std::size_t size = initial_size;
  for (int round = 0; round < 8; ++round) {
    out.resize(size);
    std::size_t len = 0;
    const int rc = read(out.data(), out.size(), &len);
    if (rc != TOKENWELL_ETOOSMALL) {
      out.resize(rc == TOKENWELL_OK ? len : 0);
      return rc;
    }
    size = std::max(len + 1, size * 2);
  }
  out.clear();
  return TOKENWELL_EBUSY;
}

// The fields of one tokenwell_read_entry() a caller wants, as strings
// (nullptr: not wanted). They end up holding exactly the values, or empty.
struct EntryFields {
  std::string* secret = nullptr;
  std::string* username = nullptr;
  std::string* public_data = nullptr;
};

// tokenwell_read_entry() into growing strings: each buffer that ETOOSMALL
// names is resized to the length it reports, and the read repeated. A value
// that keeps growing between reads is reported as EBUSY after a few rounds.
inline int read_entry(const tokenwell* handle, const char* name, int kind, EntryFields fields,
                      tokenwell_entry& e) {
  // 4 KiB holds an Entra ID access token or a JWKS; bigger values cost one more read.
  if (fields.secret) fields.secret->resize(4096);
  if (fields.username) fields.username->resize(TOKENWELL_USERNAME_MAX + 1);
  if (fields.public_data) fields.public_data->resize(4096);
  int rc = TOKENWELL_EBUSY;
  for (int round = 0; round < 8; ++round) {
    e = tokenwell_entry{};
    e.struct_size = sizeof e;
    if (fields.secret) e.secret = fields.secret->data(), e.secret_size = fields.secret->size();
    if (fields.username) e.username = fields.username->data(), e.username_size = fields.username->size();
    if (fields.public_data) {
      e.public_data = fields.public_data->data();
      e.public_size = fields.public_data->size();
    }
    rc = tokenwell_read_entry(handle, name, kind, &e);
    if (rc != TOKENWELL_ETOOSMALL) break;
    // Nothing was copied: growing a buffer moves no byte of a value.
    if (e.too_small & TOKENWELL_FIELD_SECRET) fields.secret->resize(e.secret_len + 1);
    if (e.too_small & TOKENWELL_FIELD_USERNAME) fields.username->resize(e.username_len + 1);
    if (e.too_small & TOKENWELL_FIELD_PUBLIC) fields.public_data->resize(e.public_len + 1);
    rc = TOKENWELL_EBUSY;
  }
  const bool ok = rc == TOKENWELL_OK;
  if (fields.secret) fields.secret->resize(ok ? e.secret_len : 0);
  if (fields.username) fields.username->resize(ok ? e.username_len : 0);
  if (fields.public_data) fields.public_data->resize(ok ? e.public_len : 0);
  return rc;
}

}  // namespace detail

// An open segment. Move-only; a moved-from Client answers TOKENWELL_EINVAL.
class Client {
 public:
  // Opens the segment in dir; empty: $TOKENWELL_DIR, else /run/tokenwell.
  // flags: TOKENWELL_OPEN_* (tokenwell_open_v2()).
  static ClientResult<Client> open(const std::string& dir = {}, unsigned flags = 0) {
    tokenwell* handle = nullptr;
    const int rc = tokenwell_open_v2(dir.empty() ? nullptr : dir.c_str(), flags, &handle);
    if (rc != TOKENWELL_OK) return ClientError(rc);
    return Client(handle);
  }

  Client(Client&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Client& operator=(Client&& other) noexcept {
    if (this != &other) {
      tokenwell_close(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { tokenwell_close(handle_); }

  // The current value of credential `name`. TOKENWELL_ENOVALUE when it is
  // not fetched yet or expired (use stat() to tell which).
  ClientResult<Credential> get(std::string_view name) const {
    const detail::CName cname(name);
    if (!cname.valid()) return ClientError(TOKENWELL_EINVAL);
    Credential c;
    tokenwell_entry e;
    const int rc = detail::read_entry(handle_, cname.c_str(), TOKENWELL_KIND_CREDENTIAL,
                                      {&c.token, &c.username, nullptr}, e);
    if (rc != TOKENWELL_OK) return ClientError(rc);
    c.expires_at = e.expires_at;
    c.generation = e.generation;
    return c;
  }

  // Kind, state, expiry and generation of any entry. A known entry without
  // a valid value is a success with state expired or pending.
  ClientResult<EntryInfo> stat(std::string_view name) const {
    const detail::CName cname(name);
    if (!cname.valid()) return ClientError(TOKENWELL_EINVAL);
    tokenwell_entry e;
    const int rc = detail::read_entry(handle_, cname.c_str(), 0, {}, e);
    if (rc != TOKENWELL_OK && rc != TOKENWELL_ENOVALUE) return ClientError(rc);
    EntryInfo info;
    info.kind = static_cast<EntryKind>(e.kind);
    info.state = rc == TOKENWELL_OK ? EntryState::valid
                 : e.has_value      ? EntryState::expired
                                    : EntryState::pending;
    info.expires_at = e.expires_at;
    info.generation = e.generation;
    info.updated_ms = e.updated_ms;
    return info;
  }

  // The public part of entry `name` (a keyset's JWKS).
  ClientResult<PublicValue> read_public(std::string_view name) const {
    const detail::CName cname(name);
    if (!cname.valid()) return ClientError(TOKENWELL_EINVAL);
    PublicValue p;
    tokenwell_entry e;
    const int rc = detail::read_entry(handle_, cname.c_str(), 0, {nullptr, nullptr, &p.data}, e);
    if (rc != TOKENWELL_OK) return ClientError(rc);
    p.generation = e.generation;
    return p;
  }

  // Blocks until `name` has a generation greater than `after` and returns
  // it; TOKENWELL_ETIMEOUT after `timeout` (none: wait forever; a negative
  // timeout counts as zero, so a computed "time left" never waits forever).
  ClientResult<std::uint64_t> wait(std::string_view name, std::uint64_t after,
                                   std::optional<std::chrono::milliseconds> timeout = {}) const {
    const detail::CName cname(name);
    if (!cname.valid()) return ClientError(TOKENWELL_EINVAL);
    const std::int64_t timeout_ms =
        timeout ? std::max<std::int64_t>(timeout->count(), 0) : std::int64_t{-1};
    std::uint64_t generation = 0;
    const int rc = tokenwell_wait(handle_, cname.c_str(), after, timeout_ms, &generation);
    if (rc != TOKENWELL_OK) return ClientError(rc);
    return generation;
  }

  // Names of all entries (credentials and keysets).
  ClientResult<std::vector<std::string>> list() const {
    std::string packed;
    const int rc = detail::read_growing(packed, 1024, [&](char* buf, std::size_t size,
                                                          std::size_t* len) {
      return tokenwell_list(handle_, buf, size, len);
    });
    if (rc != TOKENWELL_OK) return ClientError(rc);
    // "a\0b\0\0" with the final NUL counted in the length.
    std::vector<std::string> names;
    for (std::size_t at = 0; at < packed.size() && packed[at] != '\0';) {
      names.emplace_back(packed.c_str() + at);
      at += names.back().size() + 1;
    }
    return names;
  }

  // For the C API (e.g. tokenwell/hiredis.h); owned by this Client.
  const tokenwell* native_handle() const noexcept { return handle_; }

 private:
  explicit Client(tokenwell* handle) noexcept : handle_(handle) {}
  tokenwell* handle_;
};

}  // namespace tw
