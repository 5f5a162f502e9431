// injection.mjs -- the injector end to end against the chart, run by
// check.mjs when a built tokenwell-injector is given:
//   - the chart (injector.enabled) renders the sidecar spec into the
//     injector's ConfigMap; the real binary serves it over HTTPS (a throw-away
//     certificate from the openssl CLI, verified by the client);
//   - each fixture pod of tests/injector/pods is sent as an AdmissionReview,
//     the patch applied with npm fast-json-patch (RFC 6902, not the
//     injector's code), the result validated against the Kubernetes OpenAPI
//     schemas, sent again (a reinvocation: nothing more), and compared with
//     the same pod rendered by the chart's named templates
//     (injection-chart/, the way an app chart includes them);
//   - Azure Workload Identity pods: the stand-in of its webhook
//     (workload-identity-webhook.mjs) before and after the injector give the
//     same pod, with the AZURE_* variables in the agent's container.
//
//   import { checkInjection } from "./injection.mjs";
//   await checkInjection({ helm, chart, injector, check, expect, equal, validateAll, work });
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { fileURLToPath } from "node:url";
import jsonpatch from "fast-json-patch";
import { parseAllDocuments } from "yaml";
import { mutateLikeWorkloadIdentity, testIdentity } from "./workload-identity-webhook.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const podsDir = path.join(root, "tests/injector/pods");
const testChart = path.join(here, "injection-chart");
const kubeVersion = "1.30.0";

const pod = (name) => JSON.parse(readFileSync(path.join(podsDir, name), "utf8"));
const docs = (text) => parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean);

// The injector on a free port with the chart's rendered spec; resolves once it serves.
async function startInjector(injector, specFile, work) {
  const cert = path.join(work, "tls.crt");
  const key = path.join(work, "tls.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=tokenwell-injector.check.svc",
                           "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "pipe" });
  const child = spawn(injector, ["--sidecar-spec", specFile, "--tls-cert", cert, "--tls-key", key,
                                 "--listen", "127.0.0.1:0", "--log-level", "debug"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`injector did not start:\n${log}`)), 10000);
    child.stderr.on("data", (d) => {
      log += d;
      const m = /"msg":"tokenwell-injector serving".*?"port":(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`injector exited ${code}:\n${log}`)));
  });
  const agent = new https.Agent({ ca: readFileSync(cert), keepAlive: true, maxSockets: 4 });
  return {
    log: () => log,
    async stop() {
      agent.destroy();
      child.kill("SIGINT");
      child.kill("SIGINT");  // the second skips the drain
      if (child.exitCode === null) await once(child, "exit");
    },
    // POST /mutate; the AdmissionReview answer.
    review(object, uid) {
      const body = JSON.stringify({
        apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
        request: { uid, kind: { group: "", version: "v1", kind: "Pod" }, resource: { group: "", version: "v1", resource: "pods" },
                   namespace: object.metadata.namespace, operation: "CREATE", object, dryRun: false },
      });
      return new Promise((resolve, reject) => {
        const req = https.request({ host: "127.0.0.1", port, path: "/mutate", method: "POST", agent,
                                    headers: { "content-type": "application/json" } }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (text += c));
          res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text))
                                                        : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
        });
        req.on("error", reject);
        req.end(body);
      });
    },
  };
}

export async function checkInjection({ helm, chart, injector, check, expect, equal, validateAll, work }) {
  mkdirSync(work, { recursive: true });
  execFileSync(helm, ["dependency", "update", testChart], { stdio: "pipe" });

  // The injector's ConfigMap for a chart install (defaults, this cluster version).
  const rendered = docs(execFileSync(helm, ["template", "rel", chart, "--namespace", "tokenwell-system",
                                            "--kube-version", kubeVersion, "--set", "injector.enabled=true"],
                                     { encoding: "utf8" }));
  const cm = rendered.find((o) => o.kind === "ConfigMap" && o.metadata.name === "rel-tokenwell-injector");
  const specFile = path.join(work, "sidecar.json");
  writeFileSync(specFile, cm.data["sidecar.json"]);
  await check("injector: the chart's sidecar spec passes tokenwell-injector --check", () => {
    const out = execFileSync(injector, ["--sidecar-spec", specFile, "--check"], { encoding: "utf8" });
    expect(out.includes("sidecar spec ok (native by default"), out);
  });

  // The same pod through the named templates (the test chart), as JSON.
  const renderNamed = (bare, readers, extra = []) => {
    const values = path.join(work, "named-values.json");
    writeFileSync(values, JSON.stringify({ pod: bare, readers }));
    const out = execFileSync(helm, ["template", "rel", testChart, "--namespace", bare.metadata.namespace,
                                    "--kube-version", kubeVersion, "-f", values, "--show-only", "templates/pod.yaml",
                                    ...extra], { encoding: "utf8" });
    return docs(out)[0];
  };

  const server = await startInjector(injector, specFile, work);
  let uid = 0;
  // Injects `bare` through the server: the patched pod, after checking the
  // answer, the schemas, and that a second call (reinvocation) adds nothing.
  const inject = async (bare) => {
    const id = `check-${++uid}`;
    const answer = await server.review(bare, id);
    equal(answer.response.uid, id, "response.uid");
    expect(answer.response.allowed === true, `not allowed: ${JSON.stringify(answer.response.status)}`);
    equal(answer.response.patchType, "JSONPatch", "patchType");
    const patch = JSON.parse(Buffer.from(answer.response.patch, "base64").toString("utf8"));
    const errors = jsonpatch.validate(patch, bare);
    expect(!errors, `fast-json-patch rejects the patch: ${errors?.message}`);
    const patched = jsonpatch.applyPatch(bare, patch, true, false).newDocument;
    await validateAll([patched]);
    const again = await server.review(patched, `${id}-again`);
    expect(again.response.allowed === true && !again.response.patch, `reinvocation patched again: ${JSON.stringify(again.response)}`);
    return patched;
  };

  const scenarios = [
    { name: "a Deployment's pod: 3 containers, an init container, volumes and mounts", fixture: "deployment-pod.json",
      readers: ["orders", "metrics-exporter", "log-shipper"] },
    { name: "the same pod, classic sidecar by annotation", fixture: "deployment-pod.json",
      readers: ["orders", "metrics-exporter", "log-shipper"],
      edit: (p) => { p.metadata.annotations["tokenwell.io/sidecar-mode"] = "classic"; },
      named: ["--set", "tokenwell.sidecar.mode=classic"] },
    { name: "the same pod, tokenwell.io/containers naming an app and an init container", fixture: "deployment-pod.json",
      readers: ["orders", "db-migrate"],
      edit: (p) => { p.metadata.annotations["tokenwell.io/containers"] = "orders,db-migrate"; } },
    { name: "a Job's pod", fixture: "job-pod.json", readers: ["report"] },
    { name: "a hostNetwork pod", fixture: "hostnetwork-pod.json", readers: ["node-agent"] },
  ];
  try {
    for (const s of scenarios) {
      await check(`injector: ${s.name}: patch applied (fast-json-patch), valid Pod, equal to the named templates`, async () => {
        const bare = pod(s.fixture);
        s.edit?.(bare);
        const injected = await inject(bare);
        const named = renderNamed(bare, s.readers, s.named);
        await validateAll([named]);
        equal(injected, named, "injected pod vs the named templates' pod");
        const agent = [...(injected.spec.initContainers ?? []), ...injected.spec.containers].find((c) => c.name === "tokenwell");
        const classic = s.named?.includes("tokenwell.sidecar.mode=classic");
        equal(classic ? injected.spec.containers[0].name : injected.spec.initContainers[0].name, "tokenwell",
              "the agent comes first");
        equal(agent.restartPolicy, classic ? undefined : "Always", "restartPolicy");
      });
    }

    await check("injector: Workload Identity pod, either webhook first: the same pod, AZURE_* in the agent", async () => {
      const bare = pod("workload-identity-pod.json");
      const wi = (p) => mutateLikeWorkloadIdentity(p, testIdentity);
      // The checked-in fixture the C++ tests use is what the stand-in makes.
      equal(wi(bare), pod("workload-identity-mutated-pod.json"), "tests/injector/pods/workload-identity-mutated-pod.json");
      const injectorFirst = wi(await inject(bare));                // WI runs after: mutates the agent itself
      const wiFirst = wi(await inject(wi(bare)));                   // WI first, then the injector, then WI reinvoked
      const named = wi(renderNamed(bare, ["payments"]));
      await validateAll([injectorFirst, wiFirst, named]);
      equal(wiFirst, injectorFirst, "WI first vs injector first");
      equal(injectorFirst, named, "injected vs the named templates");
      const agent = injectorFirst.spec.initContainers[0];
      for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"])
        expect(agent.env.some((e) => e.name === name && e.value), `agent lacks ${name}`);
      expect(agent.volumeMounts.some((m) => m.mountPath === "/var/run/secrets/azure/wi"), "agent lacks the WI token mount");
      // The injector re-invoked after WI changed the pod adds nothing.
      const again = await server.review(wiFirst, "wi-reinvoked");
      expect(again.response.allowed && !again.response.patch, "reinvocation after WI patched again");
    });

    await check("injector: a pod that already has the sidecar (app chart templates) is allowed unchanged", async () => {
      const already = pod("already-injected-pod.json");
      await validateAll([already]);
      const answer = await server.review(already, "already");
      expect(answer.response.allowed === true, "not allowed");
      expect(!answer.response.patch && !answer.response.patchType, "patched a pod that has the sidecar");
    });

    await check("injector: a clash is refused with a message and no patch", async () => {
      const clash = pod("deployment-pod.json");
      clash.spec.volumes.push({ name: "tokenwell", emptyDir: {} });
      const answer = await server.review(clash, "clash");
      equal(answer.response.allowed, false, "allowed");
      expect(!answer.response.patch, "a refusal carries a patch");
      expect(/already has a volume named 'tokenwell'/.test(answer.response.status?.message), JSON.stringify(answer.response));
    });
  } finally {
    await server.stop();
  }
}
