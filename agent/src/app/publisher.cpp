// publisher.cpp -- see publisher.hpp.
#include "publisher.hpp"

#include "tokenwell/agent/common/log.hpp"

namespace tw {
namespace {

const char* kind_field(EntryKind kind) { return kind == EntryKind::keyset ? "keyset" : "credential"; }

}  // namespace

void Publisher::announce(const std::string& name, EntryKind kind) {
  if (writer_.entry(name)) return;
  SlotValue pending;
  pending.kind = kind == EntryKind::keyset ? SlotKind::keyset : SlotKind::credential;
  pending.has_value = false;
  if (auto r = writer_.publish(name, pending); !r)
    log::error("cannot publish", {{kind_field(kind), name}, {"error", r.error().message}});
}

bool Publisher::publish_credential(const CredentialConfig& config, const FetchedCredential& value) {
  const std::string& name = config.name;
  const auto before = writer_.entry(name);
  SlotValue v;
  v.kind = SlotKind::credential;
  v.username = value.username;
  v.secret = value.token.reveal();
  v.expires_at = value.expires_at;
  auto gen = writer_.publish(name, v);
  if (!gen) {
    log::error("cannot publish", {{"credential", name}, {"error", gen.error().message}});
    return false;
  }
  origins_.record(name, config.fingerprint);
  if (before && before->generation == *gen) {
    log::info("unchanged; generation kept", {{"credential", name}, {"generation", *gen}});
    return true;
  }
  log::info("published",
            {{"credential", name},
             {"generation", *gen},
             {"expires_at", value.expires_at},
             {"expires_in_s", value.expires_at ? value.expires_at - clock_.unix_seconds() : 0}});
  notify();
  return true;
}

bool Publisher::publish_keyset(const KeysetConfig& config, const KeysetValue& value) {
  const std::string& name = config.name;
  SlotValue v;
  v.kind = SlotKind::keyset;
  // Readers of the segment get the private key only when the config says
  // they sign in-process; otherwise they sign through the socket.
  if (config.private_in_segment) v.secret = value.signing_key.reveal();
  v.public_data = value.jwks;
  v.expires_at = 0;
  auto gen = writer_.publish(name, v);
  if (!gen) {
    log::error("cannot publish", {{"keyset", name}, {"error", gen.error().message}});
    return false;
  }
  log::info("published", {{"keyset", name},
                          {"generation", *gen},
                          {"keys", static_cast<std::int64_t>(value.keys)},
                          {"signs", !value.signing_key.empty()},
                          {"private_in_segment", config.private_in_segment}});
  notify();
  return true;
}

void Publisher::remove(const std::string& name, EntryKind kind) {
  origins_.forget(name);
  if (auto r = writer_.remove(name); !r)
    log::error("cannot remove", {{kind_field(kind), name}, {"error", r.error().message}});
}

std::optional<KeysetValue> Publisher::previous_keyset(const std::string& name) const {
  auto stored = writer_.keyset(name);
  if (!stored) return std::nullopt;
  return KeysetValue{std::move(stored->jwks), std::move(stored->signing_key), 0};
}

std::optional<FetchedCredential> Publisher::previous_credential(const CredentialConfig& config) {
  if (std::holds_alternative<FileSourceConfig>(config.settings)) return std::nullopt;  // reads its file
  if (!origins_.published_by(config.name, config.fingerprint)) {
    // Forgotten before this config publishes anything: until its first
    // value is recorded, whatever the slot holds has no origin.
    origins_.forget(config.name);
    log::debug("not taking over the published value: another config (or an unknown one) published it",
               {{"credential", config.name}});
    return std::nullopt;
  }
  auto stored = writer_.credential(config.name);
  if (!stored) return std::nullopt;
  FetchedCredential value;
  value.token = std::move(stored->token);
  value.username = std::move(stored->username);
  value.issued_at = stored->updated_ms / 1000;
  value.expires_at = stored->expires_at;
  return value;
}

}  // namespace tw
