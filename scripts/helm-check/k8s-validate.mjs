// k8s-validate.mjs -- validates rendered objects against the Kubernetes
// OpenAPI schemas (npm kubernetes-models, @kubernetes-models/prometheus-operator,
// @kubernetes-models/cert-manager).
//
// kubernetes-models checks types, enums, formats and required fields, but its
// schemas allow unknown fields, so a misspelt key ("restartPolicyy") would
// pass. strictFields() closes that gap: it walks the object along the
// models' TypeScript interfaces (the same OpenAPI definitions) and reports
// every key the schema does not have.
//
//   import { validateObject } from "./k8s-validate.mjs";
//   const problems = await validateObject(obj);   // [] when valid
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const packageRoots = [
  "kubernetes-models",
  "@kubernetes-models/apimachinery",
  "@kubernetes-models/prometheus-operator",
  "@kubernetes-models/cert-manager",
].map((p) => path.dirname(require.resolve(`${p}/package.json`)));

// Where each apiVersion's models live.
function modelPath(apiVersion, kind) {
  if (apiVersion.startsWith("monitoring.coreos.com/"))
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (apiVersion.startsWith("cert-manager.io/"))
    return `@kubernetes-models/cert-manager/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

// Interface name (the long alias, e.g. IIoK8sApiCoreV1Container) -> {fields: {name: type}}.
let interfaces = null;
function loadInterfaces() {
  if (interfaces) return interfaces;
  interfaces = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const p = path.join(dir, entry);
      if (entry === "node_modules" || entry === "_schemas") continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (entry.endsWith(".d.ts")) parseDts(readFileSync(p, "utf8"));
    }
  };
  packageRoots.forEach(walk);
  const inherit = (fields, seen = new Set()) => {
    for (const key of Object.keys(fields).filter((k) => k.startsWith("\0base:"))) {
      const base = interfaces.get(fields[key]);
      delete fields[key];
      if (base && !seen.has(base)) {
        seen.add(base);
        inherit(base, seen);
        for (const [k, v] of Object.entries(base)) if (!(k in fields)) fields[k] = v;
      }
    }
  };
  for (const fields of interfaces.values()) inherit(fields);
  return interfaces;
}

// A field's type: an interface name (string), {array: type}, {fields: {...}}
// for an inline object, or null for what is not checked (maps, unions, scalars).
function parseDts(text) {
  text = text.replace(/\/\*[\s\S]*?\*\//g, "");
  const local = new Map();
  for (const m of text.matchAll(/export interface (\w+)(?: extends ([\w, ]+))? \{/g)) {
    const { fields } = parseObject(text, m.index + m[0].length);
    const bases = (m[2] ?? "").split(",").map((b) => b.trim()).filter(Boolean);
    if (bases.includes("TypeMeta")) Object.assign(fields, { apiVersion: null, kind: null });
    // An interface that extends others has their fields too (resolved once all are read).
    for (const base of bases) if (base !== "TypeMeta") fields[`\0base:${base}`] = base;
    local.set(m[1], fields);
  }
  for (const m of text.matchAll(/export type \{ (\w+) as (\w+)/g))
    if (local.has(m[1])) interfaces.set(m[2], local.get(m[1]));
}

// Parses `"name"?: type;` members from just after a `{` to its `}`.
function parseObject(text, i) {
  const fields = {};
  const member = /\s*"([^"]+)"\??: /y;
  for (;;) {
    while (/\s/.test(text[i])) i++;
    if (i >= text.length || text[i] === "}") return { fields, end: i + 1 };
    member.lastIndex = i;
    const m = member.exec(text);
    if (!m) {  // an index signature or anything else: skip to the member's end
      i = Math.max(skipType(text, i).end, i + 1);
      continue;
    }
    const { type, end } = parseType(text, member.lastIndex);
    fields[m[1]] = type;
    i = Math.max(end, member.lastIndex);
  }
}

function parseType(text, i) {
  if (text.startsWith("Array<{", i)) {
    const inner = parseObject(text, i + 7);
    return { type: { array: { fields: inner.fields } }, end: skipType(text, inner.end).end };
  }
  if (text[i] === "{") {
    if (/^\{\s*\[key: string\]/.test(text.slice(i, i + 40))) return { type: null, end: skipType(text, i).end };
    const inner = parseObject(text, i + 1);
    return { type: { fields: inner.fields }, end: skipType(text, inner.end).end };
  }
  const { raw, end } = skipType(text, i);
  const array = /^Array<(\w+)>$/.exec(raw);
  if (array) return { type: { array: array[1] }, end };
  return { type: /^I\w+$/.test(raw) ? raw : null, end };
}

// From i past the `;` that ends a member at depth 0; returns the text before it.
function skipType(text, i) {
  let depth = 0;
  const start = i;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "<" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ">" || c === ")" || c === "]") depth--;
    else if (c === ";" && depth === 0) return { raw: text.slice(start, i).trim(), end: i + 1 };
    if (depth < 0) return { raw: text.slice(start, i).trim(), end: i };
  }
  return { raw: text.slice(start).trim(), end: i };
}

// Unknown keys along `type` (see parseDts), with JSON paths.
function strictFields(value, type, where, out) {
  if (!type || value === null || typeof value !== "object") return;
  if (type.array) {
    if (Array.isArray(value)) value.forEach((v, i) => strictFields(v, type.array, `${where}[${i}]`, out));
    return;
  }
  const fields = typeof type === "string" ? loadInterfaces().get(type) : type.fields;
  if (!fields || Array.isArray(value)) return;
  const name = typeof type === "string" ? type.replace(/^I/, "") : "the schema";
  for (const [key, v] of Object.entries(value)) {
    if (!(key in fields)) out.push(`${where}.${key}: unknown field (not in ${name})`);
    else strictFields(v, fields[key], `${where}.${key}`, out);
  }
}

// Every problem with `obj` as text; [] when it is valid.
export async function validateObject(obj) {
  const { apiVersion, kind } = obj ?? {};
  if (!apiVersion || !kind) return ["object without apiVersion/kind"];
  let Model;
  try {
    Model = (await import(modelPath(apiVersion, kind)))[kind];
  } catch {
    return [`${apiVersion} ${kind}: no OpenAPI model for this kind`];
  }
  const problems = [];
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`${kind}/${obj.metadata?.name}: ${e.message}`);
  }
  const out = [];
  strictFields(obj, interfaceFor(apiVersion, kind), `${kind}/${obj.metadata?.name}`, out);
  return problems.concat(out);
}

// The long interface name of a top-level kind, from its model's .d.ts.
function interfaceFor(apiVersion, kind) {
  const [pkg, ...rest] = modelPath(apiVersion, kind).split("/");
  const name = pkg.startsWith("@") ? `${pkg}/${rest.shift()}` : pkg;
  const file = path.join(path.dirname(require.resolve(`${name}/package.json`)), ...rest) + ".d.ts";
  const m = new RegExp(`export type \\{ I${kind} as (\\w+)`).exec(readFileSync(file, "utf8"));
  return m ? m[1] : "";
}
