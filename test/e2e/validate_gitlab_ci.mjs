// Validates GitLab CI files against GitLab's own JSON schema (shared/schemas/gitlab-ci.schema.json,
// draft-07) with ajv, the way the pipeline editor does.
//
//   NODE_PATH=tools/npm/node_modules node validate_gitlab_ci.mjs SCHEMA FILE...
//
// A .yml file may hold several documents (a template's `spec:` header, `---`, the jobs): each is
// validated on its own. A .md file contributes every ```yaml block that looks like a pipeline
// (has `include:`, `stages:` or a job with `script:`), so the README's examples stay valid.
// GitLab's `!reference` tag is accepted. Formats are not checked: the schema declares
// `format: uri` where GitLab also takes variables (shared/schemas/SOURCES.md).
// Prints one line per file ("ok FILE (N documents)" or "FILE[:doc N]: /path message") and exits
// 1 when any document is invalid, 2 when a file cannot be read or parsed.
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const Ajv = require("ajv");
const yaml = require("js-yaml");

const referenceTag = new yaml.Type("!reference", {
  kind: "sequence",
  construct: (data) => ({ "!reference": data }),
});
const schemaWithTags = yaml.DEFAULT_SCHEMA.extend([referenceTag]);

function documentsOf(file, text) {
  if (!file.endsWith(".md")) {
    return yaml.loadAll(text, null, { schema: schemaWithTags, filename: file })
        .map((doc, i) => ({ where: `${file}:doc ${i + 1}`, doc }));
  }
  const docs = [];
  const fence = /^```ya?ml\n([\s\S]*?)^```/gm;
  let m;
  while ((m = fence.exec(text)) !== null) {
    const line = text.slice(0, m.index).split("\n").length + 1;
    const block = m[1];
    if (!/^(include|stages):|^\s+script:/m.test(block)) continue;
    yaml.loadAll(block, null, { schema: schemaWithTags, filename: file }).forEach((doc, i) =>
      docs.push({ where: `${file}:${line} (block document ${i + 1})`, doc }));
  }
  return docs;
}

const [schemaPath, ...files] = process.argv.slice(2);
if (!schemaPath || files.length === 0) {
  console.error("usage: validate_gitlab_ci.mjs SCHEMA FILE...");
  process.exit(2);
}
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));

let status = 0;
for (const file of files) {
  let docs;
  try {
    docs = documentsOf(file, fs.readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    status = 2;
    continue;
  }
  if (docs.length === 0) {
    console.error(`${file}: no pipeline document found`);
    status = Math.max(status, 1);
    continue;
  }
  let bad = 0;
  for (const { where, doc } of docs) {
    if (doc === null || doc === undefined) continue;  // an empty document, e.g. after a final ---
    if (validate(doc)) continue;
    bad++;
    // allErrors reports every branch of a oneOf; the leaves (errors with no error below them)
    // say what is actually wrong, and so does an unknown key wherever it is.
    const leaves = validate.errors.filter((e) => e.keyword === "additionalProperties" ||
        !validate.errors.some((o) => o.instancePath.startsWith(e.instancePath + "/")));
    const lines = new Set();
    for (const e of leaves) {
      const extra = e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})`
                  : e.params && e.params.allowedValues ? ` (${e.params.allowedValues.join(", ")})`
                  : "";
      lines.add(`${where}: ${e.instancePath || "/"} ${e.message}${extra}`);
    }
    for (const line of lines) console.error(line);
  }
  if (bad > 0) {
    status = Math.max(status, 1);
  } else {
    console.log(`ok ${file} (${docs.length} document${docs.length === 1 ? "" : "s"})`);
  }
}
process.exit(status);
