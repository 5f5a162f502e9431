// key_files.cpp -- see key_files.hpp.
#include "tokenwell/agent/keysets/key_files.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/file_reader.hpp"
#include "tokenwell/agent/keysets/jwk.hpp"

namespace tw {
namespace {

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

Result<Jwk> read_key_file(const std::filesystem::path& file) {
  auto text = read_file(file, {.max_bytes = kMaxKeyFileBytes});
  if (!text) return text.error();
  const std::string_view t = text->reveal();
  const auto start = t.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return make_error("empty");
  if (t.substr(start).starts_with("-----BEGIN")) return jwk_from_pem(t);
  if (t[start] == '{') {
    nlohmann::json j = nlohmann::json::parse(t, nullptr, false);
    if (j.is_discarded()) return make_error("not valid JSON");
    auto key = parse_jwk(j);
    for (auto& [k, v] : j.items())
      if (v.is_string()) explicit_bzero(v.get_ref<std::string&>().data(), v.get_ref<std::string&>().size());
    return key;
  }
  return make_error("neither a PEM key nor a JWK object");
}

}  // namespace

Result<KeyFileSet> load_key_files(const std::filesystem::path& directory) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".")) continue;  // ..data, ..2026_11_01..., editor files
    // Anything else is read: a FIFO, a directory or a device is reported as
    // skipped by read_file (never waited on), not silently left out.
    files.push_back(it->path());
  }
  if (ec) return make_error("directory not readable (" + directory.string() + ": " + ec.message() + ")");
  std::sort(files.begin(), files.end());

  KeyFileSet out;
  std::vector<nlohmann::json> public_keys;
  for (const auto& file : files) {
    auto key = read_key_file(file);
    const std::string name = file.filename().string();
    if (!key) {
      out.skipped.push_back(name + ": " + key.error().message);
      continue;
    }
    const bool duplicate = std::any_of(public_keys.begin(), public_keys.end(),
                                       [&](const nlohmann::json& k) { return k["kid"] == key->kid; });
    if (duplicate) {
      out.skipped.push_back(name + ": kid '" + key->kid + "' used by another file");
      continue;
    }
    public_keys.push_back(key->public_jwk);
    if (key->can_sign()) {
      out.signing_key = key->private_jwk;
      out.signing_kid = key->kid;
    }
  }
  if (public_keys.empty())
    return make_error(directory.string() + ": no valid key file" +
                      (out.skipped.empty() ? "" : " (" + out.skipped.front() + ")"));
  out.keys = public_keys.size();
  out.jwks = jwks_json(public_keys);
  return out;
}

}  // namespace tw
