// workload-identity-webhook.mjs -- a stand-in for the Azure Workload
// Identity mutating webhook, transcribed from its source
// (github.com/Azure/azure-workload-identity, pkg/webhook/webhook.go: Handle,
// mutateContainers, addEnvironmentVariables, addProjectedVolumeMount,
// addProjectedVolume, buildVolumeName; pkg/webhook/consts.go), for a
// ServiceAccount annotated with a client id: no proxy sidecar, no custom
// token endpoint. The injector test runs it before and after the tokenwell
// injector to show that the order of the two webhooks does not matter.
//
//   import { mutateLikeWorkloadIdentity } from "./workload-identity-webhook.mjs";
//   const mutated = mutateLikeWorkloadIdentity(pod, { clientId, tenantId });
import { createHash } from "node:crypto";

const volumePrefix = "azure-workload-identity-reserved-";
const mountPath = "/var/run/secrets/azure/wi";
const tokenPath = "token/azure-identity-token";

// buildVolumeName: the prefix and the pod name's SHA-256, 63 characters in all.
function volumeName(pod) {
  const name = pod.metadata?.name || `${pod.metadata?.generateName ?? ""} (prefix)`;
  return volumePrefix + createHash("sha256").update(name).digest("hex").slice(0, 63 - volumePrefix.length);
}

function mutateContainer(container, env, volume) {
  const c = structuredClone(container);
  // addEnvironmentVariables: only names not yet set, only non-empty values.
  const present = new Set((c.env ?? []).map((e) => e.name));
  for (const e of env) {
    if (present.has(e.name) || !e.value) continue;
    (c.env ??= []).push({ name: e.name, value: e.value });
  }
  // addProjectedVolumeMount: replace a mount of the same name, else append.
  const mount = { name: volume, mountPath, readOnly: true };
  const at = (c.volumeMounts ?? []).findIndex((m) => m.name === volume);
  if (at >= 0) c.volumeMounts[at] = mount;
  else (c.volumeMounts ??= []).push(mount);
  return c;
}

export function mutateLikeWorkloadIdentity(pod, {
  clientId,
  tenantId,
  authorityHost = "https://login.microsoftonline.com/",
  expirationSeconds = 3600,
  audience = "api://AzureADTokenExchange",
}) {
  const out = structuredClone(pod);
  const volume = volumeName(pod);
  // getSkipContainers: ";"-separated, trimmed.
  const skip = new Set((pod.metadata?.annotations?.["azure.workload.identity/skip-containers"] ?? "")
    .split(";").map((s) => s.trim()).filter(Boolean));
  const env = [
    { name: "AZURE_CLIENT_ID", value: clientId },
    { name: "AZURE_TENANT_ID", value: tenantId },
    { name: "AZURE_FEDERATED_TOKEN_FILE", value: `${mountPath}/${tokenPath}` },
    { name: "AZURE_AUTHORITY_HOST", value: authorityHost },
  ];
  for (const field of ["initContainers", "containers"]) {
    if (!out.spec[field]) continue;
    out.spec[field] = out.spec[field].map((c) => (skip.has(c.name) ? c : mutateContainer(c, env, volume)));
  }
  // addProjectedVolume: replace a volume of the same name, else append.
  const projected = {
    name: volume,
    projected: { sources: [{ serviceAccountToken: { path: tokenPath, expirationSeconds, audience } }] },
  };
  const at = (out.spec.volumes ?? []).findIndex((v) => v.name === volume);
  if (at >= 0) out.spec.volumes[at] = projected;
  else (out.spec.volumes ??= []).push(projected);
  return out;
}

// What the WI tests use as the ServiceAccount's annotations.
export const testIdentity = {
  clientId: "11111111-2222-3333-4444-555555555555",
  tenantId: "66666666-7777-8888-9999-000000000000",
};
