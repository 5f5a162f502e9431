// pod_injection.cpp -- see pod_injection.hpp. Three steps: read the pod (its
// shape, its opt-in and annotations), find every clash, and only then plan
// the operations. Indices in the operations are those of the pod as sent:
// changes to existing containers come first, insertions at index 0 last.
#include "tokenwell/injector/pod_injection.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <utility>
#include <variant>
#include <vector>

#include "quote.hpp"

namespace tw::injector {
namespace {

using nlohmann::json;

// Where the sidecar's volumes go: first, so that whichever of this webhook
// and the Workload Identity webhook (which appends its volume) runs first,
// the pod ends up with the same list.
constexpr std::size_t kVolumeInsertIndex = 0;

// The variables the Workload Identity webhook gives each container it
// mutates, in its order (addEnvironmentVariables in pkg/webhook/webhook.go).
constexpr std::array<std::string_view, 8> kWorkloadIdentityEnv = {
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_KUBERNETES_TOKEN_PROXY",
    "AZURE_KUBERNETES_SNI_NAME",
    "AZURE_KUBERNETES_CA_FILE",
    "AZURE_KUBERNETES_CA_DATA",
};

// A refusal short-circuits planning; carried as the error of Step<T>.
struct Refusal {
  std::string message;
};
template <typename T>
using Step = std::variant<T, Refusal>;

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::string_view> string_member(const json& object, std::string_view key) {
  const json* v = member(object, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_ref<const std::string&>());
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return std::string(s.substr(first, last - first + 1));
}

std::vector<std::string> split(std::string_view s, char separator) {
  std::vector<std::string> out;
  while (true) {
    const auto at = s.find(separator);
    if (std::string t = trim(s.substr(0, at)); !t.empty()) out.push_back(std::move(t));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// A DNS-1123 subdomain, what a ConfigMap's name must be.
bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

// The agent's rule for credential names (DESIGN.md "Config").
bool is_credential_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// A Kubernetes resource quantity in the forms people write for a container:
// "250m", "0.5", "64Mi", "1G". (No exponents, no signs.)
bool is_quantity(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  std::size_t i = 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  static constexpr std::array<std::string_view, 14> kSuffixes = {
      "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  return std::find(kSuffixes.begin(), kSuffixes.end(), s.substr(i)) != kSuffixes.end();
}

// One of the pod's container lists, checked to hold objects with names.
struct ContainerList {
  const char* field;  // "containers" or "initContainers"
  const json* items = nullptr;  // null: absent
  std::size_t size() const { return items ? items->size() : 0; }
  const json& at(std::size_t i) const { return (*items)[i]; }
  std::string_view name(std::size_t i) const { return at(i)["name"].get_ref<const std::string&>(); }
};

struct ChosenContainer {
  const ContainerList* list;
  std::size_t index;
};

// The pod, read: what the rest of the planning needs, every field checked
// for its type so that later steps cannot meet a surprise.
struct PodView {
  const json* labels = nullptr;
  const json* annotations = nullptr;
  const json* spec = nullptr;
  ContainerList containers{"containers"};
  ContainerList init_containers{"initContainers"};
  const json* volumes = nullptr;

  std::string_view label(std::string_view key) const {
    return labels ? string_member(*labels, key).value_or("") : "";
  }
  std::optional<std::string_view> annotation(std::string_view key) const {
    return annotations ? string_member(*annotations, key) : std::nullopt;
  }
  bool has_volume(std::string_view name) const {
    if (!volumes) return false;
    return std::any_of(volumes->begin(), volumes->end(),
                       [&](const json& v) { return v["name"] == name; });
  }
  // A container or init container with this name.
  std::optional<ChosenContainer> find(std::string_view name) const {
    for (const ContainerList* list : {&init_containers, &containers})
      for (std::size_t i = 0; i < list->size(); ++i)
        if (list->name(i) == name) return ChosenContainer{list, i};
    return std::nullopt;
  }
};

Step<const json*> list_of_named(const json& spec, const char* field, bool required) {
  const json* list = member(spec, field);
  const std::string where = std::string("spec.") + field;
  if (list == nullptr || list->is_null()) {
    if (required) return Refusal{where + ": missing; a pod needs at least one container"};
    return static_cast<const json*>(nullptr);
  }
  if (!list->is_array()) return Refusal{where + ": expected an array"};
  if (required && list->empty()) return Refusal{where + ": empty; a pod needs at least one container"};
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto name = string_member((*list)[i], "name");
    if (!name || name->empty())
      return Refusal{where + "[" + std::to_string(i) + "].name: expected a non-empty string"};
  }
  return list;
}

Step<PodView> read_pod(const json& pod) {
  PodView view;
  if (const json* metadata = member(pod, "metadata"); metadata && !metadata->is_null()) {
    if (!metadata->is_object()) return Refusal{"metadata: expected an object"};
    for (auto [key, out] : {std::pair{"labels", &view.labels}, std::pair{"annotations", &view.annotations}}) {
      const json* map = member(*metadata, key);
      if (map == nullptr || map->is_null()) continue;
      if (!map->is_object()) return Refusal{std::string("metadata.") + key + ": expected an object"};
      for (const auto& [k, v] : map->items())
        if (!v.is_string())
          return Refusal{std::string("metadata.") + key + "." + quote(k) + ": expected a string"};
      *out = map;
    }
  }
  view.spec = member(pod, "spec");
  if (view.spec == nullptr || !view.spec->is_object()) return Refusal{"spec: expected an object (a Pod's spec)"};
  auto containers = list_of_named(*view.spec, "containers", true);
  if (auto* r = std::get_if<Refusal>(&containers)) return std::move(*r);
  view.containers.items = std::get<const json*>(containers);
  auto inits = list_of_named(*view.spec, "initContainers", false);
  if (auto* r = std::get_if<Refusal>(&inits)) return std::move(*r);
  view.init_containers.items = std::get<const json*>(inits);
  auto volumes = list_of_named(*view.spec, "volumes", false);
  if (auto* r = std::get_if<Refusal>(&volumes)) return std::move(*r);
  view.volumes = std::get<const json*>(volumes);
  for (const ContainerList* list : {&view.containers, &view.init_containers}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      for (const char* field : {"env", "volumeMounts"}) {
        const json* items = member(list->at(i), field);
        if (items == nullptr || items->is_null()) continue;
        const std::string where = std::string("spec.") + list->field + "[" + std::to_string(i) + "]." + field;
        if (!items->is_array()) return Refusal{where + ": expected an array"};
        for (const json& item : *items)
          if (!string_member(item, "name")) return Refusal{where + ": an entry without a name"};
      }
    }
  }
  if (const json* sc = member(*view.spec, "securityContext"); sc && !sc->is_null() && !sc->is_object())
    return Refusal{"spec.securityContext: expected an object"};
  return view;
}

// What the annotations ask for.
struct Request {
  std::string config_map;
  SidecarMode mode = SidecarMode::native;
  std::vector<ChosenContainer> chosen;
  std::optional<std::string> wait_for;
  std::vector<std::pair<std::array<const char*, 2>, std::string>> resources;  // {{"requests","cpu"}, "250m"}
};

Step<Request> read_annotations(const PodView& pod, const SidecarSpec& spec) {
  Request r;
  const auto config = pod.annotation(kConfigAnnotation);
  if (!config || trim(*config).empty())
    return Refusal{"annotation " + std::string(kConfigAnnotation) +
                   " is missing: set it to the name of the ConfigMap, in the pod's namespace, that "
                   "holds the agent's agent.json (docs/injector.md)"};
  r.config_map = trim(*config);
  if (!is_dns_subdomain(r.config_map))
    return Refusal{"annotation " + std::string(kConfigAnnotation) + ": " + quote(r.config_map) +
                   " is not a ConfigMap name (lower-case letters, digits, '-' and '.')"};

  r.mode = spec.default_mode();
  if (const auto mode = pod.annotation(kSidecarModeAnnotation)) {
    const auto parsed = parse_sidecar_mode(trim(*mode));
    if (!parsed)
      return Refusal{"annotation " + std::string(kSidecarModeAnnotation) + ": expected native or classic, got " +
                     quote(*mode)};
    r.mode = *parsed;
  }
  const std::string_view restart = string_member(*pod.spec, "restartPolicy").value_or("Always");
  if (r.mode == SidecarMode::classic && restart != "Always")
    return Refusal{"a classic sidecar never exits, so this pod (restartPolicy: " + std::string(restart) +
                   ", e.g. a Job's) would never complete: use " + std::string(kSidecarModeAnnotation) +
                   ": native (Kubernetes 1.29 or later)"};

  if (const auto list = pod.annotation(kContainersAnnotation)) {
    const auto names = split(*list, ',');
    if (names.empty())
      return Refusal{"annotation " + std::string(kContainersAnnotation) +
                     " is empty: name the containers that read credentials, or remove it for all"};
    std::set<std::string> seen;
    for (const auto& name : names) {
      if (!seen.insert(name).second) continue;
      const auto found = pod.find(name);
      if (!found) {
        std::string known;
        for (const ContainerList* l : {&pod.init_containers, &pod.containers})
          for (std::size_t i = 0; i < l->size(); ++i) known += (known.empty() ? "" : ", ") + quote(l->name(i));
        return Refusal{"annotation " + std::string(kContainersAnnotation) + " names " + quote(name) +
                       ", which is not a container of this pod (it has " + known + ")"};
      }
      if (found->list == &pod.init_containers && r.mode == SidecarMode::classic)
        return Refusal{"annotation " + std::string(kContainersAnnotation) + " names init container " +
                       quote(name) + ", but a classic sidecar starts after the init containers: use " +
                       std::string(kSidecarModeAnnotation) + ": native, or name app containers only"};
      r.chosen.push_back(*found);
    }
  } else {
    for (std::size_t i = 0; i < pod.containers.size(); ++i) r.chosen.push_back({&pod.containers, i});
  }

  if (const auto wait = pod.annotation(kWaitForAnnotation)) {
    const std::string name = trim(*wait);
    if (!is_credential_name(name))
      return Refusal{"annotation " + std::string(kWaitForAnnotation) + ": " + quote(*wait) +
                     " is not a credential name (1 to 64 characters of [A-Za-z0-9._-])"};
    r.wait_for = name;
  }

  const std::array<std::pair<std::string_view, std::array<const char*, 2>>, 4> resource_annotations = {{
      {kCpuRequestAnnotation, {"requests", "cpu"}},
      {kMemoryRequestAnnotation, {"requests", "memory"}},
      {kCpuLimitAnnotation, {"limits", "cpu"}},
      {kMemoryLimitAnnotation, {"limits", "memory"}},
  }};
  for (const auto& [annotation, where] : resource_annotations) {
    const auto value = pod.annotation(annotation);
    if (!value) continue;
    const std::string quantity = trim(*value);
    if (!is_quantity(quantity))
      return Refusal{"annotation " + std::string(annotation) + ": " + quote(*value) +
                     " is not a resource quantity (e.g. 250m, 0.5, 64Mi)"};
    r.resources.push_back({where, quantity});
  }
  return r;
}

// Env entries of `container` by name (null when it has none).
const json* env_entry(const json& container, std::string_view name) {
  const json* env = member(container, "env");
  if (env == nullptr || !env->is_array()) return nullptr;
  for (const json& e : *env)
    if (e["name"] == name) return &e;
  return nullptr;
}

// Everything that would make the patch wrong, checked before any operation.
std::optional<Refusal> find_clash(const PodView& pod, const Request& request, const SidecarSpec& spec) {
  for (const json& v : spec.volumes()) {
    const auto& name = v["name"].get_ref<const std::string&>();
    if (pod.has_volume(name))
      return Refusal{"the pod already has a volume named " + quote(name) +
                     ", which the tokenwell sidecar adds: rename the pod's volume"};
  }
  for (const ChosenContainer& c : request.chosen) {
    const json& container = c.list->at(c.index);
    const std::string who = "container " + quote(c.list->name(c.index));
    if (const json* mounts = member(container, "volumeMounts"); mounts && mounts->is_array()) {
      for (const json& wanted : spec.app_volume_mounts())
        for (const json& m : *mounts)
          if (m.is_object() && m.contains("mountPath") && m["mountPath"] == wanted["mountPath"])
            return Refusal{who + " already mounts " + quote(m["name"].get<std::string>()) + " at " +
                           quote(wanted["mountPath"].get<std::string>()) +
                           ", where the tokenwell volume goes: move that mount, or leave the container out "
                           "of " + std::string(kContainersAnnotation)};
    }
    for (const json& wanted : spec.app_env()) {
      const json* existing = env_entry(container, wanted["name"].get_ref<const std::string&>());
      if (existing != nullptr && *existing != wanted)
        return Refusal{who + " already sets " + wanted["name"].get<std::string>() +
                       " to something else: remove it (the injector sets it to the shared directory)"};
    }
  }
  return std::nullopt;
}

// What the Workload Identity webhook gave the pod's containers, if it ran
// first: its volume mount and variables, copied from a container it mutated.
// When it runs after this webhook it mutates the sidecar by itself.
struct WorkloadIdentity {
  json mount;
  json env = json::array();
};

std::optional<WorkloadIdentity> workload_identity(const PodView& pod, const SidecarSpec& spec) {
  if (pod.label(kWorkloadIdentityLabel) != "true" || pod.volumes == nullptr) return std::nullopt;
  if (const auto skip = pod.annotation(kWorkloadIdentitySkipAnnotation)) {
    const auto skipped = split(*skip, ';');
    if (std::find(skipped.begin(), skipped.end(), spec.container_name()) != skipped.end()) return std::nullopt;
  }
  std::string volume;
  for (const json& v : *pod.volumes) {
    const auto& name = v["name"].get_ref<const std::string&>();
    if (name.starts_with(kWorkloadIdentityVolumePrefix)) {
      volume = name;
      break;
    }
  }
  if (volume.empty()) return std::nullopt;  // it has not run yet
  for (const ContainerList* list : {&pod.init_containers, &pod.containers}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& c = list->at(i);
      const json* mounts = member(c, "volumeMounts");
      if (mounts == nullptr || !mounts->is_array()) continue;
      const auto mount = std::find_if(mounts->begin(), mounts->end(),
                                      [&](const json& m) { return m["name"] == volume; });
      if (mount == mounts->end()) continue;
      WorkloadIdentity wi;
      wi.mount = *mount;
      for (std::string_view name : kWorkloadIdentityEnv) {
        const json* e = env_entry(c, name);
        const auto value = e ? string_member(*e, "value") : std::nullopt;
        if (value && !value->empty()) wi.env.push_back({{"name", name}, {"value", *value}});
      }
      return wi;
    }
  }
  return std::nullopt;  // every container skipped: the webhook's reinvocation covers the sidecar
}

// The sidecar container as this pod gets it.
json sidecar_container(const PodView& pod, const Request& request, const SidecarSpec& spec) {
  json c = spec.container(request.mode);
  if (request.mode == SidecarMode::classic && request.wait_for) {
    // postStart: tokenwell wait NAME --after 0 --timeout N (tokenwell.agentContainer)
    json* command = &c;
    for (const char* key : {"lifecycle", "postStart", "exec", "command"}) {
      command = command->is_object() && command->contains(key) ? &(*command)[key] : nullptr;
      if (command == nullptr) break;
    }
    if (command != nullptr && command->is_array() && command->size() > 2 && (*command)[1] == "wait")
      (*command)[2] = *request.wait_for;
  }
  for (const auto& [where, quantity] : request.resources) {
    if (!c["resources"].is_object()) c["resources"] = json::object();
    json& section = c["resources"][where[0]];
    if (!section.is_object()) section = json::object();
    section[where[1]] = quantity;
  }
  if (const auto wi = workload_identity(pod, spec)) {
    json& env = c["env"];
    if (!env.is_array()) env = json::array();
    for (const json& e : wi->env)
      if (env_entry(c, e["name"].get_ref<const std::string&>()) == nullptr) env.push_back(e);
    json& mounts = c["volumeMounts"];
    if (!mounts.is_array()) mounts = json::array();
    const auto same = std::find_if(mounts.begin(), mounts.end(),
                                   [&](const json& m) { return m["name"] == wi->mount["name"]; });
    if (same != mounts.end()) {
      *same = wi->mount;
    } else {
      mounts.push_back(wi->mount);
    }
  }
  return c;
}

json add(std::string path, json value) {
  return {{"op", "add"}, {"path", std::move(path)}, {"value", std::move(value)}};
}

// Puts `items` at the front of the array at `path` in `object` (creating
// it if absent). The front, like the sidecar's volumes: the Workload
// Identity webhook appends, so either order of the two gives one result.
void prepend_all(json& patch, const json& object, const std::string& path, const char* field,
                 const json& items) {
  if (items.empty()) return;
  const json* existing = member(object, field);
  if (existing == nullptr || existing->is_null()) {
    patch.push_back(add(path + "/" + field, items));
    return;
  }
  for (std::size_t i = 0; i < items.size(); ++i)
    patch.push_back(add(path + "/" + field + "/" + std::to_string(i), items[i]));
}

Injection refuse(std::string message) {
  return {Injection::Outcome::refused, json::array(), std::move(message)};
}

}  // namespace

Injection plan_injection(const json& pod, const SidecarSpec& spec) {
  auto read = read_pod(pod);
  if (auto* r = std::get_if<Refusal>(&read)) return refuse(std::move(r->message));
  const PodView& view = std::get<PodView>(read);

  if (view.label(kInjectLabel) != "true")
    return {Injection::Outcome::unchanged, json::array(),
            "not labelled " + std::string(kInjectLabel) + ": \"true\""};
  if (const auto existing = view.find(spec.container_name())) {
    if (view.has_volume(spec.runtime_volume()))
      return {Injection::Outcome::unchanged, json::array(), "the pod already has the tokenwell sidecar"};
    return refuse("the pod already has a container named " + quote(spec.container_name()) +
                  " that is not the tokenwell sidecar (no volume " + quote(spec.runtime_volume()) +
                  "): rename it, or remove the " + std::string(kInjectLabel) + " label");
  }

  auto annotations = read_annotations(view, spec);
  if (auto* r = std::get_if<Refusal>(&annotations)) return refuse(std::move(r->message));
  const Request& request = std::get<Request>(annotations);
  if (auto clash = find_clash(view, request, spec)) return refuse(std::move(clash->message));

  json patch = json::array();
  // 1. The chosen containers: the read-only mount and TOKENWELL_DIR, first
  //    (as the chart's own workload lists them).
  for (const ChosenContainer& c : request.chosen) {
    const json& container = c.list->at(c.index);
    const std::string path = std::string("/spec/") + c.list->field + "/" + std::to_string(c.index);
    prepend_all(patch, container, path, "volumeMounts", spec.app_volume_mounts());
    json env = json::array();
    for (const json& e : spec.app_env())
      if (env_entry(container, e["name"].get_ref<const std::string&>()) == nullptr) env.push_back(e);
    prepend_all(patch, container, path, "env", env);
  }

  // 2. The volumes, the config volume naming the pod's ConfigMap.
  json volumes = spec.volumes();
  for (json& v : volumes)
    if (v["name"] == spec.config_volume()) v["configMap"]["name"] = request.config_map;
  if (view.volumes == nullptr) {
    patch.push_back(add("/spec/volumes", volumes));
  } else {
    for (std::size_t i = 0; i < volumes.size(); ++i)
      patch.push_back(add("/spec/volumes/" + std::to_string(kVolumeInsertIndex + i), volumes[i]));
  }

  // 3. The agent: the first init container (native) or the first container (classic).
  json agent = sidecar_container(view, request, spec);
  if (request.mode == SidecarMode::native) {
    if (view.init_containers.items == nullptr) {
      patch.push_back(add("/spec/initContainers", json::array({std::move(agent)})));
    } else {
      patch.push_back(add("/spec/initContainers/0", std::move(agent)));
    }
  } else {
    patch.push_back(add("/spec/containers/0", std::move(agent)));
  }

  // 4. The group that owns the shared volume, so the app can read the segment.
  if (const auto group = spec.fs_group()) {
    const json* sc = member(*view.spec, "securityContext");
    if (sc == nullptr || sc->is_null()) {
      patch.push_back(add("/spec/securityContext", {{"fsGroup", *group}}));
    } else if (!sc->contains("fsGroup") || (*sc)["fsGroup"].is_null()) {
      patch.push_back(add("/spec/securityContext/fsGroup", *group));
    }
  }
  return {Injection::Outcome::patch, std::move(patch), {}};
}

}  // namespace tw::injector
