// value_origins.cpp -- see value_origins.hpp.
#include "value_origins.hpp"

#include <stdio.h>
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/file_reader.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/common/temporary_file.hpp"

namespace tw {
namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

// FNV-1a 64: a config's identity, not a secret's protection (the
// fingerprint holds paths and ids, never a secret).
std::string config_hash(std::string_view fingerprint) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : fingerprint) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace

ValueOrigins::ValueOrigins(std::filesystem::path file) : file_(std::move(file)) {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return;
  auto text = read_file(file_, {.max_bytes = kMaxFileBytes});
  if (!text) {
    log::warn("cannot read the values' origins; fetching every credential at start",
              {{"error", text.error().message}});
    return;
  }
  const auto doc = nlohmann::json::parse(text->reveal(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("credentials") || !doc["credentials"].is_object()) return;
  for (const auto& [name, o] : doc["credentials"].items())
    if (o.is_object() && o.contains("config") && o["config"].is_string()) origins_[name] = o["config"].get<std::string>();
}

void ValueOrigins::record(const std::string& name, std::string_view fingerprint) {
  std::string config = config_hash(fingerprint);
  auto it = origins_.find(name);
  if (it != origins_.end() && it->second == config) return;
  origins_[name] = std::move(config);
  save();
}

void ValueOrigins::forget(const std::string& name) {
  if (origins_.erase(name) > 0) save();
}

bool ValueOrigins::published_by(const std::string& name, std::string_view fingerprint) const {
  auto it = origins_.find(name);
  return it != origins_.end() && it->second == config_hash(fingerprint);
}

void ValueOrigins::save() const {
  nlohmann::json credentials = nlohmann::json::object();
  for (const auto& [name, config] : origins_) credentials[name] = {{"config", config}};
  const std::string text = nlohmann::json{{"credentials", credentials}}.dump() + "\n";
  // Written whole and renamed over: a reader never sees half a file; the
  // temporary name is one nobody could plant a link under (the runtime
  // directory may be writable by others).
  auto tmp = create_temporary_file(file_.parent_path(), file_.filename().string() + ".tmp.");
  bool ok = static_cast<bool>(tmp);
  if (ok) {
    ok = ::write(tmp->fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = ::close(tmp->fd) == 0 && ok;
    if (ok) ok = ::rename(tmp->path.c_str(), file_.c_str()) == 0;
    if (!ok) ::unlink(tmp->path.c_str());
  }
  if (!ok) {
    log::warn("cannot record the values' origins; a restart fetches every credential again",
              {{"path", file_.string()}});
  }
}

}  // namespace tw
