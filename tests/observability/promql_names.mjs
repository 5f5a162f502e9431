// promql_names.mjs -- the metric names a PromQL expression selects, from
// Prometheus's own grammar (@prometheus-io/lezer-promql), for
// dashboard_test.py: reads a JSON array of expressions on stdin, prints a
// JSON array of {names: [...], error: null | "where it does not parse"}.
//
//   echo '["rate(a_total[5m])"]' | node promql_names.mjs   ->  [{"names":["a_total"],"error":null}]
import { parser } from "@prometheus-io/lezer-promql";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (d) => (text += d)).on("end", () => resolve(text));
}));

const out = input.map((expr) => {
  const names = new Set();
  let error = null;
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError && error === null) error = `syntax error at ${node.from}: ${expr.slice(node.from, node.from + 20)}`;
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector")
        names.add(expr.slice(node.from, node.to));
    },
  });
  return { names: [...names].sort(), error };
});
process.stdout.write(JSON.stringify(out));
