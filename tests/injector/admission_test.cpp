// The injector's decision, pure: AdmissionReviews around real pod shapes
// (tests/injector/pods) in, answers out; every patch applied with
// nlohmann::json::patch and the result checked. Bad input of every kind is a
// 400 or an `allowed: false`, never a crash, never a half patch.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "injector_test_support.hpp"
#include "tokenwell/injector/pod_injection.hpp"

namespace tw::injector::test {
namespace {

// --- the AdmissionReview envelope: 400 with a message naming the problem ---

void expect_invalid(const std::string& body, const std::string& says) {
  const AdmissionAnswer a = review(body, chart_spec());
  EXPECT_EQ(a.result, AdmissionResult::invalid);
  EXPECT_EQ(a.http_status, 400u);
  const json answer_body = json::parse(a.body);
  ASSERT_TRUE(answer_body.contains("error")) << a.body;
  EXPECT_NE(answer_body["error"].get<std::string>().find(says), std::string::npos)
      << "expected '" << says << "' in: " << answer_body["error"];
}

TEST(AdmissionInvalid, MalformedJsonNamesThePositionNotTheContent) {
  expect_invalid(R"({"apiVersion": "admission.k8s.io/v1", "kind": )", "not valid JSON (at byte");
  const AdmissionAnswer a = review(R"({"password": "hunter2", oops})", chart_spec());
  EXPECT_EQ(a.body.find("hunter2"), std::string::npos) << a.body;
  expect_invalid("", "empty");
  expect_invalid("\xff\xfe{}", "not valid JSON");
  expect_invalid(R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "\xc3\x28"}})",
                 "not valid JSON");
}

TEST(AdmissionInvalid, WrongApiVersionOrKind) {
  json r = admission_review(load_pod("job-pod.json"));
  r["apiVersion"] = "admission.k8s.io/v1beta1";
  expect_invalid(r.dump(), "apiVersion: expected admission.k8s.io/v1, got 'admission.k8s.io/v1beta1'");
  r.erase("apiVersion");
  expect_invalid(r.dump(), "apiVersion: expected admission.k8s.io/v1, got nothing");
  r = admission_review(load_pod("job-pod.json"));
  r["kind"] = "ConversionReview";
  expect_invalid(r.dump(), "kind: expected AdmissionReview, got 'ConversionReview'");
  expect_invalid("[1, 2, 3]", "not an AdmissionReview object");
  expect_invalid("\"AdmissionReview\"", "not an AdmissionReview object");
}

TEST(AdmissionInvalid, ThreeMebibyteRequest) {
  json pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["padding"] = std::string(3 * 1024 * 1024, 'x');
  expect_invalid(admission_review(pod).dump(), "at most 2097152 are accepted");
}

TEST(AdmissionInvalid, RequestWithoutAPod) {
  json r = admission_review(load_pod("job-pod.json"));
  r["request"].erase("object");
  expect_invalid(r.dump(), "request.object: missing");
  r["request"]["object"] = nullptr;
  expect_invalid(r.dump(), "request.object: missing");
  r["request"]["object"] = json::array();
  expect_invalid(r.dump(), "request.object: expected the Pod as an object, got a array");
  r.erase("request");
  expect_invalid(r.dump(), "request: expected an object, got nothing");
  r["request"] = "a string";
  expect_invalid(r.dump(), "request: expected an object");
}

TEST(AdmissionInvalid, Base64WhereTheApiSendsJson) {
  // admission.k8s.io/v1 sends the object inline; a base64 string (as in a
  // RawExtension misread) is refused, whatever it decodes to.
  json r = admission_review(load_pod("job-pod.json"));
  r["request"]["object"] = "eyJraW5kIjoiUG9kIn0=";
  expect_invalid(r.dump(), "only response.patch is base64");
  r["request"]["object"] = "%%% not base64 at all %%%";
  expect_invalid(r.dump(), "only response.patch is base64");
}

TEST(AdmissionInvalid, Uid) {
  json r = admission_review(load_pod("job-pod.json"));
  r["request"].erase("uid");
  expect_invalid(r.dump(), "request.uid");
  r["request"]["uid"] = 42;
  expect_invalid(r.dump(), "request.uid: expected a non-empty string of at most 128 bytes, got a number");
  r["request"]["uid"] = "";
  expect_invalid(r.dump(), "request.uid");
  r["request"]["uid"] = std::string(129, 'u');
  expect_invalid(r.dump(), "request.uid");
}

TEST(AdmissionInvalid, DeepNesting) {
  expect_invalid(std::string(100000, '[') + std::string(100000, ']'), "nests deeper than 100");
  json r = admission_review(load_pod("job-pod.json"));
  // Brackets inside strings do not count.
  r["request"]["object"]["metadata"]["annotations"]["brackets"] = std::string(5000, '[');
  EXPECT_EQ(review(r.dump(), chart_spec()).result, AdmissionResult::patched);
}

// --- not a pod creation, or not opted in: allowed, untouched --------------

TEST(AdmissionUnchanged, NotAPodCreate) {
  json r = admission_review(load_pod("deployment-pod.json"));
  r["request"]["operation"] = "UPDATE";
  Answer a = answer(r);
  EXPECT_EQ(a.raw.result, AdmissionResult::unchanged);
  EXPECT_TRUE(a.allowed());
  EXPECT_FALSE(a.has_patch());
  r = admission_review(load_pod("deployment-pod.json"));
  r["request"]["kind"]["kind"] = "Deployment";
  EXPECT_EQ(answer(r).raw.result, AdmissionResult::unchanged);
  r = admission_review(load_pod("deployment-pod.json"));
  r["request"]["subResource"] = "ephemeralcontainers";
  EXPECT_EQ(answer(r).raw.result, AdmissionResult::unchanged);
}

TEST(AdmissionUnchanged, NotLabelled) {
  json pod = load_pod("deployment-pod.json");
  pod["metadata"]["labels"]["tokenwell.io/inject"] = "false";
  Answer a = answer(admission_review(pod));
  EXPECT_EQ(a.raw.result, AdmissionResult::unchanged);
  EXPECT_TRUE(a.allowed());
  EXPECT_FALSE(a.has_patch());
  pod["metadata"]["labels"].erase("tokenwell.io/inject");
  EXPECT_EQ(answer(admission_review(pod)).raw.result, AdmissionResult::unchanged);
}

TEST(AdmissionUnchanged, APodThatAlreadyHasTheSidecarFromTheChartTemplates) {
  const json pod = load_pod("already-injected-pod.json");
  Answer a = answer(admission_review(pod));
  EXPECT_EQ(a.raw.result, AdmissionResult::unchanged) << a.raw.message;
  EXPECT_TRUE(a.allowed());
  EXPECT_FALSE(a.has_patch());
  EXPECT_FALSE(a.response().contains("patchType"));
}

// --- injection --------------------------------------------------------------

TEST(AdmissionPatch, DeploymentPodWithThreeContainersInitContainersAndVolumes) {
  const json pod = load_pod("deployment-pod.json");
  const json review_json = admission_review(pod, "uid-deploy");
  Answer a = answer(review_json);
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  EXPECT_EQ(a.raw.http_status, 200u);
  EXPECT_EQ(a.body["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(a.body["kind"], "AdmissionReview");
  EXPECT_EQ(a.response()["uid"], "uid-deploy");
  EXPECT_TRUE(a.allowed());
  EXPECT_EQ(a.response()["patchType"], "JSONPatch");
  for (const json& op : a.patch()) EXPECT_EQ(op["op"], "add") << op;

  const json after = a.patched(pod);
  const SidecarSpec& spec = chart_spec();
  // The agent is the first init container, as the chart renders it, with
  // the config volume pointing at the pod's ConfigMap.
  ASSERT_EQ(after["spec"]["initContainers"].size(), 2u);
  EXPECT_EQ(after["spec"]["initContainers"][0], spec.container(SidecarMode::native));
  EXPECT_EQ(after["spec"]["initContainers"][0]["restartPolicy"], "Always");
  EXPECT_EQ(after["spec"]["initContainers"][1], pod["spec"]["initContainers"][0]);
  // Volumes: the sidecar's first, then the pod's, in their order.
  const json& volumes = after["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), pod["spec"]["volumes"].size() + 2);
  EXPECT_EQ(volumes[0]["name"], "tokenwell");
  EXPECT_EQ(volumes[0]["emptyDir"]["medium"], "Memory");
  EXPECT_EQ(volumes[1]["name"], "tokenwell-config");
  EXPECT_EQ(volumes[1]["configMap"]["name"], "rel-tokenwell-config");
  for (std::size_t i = 0; i < pod["spec"]["volumes"].size(); ++i) EXPECT_EQ(volumes[i + 2], pod["spec"]["volumes"][i]);
  // Every app container: the read-only mount and TOKENWELL_DIR, before what
  // it had (its own variables may then refer to $(TOKENWELL_DIR)).
  ASSERT_EQ(after["spec"]["containers"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const json& before_c = pod["spec"]["containers"][i];
    const json& c = after["spec"]["containers"][i];
    EXPECT_EQ(c["name"], before_c["name"]);
    EXPECT_EQ(c["volumeMounts"].front(), (json{{"name", "tokenwell"}, {"mountPath", "/run/tokenwell"}, {"readOnly", true}}));
    EXPECT_EQ(c["volumeMounts"].size(), before_c["volumeMounts"].size() + 1);
    EXPECT_EQ(c["env"].front(), (json{{"name", "TOKENWELL_DIR"}, {"value", "/run/tokenwell"}}));
    EXPECT_EQ(c["env"].size(), before_c.value("env", json::array()).size() + 1);
    for (std::size_t e = 0; e < before_c.value("env", json::array()).size(); ++e)
      EXPECT_EQ(c["env"][e + 1], before_c["env"][e]);
  }
  // The db-migrate init container was not chosen (default: app containers).
  EXPECT_EQ(container(after, "db-migrate"), container(pod, "db-migrate"));
  // The pod's own fsGroup stays.
  EXPECT_EQ(after["spec"]["securityContext"]["fsGroup"], 3000);
  // Nothing else changed.
  json rest_before = pod, rest_after = after;
  for (json* p : {&rest_before, &rest_after})
    for (const char* k : {"initContainers", "containers", "volumes"}) (*p)["spec"].erase(k);
  EXPECT_EQ(rest_after, rest_before);
}

TEST(AdmissionPatch, ReinvocationAddsNothing) {
  for (const char* fixture : {"deployment-pod.json", "job-pod.json", "hostnetwork-pod.json",
                              "workload-identity-pod.json", "workload-identity-mutated-pod.json"}) {
    SCOPED_TRACE(fixture);
    const json pod = load_pod(fixture);
    Answer first = answer(admission_review(pod));
    ASSERT_EQ(first.raw.result, AdmissionResult::patched) << first.raw.message;
    const json after = first.patched(pod);
    Answer second = answer(admission_review(after));
    EXPECT_EQ(second.raw.result, AdmissionResult::unchanged) << second.raw.message;
    EXPECT_TRUE(second.allowed());
    EXPECT_FALSE(second.has_patch());
  }
}

TEST(AdmissionPatch, DryRunIsAnsweredTheSame) {
  json r = admission_review(load_pod("deployment-pod.json"));
  const std::string normal = review(r.dump(), chart_spec()).body;
  r["request"]["dryRun"] = true;
  const AdmissionAnswer dry = review(r.dump(), chart_spec());
  EXPECT_TRUE(dry.dry_run);
  EXPECT_EQ(dry.body, normal);
}

TEST(AdmissionPatch, JobPodGetsANativeSidecarSoTheJobCanComplete) {
  const json pod = load_pod("job-pod.json");
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  const json after = a.patched(pod);
  // No init containers before: the list is created with the agent in it.
  ASSERT_EQ(after["spec"]["initContainers"].size(), 1u);
  EXPECT_EQ(after["spec"]["initContainers"][0]["name"], "tokenwell");
  EXPECT_EQ(after["spec"]["initContainers"][0]["restartPolicy"], "Always");
  EXPECT_EQ(after["spec"]["restartPolicy"], "Never");
  // No securityContext before: one with the fsGroup that owns the volume.
  EXPECT_EQ(after["spec"]["securityContext"], (json{{"fsGroup", 2000}}));
  EXPECT_EQ(env_value(container(after, "report"), "TOKENWELL_DIR"), "/run/tokenwell");
}

TEST(AdmissionPatch, HostNetworkPod) {
  const json pod = load_pod("hostnetwork-pod.json");
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  const json after = a.patched(pod);
  EXPECT_TRUE(after["spec"]["hostNetwork"].get<bool>());
  EXPECT_EQ(container(after, "tokenwell")["ports"][0]["containerPort"], 9464);
  EXPECT_EQ(env_value(container(after, "node-agent"), "TOKENWELL_DIR"), "/run/tokenwell");
}

TEST(AdmissionPatch, ContainersAnnotationChoosesWhichContainersReadCredentials) {
  json pod = load_pod("deployment-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/containers"] = " orders , db-migrate,orders";
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  const json after = a.patched(pod);
  EXPECT_EQ(env_value(container(after, "orders"), "TOKENWELL_DIR"), "/run/tokenwell");
  EXPECT_EQ(env_value(container(after, "db-migrate"), "TOKENWELL_DIR"), "/run/tokenwell");  // after the agent
  EXPECT_EQ(container(after, "metrics-exporter"), container(pod, "metrics-exporter"));
  EXPECT_EQ(container(after, "log-shipper"), container(pod, "log-shipper"));
}

TEST(AdmissionPatch, ClassicModeByAnnotation) {
  json pod = load_pod("deployment-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/sidecar-mode"] = "classic";
  pod["metadata"]["annotations"]["tokenwell.io/wait-for"] = "orders-db";
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  const json after = a.patched(pod);
  EXPECT_EQ(after["spec"]["containers"][0]["name"], "tokenwell");
  EXPECT_FALSE(after["spec"]["containers"][0].contains("restartPolicy"));
  EXPECT_EQ(after["spec"]["initContainers"].size(), 1u);
  const json command = after["spec"]["containers"][0]["lifecycle"]["postStart"]["exec"]["command"];
  EXPECT_EQ(command, (json{"/usr/local/bin/tokenwell", "wait", "orders-db", "--after", "0", "--timeout", "120"}));
  // Indices of the existing containers were planned before the insert.
  EXPECT_EQ(env_value(after["spec"]["containers"][3], "TOKENWELL_DIR"), "/run/tokenwell");
  EXPECT_EQ(after["spec"]["containers"][3]["name"], "log-shipper");
}

TEST(AdmissionPatch, ResourceOverrides) {
  json pod = load_pod("job-pod.json");
  auto& ann = pod["metadata"]["annotations"];
  ann["tokenwell.io/cpu-request"] = "25m";
  ann["tokenwell.io/memory-request"] = "24Mi";
  ann["tokenwell.io/cpu-limit"] = "0.5";
  ann["tokenwell.io/memory-limit"] = "128Mi";
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  EXPECT_EQ(container(a.patched(pod), "tokenwell")["resources"],
            (json{{"requests", {{"cpu", "25m"}, {"memory", "24Mi"}}}, {"limits", {{"cpu", "0.5"}, {"memory", "128Mi"}}}}));
}

TEST(AdmissionPatch, TokenwellDirAlreadySetToTheSameValueIsNotRepeated) {
  json pod = load_pod("job-pod.json");
  pod["spec"]["containers"][0]["env"] = json::array({{{"name", "TOKENWELL_DIR"}, {"value", "/run/tokenwell"}}});
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  EXPECT_EQ(container(a.patched(pod), "report")["env"].size(), 1u);
}

// --- Azure Workload Identity: whichever webhook runs first -----------------

TEST(AdmissionWorkloadIdentity, AfterTheWebhookTheSidecarGetsItsVariablesAndMount) {
  const json pod = load_pod("workload-identity-mutated-pod.json");
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  const json agent = container(a.patched(pod), "tokenwell");
  EXPECT_EQ(env_value(agent, "AZURE_CLIENT_ID"), "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(env_value(agent, "AZURE_TENANT_ID"), "66666666-7777-8888-9999-000000000000");
  EXPECT_EQ(env_value(agent, "AZURE_FEDERATED_TOKEN_FILE"), "/var/run/secrets/azure/wi/token/azure-identity-token");
  EXPECT_EQ(env_value(agent, "AZURE_AUTHORITY_HOST"), "https://login.microsoftonline.com/");
  const json mount = agent["volumeMounts"].back();
  EXPECT_TRUE(mount["name"].get<std::string>().starts_with("azure-workload-identity-reserved-"));
  EXPECT_EQ(mount["mountPath"], "/var/run/secrets/azure/wi");
}

TEST(AdmissionWorkloadIdentity, BeforeTheWebhookTheSidecarIsLeftToIt) {
  const json pod = load_pod("workload-identity-pod.json");
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  const json agent = container(a.patched(pod), "tokenwell");
  EXPECT_EQ(env_value(agent, "AZURE_CLIENT_ID"), nullptr);
  EXPECT_EQ(agent, chart_spec().container(SidecarMode::native));
}

TEST(AdmissionWorkloadIdentity, ASidecarTheWebhookSkipsGetsNothingCopied) {
  json pod = load_pod("workload-identity-mutated-pod.json");
  pod["metadata"]["annotations"]["azure.workload.identity/skip-containers"] = "istio-like-proxy; tokenwell";
  Answer a = answer(admission_review(pod));
  ASSERT_EQ(a.raw.result, AdmissionResult::patched) << a.raw.message;
  EXPECT_EQ(env_value(container(a.patched(pod), "tokenwell"), "AZURE_CLIENT_ID"), nullptr);
}

// --- refusals: allowed false, a message to act on, never a patch -----------

void expect_refused(const json& pod, const std::string& says) {
  Answer a = answer(admission_review(pod));
  EXPECT_EQ(a.raw.result, AdmissionResult::refused) << a.raw.body;
  EXPECT_EQ(a.raw.http_status, 200u);
  EXPECT_FALSE(a.allowed());
  EXPECT_FALSE(a.has_patch());
  EXPECT_FALSE(a.response().contains("patchType"));
  EXPECT_EQ(a.response()["status"]["code"], 400);
  EXPECT_NE(a.status_message().find(says), std::string::npos) << "expected '" << says << "' in: " << a.status_message();
}

TEST(AdmissionRefused, MissingOrBadConfigAnnotation) {
  json pod = load_pod("deployment-pod.json");
  pod["metadata"]["annotations"].erase("tokenwell.io/config");
  expect_refused(pod, "annotation tokenwell.io/config is missing: set it to the name of the ConfigMap");
  pod["metadata"]["annotations"]["tokenwell.io/config"] = "  ";
  expect_refused(pod, "tokenwell.io/config is missing");
  pod["metadata"]["annotations"]["tokenwell.io/config"] = "Agent_Config";
  expect_refused(pod, "'Agent_Config' is not a ConfigMap name");
  pod["metadata"].erase("annotations");
  expect_refused(pod, "tokenwell.io/config is missing");
}

TEST(AdmissionRefused, ContainersAnnotationNamingAnUnknownContainer) {
  json pod = load_pod("deployment-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/containers"] = "orders,ordres";
  expect_refused(pod, "names 'ordres', which is not a container of this pod (it has 'db-migrate', 'orders', "
                      "'metrics-exporter', 'log-shipper')");
  pod["metadata"]["annotations"]["tokenwell.io/containers"] = " , ";
  expect_refused(pod, "tokenwell.io/containers is empty");
}

TEST(AdmissionRefused, InitContainerInClassicMode) {
  json pod = load_pod("deployment-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/containers"] = "db-migrate";
  pod["metadata"]["annotations"]["tokenwell.io/sidecar-mode"] = "classic";
  expect_refused(pod, "names init container 'db-migrate', but a classic sidecar starts after the init containers");
}

TEST(AdmissionRefused, ClassicSidecarInAJob) {
  json pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/sidecar-mode"] = "classic";
  expect_refused(pod, "restartPolicy: Never, e.g. a Job's) would never complete: use tokenwell.io/sidecar-mode: native");
}

TEST(AdmissionRefused, BadAnnotationValues) {
  json pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/sidecar-mode"] = "sometimes";
  expect_refused(pod, "tokenwell.io/sidecar-mode: expected native or classic, got 'sometimes'");
  pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/memory-limit"] = "lots";
  expect_refused(pod, "tokenwell.io/memory-limit: 'lots' is not a resource quantity");
  pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/cpu-request"] = "-1";
  expect_refused(pod, "tokenwell.io/cpu-request");
  pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/wait-for"] = "no spaces please";
  expect_refused(pod, "tokenwell.io/wait-for: 'no spaces please' is not a credential name");
}

TEST(AdmissionRefused, VolumeNameAlreadyUsed) {
  json pod = load_pod("deployment-pod.json");
  pod["spec"]["volumes"].push_back({{"name", "tokenwell-config"}, {"emptyDir", json::object()}});
  expect_refused(pod, "already has a volume named 'tokenwell-config', which the tokenwell sidecar adds");
}

TEST(AdmissionRefused, ContainerNamedLikeTheSidecarThatIsNotIt) {
  json pod = load_pod("job-pod.json");
  pod["spec"]["containers"][0]["name"] = "tokenwell";
  expect_refused(pod, "already has a container named 'tokenwell' that is not the tokenwell sidecar");
}

TEST(AdmissionRefused, MountPathOrEnvironmentTaken) {
  json pod = load_pod("job-pod.json");
  pod["spec"]["containers"][0]["volumeMounts"].push_back({{"name", "kube-api-access-q9d4m"}, {"mountPath", "/run/tokenwell"}});
  expect_refused(pod, "container 'report' already mounts 'kube-api-access-q9d4m' at '/run/tokenwell'");
  pod = load_pod("job-pod.json");
  pod["spec"]["containers"][0]["env"] = json::array({{{"name", "TOKENWELL_DIR"}, {"value", "/tmp/elsewhere"}}});
  expect_refused(pod, "container 'report' already sets TOKENWELL_DIR to something else");
}

TEST(AdmissionRefused, PodsOfAShapeNoApiServerSends) {
  const json base = load_pod("job-pod.json");
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& p) { p.erase("spec"); }, "spec: expected an object"},
      {[](json& p) { p["spec"]["containers"] = "report"; }, "spec.containers: expected an array"},
      {[](json& p) { p["spec"]["containers"] = json::array(); }, "spec.containers: empty"},
      {[](json& p) { p["spec"]["containers"][0].erase("name"); }, "spec.containers[0].name"},
      {[](json& p) { p["spec"]["volumes"] = json::object(); }, "spec.volumes: expected an array"},
      {[](json& p) { p["spec"]["volumes"][0]["name"] = 7; }, "spec.volumes[0].name"},
      {[](json& p) { p["spec"]["containers"][0]["env"] = json::array({1}); }, "an entry without a name"},
      {[](json& p) { p["spec"]["containers"][0]["volumeMounts"] = 5; }, "volumeMounts: expected an array"},
      {[](json& p) { p["metadata"]["labels"]["n"] = 1; }, "metadata.labels.'n': expected a string"},
      {[](json& p) { p["metadata"] = "x"; }, "metadata: expected an object"},
      {[](json& p) { p["spec"]["securityContext"] = 1; }, "spec.securityContext: expected an object"},
  };
  for (const auto& [mutate, says] : cases) {
    json pod = base;
    mutate(pod);
    SCOPED_TRACE(says);
    expect_refused(pod, says);
  }
}

// --- the sidecar spec -------------------------------------------------------

TEST(SidecarSpec, TheChartRenderingParses) {
  const SidecarSpec& spec = chart_spec();
  EXPECT_EQ(spec.container_name(), "tokenwell");
  EXPECT_EQ(spec.default_mode(), SidecarMode::native);
  EXPECT_EQ(spec.runtime_volume(), "tokenwell");
  EXPECT_EQ(spec.config_volume(), "tokenwell-config");
  EXPECT_EQ(spec.fs_group(), 2000);
}

void expect_spec_error(const std::function<void(json&)>& mutate, const std::string& says) {
  json j = load_json(test_dir() / "sidecar-spec.json");
  mutate(j);
  auto spec = SidecarSpec::parse(j);
  ASSERT_FALSE(spec) << "accepted; expected: " << says;
  EXPECT_NE(spec.error().message.find(says), std::string::npos) << spec.error().message;
}

TEST(SidecarSpec, ProblemsNameTheirJsonPath) {
  expect_spec_error([](json& j) { j.erase("volumes"); }, "volumes: required");
  expect_spec_error([](json& j) { j["extra"] = 1; }, "extra: unknown key");
  expect_spec_error([](json& j) { j["default_mode"] = "auto"; }, "default_mode: expected native or classic");
  expect_spec_error([](json& j) { j["classic_container"]["name"] = "agent"; }, "one sidecar, one name");
  expect_spec_error([](json& j) { j["native_container"].erase("restartPolicy"); },
                    "native_container.restartPolicy: a native sidecar is an init container");
  expect_spec_error([](json& j) { j["classic_container"]["restartPolicy"] = "Always"; },
                    "classic_container.restartPolicy");
  expect_spec_error([](json& j) { j["config_volume"] = "nope"; }, "config_volume: not one of volumes");
  expect_spec_error([](json& j) { j["config_volume"] = "tokenwell"; }, "is not a configMap volume");
  expect_spec_error([](json& j) { j["app_volume_mounts"][0]["name"] = "nope"; },
                    "app_volume_mounts[0].name: not one of volumes");
  expect_spec_error([](json& j) { j["app_volume_mounts"] = json::array(); }, "must mount the shared volume");
  expect_spec_error([](json& j) { j["volumes"].push_back(j["volumes"][0]); }, "volumes[2].name: 'tokenwell' appears twice");
  expect_spec_error([](json& j) { j["fs_group"] = -5; }, "fs_group: expected a group id");
  expect_spec_error([](json& j) { j["app_env"] = "TOKENWELL_DIR"; }, "app_env: expected an array");
}

TEST(SidecarSpec, NullFsGroupAddsNone) {
  json j = load_json(test_dir() / "sidecar-spec.json");
  j["fs_group"] = nullptr;
  auto spec = SidecarSpec::parse(j);
  ASSERT_TRUE(spec) << spec.error().message;
  const json pod = load_pod("job-pod.json");
  Answer a = answer(admission_review(pod), *spec);
  EXPECT_FALSE(a.patched(pod)["spec"].contains("securityContext"));
}

TEST(SidecarSpec, LoadNamesTheFile) {
  auto spec = load_sidecar_spec("/nonexistent/sidecar.json");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("/nonexistent/sidecar.json: not readable"), std::string::npos)
      << spec.error().message;
}

}  // namespace
}  // namespace tw::injector::test
