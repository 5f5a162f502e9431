// check.mjs -- renders helm/tokenwell with the real helm binary for every
// ci/*-values.yaml scenario (and the library-style example app chart),
// validates every object against the Kubernetes OpenAPI schemas, and asserts
// what the chart promises. Run by scripts/helm-check.sh:
//
//   node scripts/helm-check/check.mjs HELM CHART_DIR EXAMPLE_APP_CHART_DIR [AGENT]
//
// With AGENT (a built tokenwell-agent), every scenario's rendered agent.json
// also goes through the agent's own --check-config. With TOKENWELL_INJECTOR
// (a built tokenwell-injector) in the environment, every rendered sidecar
// spec goes through its --check, and injection.mjs runs the injector on the
// fixture pods against the named templates.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { checkInjection } from "./injection.mjs";
import { validateObject } from "./k8s-validate.mjs";
import { valuesTable } from "./values-table.mjs";

const [helm, chart, appChart, agent] = process.argv.slice(2);
const injector = process.env.TOKENWELL_INJECTOR || "";
if (!helm || !chart || !appChart) {
  console.error("usage: check.mjs HELM CHART_DIR EXAMPLE_APP_CHART_DIR [AGENT]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${e.message.replace(/\n/g, "\n     ")}`);
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}
// JSON with sorted keys: objects compare by content, not key order.
const canonical = (v) => JSON.stringify(v, (_, x) =>
  x && typeof x === "object" && !Array.isArray(x)
    ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]]))
    : x);
function equal(actual, expected, what) {
  const a = canonical(actual);
  const b = canonical(expected);
  if (a !== b) throw new Error(`${what}: expected ${b}, got ${a}`);
}

// helm template -> [objects]
function render(chartDir, args = []) {
  const out = execFileSync(helm, ["template", "rel", chartDir, "--namespace", "apps", ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return parseAllDocuments(out)
    .map((d) => {
      if (d.errors.length) throw new Error(`helm output is not YAML: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter(Boolean);
}
const one = (objs, kind, name) => {
  const found = objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  equal(found.length, 1, `number of ${kind}${name ? ` ${name}` : ""} objects`);
  return found[0];
};
const testPod = (objs) =>
  objs.find((o) => o.kind === "Pod" && o.metadata.annotations?.["helm.sh/hook"] === "test");

// --- what every workload that carries the sidecar must look like ----------
function sidecarOf(pod, native) {
  const list = native ? pod.spec.initContainers ?? [] : pod.spec.containers;
  const agentC = list.find((c) => c.name === "tokenwell");
  expect(agentC, `no tokenwell container in ${native ? "initContainers" : "containers"}`);
  const other = native ? pod.spec.containers : pod.spec.initContainers ?? [];
  expect(!other.some((c) => c.name === "tokenwell"), "tokenwell listed twice");
  return agentC;
}

function assertSidecar(pod, { native, listenPort = 9464 }) {
  const c = sidecarOf(pod, native);
  if (native) {
    equal(c.restartPolicy, "Always", "native sidecar restartPolicy");
  } else {
    expect(!("restartPolicy" in c), "classic sidecar must not set restartPolicy");
    equal(pod.spec.containers[0].name, "tokenwell", "classic sidecar is the first container");
    const hook = c.lifecycle?.postStart?.exec?.command ?? [];
    equal(hook.slice(0, 2), ["/usr/local/bin/tokenwell", "wait"], "classic postStart waits for the first token");
    expect(hook.includes("--after") && hook.includes("--timeout"), "postStart wait has --after and --timeout");
  }
  const port = c.ports.find((p) => p.name === "tw-metrics");
  equal(port?.containerPort, listenPort, "tw-metrics containerPort (from config.listen)");
  equal(c.startupProbe?.httpGet, { path: "/readyz", port: "tw-metrics" }, "startupProbe");
  equal(c.readinessProbe?.httpGet, { path: "/readyz", port: "tw-metrics" }, "readinessProbe");
  equal(c.livenessProbe?.httpGet, { path: "/healthz", port: "tw-metrics" }, "livenessProbe");
  const sc = c.securityContext ?? {};
  equal(sc.runAsNonRoot, true, "securityContext.runAsNonRoot");
  equal(sc.runAsUser, 65532, "securityContext.runAsUser");
  equal(sc.readOnlyRootFilesystem, true, "securityContext.readOnlyRootFilesystem");
  equal(sc.allowPrivilegeEscalation, false, "securityContext.allowPrivilegeEscalation");
  equal(sc.capabilities?.drop, ["ALL"], "securityContext.capabilities.drop");
  equal(sc.seccompProfile?.type, "RuntimeDefault", "securityContext.seccompProfile");
  expect(c.resources?.requests?.cpu && c.resources?.requests?.memory, "resource requests");
  expect(c.resources?.limits?.memory, "a memory limit");
  equal(c.args.slice(0, 2), ["--config", "/etc/tokenwell/agent.json"], "agent args");
  return c;
}

// The shared in-memory volume: read-write for the agent, read-only for the app.
function assertSharedVolume(pod, appName, agentName = "tokenwell") {
  const vol = pod.spec.volumes.find((v) => v.emptyDir);
  equal(vol?.emptyDir?.medium, "Memory", "shared emptyDir medium");
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const agentMount = all.find((c) => c.name === agentName).volumeMounts.find((m) => m.name === vol.name);
  equal(agentMount?.mountPath, "/run/tokenwell", "agent mounts the shared volume");
  expect(!agentMount.readOnly, "agent's mount is writable");
  const app = pod.spec.containers.find((c) => c.name === appName);
  expect(app, `no app container ${appName}`);
  const appMount = app.volumeMounts?.find((m) => m.name === vol.name);
  equal(appMount, { name: vol.name, mountPath: "/run/tokenwell", readOnly: true }, "app's mount");
  equal(app.env?.find((e) => e.name === "TOKENWELL_DIR")?.value, "/run/tokenwell", "app's TOKENWELL_DIR");
  return { vol, app };
}

function configOf(objs, pod) {
  const cmName = pod.spec.volumes.find((v) => v.configMap)?.configMap?.name;
  const cm = one(objs, "ConfigMap", cmName);
  const text = cm.data["agent.json"];
  const checksum = pod.metadata?.annotations?.["checksum/tokenwell-config"];
  // The annotation is the SHA-256 of the rendered config (the data block adds one newline).
  equal(checksum, createHash("sha256").update(text.replace(/\n$/, "")).digest("hex"),
        "checksum/tokenwell-config annotation");
  return { config: JSON.parse(text), text };
}

function assertSelectorLabels(deploy) {
  const sel = deploy.spec.selector.matchLabels;
  for (const k of Object.keys(sel))
    expect(!/chart|version/.test(k) && !String(sel[k]).includes("0.1.0"), `selector label ${k}=${sel[k]} changes with the chart`);
  for (const [k, v] of Object.entries(sel))
    equal(deploy.spec.template.metadata.labels[k], v, `pod label ${k} matches the selector`);
  expect(deploy.metadata.labels["helm.sh/chart"], "resource labels carry helm.sh/chart");
}

// --- every scenario: lint, render, schema-validate, agent --check-config --
const ciDir = path.join(chart, "ci");
const scenarios = readdirSync(ciDir).filter((f) => f.endsWith("-values.yaml")).sort();
const rendered = {};
const work = mkdtempSync(path.join(tmpdir(), "helm-check-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

async function validateAll(objs) {
  const problems = [];
  for (const obj of objs) problems.push(...(await validateObject(obj)));
  expect(problems.length === 0, problems.join("\n"));
}

for (const file of scenarios) {
  const name = file.replace(/-values\.yaml$/, "");
  const values = ["-f", path.join(ciDir, file)];
  await check(`${name}: helm lint --strict`, () => {
    execFileSync(helm, ["lint", "--strict", chart, ...values], { stdio: "pipe" });
  });
  await check(`${name}: helm template; every object valid against the Kubernetes OpenAPI schemas`, async () => {
    rendered[name] = render(chart, values);
    expect(rendered[name].length > 0, "nothing rendered");
    await validateAll(rendered[name]);
  });
  const injectorSpec = rendered[name]?.find((o) => o.kind === "ConfigMap" && o.data?.["sidecar.json"]);
  if (injectorSpec && injector) {
    await check(`${name}: tokenwell-injector --check accepts the rendered sidecar spec`, () => {
      const specFile = path.join(work, `${name}-sidecar.json`);
      writeFileSync(specFile, injectorSpec.data["sidecar.json"]);
      const r = spawnSync(injector, ["--sidecar-spec", specFile, "--check"], { encoding: "utf8" });
      expect(r.status === 0, `rejected:\n${r.stderr}`);
    });
  }
  if (!rendered[name] || !agent) continue;
  await check(`${name}: the agent's --check-config accepts the rendered agent.json`, () => {
    const cm = rendered[name].find((o) => o.kind === "ConfigMap" && o.data?.["agent.json"]);
    const configFile = path.join(work, `${name}.json`);
    const tokenFile = path.join(work, "federated-token");
    writeFileSync(configFile, cm.data["agent.json"]);
    writeFileSync(tokenFile, "federated-token-from-the-kubelet\n");
    const r = spawnSync(agent, ["--config", configFile, "--check-config"], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        // What the Azure Workload Identity webhook injects.
        AZURE_TENANT_ID: "66666666-7777-8888-9999-000000000000",
        AZURE_CLIENT_ID: "11111111-2222-3333-4444-555555555555",
        AZURE_FEDERATED_TOKEN_FILE: tokenFile,
        AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/",
      },
    });
    // Files that exist only in the pod (mounted Secrets, key directories)
    // are the only acceptable complaints.
    const lines = r.stderr.split("\n").filter(Boolean);
    const real = lines.filter((l) => !/file not readable|directory not readable/.test(l));
    expect(real.length === 0, `agent rejected it:\n${real.join("\n")}`);
    expect(r.status === 0 || lines.length > 0, `exit ${r.status} without a reason`);
  });
}

// --- scenario by scenario ---------------------------------------------------
const deploymentOf = (objs) => one(objs, "Deployment");

await check("default: native sidecar, probes, securityContext, shared volume, selector, checksum", () => {
  const objs = rendered.default;
  const d = deploymentOf(objs);
  const pod = d.spec.template;
  assertSidecar(pod, { native: true });
  const { app } = assertSharedVolume(pod, "app");
  assertSelectorLabels(d);
  const { config } = configOf(objs, pod);
  equal(config.runtime_dir, "/run/tokenwell", "runtime_dir");
  equal(config.listen, "0.0.0.0:9464", "listen");
  equal(config.credentials, [{ name: "redis", source: "entra", scope: "https://redis.azure.com/.default" }], "credentials");
  // The app's group owns the segment (fsGroup) and is allowed on the socket.
  expect(config.allow.gids.includes(pod.spec.securityContext.fsGroup), "allow.gids has the pod's fsGroup");
  expect(config.allow.gids.includes(app.securityContext.runAsGroup), "allow.gids has the app's runAsGroup");
  expect(config.allow.uids.includes(app.securityContext.runAsUser), "allow.uids has the app's runAsUser");
  expect(config.allow.uids.includes(65532), "allow.uids has the agent's own uid");
  equal(app.securityContext.readOnlyRootFilesystem, true, "app readOnlyRootFilesystem");
  equal(pod.spec.securityContext.seccompProfile?.type, "RuntimeDefault", "pod seccompProfile");
  expect(!pod.metadata.labels["azure.workload.identity/use"], "no workload identity label by default");
  one(objs, "ServiceAccount");
  for (const kind of ["ServiceMonitor", "PodMonitor", "NetworkPolicy", "Service"])
    expect(!objs.some((o) => o.kind === kind), `no ${kind} by default`);
});

await check("default: the helm test hook runs the agent --once, then `tokenwell get redis`", () => {
  const pod = testPod(rendered.default);
  expect(pod, "no helm.sh/hook: test Pod");
  equal(pod.spec.restartPolicy, "Never", "test pod restartPolicy");
  equal(pod.spec.initContainers[0].args, ["--config", "/etc/tokenwell/agent.json", "--once"], "agent --once");
  equal(pod.spec.containers[0].command, ["/usr/local/bin/tokenwell", "get", "redis", "--field", "username"],
        "reads the credential, prints no token");
  assertSharedVolume(pod, "read-0", "agent-once");
});

await check("default: a config change changes the checksum (pods roll); the same config does not", () => {
  const sum = (args) => deploymentOf(render(chart, args)).spec.template.metadata.annotations["checksum/tokenwell-config"];
  const base = sum([]);
  equal(sum([]), base, "same values, same checksum");
  expect(sum(["--set", "config.log.level=debug"]) !== base, "log level change kept the checksum");
  expect(sum(["--set", "workload.replicas=3"]) === base, "a non-config change moved the checksum");
});

await check("auto mode follows the cluster: classic below Kubernetes 1.29, native from 1.29", () => {
  const at = (v) => deploymentOf(render(chart, ["--kube-version", v])).spec.template;
  assertSidecar(at("1.28.9"), { native: false });
  assertSidecar(at("1.29.0"), { native: true });
  assertSidecar(at("1.33.1"), { native: true });
  assertSidecar(deploymentOf(render(chart, ["--kube-version", "1.28.0", "--set", "sidecar.mode=native"])).spec.template,
                { native: true });
});

await check("classic-sidecar: first container, postStart wait on the file credential, extra Secret volume", () => {
  const objs = rendered["classic-sidecar"];
  const pod = deploymentOf(objs).spec.template;
  const c = assertSidecar(pod, { native: false });
  expect(c.lifecycle.postStart.exec.command.includes("redis-password"), "waits for redis-password");
  equal(pod.spec.initContainers, undefined, "no init containers");
  assertSharedVolume(pod, "app");
  equal(pod.spec.volumes.find((v) => v.name === "redis-password")?.secret?.secretName, "redis-password", "Secret volume");
  equal(c.volumeMounts.find((m) => m.name === "redis-password")?.mountPath, "/etc/redis-password", "Secret mount");
  const app = pod.spec.containers.find((x) => x.name === "app");
  equal(app.image, "docker.io/library/redis:7.2-bookworm", "the given app image");
  const { config } = configOf(objs, pod);
  equal(config.credentials[0], { name: "redis-password", source: "file", path: "/etc/redis-password/password",
                                 username: "default" }, "file credential");
});

await check("workload-identity: SA client-id annotation, pod label, skip-containers, keysets in the config", () => {
  const objs = rendered["workload-identity"];
  const sa = one(objs, "ServiceAccount");
  equal(sa.metadata.annotations["azure.workload.identity/client-id"], "11111111-2222-3333-4444-555555555555", "client-id");
  equal(sa.metadata.annotations["azure.workload.identity/tenant-id"], "66666666-7777-8888-9999-000000000000", "tenant-id");
  const d = deploymentOf(objs);
  const pod = d.spec.template;
  equal(pod.spec.serviceAccountName, sa.metadata.name, "pod runs as the annotated ServiceAccount");
  equal(pod.metadata.labels["azure.workload.identity/use"], "true", "pod label azure.workload.identity/use");
  expect(!d.spec.selector.matchLabels["azure.workload.identity/use"], "the label is not in the selector");
  equal(pod.metadata.annotations["azure.workload.identity/skip-containers"], "app", "only the sidecar gets the token");
  assertSidecar(pod, { native: true });
  const { config } = configOf(objs, pod);
  equal(config.keysets.map((k) => `${k.name}:${k.source}`), ["entra-keys:jwks", "sessions:key_files", "dev:generated"], "keysets");
  equal(config.keysets[2], { name: "dev", source: "generated", algorithm: "ES256", rotate_every: "24h",
                             publish_ahead: "1h", retain: "25h" }, "generated keyset");
  equal(config.credentials[1].refresh, { ratio: 0.6, min_remaining: "5m", jitter: 0.1, retry_min: "1s",
                                        retry_max: "60s", retry_max_expired: "10s", retry_after_max: "2m",
                                        timeout: "10s" }, "refresh block");
  expect(config.allow.gids.includes(3000), "allow.gids from values");
  equal(config.log.level, "debug", "log level");
  const test = testPod(objs);
  equal(test.metadata.labels["azure.workload.identity/use"], "true", "the test pod uses workload identity too");
  equal(test.spec.containers.length, 1, "tests.credentials narrows the test to redis");
});

await check("monitoring-networkpolicy: Service + ServiceMonitor + PodMonitor on tw-metrics, NetworkPolicy", () => {
  const objs = rendered["monitoring-networkpolicy"];
  const d = deploymentOf(objs);
  const svc = one(objs, "Service");
  equal(svc.spec.ports[0].targetPort, "tw-metrics", "Service targets the agent's port");
  for (const [k, v] of Object.entries(svc.spec.selector))
    equal(d.spec.template.metadata.labels[k], v, `Service selects the pods (${k})`);
  const sm = one(objs, "ServiceMonitor");
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
    equal(svc.metadata.labels[k], v, `ServiceMonitor selects the Service (${k})`);
  equal(sm.spec.endpoints[0].port, "tw-metrics", "ServiceMonitor port");
  equal(sm.metadata.labels.release, "prometheus", "ServiceMonitor extra labels");
  const pm = one(objs, "PodMonitor");
  equal(pm.spec.podMetricsEndpoints[0].port, "tw-metrics", "PodMonitor port");
  equal(pm.spec.podMetricsEndpoints[0].path, "/metrics", "PodMonitor path");
  const np = one(objs, "NetworkPolicy");
  equal(np.spec.podSelector.matchLabels, d.spec.selector.matchLabels, "NetworkPolicy selects the pods");
  equal(np.spec.policyTypes, ["Ingress", "Egress"], "policyTypes");
  equal(np.spec.ingress[0].ports, [{ port: "tw-metrics", protocol: "TCP" }], "metrics ingress port");
  const egressPorts = np.spec.egress.flatMap((r) => r.ports.map((p) => `${p.port}/${p.protocol}`));
  for (const p of ["53/UDP", "53/TCP", "443/TCP", "6380/TCP"]) expect(egressPorts.includes(p), `egress allows ${p}`);
});

await check("library: no workload of its own; the ConfigMap (and SA) for an app chart to mount", () => {
  const objs = rendered.library;
  expect(!objs.some((o) => o.kind === "Deployment" || o.kind === "Pod"), "no Deployment or Pod");
  const cm = one(objs, "ConfigMap", "rel-tokenwell-config");
  const config = JSON.parse(cm.data["agent.json"]);
  equal(config.allow, { uids: [1000, 65532], gids: [2000, 65532] }, "allow from values plus the agent's own ids");
});

await check("example app chart: the included sidecar, volume, mounts and env in the app's own Deployment", async () => {
  execFileSync(helm, ["dependency", "update", appChart], { stdio: "pipe" });
  execFileSync(helm, ["lint", "--strict", appChart], { stdio: "pipe" });
  const objs = render(appChart);
  await validateAll(objs);
  const d = one(objs, "Deployment", "rel-orders");
  const pod = d.spec.template;
  assertSidecar(pod, { native: true });
  assertSharedVolume(pod, "orders");
  configOf(objs, pod);  // the volume names this chart's ConfigMap; the checksum matches it
  equal(pod.metadata.labels["azure.workload.identity/use"], "true", "workload identity label via include");
  equal(pod.metadata.annotations["azure.workload.identity/skip-containers"], "orders", "skip the app container");
  equal(sidecarOf(pod, true).image, "registry.example.com/tokenwell:0.1.0", "the parent's tokenwell.image values");
  assertSidecar(one(render(appChart, ["--kube-version", "1.28.0"]), "Deployment").spec.template, { native: false });
});

await check("NOTES.txt: sidecar mode, config map, the federated credential's subject", () => {
  const out = execFileSync(helm, ["install", "rel", chart, "--namespace", "apps", "--dry-run=client",
                                  "-f", path.join(ciDir, "workload-identity-values.yaml")], { encoding: "utf8" });
  const notes = out.slice(out.indexOf("NOTES:"));
  expect(notes.includes("Sidecar: native"), `no sidecar mode in:\n${notes}`);
  expect(notes.includes("ConfigMap rel-tokenwell-config"), "no ConfigMap name");
  expect(notes.includes("system:serviceaccount:apps:rel-tokenwell"), "no federated credential subject");
  // A release whose name contains "tokenwell" gets the bare release name.
  const bare = execFileSync(helm, ["install", "demo-tokenwell", chart, "--namespace", "apps", "--dry-run=client",
                                   "-f", path.join(ciDir, "workload-identity-values.yaml")], { encoding: "utf8" });
  expect(bare.includes("system:serviceaccount:apps:demo-tokenwell\n"), "bare-name subject");
  expect(bare.includes("kind: ServiceAccount\nmetadata:\n  name: demo-tokenwell\n"), "the ServiceAccount NOTES names");
});

await check("NOTES.txt in library mode: the app's own ServiceAccount, never the chart's", () => {
  const out = execFileSync(helm, ["install", "demo", appChart, "--namespace", "orders", "--dry-run=client",
                                  "--render-subchart-notes"], { encoding: "utf8" });
  const notes = out.slice(out.indexOf("NOTES:"));
  expect(!notes.includes("system:serviceaccount:orders:demo-tokenwell"), `names the chart's ServiceAccount:\n${notes}`);
  expect(notes.includes("system:serviceaccount:orders:<your pods' serviceAccountName>"), `no own-ServiceAccount subject:\n${notes}`);
  expect(notes.includes("azure.workload.identity/client-id: 11111111-2222-3333-4444-555555555555"), "no client-id annotation");
  expect(notes.includes("runs its pods as RELEASE-orders"), "no example ServiceAccount");
});

await check("values.schema.json accepts what the agent accepts (jwks refresh object, Ed25519)", () => {
  const r = spawnSync(helm, ["template", "rel", chart,
    "--set-json", 'config.keysets=[{"name":"idp","source":"jwks","issuer":"https://idp.example.com","refresh":{"min":"5m","max":"24h","default":"1h","cooldown":"30s"}},{"name":"dev","source":"generated","algorithm":"Ed25519"}]'],
    { encoding: "utf8" });
  expect(r.status === 0, `rejected: ${r.stderr}`);
});

// --- the injector ------------------------------------------------------------
const injectorName = "rel-tokenwell-injector";
const injectorPodLabels = { "app.kubernetes.io/name": "tokenwell-injector", "app.kubernetes.io/instance": "rel" };

function assertInjectorWorkload(objs) {
  const d = one(objs, "Deployment", injectorName);
  equal(d.spec.replicas, 2, "injector replicas");
  equal(d.spec.selector.matchLabels, injectorPodLabels, "injector selector");
  assertSelectorLabels(d);
  const pod = d.spec.template.spec;
  equal(pod.automountServiceAccountToken, false, "no API token in the injector");
  equal(pod.serviceAccountName, injectorName, "its own ServiceAccount");
  equal(one(objs, "ServiceAccount", injectorName).automountServiceAccountToken, false, "SA automount");
  const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
  equal(anti?.topologyKey, "kubernetes.io/hostname", "anti-affinity across nodes");
  equal(anti?.labelSelector?.matchLabels, injectorPodLabels, "anti-affinity selects injector pods");
  const c = pod.containers[0];
  equal(c.command, ["/usr/local/bin/tokenwell-injector"], "injector command");
  const arg = (flag) => c.args[c.args.indexOf(flag) + 1];
  equal(arg("--sidecar-spec"), "/etc/tokenwell-injector/sidecar.json", "--sidecar-spec");
  equal(arg("--tls-cert"), "/etc/tokenwell-injector/tls/tls.crt", "--tls-cert");
  equal(c.readinessProbe.httpGet, { path: "/readyz", port: "https", scheme: "HTTPS" }, "readinessProbe");
  equal(c.livenessProbe.httpGet, { path: "/healthz", port: "https", scheme: "HTTPS" }, "livenessProbe");
  const sc = c.securityContext;
  for (const [k, v] of [["runAsNonRoot", true], ["readOnlyRootFilesystem", true], ["allowPrivilegeEscalation", false]])
    equal(sc[k], v, `injector securityContext.${k}`);
  equal(sc.capabilities.drop, ["ALL"], "injector drops ALL capabilities");
  equal(sc.seccompProfile.type, "RuntimeDefault", "injector seccomp");
  expect(c.resources.limits.memory, "injector memory limit");
  const specVolume = pod.volumes.find((v) => v.name === "sidecar-spec");
  equal(specVolume.configMap.name, injectorName, "mounts the sidecar spec ConfigMap");
  expect(JSON.parse(one(objs, "ConfigMap", injectorName).data["sidecar.json"]).native_container, "spec renders");
  expect(d.spec.template.metadata.annotations["checksum/sidecar-spec"], "spec checksum rolls the injector");
  const pdb = one(objs, "PodDisruptionBudget", injectorName);
  equal(pdb.spec.minAvailable, 1, "PDB minAvailable");
  equal(pdb.spec.selector.matchLabels, injectorPodLabels, "PDB selects the injector");
  const svc = one(objs, "Service", injectorName);
  equal(svc.spec.ports, [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }], "Service port");
  equal(svc.spec.selector, injectorPodLabels, "Service selects the injector");
  // No selector of the example workload picks the injector's pods.
  for (const o of objs.filter((x) => x.kind === "Deployment" && x.metadata.name !== injectorName))
    expect(Object.entries(o.spec.selector.matchLabels).some(([k, v]) => injectorPodLabels[k] !== v),
           `${o.metadata.name}'s selector matches the injector's pods`);
  return pod.volumes.find((v) => v.name === "tls").secret.secretName;
}

function assertWebhook(objs, { failurePolicy, timeoutSeconds, excluded }) {
  const cfg = one(objs, "MutatingWebhookConfiguration", injectorName);
  equal(cfg.webhooks.length, 1, "one webhook");
  const w = cfg.webhooks[0];
  expect(w.name.includes("tokenwell"), "webhook name names tokenwell (the alerts match on it)");
  equal(w.admissionReviewVersions, ["v1"], "admissionReviewVersions");
  equal(w.clientConfig.service, { name: injectorName, namespace: "apps", path: "/mutate", port: 443 }, "clientConfig.service");
  equal(w.rules, [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" }], "rules");
  equal(w.objectSelector, { matchLabels: { "tokenwell.io/inject": "true" } }, "objectSelector");
  equal(w.namespaceSelector, { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: excluded }] },
        "namespaceSelector");
  equal(w.failurePolicy, failurePolicy, "failurePolicy");
  equal(w.timeoutSeconds, timeoutSeconds, "timeoutSeconds");
  expect(w.timeoutSeconds <= 5, "timeoutSeconds <= 5");
  equal(w.matchPolicy, "Equivalent", "matchPolicy");
  equal(w.sideEffects, "None", "sideEffects");
  equal(w.reinvocationPolicy, "IfNeeded", "reinvocationPolicy");
  return { cfg, w };
}

await check("injector: Deployment, PDB, Service, webhook; the self-signed CA verifies the serving certificate", () => {
  const objs = rendered.injector;
  const secretName = assertInjectorWorkload(objs);
  const { w } = assertWebhook(objs, { failurePolicy: "Fail", timeoutSeconds: 5, excluded: ["kube-system", "apps"] });
  const secret = one(objs, "Secret", secretName);
  equal(secret.type, "kubernetes.io/tls", "Secret type");
  const pem = (k) => Buffer.from(secret.data[k], "base64").toString();
  const ca = new X509Certificate(Buffer.from(w.clientConfig.caBundle, "base64"));
  equal(ca.toString(), new X509Certificate(pem("ca.crt")).toString(), "caBundle is the Secret's ca.crt");
  expect(ca.ca, "caBundle is a CA");
  const serving = new X509Certificate(pem("tls.crt"));
  expect(serving.verify(ca.publicKey), "the CA did not sign the serving certificate");
  expect(serving.checkHost(`${injectorName}.apps.svc`), `serving certificate lacks ${injectorName}.apps.svc: ${serving.subjectAltName}`);
  expect(serving.checkPrivateKey(createPrivateKey(pem("tls.key"))), "tls.key does not match tls.crt");
  for (const kind of ["Certificate", "Issuer", "ServiceMonitor"]) expect(!objs.some((o) => o.kind === kind), `no ${kind}`);
  expect(!objs.some((o) => o.kind === "Deployment" && o.metadata.name !== injectorName), "no example workload");
});

await check("injector-cert-manager: CA Issuer chain, Certificate for the Service, caBundle injected, HTTPS ServiceMonitor", () => {
  const objs = rendered["injector-cert-manager"];
  const secretName = assertInjectorWorkload(objs);
  const { cfg, w } = assertWebhook(objs, { failurePolicy: "Ignore", timeoutSeconds: 3,
                                          excluded: ["kube-system", "apps", "monitoring"] });
  equal(cfg.metadata.annotations["cert-manager.io/inject-ca-from"], `apps/${injectorName}`, "inject-ca-from");
  expect(!w.clientConfig.caBundle, "no caBundle of the chart's own with cert-manager");
  expect(!objs.some((o) => o.kind === "Secret"), "no generated Secret with cert-manager");
  const cert = one(objs, "Certificate", injectorName);
  equal(cert.spec.secretName, secretName, "the Certificate's Secret is the one the injector mounts");
  expect(cert.spec.dnsNames.includes(`${injectorName}.apps.svc`), "dnsNames has the Service");
  equal(cert.spec.issuerRef, { name: `${injectorName}-ca`, kind: "Issuer", group: "cert-manager.io" }, "issued by the CA Issuer");
  const ca = one(objs, "Certificate", `${injectorName}-ca`);
  equal(ca.spec.isCA, true, "CA certificate");
  equal(one(objs, "Issuer", `${injectorName}-ca`).spec.ca.secretName, ca.spec.secretName, "CA Issuer uses the CA");
  equal(one(objs, "Issuer", `${injectorName}-selfsigned`).spec.selfSigned, {}, "self-signed root Issuer");
  const sm = one(objs, "ServiceMonitor", injectorName);
  equal(sm.spec.endpoints[0].scheme, "https", "ServiceMonitor scheme");
  equal(sm.spec.endpoints[0].tlsConfig.ca.secret, { name: secretName, key: "ca.crt" }, "ServiceMonitor trusts the CA");
  equal(sm.spec.endpoints[0].tlsConfig.serverName, `${injectorName}.apps.svc`, "ServiceMonitor serverName");
  equal(sm.spec.selector.matchLabels, injectorPodLabels, "ServiceMonitor selects the injector's Service");
  equal(sm.metadata.labels.release, "prometheus", "ServiceMonitor extra labels");
  const spec = JSON.parse(one(objs, "ConfigMap", injectorName).data["sidecar.json"]);
  equal(spec.default_mode, "classic", "sidecar.mode=classic is the injector's default");
  equal(spec.fs_group, null, "injector.fsGroup: null");
  equal(one(objs, "Deployment", injectorName).spec.template.spec.priorityClassName, "system-cluster-critical", "priorityClassName");
});

await check("injector: the default sidecar mode follows the cluster version; an existing issuerRef is used", () => {
  const spec = (args) => JSON.parse(one(render(chart, ["--set", "injector.enabled=true", ...args]), "ConfigMap", injectorName)
    .data["sidecar.json"]);
  equal(spec(["--kube-version", "1.28.9"]).default_mode, "classic", "Kubernetes 1.28");
  equal(spec(["--kube-version", "1.29.0"]).default_mode, "native", "Kubernetes 1.29");
  const objs = render(chart, ["--set", "injector.enabled=true", "--set", "injector.certManager.enabled=true",
                              "--set", "injector.certManager.issuerRef.name=corp-ca",
                              "--set", "injector.certManager.issuerRef.kind=ClusterIssuer"]);
  equal(one(objs, "Certificate").spec.issuerRef, { name: "corp-ca", kind: "ClusterIssuer", group: "cert-manager.io" }, "issuerRef");
  expect(!objs.some((o) => o.kind === "Issuer"), "no Issuer of the chart's own with an issuerRef");
  const single = render(chart, ["--set", "injector.enabled=true", "--set", "injector.replicas=1"]);
  expect(!single.some((o) => o.kind === "PodDisruptionBudget"), "a PDB with one replica would block every drain");
});

await check("injector: NOTES.txt says what was installed and how to verify it", () => {
  const out = execFileSync(helm, ["install", "rel", chart, "--namespace", "apps", "--dry-run=client",
                                  "-f", path.join(ciDir, "injector-values.yaml")], { encoding: "utf8" });
  const notes = out.slice(out.indexOf("NOTES:"));
  for (const text of ["MutatingWebhookConfiguration rel-tokenwell-injector", "tokenwell.io/inject",
                      "tokenwell.io/config", "kubectl -n apps rollout status deployment/rel-tokenwell-injector",
                      "kubectl get pod", "docs/injector.md"])
    expect(notes.includes(text), `no '${text}' in:\n${notes}`);
});

if (injector) {
  await checkInjection({ helm, chart, injector, check, expect, equal, validateAll, work: path.join(work, "injection") });
} else {
  console.log("skip injector end to end: no TOKENWELL_INJECTOR (scripts/helm-check.sh sets it when build/injector exists)");
}

await check("values.schema.json rejects bad values with the path named", () => {
  const bad = [
    [["--set", "config.credentials[0].name=bad name", "--set", "config.credentials[0].source=entra"], "/config/credentials/0/name"],
    [["--set", "config.credentials[0].name=r", "--set", "config.credentials[0].source=ldap"], "/config/credentials/0/source"],
    [["--set", "config.credentials[0].name=r", "--set", "config.credentials[0].source=entra",
      "--set", "config.credentials[0].auth.method=password"], "/config/credentials/0/auth/method"],
    [["--set", "config.credentials[0].name=r", "--set", "config.credentials[0].source=entra",
      "--set-json", "config.credentials[0].refresh={\"ratio\":1.5}"], "/config/credentials/0/refresh/ratio"],
    [["--set", "config.credentials[0].name=r", "--set", "config.credentials[0].source=entra",
      "--set-json", "config.credentials[0].refresh={\"jitter\":0.9}"], "/config/credentials/0/refresh/jitter"],
    [["--set", "config.credentials[0].name=r", "--set", "config.credentials[0].source=entra",
      "--set", "config.credentials[0].refresh.timeout=10 seconds"], "/config/credentials/0/refresh/timeout"],
    [["--set", "config.credentials[0].name=r", "--set", "config.credentials[0].source=file"], "missing property 'path'"],
    [["--set", "config.log.level=loud"], "/config/log/level"],
    [["--set", "config.listen=9464"], "/config/listen"],
    [["--set", "sidecar.mode=sometimes"], "/sidecar/mode"],
    [["--set", "azureWorkloadIdentity.enabled=true"], "/azureWorkloadIdentity/clientId"],
    [["--set", "injector.timeoutSeconds=10"], "/injector/timeoutSeconds"],
    [["--set", "injector.failurePolicy=Maybe"], "/injector/failurePolicy"],
    [["--set", "injector.replicas=0"], "/injector/replicas"],
    [["--set", "injector.excludeNamespaces[0]=Not_A_Namespace"], "/injector/excludeNamespaces/0"],
    [["--set", "injector.certManager.issuerRef.kind=Vault"], "/injector/certManager/issuerRef/kind"],
    // The schema is the agent's (scripts/generate-config-schema.py): what --check-config rejects, it rejects.
    [["--set", "config.keysets[0].name=k", "--set", "config.keysets[0].source=generated",
      "--set", "config.keysets[0].algorithm=ES384"], "/config/keysets/0/algorithm"],
    [["--set", "config.keysets[0].name=k", "--set", "config.keysets[0].source=generated",
      "--set", "config.keysets[0].algorithm=PS512"], "/config/keysets/0/algorithm"],
  ];
  for (const [args, path_] of bad) {
    const r = spawnSync(helm, ["template", "rel", chart, ...args], { encoding: "utf8" });
    expect(r.status !== 0, `accepted: ${args.join(" ")}`);
    expect(r.stderr.includes(path_), `error for ${args.join(" ")} does not name ${path_}:\n${r.stderr}`);
  }
});

// --- monitoring: the PrometheusRule and the Grafana dashboard ConfigMap ----
// The rules are checked as Prometheus reads them (promtool check rules on the
// rendered spec); the PrometheusRule's shape by the operator's schema above.
const repoRoot = path.resolve(chart, "../..");
function promtoolCheck(spec, name) {
  const file = path.join(work, `${name}-rules.yaml`);
  writeFileSync(file, JSON.stringify(spec));  // JSON is YAML
  const r = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
  expect(r.status === 0, `promtool check rules: ${r.stdout}${r.stderr}`);
}
const alertsOf = (spec) => spec.groups.flatMap((g) => g.rules).filter((r) => r.alert);
const shipped = parseAllDocuments(readFileSync(path.join(repoRoot, "deploy/prometheus/tokenwell-rules.yaml"), "utf8"))[0].toJS();

await check("default: no PrometheusRule, no dashboard ConfigMap", () => {
  expect(!rendered.default.some((o) => o.kind === "PrometheusRule"), "a PrometheusRule by default");
  expect(!rendered.default.some((o) => o.kind === "ConfigMap" && o.data?.["tokenwell.json"]), "a dashboard by default");
});

await check("monitoring-rules-dashboard: PrometheusRule passes promtool, the shipped alerts with the values' windows", () => {
  const pr = one(rendered["monitoring-rules-dashboard"], "PrometheusRule");
  equal(pr.metadata.labels.release, "prometheus", "PrometheusRule extra labels");
  promtoolCheck(pr.spec, "monitoring-rules-dashboard");
  const alerts = alertsOf(pr.spec);
  // Without the injector its group is left out; everything else is the shipped file.
  equal(alerts.map((a) => a.alert), alertsOf(shipped).map((a) => a.alert).filter((n) => !n.startsWith("TokenwellInjector")),
        "alert names");
  const byName = Object.fromEntries(alerts.map((a) => [a.alert, a]));
  equal(byName.TokenwellCredentialRefreshFailing.for, "30m", "credentialRefreshFailingFor");
  expect(byName.TokenwellSocketCallersDenied.expr.endsWith("> 5"), `socketDeniedThreshold: ${byName.TokenwellSocketCallersDenied.expr}`);
  for (const a of alerts)
    equal(a.annotations.runbook_url, `https://docs.example.com/tokenwell/runbooks.md#${a.alert.toLowerCase()}`, `${a.alert} runbook_url`);
});

await check("with injector.enabled the PrometheusRule adds the injector's alerts, and they pass promtool", () => {
  const objs = render(chart, ["--skip-schema-validation", "--set", "monitoring.rules.enabled=true", "--set", "injector.enabled=true",
                              "--show-only", "templates/prometheusrule.yaml"]);
  const pr = one(objs, "PrometheusRule");
  promtoolCheck(pr.spec, "injector");
  equal(alertsOf(pr.spec).map((a) => a.alert), alertsOf(shipped).map((a) => a.alert), "the shipped file's alerts");
});

await check("monitoring-rules-dashboard: dashboard ConfigMap for Grafana's sidecar, the shipped JSON", () => {
  const cm = one(rendered["monitoring-rules-dashboard"], "ConfigMap", "rel-tokenwell-dashboard");
  equal(cm.metadata.labels.grafana_dashboard, "1", "sidecar label");
  equal(cm.metadata.annotations, { grafana_folder: "tokenwell" }, "annotations");
  equal(cm.metadata.namespace, "monitoring", "namespace");
  equal(JSON.parse(cm.data["tokenwell.json"]),
        JSON.parse(readFileSync(path.join(repoRoot, "deploy/grafana/tokenwell-dashboard.json"), "utf8")), "dashboard JSON");
});

await check("values.schema.json rejects bad monitoring values with the path named", () => {
  const bad = [
    [["--set", "monitoring.rules.credentialRefreshFailingFor=15 minutes"], "/monitoring/rules/credentialRefreshFailingFor"],
    [["--set", "monitoring.rules.runbookUrl=docs/runbooks.md"], "/monitoring/rules/runbookUrl"],
    [["--set", "monitoring.rules.socketDeniedThreshold=-1"], "/monitoring/rules/socketDeniedThreshold"],
    [["--set", "monitoring.rules.injectorWebhookName=a\"b"], "/monitoring/rules/injectorWebhookName"],
    [["--set", "monitoring.dashboard.namespace=Monitoring"], "/monitoring/dashboard/namespace"],
    [["--set", "monitoring.dashboard.enable=true"], "enable"],
  ];
  for (const [args, path_] of bad) {
    const r = spawnSync(helm, ["template", "rel", chart, ...args], { encoding: "utf8" });
    expect(r.status !== 0, `accepted: ${args.join(" ")}`);
    expect(r.stderr.includes(path_), `error for ${args.join(" ")} does not name ${path_}:\n${r.stderr}`);
  }
});

await check("README.md: the values table is the one values.yaml's comments give", () => {
  const readme = readFileSync(path.join(chart, "README.md"), "utf8");
  expect(readme.includes(`<!-- values-table:begin -->\n${valuesTable(chart)}\n<!-- values-table:end -->`),
         "helm/tokenwell/README.md is not current: node scripts/helm-check/values-table.mjs --write helm/tokenwell");
});

await check("helm package: the archive a user installs (README, schema, templates, no ci/), Artifact Hub annotations", () => {
  const out = execFileSync(helm, ["package", chart, "--destination", work], { encoding: "utf8" });
  const archive = /saved it to: (\S+)/.exec(out)?.[1];
  expect(archive?.endsWith("tokenwell-0.1.0.tgz"), `no archive in: ${out}`);
  const files = execFileSync("tar", ["-tzf", archive], { encoding: "utf8" }).split("\n");
  for (const f of ["tokenwell/Chart.yaml", "tokenwell/values.yaml", "tokenwell/values.schema.json", "tokenwell/README.md",
                   "tokenwell/templates/NOTES.txt", "tokenwell/templates/injector-webhook.yaml"])
    expect(files.includes(f), `${f} not packaged`);
  expect(!files.some((f) => f.startsWith("tokenwell/ci/")), "ci/ scenarios packaged");
  equal(execFileSync(helm, ["show", "readme", archive], { encoding: "utf8" }).trim(),
        readFileSync(path.join(chart, "README.md"), "utf8").trim(), "helm show readme");
  const meta = parseAllDocuments(execFileSync(helm, ["show", "chart", archive], { encoding: "utf8" }))[0].toJS();
  for (const key of ["artifacthub.io/category", "artifacthub.io/links", "artifacthub.io/images", "artifacthub.io/changes"])
    expect(meta.annotations?.[key], `Chart.yaml lacks ${key}`);
  for (const key of ["artifacthub.io/links", "artifacthub.io/images", "artifacthub.io/changes"])
    expect(Array.isArray(parseAllDocuments(meta.annotations[key])[0].toJS()), `${key} is not a YAML list`);
  execFileSync(helm, ["lint", "--strict", archive], { stdio: "pipe" });
});

console.log(`helm-check: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
