// api_backend.cpp -- see api_backend.hpp.
#include "api_backend.hpp"

#include <string.h>

#include <algorithm>

#include "tokenwell/agent/keysets/jwk.hpp"

namespace tw {
namespace {

std::int64_t unix_seconds(RefreshStatus::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::vector<ApiBackend::Entry> AgentApiBackend::entries() const {
  std::vector<Entry> out;
  const std::int64_t now = clock_.unix_seconds();
  for (const auto& info : writer_.entries()) {
    Entry e;
    e.name = info.name;
    e.kind = info.kind == SlotKind::keyset ? Kind::keyset : Kind::credential;
    e.username = info.username;
    e.expires_at = info.expires_at;
    e.generation = info.generation;
    e.state = !info.has_value ? State::pending
              : (info.expires_at != 0 && info.expires_at <= now) ? State::expired
                                                                  : State::valid;
    // The segment knows when its value was published; the runner knows how
    // this run's refreshes went.
    if (info.has_value) e.last_refresh = info.updated_ms / 1000;
    if (const EntryRunner* runner = registry_.find(info.name)) {
      e.source = runner->source();
      const RefreshStatus status = runner->refresh_status();
      if (status.last_success) e.last_refresh = unix_seconds(*status.last_success);
      e.last_error = status.last_error;
      e.consecutive_failures = status.consecutive_failures;
      if (status.next_attempt) e.next_attempt = unix_seconds(*status.next_attempt);
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

ApiBackend::Lookup<ApiBackend::CredentialValue> AgentApiBackend::credential(std::string_view name) const {
  const std::string n(name);
  std::vector<char> token(64 * 1024);
  char username[TOKENWELL_USERNAME_MAX + 1];
  size_t len = 0;
  std::int64_t expires_at = 0;
  std::uint64_t generation = 0;
  const int rc = tokenwell_read(reader_, n.c_str(), token.data(), token.size(), &len, username,
                                sizeof username, &expires_at, &generation);
  if (rc == TOKENWELL_ENOTFOUND) return Missing::unknown_name;
  if (rc != TOKENWELL_OK) return Missing::no_valid_value;
  CredentialValue v{username, Secret(std::string(token.data(), len)), expires_at, generation};
  explicit_bzero(token.data(), token.size());
  return v;
}

ApiBackend::Lookup<std::string> AgentApiBackend::jwks(std::string_view name) const {
  const std::string n(name);
  auto info = writer_.entry(n);
  if (!info || info->kind != SlotKind::keyset) return Missing::unknown_name;
  std::string buf(64 * 1024, '\0');
  for (int attempt = 0; attempt < 4; ++attempt) {
    size_t len = 0;
    const int rc = tokenwell_read_public(reader_, n.c_str(), buf.data(), buf.size(), &len, nullptr);
    if (rc == TOKENWELL_OK) {
      buf.resize(len);
      return buf;
    }
    if (rc == TOKENWELL_ETOOSMALL) {
      buf.resize(len + 1);
      continue;
    }
    if (rc == TOKENWELL_ENOTFOUND) return Missing::unknown_name;
    return Missing::no_valid_value;
  }
  return Missing::no_valid_value;
}

ApiBackend::RefreshReply AgentApiBackend::request_keyset_refresh(std::string_view name) {
  EntryRunner* runner = registry_.find(std::string(name));
  if (!runner || runner->kind() != EntryKind::keyset) return {RefreshAnswer::unknown_name, std::chrono::seconds(0)};
  const RefetchReply reply = runner->request_refetch();
  return {reply.accepted ? RefreshAnswer::accepted : RefreshAnswer::rate_limited, reply.retry_after};
}

ApiBackend::SignReply AgentApiBackend::sign(std::string_view name, std::string_view claims_json,
                                            std::int64_t ttl_seconds) {
  const EntryRunner* runner = registry_.find(std::string(name));
  if (!runner || runner->kind() != EntryKind::keyset) return {SignAnswer::unknown_name, Secret(), ""};
  // The runner's key, not the segment's: the segment holds it only with
  // private_in_segment.
  const std::string_view key = runner->signing_key();
  if (key.empty()) {
    // A jwks keyset never signs; another may not have loaded its keys yet.
    const auto published = writer_.entry(std::string(name));
    if (runner->source() != "jwks" && (!published || !published->has_value)) return {SignAnswer::no_value, Secret(), ""};
    return {SignAnswer::no_signing_key, Secret(), "keyset has no signing key (verify only)"};
  }
  auto signed_jwt = sign_jwt(key, claims_json, ttl_seconds, clock_.unix_seconds());
  if (auto* token = std::get_if<Secret>(&signed_jwt)) return {SignAnswer::signed_token, std::move(*token), ""};
  auto& failure = std::get<JwtSignFailure>(signed_jwt);
  return {failure.claims_error ? SignAnswer::bad_claims : SignAnswer::failed, Secret(), std::move(failure.message)};
}

ApiBackend::Readiness AgentApiBackend::readiness() const {
  Readiness r;
  r.ready = true;
  for (const auto& e : entries()) {
    if (e.state == State::valid) continue;
    r.ready = false;
    r.reasons.push_back({e.name, e.state == State::pending ? "no value fetched yet" : "value expired"});
  }
  return r;
}

}  // namespace tw
