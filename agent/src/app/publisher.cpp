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

bool Publisher::publish_credential(const std::string& name, const FetchedCredential& value) {
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
  log::info("published",
            {{"credential", name},
             {"generation", *gen},
             {"expires_at", value.expires_at},
             {"expires_in_s", value.expires_at ? value.expires_at - clock_.unix_seconds() : 0}});
  notify();
  return true;
}

bool Publisher::publish_keyset(const std::string& name, const KeysetValue& value) {
  SlotValue v;
  v.kind = SlotKind::keyset;
  v.secret = value.signing_key.reveal();
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
                          {"signs", !value.signing_key.empty()}});
  notify();
  return true;
}

void Publisher::remove(const std::string& name, EntryKind kind) {
  if (auto r = writer_.remove(name); !r)
    log::error("cannot remove", {{kind_field(kind), name}, {"error", r.error().message}});
}

std::optional<KeysetValue> Publisher::previous_keyset(const std::string& name) const {
  auto stored = writer_.keyset(name);
  if (!stored) return std::nullopt;
  return KeysetValue{std::move(stored->jwks), std::move(stored->signing_key), 0};
}

}  // namespace tw
