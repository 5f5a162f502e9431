// values-table.mjs -- the values table of a chart's README.md, generated
// from values.yaml and its comments (helm-docs' convention: a comment
// starting "# --" above a key, and the comment lines after it, describe that
// key; other comments are section headings). Every leaf value gets a row,
// and so does every map with a "# --" comment.
//
//   node scripts/helm-check/values-table.mjs --write helm/tokenwell   # rewrite the table in README.md
//   node scripts/helm-check/values-table.mjs --check helm/tokenwell   # exit 1 if README.md is not current
//
// The table sits between <!-- values-table:begin --> and <!-- values-table:end -->.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isMap, isScalar, isSeq, parseDocument } from "yaml";

const begin = "<!-- values-table:begin -->";
const end = "<!-- values-table:end -->";

// The "-- ..." part of a comment block, as one line; "" when there is none.
function description(comment) {
  if (!comment) return "";
  const lines = comment.split("\n").map((l) => l.replace(/^ ?/, ""));
  const start = lines.findLastIndex((l) => l.startsWith("--"));
  if (start < 0) return "";
  return lines.slice(start).join(" ").replace(/^--\s*/, "").replace(/\s+/g, " ").trim();
}

function typeOf(node) {
  if (isMap(node)) return "object";
  if (isSeq(node)) return "list";
  const v = isScalar(node) ? node.value : node;
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  return "string";
}

// Inside a documented map (its default shows every member), only members
// with a description of their own get a row.
function rows(map, prefix = "", insideDocumented = false, out = []) {
  map.items.forEach((pair, i) => {
    const key = prefix ? `${prefix}.${pair.key.value}` : String(pair.key.value);
    // The comment above a map's first key belongs to that map in the parse.
    const comment = pair.key.commentBefore ?? (i === 0 ? map.commentBefore : undefined);
    const text = description(comment);
    const node = pair.value;
    const leaf = !isMap(node) || node.items.length === 0;
    if (text || (leaf && !insideDocumented))
      out.push({ key, type: typeOf(node), value: JSON.stringify(node?.toJSON?.() ?? node ?? null), text });
    if (!leaf) rows(node, key, insideDocumented || Boolean(text), out);
  });
  return out;
}

const cell = (s) => s.replace(/\|/g, "\\|");

export function valuesTable(chartDir) {
  const doc = parseDocument(readFileSync(path.join(chartDir, "values.yaml"), "utf8"));
  if (doc.errors.length) throw new Error(`values.yaml: ${doc.errors[0].message}`);
  const lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"];
  for (const r of rows(doc.contents))
    lines.push(`| \`${r.key}\` | ${r.type} | \`${cell(r.value)}\` | ${cell(r.text)} |`);
  return lines.join("\n");
}

function withTable(readme, table) {
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} ... ${end} section`);
  return `${readme.slice(0, a + begin.length)}\n${table}\n${readme.slice(b)}`;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [mode, chartDir] = process.argv.slice(2);
  if (!["--check", "--write"].includes(mode) || !chartDir) {
    console.error("usage: values-table.mjs --check|--write CHART_DIR");
    process.exit(2);
  }
  const readmePath = path.join(chartDir, "README.md");
  const readme = readFileSync(readmePath, "utf8");
  const current = withTable(readme, valuesTable(chartDir));
  if (mode === "--write") {
    writeFileSync(readmePath, current);
  } else if (current !== readme) {
    console.error(`${readmePath}: the values table is not current; run node scripts/helm-check/values-table.mjs --write ${chartDir}`);
    process.exit(1);
  }
}
