// config.cpp -- see config.hpp.
#include "tokenwell/agent/config/config.hpp"

#include <unistd.h>

#include <functional>
#include <set>

#include "tokenwell/agent/common/credential_text.hpp"
#include "tokenwell/agent/common/entry_name.hpp"
#include "tokenwell/agent/common/file_reader.hpp"
#include "tokenwell/agent/config/access.hpp"
#include "tokenwell/agent/config/config_schema.hpp"
#include "tokenwell/agent/common/json_object.hpp"
#include "tokenwell/agent/common/listen_address.hpp"

namespace tw {
namespace {

using nlohmann::json;

constexpr std::string_view kDefaultRuntimeDir = "/run/tokenwell";
// A config names its entries and files; a megabyte is far beyond any real
// one and bounds what a reload may read.
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
constexpr std::size_t kMaxConfigDepth = 16;  // a real config nests 5 deep

bool allowed_value(const config_schema::Property& p, std::string_view value) {
  return std::find(p.values.begin(), p.values.end(), value) != p.values.end();
}

// "a, b or c".
std::string one_of(const config_schema::Property& p) {
  std::string out;
  for (std::size_t i = 0; i < p.values.size(); ++i)
    out += (i == 0 ? "" : i + 1 == p.values.size() ? " or " : ", ") + std::string(p.values[i]);
  return out;
}

// One parser per `source` value: the whole credential object and its path.
using SourceParser = std::function<Result<SourceSettings>(const json&, const std::string&)>;

Result<SourceSettings> parse_file_source(const json& j, const std::string& path) {
  JsonObject o(j, path);
  if (auto only = o.only(config_schema::credential().keys("file")); !only)
    return only.error();
  TW_TRY(file, o.string("path"));
  if (!file) return o.error("path", "required: the file holding the secret");
  FileSourceConfig c;
  c.path = *file;
  if (!c.path.is_absolute()) return o.error("path", "must be an absolute path");
  if (const json* u = o.find("username")) {
    if (u->is_string()) {
      c.username = u->get<std::string>();
    } else if (u->is_object()) {
      JsonObject uo(*u, o.at("username"));
      if (auto only = uo.only({"value"}); !only) return only.error();
      TW_TRY(value, uo.string("value"));
      if (!value) return uo.error("value", "required for a file source's username");
      c.username = *value;
    } else {
      return o.error("username", std::string("expected a string or {\"value\": ...}, got ") +
                                     u->type_name());
    }
    if (auto r = check_username(c.username); !r) return o.error("username", r.error().message);
  }
  return SourceSettings{std::move(c)};
}

// The registry of sources: adding one is one entry here and one in
// make_source(). Built per use so each parser sees the caller's environment.
std::vector<std::pair<std::string, SourceParser>> source_parsers(const Environment& env) {
  return {
      {"entra",
       [&env](const json& j, const std::string& p) -> Result<SourceSettings> {
         auto c = parse_entra_config(j, p, env);
         if (!c) return c.error();
         return SourceSettings{std::move(*c)};
       }},
      {"oauth2",
       [](const json& j, const std::string& p) -> Result<SourceSettings> {
         auto c = parse_oauth2_config(j, p);
         if (!c) return c.error();
         return SourceSettings{std::move(*c)};
       }},
      {"file", parse_file_source},
  };
}

Result<RefreshSettings> parse_refresh(const JsonObject& parent) {
  RefreshSettings r;
  TW_TRY(block, parent.object("refresh"));
  if (!block) return r;
  const JsonObject& o = *block;
  const config_schema::ObjectSchema& schema = config_schema::refresh();
  if (auto only = o.only(schema.keys()); !only) return only.error();
  const auto& ratio_range = schema.property("ratio");
  const auto& jitter_range = schema.property("jitter");
  TW_TRY(ratio, o.number("ratio", ratio_range.minimum, ratio_range.maximum));
  TW_TRY(jitter, o.number("jitter", jitter_range.minimum, jitter_range.maximum));
  TW_TRY(min_remaining, o.duration("min_remaining"));
  TW_TRY(retry_min, o.duration("retry_min"));
  TW_TRY(retry_max, o.duration("retry_max"));
  TW_TRY(retry_max_expired, o.duration("retry_max_expired"));
  TW_TRY(retry_after_max, o.duration("retry_after_max"));
  TW_TRY(timeout, o.duration("timeout"));
  if (ratio) r.ratio = *ratio;
  if (jitter) r.jitter = *jitter;
  if (min_remaining) r.min_remaining = *min_remaining;
  if (retry_min) r.retry_min = *retry_min;
  if (retry_max) r.retry_max = *retry_max;
  // Unset, it follows a retry_max set below its default.
  r.retry_max_expired = retry_max_expired ? *retry_max_expired : std::min(r.retry_max_expired, r.retry_max);
  if (retry_after_max) r.retry_after_max = *retry_after_max;
  if (timeout) r.timeout = *timeout;
  if (r.retry_min < std::chrono::milliseconds(10))
    return o.error("retry_min", "must be at least 10ms");
  if (r.retry_max < r.retry_min)
    return o.error("retry_max", "must not be shorter than retry_min");
  if (r.retry_max_expired < std::chrono::milliseconds(10))
    return o.error("retry_max_expired", "must be at least 10ms");
  if (r.retry_max_expired > r.retry_max)
    return o.error("retry_max_expired", "must not be longer than retry_max");
  if (r.retry_after_max < std::chrono::seconds(1))
    return o.error("retry_after_max", "must be at least 1s");
  if (r.timeout < std::chrono::milliseconds(100) || r.timeout > std::chrono::minutes(5))
    return o.error("timeout", "must be between 100ms and 5m");
  return r;
}

Result<std::string> entry_name(const JsonObject& o) {
  TW_TRY(name, o.string("name"));
  if (!name) return o.error("name", "required");
  if (!valid_entry_name(*name))
    return o.error("name", quote(*name) + " must be 1 to 64 characters of [A-Za-z0-9._-]");
  return *name;
}

Result<CredentialConfig> parse_credential(const json& j, const std::string& path,
                                          const Environment& env) {
  if (!j.is_object()) return make_error(path + ": expected an object, got " + j.type_name());
  JsonObject o(j, path);
  TW_TRY(name, entry_name(o));
  TW_TRY(source, o.string("source"));
  const auto parsers = source_parsers(env);
  std::string names;
  for (const auto& [n, p] : parsers) names += (names.empty() ? "" : ", ") + n;
  if (!source) return o.error("source", "required (one of " + names + ")");
  auto it = std::find_if(parsers.begin(), parsers.end(),
                         [&](const auto& entry) { return entry.first == *source; });
  if (it == parsers.end())
    return o.error("source", "unknown source " + quote(*source) + " (expected one of " + names + ")");
  TW_TRY(refresh, parse_refresh(o));
  TW_TRY(settings, it->second(j, path));
  return CredentialConfig{name, *source, refresh, std::move(settings), j.dump()};
}

std::string human(std::chrono::milliseconds d) {
  using namespace std::chrono;
  if (d.count() % 3'600'000 == 0) return std::to_string(d.count() / 3'600'000) + "h";
  if (d.count() % 60'000 == 0) return std::to_string(d.count() / 60'000) + "m";
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

Result<std::string> https_url(const JsonObject& o, std::string_view key) {
  TW_TRY(url, o.string(key));
  if (!url) return std::string();
  if (!url->starts_with("https://") || url->size() <= 8)
    return o.error(key, "must be an https:// URL");
  return *url;
}

Result<KeysetSettings> parse_jwks_keyset(const JsonObject& o) {
  if (auto only = o.only(config_schema::keyset().keys("jwks")); !only)
    return only.error();
  JwksKeysetConfig c;
  TW_TRY(issuer, https_url(o, "issuer"));
  TW_TRY(jwks_uri, https_url(o, "jwks_uri"));
  if (issuer.empty() == jwks_uri.empty())
    return o.error("issuer", "exactly one of issuer (OIDC discovery) or jwks_uri is required");
  c.issuer = issuer;
  c.jwks_uri = jwks_uri;
  TW_TRY(ca_file, o.string("ca_file"));
  if (ca_file) {
    c.ca_file = *ca_file;
    if (!c.ca_file.is_absolute()) return o.error("ca_file", "must be an absolute path");
  }
  TW_TRY(timeout, o.duration("timeout"));
  if (timeout) c.timeout = *timeout;
  if (c.timeout < std::chrono::milliseconds(100) || c.timeout > std::chrono::minutes(5))
    return o.error("timeout", "must be between 100ms and 5m");
  TW_TRY(block, o.object("refresh"));
  if (block) {
    const JsonObject& r = *block;
    if (auto only = r.only(config_schema::jwks_refresh().keys()); !only)
      return only.error();
    TW_TRY(min, r.duration("min"));
    TW_TRY(max, r.duration("max"));
    TW_TRY(def, r.duration("default"));
    TW_TRY(cooldown, r.duration("cooldown"));
    TW_TRY(retry_min, r.duration("retry_min"));
    TW_TRY(retry_max, r.duration("retry_max"));
    if (min) c.refresh_min = *min;
    if (max) c.refresh_max = *max;
    if (def) c.refresh_default = *def;
    if (cooldown) c.cooldown = *cooldown;
    if (retry_min) c.retry_min = *retry_min;
    if (retry_max) c.retry_max = *retry_max;
    if (c.refresh_min < std::chrono::seconds(1)) return r.error("min", "must be at least 1s");
    if (c.refresh_max < c.refresh_min) return r.error("max", "must not be shorter than min");
    if (c.refresh_default < c.refresh_min || c.refresh_default > c.refresh_max)
      return r.error("default", "must lie between min and max");
    if (c.cooldown < std::chrono::seconds(1)) return r.error("cooldown", "must be at least 1s");
    if (c.retry_min < std::chrono::milliseconds(10)) return r.error("retry_min", "must be at least 10ms");
    if (c.retry_max < c.retry_min) return r.error("retry_max", "must not be shorter than retry_min");
  }
  return KeysetSettings{std::move(c)};
}

Result<KeysetSettings> parse_key_files_keyset(const JsonObject& o) {
  if (auto only = o.only(config_schema::keyset().keys("key_files")); !only) return only.error();
  TW_TRY(directory, o.string("directory"));
  if (!directory) return o.error("directory", "required: the directory holding the key files");
  KeyFilesKeysetConfig c;
  c.directory = *directory;
  if (!c.directory.is_absolute()) return o.error("directory", "must be an absolute path");
  return KeysetSettings{std::move(c)};
}

Result<KeysetSettings> parse_generated_keyset(const JsonObject& o) {
  if (auto only = o.only(config_schema::keyset().keys("generated")); !only) return only.error();
  GeneratedKeysetConfig c;
  TW_TRY(algorithm, o.string("algorithm"));
  if (algorithm) {
    static const std::map<std::string, KeyAlgorithm> names = {
        {"ES256", KeyAlgorithm::ES256}, {"RS256", KeyAlgorithm::RS256}, {"PS256", KeyAlgorithm::PS256},
        {"EdDSA", KeyAlgorithm::EdDSA}, {"Ed25519", KeyAlgorithm::EdDSA}};
    const config_schema::Property& allowed = config_schema::keyset().property("algorithm", "generated");
    auto it = names.find(*algorithm);
    if (*algorithm == "HS256")
      return o.error("algorithm", "HS256 keys are symmetric and cannot be published in a public JWKS "
                                  "(expected " + one_of(allowed) + ")");
    if (it == names.end() || !allowed_value(allowed, *algorithm))
      return o.error("algorithm", "unknown algorithm " + quote(*algorithm) + " (expected " + one_of(allowed) + ")");
    c.algorithm = it->second;
  }
  TW_TRY(rotate_every, o.duration("rotate_every"));
  TW_TRY(publish_ahead, o.duration("publish_ahead"));
  TW_TRY(retain, o.duration("retain"));
  TW_TRY(max_token_lifetime, o.duration("max_token_lifetime"));
  TW_TRY(leeway, o.duration("leeway"));
  if (rotate_every) c.rotate_every = *rotate_every;
  if (publish_ahead) c.publish_ahead = *publish_ahead;
  if (retain) c.retain = *retain;
  if (max_token_lifetime) c.max_token_lifetime = *max_token_lifetime;
  if (leeway) c.leeway = *leeway;
  if (c.rotate_every < std::chrono::seconds(10)) return o.error("rotate_every", "must be at least 10s");
  if (c.publish_ahead <= std::chrono::milliseconds(0))
    return o.error("publish_ahead", "must be positive: verifiers need the key before it signs");
  if (c.rotate_every <= c.publish_ahead) return o.error("rotate_every", "must be longer than publish_ahead");
  if (c.max_token_lifetime <= std::chrono::milliseconds(0))
    return o.error("max_token_lifetime", "must be positive");
  if (c.retain < c.max_token_lifetime + c.leeway)
    return o.error("retain", "must be at least max_token_lifetime + leeway (" +
                                 human(c.max_token_lifetime + c.leeway) +
                                 ") so a token signed just before a rotation verifies until it expires");
  return KeysetSettings{std::move(c)};
}

Result<KeysetConfig> parse_keyset(const json& j, const std::string& path) {
  if (!j.is_object()) return make_error(path + ": expected an object, got " + j.type_name());
  JsonObject o(j, path);
  TW_TRY(name, entry_name(o));
  TW_TRY(source, o.string("source"));
  if (!source) return o.error("source", "required (one of jwks, key_files, generated)");
  Result<KeysetSettings> settings = make_error("");
  if (*source == "jwks") settings = parse_jwks_keyset(o);
  else if (*source == "key_files") settings = parse_key_files_keyset(o);
  else if (*source == "generated") settings = parse_generated_keyset(o);
  else return o.error("source", "unknown source " + quote(*source) + " (expected one of jwks, key_files, generated)");
  if (!settings) return settings.error();
  // Only key_files and generated list the key: a jwks keyset refused it above.
  TW_TRY(private_in_segment, o.boolean("private_in_segment"));
  return KeysetConfig{name, *source, std::move(*settings), j.dump(), private_in_segment.value_or(false)};
}

template <typename Id>
Result<std::vector<Id>> parse_ids(const JsonObject& o, std::string_view key) {
  std::vector<Id> ids;
  const json* v = o.find(key);
  if (!v) return ids;
  if (!v->is_array()) return o.error(key, std::string("expected an array, got ") + v->type_name());
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& id = (*v)[i];
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > 0x7fffffff)
      return make_error(o.at(key) + "[" + std::to_string(i) + "]: expected a non-negative integer id");
    ids.push_back(static_cast<Id>(id.get<std::int64_t>()));
  }
  return ids;
}

Result<void> parse_top_level(const JsonObject& o, const Environment& env, AgentConfig& c) {
  if (auto only = o.only(config_schema::config().keys()); !only)
    return only.error();
  TW_TRY(runtime_dir, o.string("runtime_dir"));
  if (runtime_dir) {
    c.runtime_dir = *runtime_dir;
  } else if (auto from_env = env("TOKENWELL_DIR"); from_env && !from_env->empty()) {
    c.runtime_dir = *from_env;
  } else {
    c.runtime_dir = std::string(kDefaultRuntimeDir);
  }
  if (!c.runtime_dir.is_absolute()) return o.error("runtime_dir", "must be an absolute path");
  TW_TRY(read_only_for_others, o.boolean("runtime_dir_read_only_for_others"));
  if (read_only_for_others) c.runtime_dir_read_only_for_others = *read_only_for_others;
  if (const json* l = o.find("listen")) {
    if (!l->is_string()) return o.error("listen", std::string("expected \"host:port\", got ") + l->type_name());
    c.listen = l->get<std::string>();
    // The listener parses it the same way: what passes here binds.
    if (auto a = parse_listen_address(c.listen); !c.listen.empty() && !a) return o.error("listen", a.error().message);
  }
  TW_TRY(log, o.object("log"));
  if (log) {
    const config_schema::ObjectSchema& schema = config_schema::log();
    if (auto only = log->only(schema.keys()); !only) return only.error();
    TW_TRY(level, log->string("level"));
    TW_TRY(format, log->string("format"));
    if (level && !allowed_value(schema.property("level"), *level))
      return log->error("level", "unknown level " + quote(*level) + " (expected " + one_of(schema.property("level")) + ")");
    if (format && !allowed_value(schema.property("format"), *format))
      return log->error("format", "unknown format " + quote(*format) + " (expected " + one_of(schema.property("format")) + ")");
    if (level) c.log.level = *level;
    if (format) c.log.format = *format;
  }
  TW_TRY(allow, o.object("allow"));
  const ProcessIdentity self = ProcessIdentity::current();
  c.allow.uids = {self.uid};
  c.allow.gids = {self.gid};
  if (allow) {
    if (auto only = allow->only(config_schema::allow().keys()); !only) return only.error();
    TW_TRY(uids, parse_ids<uid_t>(*allow, "uids"));
    TW_TRY(gids, parse_ids<gid_t>(*allow, "gids"));
    if (allow->has("uids")) c.allow.uids = uids;
    if (allow->has("gids")) c.allow.gids = gids;
  }
  // One model: refused here, so --check-config and a reload refuse it too.
  if (auto expressible = check_allow(c.allow, self); !expressible) return expressible.error();
  c.allow.uids = {self.uid};  // the owner always reads the file, so always passes the socket
  (void)env;
  return {};
}

// Runs one part of the parse so that nothing it throws (a bug, or memory
// running out) escapes: the part's path becomes the error's, and a reload
// keeps the running config as for any other error.
template <typename Parse>
auto guarded(const std::string& path, Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const std::exception& e) {
    return make_error(path + ": cannot be read (" + printable(e.what(), 120) + ")");
  }
}

}  // namespace

ConfigResult<AgentConfig> parse_config(const json& doc, const Environment& env) {
  ConfigErrors errors;
  if (!doc.is_object()) {
    errors.lines.push_back(std::string("config: expected a JSON object, got ") + doc.type_name());
    return errors;
  }
  AgentConfig c;
  JsonObject top(doc, "");
  if (auto r = guarded("config", [&] { return parse_top_level(top, env, c); }); !r)
    errors.lines.push_back(r.error().message);

  std::set<std::string> names;
  auto check_unique = [&](const std::string& name, const std::string& path) {
    if (!names.insert(name).second)
      errors.lines.push_back(path + ".name: '" + name + "' is used by another credential or keyset");
  };
  auto each = [&](const char* key, auto&& parse_one) {
    const json* list = top.find(key);
    if (!list) return;
    if (!list->is_array()) {
      errors.lines.push_back(std::string(key) + ": expected an array, got " + list->type_name());
      return;
    }
    for (std::size_t i = 0; i < list->size(); ++i)
      parse_one((*list)[i], std::string(key) + "[" + std::to_string(i) + "]");
  };
  each("credentials", [&](const json& j, const std::string& path) {
    auto cred = guarded(path, [&] { return parse_credential(j, path, env); });
    if (!cred) return errors.lines.push_back(cred.error().message);
    check_unique(cred->name, path);
    c.credentials.push_back(std::move(*cred));
  });
  each("keysets", [&](const json& j, const std::string& path) {
    auto ks = guarded(path, [&] { return parse_keyset(j, path); });
    if (!ks) return errors.lines.push_back(ks.error().message);
    check_unique(ks->name, path);
    c.keysets.push_back(std::move(*ks));
  });
  if (!errors.lines.empty()) return errors;
  return c;
}

ConfigResult<AgentConfig> parse_config_text(std::string_view text, const Environment& env) {
  auto doc = parse_json_document(text, {.max_depth = kMaxConfigDepth});
  if (!doc) return ConfigErrors{{doc.error().message}};
  return parse_config(*doc, env);
}

ConfigResult<AgentConfig> load_config(const std::filesystem::path& file, const Environment& env) {
  // Bounded and never blocking: a FIFO, a device or a directory at the
  // config's path is refused before anything is read.
  auto text = read_file(file, {.max_bytes = kMaxConfigBytes});
  if (!text) return ConfigErrors{{"config: " + text.error().message}};
  return parse_config_text(text->reveal(), env);
}

}  // namespace tw
