// key_rotation.cpp -- see key_rotation.hpp.
#include "tokenwell/agent/keysets/key_rotation.hpp"

#include <algorithm>
#include <charconv>

namespace tw {

using std::chrono::duration_cast;
using std::chrono::seconds;

KeyRotation::KeyRotation(GeneratedKeysetConfig config, KeyFactory factory)
    : config_(config), factory_(std::move(factory)) {}

std::string KeyRotation::make_kid(TimePoint at, const Jwk& key) {
  return std::to_string(duration_cast<seconds>(at.time_since_epoch()).count()) + "-" +
         key.kid.substr(0, 16);
}

std::optional<TimePoint> KeyRotation::kid_activation(std::string_view kid) {
  const auto dash = kid.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 12) return std::nullopt;
  std::int64_t unix_seconds = 0;
  auto [end, ec] = std::from_chars(kid.data(), kid.data() + dash, unix_seconds);
  if (ec != std::errc() || end != kid.data() + dash || unix_seconds < 0) return std::nullopt;
  return TimePoint(seconds(unix_seconds));
}

Result<void> KeyRotation::adopt(std::string_view jwks, std::string_view signing_key, TimePoint now) {
  auto doc = parse_jwks(jwks);
  if (!doc) return doc.error();
  nlohmann::json priv = nlohmann::json::parse(signing_key, nullptr, false);
  if (priv.is_discarded()) return make_error("the previous signing key is not a JWK");
  auto signer = parse_jwk(priv);
  if (!signer || !signer->can_sign()) return make_error("the previous signing key does not parse");
  auto signer_at = kid_activation(signer->kid);
  if (!signer_at) return make_error("the previous signing key's kid is not one this agent made");
  const bool listed = std::any_of(doc->keys.begin(), doc->keys.end(),
                                  [&](const Jwk& k) { return k.kid == signer->kid; });
  if (!listed) return make_error("the previous signing key is not in the previous JWKS");

  std::vector<Key> ours, foreign;
  for (auto& k : doc->keys) {
    if (k.kid == signer->kid) continue;
    auto at = kid_activation(k.kid);
    // A kid without a schedule: treat it as retired now (a full retention).
    if (!at) {
      foreign.push_back({std::move(k), TimePoint{}, now});
      continue;
    }
    // A prepared successor's private half died with the old process: drop it.
    if (*at > *signer_at) continue;
    ours.push_back({std::move(k), *at, std::nullopt});
  }
  ours.push_back({std::move(*signer), *signer_at, std::nullopt});
  std::stable_sort(ours.begin(), ours.end(),
                   [](const Key& a, const Key& b) { return a.activates_at < b.activates_at; });
  for (std::size_t i = 0; i + 1 < ours.size(); ++i) ours[i].retires_at = ours[i + 1].activates_at;
  std::vector<Key> keys = std::move(foreign);
  for (auto& k : ours) keys.push_back(std::move(k));
  keys_ = std::move(keys);
  published_kid_ = keys_.back().key.kid;
  published_jwks_ = public_jwks();
  return {};
}

Result<void> KeyRotation::adopt_public(std::string_view jwks, TimePoint now) {
  auto doc = parse_jwks(jwks);
  if (!doc) return doc.error();
  std::vector<Key> keys;
  for (auto& k : doc->keys) {
    const TimePoint at = kid_activation(k.kid).value_or(TimePoint{});
    if (at > now) continue;  // prepared, never signed
    keys.push_back({std::move(k), at, now});
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [](const Key& a, const Key& b) { return a.activates_at < b.activates_at; });
  // Each of ours that had a successor retired when that one activated.
  // (A kid without a schedule keeps a full retention from now.)
  for (std::size_t i = 0; i + 1 < keys.size(); ++i)
    if (keys[i].activates_at != TimePoint{} && keys[i + 1].activates_at > keys[i].activates_at)
      keys[i].retires_at = keys[i + 1].activates_at;
  keys_ = std::move(keys);
  published_kid_.clear();
  published_jwks_.clear();
  return {};
}

const KeyRotation::Key* KeyRotation::active(TimePoint now) const {
  const Key* found = nullptr;
  for (const auto& k : keys_)
    if (k.activates_at <= now) found = &k;
  return found;
}

Result<void> KeyRotation::prepare(TimePoint activates_at) {
  auto key = factory_(config_.algorithm);
  if (!key) return key.error();
  keys_.push_back({with_kid(*key, make_kid(activates_at, *key)), activates_at, std::nullopt});
  return {};
}

Result<KeyRotation::Step> KeyRotation::advance(TimePoint now) {
  if (keys_.empty() || keys_.back().retires_at) {
    // The first key signs at once: nothing signed by this keyset exists yet
    // (or only verify-only keys adopted from a previous run do).
    if (auto r = prepare(now); !r) return r.error();
  }
  const Key* current = active(now);
  // Only prepared keys (an adopted set always has an active one): activate the first now.
  if (current == nullptr) {
    keys_.front().activates_at = now;
    current = &keys_.front();
  }

  // Retired keys past their retention leave the JWKS.
  std::erase_if(keys_, [&](const Key& k) { return k.retires_at && *k.retires_at + config_.retain <= now; });
  current = active(now);

  // Prepare the successor `publish_ahead` before it is due. An agent that was
  // down past that point still publishes it a full `publish_ahead` ahead.
  const bool has_successor = keys_.back().activates_at > current->activates_at;
  const TimePoint due = current->activates_at + config_.rotate_every;
  if (!has_successor && now >= due - config_.publish_ahead) {
    const TimePoint at = std::max(due, now + config_.publish_ahead);
    const std::size_t index = static_cast<std::size_t>(current - keys_.data());
    if (auto r = prepare(at); !r) return r.error();
    keys_[index].retires_at = at;
    current = active(now);
  }

  Step step;
  const std::string jwks = public_jwks();
  step.changed = current->key.kid != published_kid_ || jwks != published_jwks_;
  published_kid_ = current->key.kid;
  published_jwks_ = jwks;

  TimePoint next = TimePoint::max();
  const Key& last = keys_.back();
  if (last.activates_at > now) next = std::min(next, last.activates_at);
  else next = std::min(next, last.activates_at + config_.rotate_every - config_.publish_ahead);
  for (const auto& k : keys_)
    if (k.retires_at) next = std::min(next, *k.retires_at + config_.retain);
  step.next = std::max(next, now);
  return step;
}

std::string KeyRotation::public_jwks() const {
  std::vector<nlohmann::json> keys;
  for (const auto& k : keys_) keys.push_back(k.key.public_jwk);
  return jwks_json(keys);
}

std::string_view KeyRotation::signing_key() const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it)
    if (it->key.kid == published_kid_) return it->key.private_jwk.reveal();
  return {};
}

std::string KeyRotation::active_kid() const { return published_kid_; }

}  // namespace tw
