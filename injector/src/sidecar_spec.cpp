// sidecar_spec.cpp -- see sidecar_spec.hpp. Only the fields the injector
// reads or must not contradict are checked; the containers and volumes are
// otherwise the chart's business (the API server validates the pod).
#include "tokenwell/injector/sidecar_spec.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "tokenwell/agent/common/json_object.hpp"

namespace tw::injector {
namespace {

using nlohmann::json;

constexpr std::uintmax_t kMaxSpecBytes = 1024 * 1024;

Error at(const std::string& path, std::string_view what) {
  return make_error(path + ": " + std::string(what));
}

// An array of objects, each with a non-empty string `name`, the names unique.
Result<std::set<std::string>> named_list(const json& j, const std::string& path) {
  if (!j.is_array()) return at(path, std::string("expected an array, got ") + j.type_name());
  std::set<std::string> names;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    if (!j[i].is_object()) return at(item, std::string("expected an object, got ") + j[i].type_name());
    const auto name = j[i].find("name");
    if (name == j[i].end() || !name->is_string() || name->get_ref<const std::string&>().empty())
      return at(item + ".name", "required: a non-empty string");
    if (!names.insert(name->get<std::string>()).second)
      return at(item + ".name", "'" + name->get<std::string>() + "' appears twice");
  }
  return names;
}

Result<std::string> check_container(const json& j, const std::string& path, bool native) {
  if (!j.is_object()) return at(path, std::string("expected an object, got ") + j.type_name());
  const auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    return at(path + ".name", "required: a non-empty string");
  const auto restart = j.find("restartPolicy");
  const bool always = restart != j.end() && *restart == "Always";
  if (native && !always)
    return at(path + ".restartPolicy", "a native sidecar is an init container with restartPolicy: Always");
  if (!native && restart != j.end())
    return at(path + ".restartPolicy", "a classic sidecar is a regular container without restartPolicy");
  if (const auto mounts = j.find("volumeMounts"); mounts != j.end()) {
    if (auto names = named_list(*mounts, path + ".volumeMounts"); !names) return names.error();
  }
  if (const auto env = j.find("env"); env != j.end()) {
    if (auto names = named_list(*env, path + ".env"); !names) return names.error();
  }
  return name->get<std::string>();
}

}  // namespace

std::string_view to_string(SidecarMode mode) {
  return mode == SidecarMode::native ? "native" : "classic";
}

std::optional<SidecarMode> parse_sidecar_mode(std::string_view text) {
  if (text == "native") return SidecarMode::native;
  if (text == "classic") return SidecarMode::classic;
  return std::nullopt;
}

Result<SidecarSpec> SidecarSpec::parse(const json& j) {
  if (!j.is_object()) return make_error(std::string("expected a JSON object, got ") + j.type_name());
  JsonObject o(j, "");
  if (auto only = o.only({"default_mode", "native_container", "classic_container", "volumes",
                          "config_volume", "app_volume_mounts", "app_env", "fs_group"});
      !only)
    return only.error();
  for (const char* key : {"default_mode", "native_container", "classic_container", "volumes",
                          "config_volume", "app_volume_mounts", "app_env"})
    if (!o.has(key)) return o.error(key, "required");

  SidecarSpec spec;
  TW_TRY(mode_text, o.string("default_mode"));
  const auto mode = parse_sidecar_mode(*mode_text);
  if (!mode) return o.error("default_mode", "expected native or classic, got '" + *mode_text + "'");
  spec.default_mode_ = *mode;

  TW_TRY(native_name, check_container(j["native_container"], "native_container", true));
  TW_TRY(classic_name, check_container(j["classic_container"], "classic_container", false));
  if (native_name != classic_name)
    return o.error("classic_container", "named '" + classic_name + "', the native one '" +
                                            native_name + "': one sidecar, one name");
  spec.container_name_ = native_name;
  spec.native_container_ = j["native_container"];
  spec.classic_container_ = j["classic_container"];

  TW_TRY(volume_names, named_list(j["volumes"], "volumes"));
  spec.volumes_ = j["volumes"];
  TW_TRY(config_volume, o.string("config_volume"));
  spec.config_volume_ = *config_volume;
  const auto config_it = std::find_if(spec.volumes_.begin(), spec.volumes_.end(),
                                      [&](const json& v) { return v["name"] == spec.config_volume_; });
  if (config_it == spec.volumes_.end()) return o.error("config_volume", "not one of volumes");
  if (!config_it->contains("configMap") || !(*config_it)["configMap"].is_object())
    return o.error("config_volume", "'" + spec.config_volume_ + "' is not a configMap volume");

  TW_TRY(mount_names, named_list(j["app_volume_mounts"], "app_volume_mounts"));
  if (mount_names.empty()) return o.error("app_volume_mounts", "must mount the shared volume");
  for (std::size_t i = 0; i < j["app_volume_mounts"].size(); ++i) {
    const json& m = j["app_volume_mounts"][i];
    const std::string path = "app_volume_mounts[" + std::to_string(i) + "]";
    if (!volume_names.contains(m["name"].get<std::string>()))
      return at(path + ".name", "not one of volumes");
    if (!m.contains("mountPath") || !m["mountPath"].is_string() ||
        m["mountPath"].get_ref<const std::string&>().empty())
      return at(path + ".mountPath", "required: a non-empty string");
  }
  spec.app_volume_mounts_ = j["app_volume_mounts"];
  spec.runtime_volume_ = spec.app_volume_mounts_[0]["name"].get<std::string>();
  const auto runtime = std::find_if(spec.volumes_.begin(), spec.volumes_.end(),
                                    [&](const json& v) { return v["name"] == spec.runtime_volume_; });
  if (!runtime->contains("emptyDir"))
    return at("app_volume_mounts[0].name", "'" + spec.runtime_volume_ + "' is not an emptyDir volume");

  TW_TRY(env_names, named_list(j["app_env"], "app_env"));
  spec.app_env_ = j["app_env"];

  if (const json* g = o.find("fs_group"); g && !g->is_null()) {
    if (!g->is_number_integer() || g->get<std::int64_t>() < 0 || g->get<std::int64_t>() > 2147483647)
      return o.error("fs_group", "expected a group id from 0 to 2147483647, or null");
    spec.fs_group_ = g->get<std::int64_t>();
  }
  return spec;
}

Result<SidecarSpec> load_sidecar_spec(const std::filesystem::path& path) {
  const auto fail = [&](std::string_view what) {
    return make_error(path.string() + ": " + std::string(what));
  };
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return fail("not readable: " + ec.message());
  if (size > kMaxSpecBytes) return fail("larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("not readable");
  std::ostringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) return fail("not valid JSON");
  auto spec = SidecarSpec::parse(j);
  if (!spec) return fail(spec.error().message);
  return spec;
}

}  // namespace tw::injector
