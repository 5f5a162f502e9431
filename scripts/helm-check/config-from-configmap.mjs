// config-from-configmap.mjs -- prints the agent.json of a rendered tokenwell
// ConfigMap (`helm template … --show-only templates/configmap.yaml`), for
// scripts/image-check.sh to hand to the image's agent.
//
//   node scripts/helm-check/config-from-configmap.mjs CONFIGMAP.yaml > agent.json
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const file = process.argv[2];
if (!file) {
  console.error("usage: config-from-configmap.mjs CONFIGMAP.yaml");
  process.exit(2);
}
const cm = parse(readFileSync(file, "utf8"));
const config = cm?.kind === "ConfigMap" ? cm.data?.["agent.json"] : undefined;
if (!config) {
  console.error(`${file}: not a ConfigMap with data."agent.json"`);
  process.exit(1);
}
process.stdout.write(config);
