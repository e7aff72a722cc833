#!/usr/bin/env node
// braid's own rules for its rendered Kubernetes manifests (deploy/k8s/), the
// things a schema cannot see: references resolve inside the render, every
// long-running process is scraped and probed on the ports it serves, the
// worker pools have one GPU per pod, a headless Service and the shared run
// volume, and each pool has the expected number of replicas.
//
//   kubectl kustomize deploy/k8s/overlays/small | node tools/k8s-validate/check_braid.mjs \
//       --name small --replicas braid-encoder=1,braid-llm=2,braid-generator=1
//
// --replicas also requires the orchestrator and reorderer Deployments.
// --external Kind/name (repeatable): an object referenced but rendered
// elsewhere (the submit Job's braid-job ConfigMap comes from the base).
// Exit 0 when every rule holds, 1 otherwise (`FAIL LABEL Kind/name: rule`).
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const RUNS_PVC = "braid-runs";
const RUNS_MOUNT = "/var/lib/braid/runs";
const WORKER_POOLS = ["braid-encoder", "braid-llm", "braid-generator"];
const SERVICES = ["braid-orchestrator", "braid-reorderer"];

let label = "stdin";
const replicas = new Map();
const external = new Set();
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, value] = [argv[i], argv[i + 1]];
  if (value === undefined) usage();
  i++;
  if (flag === "--name") label = value;
  else if (flag === "--external") external.add(value);
  else if (flag === "--replicas")
    for (const kv of value.split(",")) {
      const [name, count] = kv.split("=");
      if (!name || !/^\d+$/.test(count ?? "")) usage();
      replicas.set(name, Number(count));
    }
  else usage();
}
function usage() {
  process.stderr.write("usage: check_braid.mjs [--name LABEL] [--replicas NAME=N,...] [--external Kind/name]... < objects.yaml\n");
  process.exit(2);
}

const objects = yaml.loadAll(readFileSync(0, "utf8")).filter((d) => d && typeof d === "object");
const byKey = new Map(objects.map((o) => [`${o.kind}/${o.metadata?.name}`, o]));
const find = (kind, name) => byKey.get(`${kind}/${name}`);
const exists = (kind, name) => byKey.has(`${kind}/${name}`) || external.has(`${kind}/${name}`);

let failures = 0;
function fail(obj, message) {
  failures++;
  process.stdout.write(`FAIL ${label} ${obj.kind}/${obj.metadata?.name}: ${message}\n`);
}

const matches = (selector, labels) =>
  selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const envOf = (c) => new Map((c.env ?? []).map((e) => [e.name, e]));
const portNamed = (c, name) => (c.ports ?? []).find((p) => p.name === name)?.containerPort;

// "braid-orchestrator:7070" names a rendered Service that serves that port.
function checkServiceAddress(obj, envName, value) {
  const [host, port] = String(value ?? "").split(":");
  const svc = find("Service", host);
  if (!svc) return fail(obj, `${envName}=${value}: no Service ${host}`);
  if (!(svc.spec.ports ?? []).some((p) => String(p.port) === port))
    fail(obj, `${envName}=${value}: Service ${host} has no port ${port}`);
}

function checkPodSpec(obj, spec, longRunning) {
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  for (const v of volumes.values()) {
    if (v.configMap && !exists("ConfigMap", v.configMap.name)) fail(obj, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    if (v.persistentVolumeClaim && !exists("PersistentVolumeClaim", v.persistentVolumeClaim.claimName))
      fail(obj, `volume ${v.name}: no PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}`);
  }
  for (const c of spec.containers ?? []) {
    const env = envOf(c);
    const image = String(c.image ?? "").replace(/[:@].*$/, "");
    if (!/(^|\/)braid$/.test(image)) fail(obj, `container ${c.name}: image ${c.image} is not braid`);
    for (const e of env.values()) {
      const ref = e.valueFrom?.configMapKeyRef;
      if (!ref) continue;
      const cm = find("ConfigMap", ref.name);
      if (!cm && !external.has(`ConfigMap/${ref.name}`)) fail(obj, `env ${e.name}: no ConfigMap ${ref.name}`);
      else if (cm && !(ref.key in (cm.data ?? {}))) fail(obj, `env ${e.name}: ConfigMap ${ref.name} has no key ${ref.key}`);
    }
    for (const arg of [...(c.command ?? []), ...(c.args ?? [])])
      for (const m of String(arg).matchAll(/\$\((\w+)\)/g))
        if (!env.has(m[1])) fail(obj, `container ${c.name}: $(${m[1]}) is not in its env`);
    for (const m of c.volumeMounts ?? [])
      if (!volumes.has(m.name)) fail(obj, `container ${c.name}: mount ${m.name} has no volume`);
    if (env.has("BRAID_ORCHESTRATOR")) checkServiceAddress(obj, "BRAID_ORCHESTRATOR", env.get("BRAID_ORCHESTRATOR").value);
    if (env.has("BRAID_REORDERER")) checkServiceAddress(obj, "BRAID_REORDERER", env.get("BRAID_REORDERER").value);
    if (!longRunning) continue;

    // Scraped on the port BRAID_METRICS_LISTEN serves, probed over gRPC on
    // the port BRAID_LISTEN serves.
    const metrics = portNamed(c, "metrics"), grpc = portNamed(c, "grpc");
    const ann = obj.spec.template.metadata?.annotations ?? {};
    if (ann["prometheus.io/scrape"] !== "true") fail(obj, `prometheus.io/scrape is not "true"`);
    if (ann["prometheus.io/path"] !== "/metrics") fail(obj, `prometheus.io/path is not /metrics`);
    if (metrics === undefined || ann["prometheus.io/port"] !== String(metrics))
      fail(obj, `prometheus.io/port ${ann["prometheus.io/port"]} is not the metrics port ${metrics}`);
    if (!String(env.get("BRAID_METRICS_LISTEN")?.value ?? "").endsWith(`:${metrics}`))
      fail(obj, `BRAID_METRICS_LISTEN does not serve the metrics port ${metrics}`);
    if (grpc === undefined || !String(env.get("BRAID_LISTEN")?.value ?? "").endsWith(`:${grpc}`))
      fail(obj, `BRAID_LISTEN does not serve the grpc port ${grpc}`);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const p = c[probe];
      if (probe !== "startupProbe" && !p) fail(obj, `container ${c.name}: no ${probe}`);
      else if (p && p.grpc?.port !== grpc) fail(obj, `container ${c.name}: ${probe} is not a gRPC probe of port ${grpc}`);
    }
    const runs = (c.volumeMounts ?? []).find((m) => m.mountPath === RUNS_MOUNT);
    if (!runs || volumes.get(runs.name)?.persistentVolumeClaim?.claimName !== RUNS_PVC)
      fail(obj, `container ${c.name}: ${RUNS_PVC} is not mounted at ${RUNS_MOUNT}`);
  }
}

for (const obj of objects) {
  const tmpl = obj.spec?.template;
  if (["Deployment", "StatefulSet", "Job"].includes(obj.kind) && tmpl) {
    checkPodSpec(obj, tmpl.spec ?? {}, obj.kind !== "Job");
    if (obj.kind !== "Job" && !matches(obj.spec.selector?.matchLabels, tmpl.metadata?.labels))
      fail(obj, "selector does not match the pod template's labels");
  }
  if (obj.kind === "StatefulSet") {
    const svc = find("Service", obj.spec.serviceName);
    if (!svc) fail(obj, `no Service ${obj.spec.serviceName} (serviceName)`);
    else if (svc.spec.clusterIP !== "None") fail(obj, `Service ${svc.metadata.name} is not headless`);
    else if (!matches(svc.spec.selector, tmpl?.metadata?.labels)) fail(obj, `Service ${svc.metadata.name} does not select its pods`);
    for (const c of tmpl?.spec?.containers ?? []) {
      const r = c.resources ?? {};
      if (String(r.requests?.["nvidia.com/gpu"]) !== "1" || String(r.limits?.["nvidia.com/gpu"]) !== "1")
        fail(obj, `container ${c.name}: nvidia.com/gpu requests and limits are not 1`);
      const env = envOf(c);
      if (env.get("BRAID_HOST")?.valueFrom?.fieldRef?.fieldPath !== "status.podIP") fail(obj, "BRAID_HOST is not the pod IP");
      if (env.get("BRAID_NAME")?.valueFrom?.fieldRef?.fieldPath !== "metadata.name") fail(obj, "BRAID_NAME is not the pod name");
      if (!env.has("BRAID_ORCHESTRATOR")) fail(obj, "no BRAID_ORCHESTRATOR");
    }
  }
  if (obj.kind === "Service") {
    const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
    if (!workloads.some((w) => matches(obj.spec.selector, w.spec?.template?.metadata?.labels)))
      fail(obj, "selects no rendered workload's pods");
  }
}

if (replicas.size > 0) {
  const none = { kind: "render", metadata: { name: "-" } };
  for (const name of SERVICES)
    if (!find("Deployment", name)) fail(none, `no Deployment ${name}`);
    else if ((find("Deployment", name).spec.replicas ?? 1) !== 1) fail(find("Deployment", name), "replicas is not 1");
  for (const name of WORKER_POOLS) if (!find("StatefulSet", name)) fail(none, `no StatefulSet ${name}`);
  for (const [name, want] of replicas) {
    const sts = find("StatefulSet", name);
    if (!sts) fail(none, `no StatefulSet ${name}`);
    else if ((sts.spec.replicas ?? 1) !== want) fail(sts, `replicas ${sts.spec.replicas} (want ${want})`);
  }
}

process.stdout.write(`${failures ? "FAIL" : "ok  "} ${label}: braid rules, ${objects.length} objects, ${failures} problems\n`);
process.exit(failures ? 1 : 0);
