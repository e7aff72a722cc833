#!/usr/bin/env node
// Validates Kubernetes objects offline, the way `kubeconform -strict` does:
// reads multi-document YAML (e.g. `kubectl kustomize DIR`) from stdin and
// checks every object against the Kubernetes JSON schema of its apiVersion and
// kind, then rejects fields the schema does not know (a typo such as
// `livenessProbe.grcp` is valid JSON-schema-wise: the upstream schemas allow
// extra properties, the API server would drop or refuse it).
//
//   kubectl kustomize deploy/k8s | node tools/k8s-validate/validate.mjs [--name LABEL]
//
// Schemas: the npm package kubernetes-models (JSON-schema validators generated
// from the Kubernetes OpenAPI spec). Field names for the strict check come from
// the same package's type declarations (*.d.ts), which are generated from the
// same spec. Exit 0 when every object is valid, 1 otherwise (one line per
// problem: `FAIL LABEL Kind/name: path: message`), 2 on unreadable input.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = join(HERE, "node_modules");

function usage() {
  process.stderr.write("usage: validate.mjs [--name LABEL] < objects.yaml\n");
  process.exit(2);
}

let label = "stdin";
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--name" && i + 1 < argv.length) label = argv[++i];
  else usage();
}

// ---- field names from the type declarations -------------------------------
// A declaration file holds one `export interface IName { "field"?: Type; ... }`
// and imports the interfaces its fields use. A type is one of:
//   IIoK8s...            another interface (object with known fields)
//   Array<T>             a list of T
//   { [key: string]: T } a map with free keys and values of T
//   anything else        a leaf (string, number, union, IntOrString, ...)
const interfaces = new Map(); // declaration file -> {fields, imports} | null

function parseDeclarations(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  let parsed = null;
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
      const from = m[2].startsWith(".")
        ? resolve(dirname(file), m[2])
        : join(MODULES, m[2]);
      imports.set(m[1], `${from}.d.ts`);
    }
    const body = text.match(/^export interface \w+(?: extends [^{]+)? \{\n([\s\S]*?)^\}$/m);
    if (body) {
      const fields = new Map();
      const lines = body[1].split("\n");
      for (let i = 0; i < lines.length; i++) {
        const m = lines[i].match(/^ {4}"([^"]+)"\??: (.*)$/);
        if (!m) continue;
        let type = m[2];
        // a multi-line inline type (`{` ... `};`) closes at the same indent
        if (type.endsWith("{")) {
          while (++i < lines.length && !/^ {4}\};?$/.test(lines[i])) type += " " + lines[i].trim();
          type += " }";
        }
        fields.set(m[1], type.replace(/;$/, "").trim());
      }
      parsed = { fields, imports };
    }
  }
  interfaces.set(file, parsed);
  return parsed;
}

// Reports every field of `value` that type `type` (declared in `decl`) lacks.
function checkFields(value, type, decl, path, problems) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = type.match(/^Array<(.+)>$/))) {
    if (Array.isArray(value)) value.forEach((v, i) => checkFields(v, m[1], decl, `${path}/${i}`, problems));
    return;
  }
  if ((m = type.match(/^\{ \[key: string\]: (.+?);? \}$/))) {
    if (typeof value === "object" && !Array.isArray(value))
      for (const [k, v] of Object.entries(value)) checkFields(v, m[1], decl, `${path}/${k}`, problems);
    return;
  }
  if (!/^I\w+$/.test(type) || !decl.imports.has(type)) return; // a leaf
  const target = parseDeclarations(decl.imports.get(type));
  if (target) checkObject(value, target, path, problems);
}

function checkObject(value, decl, path, problems) {
  if (typeof value !== "object" || Array.isArray(value) || value === null) return; // the schema check reports it
  for (const [k, v] of Object.entries(value)) {
    if (!decl.fields.has(k)) problems.push(`${path || "/"}: unknown field "${k}"`);
    else checkFields(v, decl.fields.get(k), decl, `${path}/${k}`, problems);
  }
}

// ---- one object -------------------------------------------------------------
async function validateObject(obj) {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["missing apiVersion or kind"];
  if (!/^[a-z0-9.]*\/?v\d+(?:(?:alpha|beta)\d+)?$/.test(apiVersion)) return [`unknown apiVersion ${apiVersion}`];
  let models;
  try {
    models = await import(`kubernetes-models/${apiVersion}`);
  } catch {
    return [`no schema for apiVersion ${apiVersion}`];
  }
  const Model = models[kind];
  if (typeof Model !== "function" || Model.kind !== kind || Model.apiVersion !== apiVersion)
    return [`no schema for ${apiVersion} ${kind}`];
  const problems = [];
  try {
    new Model(obj).validate();
  } catch (e) {
    if (Array.isArray(e.errors))
      for (const err of e.errors) problems.push(`${err.instancePath || "/"}: ${err.message}`);
    else problems.push(String(e.message || e));
  }
  const decl = parseDeclarations(join(MODULES, "kubernetes-models", apiVersion, `${kind}.d.ts`));
  if (!decl) problems.push(`no type declaration for ${apiVersion} ${kind}`);
  else checkObject(obj, decl, "", problems);
  return problems;
}

// ---- main -------------------------------------------------------------------
let docs;
try {
  docs = yaml.loadAll(readFileSync(0, "utf8")).filter((d) => d !== null && d !== undefined);
} catch (e) {
  process.stderr.write(`FAIL ${label}: cannot parse YAML: ${e.message}\n`);
  process.exit(2);
}
if (docs.length === 0) {
  process.stderr.write(`FAIL ${label}: no objects on stdin\n`);
  process.exit(2);
}

let failed = 0;
for (const obj of docs) {
  const name = `${obj?.kind ?? "?"}/${obj?.metadata?.name ?? "?"}`;
  const problems = typeof obj === "object" && !Array.isArray(obj) ? await validateObject(obj) : ["not an object"];
  for (const p of problems) process.stdout.write(`FAIL ${label} ${name}: ${p}\n`);
  if (problems.length) failed++;
}
const summary = `${label}: ${docs.length - failed} of ${docs.length} objects valid`;
process.stdout.write(`${failed ? "FAIL" : "ok  "} ${summary}\n`);
process.exit(failed ? 1 : 0);
