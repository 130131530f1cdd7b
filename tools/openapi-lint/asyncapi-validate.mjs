// Validates openapi/asyncapi.yaml with the official AsyncAPI parser (the library behind
// the AsyncAPI CLI and Studio). Exits non-zero on any error-severity diagnostic.
import { readFileSync } from "node:fs";
import { Parser, fromFile } from "@asyncapi/parser";

const file = process.argv[2] ?? "../../openapi/asyncapi.yaml";
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, file).parse();
const errors = diagnostics.filter((d) => d.severity === 0);
const warnings = diagnostics.filter((d) => d.severity === 1);
for (const d of [...errors, ...warnings]) {
  const where = d.path.join("/");
  console.error(`${d.severity === 0 ? "error" : "warning"} ${d.code} at /${where}: ${d.message}`);
}
if (!document || errors.length > 0) {
  console.error(`asyncapi: ${errors.length} error(s) in ${file}`);
  process.exit(1);
}
console.error(`asyncapi: ${file} is valid (${warnings.length} warning(s))`);
