// sidecar_spec.hpp -- what the injector splices into a pod: the chart's named
// templates (tokenwell.agentContainer in both modes, tokenwell.volumes,
// tokenwell.appVolumeMounts, tokenwell.appEnv) rendered as JSON into the
// injector's ConfigMap (templates/injector-configmap.yaml). The injector never
// spells a container field itself, so the chart stays the one definition of
// the sidecar.
//
//   auto spec = load_sidecar_spec("/etc/tokenwell-injector/sidecar.json");
//   if (!spec) return fail(spec.error().message);   // names the JSON path
//   spec->container_name();                           // "tokenwell"
//
// The file:
//   {"default_mode": "native",                 native | classic (the chart: from the cluster version)
//    "native_container": {...},                the agent as an init container, restartPolicy: Always
//    "classic_container": {...},               the agent as a regular container (postStart wait)
//    "volumes": [...],                         the shared emptyDir, the config volume, extra volumes
//    "config_volume": "tokenwell-config",      the volume whose configMap.name a pod's annotation sets
//    "app_volume_mounts": [...],               what each chosen app container mounts
//    "app_env": [...],                         and the environment it gets (TOKENWELL_DIR)
//    "fs_group": 2000}                         set on pods without an fsGroup; null: never
//
// A plain value; thread-compatible.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/result.hpp"

namespace tw::injector {

enum class SidecarMode { native, classic };

std::string_view to_string(SidecarMode mode);
std::optional<SidecarMode> parse_sidecar_mode(std::string_view text);

class SidecarSpec {
 public:
  // Checks the shape the injector relies on; an error names the JSON path
  // ("app_volume_mounts[0].name: not one of volumes").
  static Result<SidecarSpec> parse(const nlohmann::json& j);

  SidecarMode default_mode() const { return default_mode_; }
  const nlohmann::json& container(SidecarMode mode) const {
    return mode == SidecarMode::native ? native_container_ : classic_container_;
  }
  // The agent container's name, the same in both modes.
  const std::string& container_name() const { return container_name_; }
  const nlohmann::json& volumes() const { return volumes_; }
  const std::string& config_volume() const { return config_volume_; }
  // The shared in-memory volume: the one the app mounts.
  const std::string& runtime_volume() const { return runtime_volume_; }
  const nlohmann::json& app_volume_mounts() const { return app_volume_mounts_; }
  const nlohmann::json& app_env() const { return app_env_; }
  std::optional<std::int64_t> fs_group() const { return fs_group_; }

 private:
  SidecarMode default_mode_ = SidecarMode::native;
  nlohmann::json native_container_;
  nlohmann::json classic_container_;
  std::string container_name_;
  nlohmann::json volumes_;
  std::string config_volume_;
  std::string runtime_volume_;
  nlohmann::json app_volume_mounts_;
  nlohmann::json app_env_;
  std::optional<std::int64_t> fs_group_;
};

// Reads and parses the file (at most 1 MiB); errors name the file.
Result<SidecarSpec> load_sidecar_spec(const std::filesystem::path& path);

}  // namespace tw::injector
