// config-from-configmap.mjs -- prints one file of a rendered ConfigMap
// (`helm template … --show-only templates/configmap.yaml`): the agent's
// agent.json by default, or another key (the injector's sidecar.json), for
// scripts/image-check.sh to hand to the image's programs.
//
//   node scripts/helm-check/config-from-configmap.mjs CONFIGMAP.yaml [KEY] > file
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const [file, key = "agent.json"] = process.argv.slice(2);
if (!file) {
  console.error("usage: config-from-configmap.mjs CONFIGMAP.yaml [KEY]");
  process.exit(2);
}
const cm = parse(readFileSync(file, "utf8"));
const config = cm?.kind === "ConfigMap" ? cm.data?.[key] : undefined;
if (!config) {
  console.error(`${file}: not a ConfigMap with data."${key}"`);
  process.exit(1);
}
process.stdout.write(config);
