#!/usr/bin/env node
// Validates Kubernetes manifests: every YAML document against the Kubernetes
// OpenAPI schemas (the npm package kubernetes-models), with unknown fields
// rejected as `kubectl apply --validate=strict` would, plus the references
// between objects that the schemas cannot see. Exits 1 on any error.
//
//   node validate_k8s.js [--configs DIR] PATH...
//
// PATH is a file (its documents form one set) or a folder: with a
// kustomization.yaml, its resources form one set (folders among them are
// checked as sets of their own, patches must name an object of the set they
// patch); without one, its *.yaml files. When `kubectl` is on PATH, each
// kustomization is also rendered (kubectl kustomize) and the result checked.
// --configs DIR: every ConfigMap named shoal-config must hold exactly the
// *.yaml files of DIR (deploy/k8s/sync_configmap.sh writes it).
//
// Checks within a set: Service selectors and workload selectors match pod
// template labels; volumeMounts name a volume; ConfigMaps, Secrets and
// PersistentVolumeClaims that pods use exist (unless optional); a
// StatefulSet's serviceName is a headless Service; probe ports are declared;
// every $(VAR) in command/args is defined by env or envFrom; ConfigMaps stay
// under 1 MiB.
'use strict';

const fs = require('fs');
const path = require('path');
const childProcess = require('child_process');
const yaml = require('js-yaml');

const errors = [];  // each message once (a base is checked in every set that includes it)
let validated = 0;  // documents checked against the schemas
function fail(where, message) {
  const e = `${where}: ${message}`;
  if (!errors.includes(e)) errors.push(e);
}

// --- schema validation with unknown-field detection -------------------------

// The kubernetes-models validators (ajv, compiled) read every property their
// schema knows and enumerate the keys only of map-like objects (labels,
// resources.limits, ConfigMap data). Wrapping the document in proxies that
// record both shows which keys no schema knows.
function tracked(value, seen) {
  if (value === null || typeof value !== 'object') return value;
  if (seen.proxies.has(value)) return seen.proxies.get(value);
  const info = { read: new Set(), enumerated: false };
  seen.info.set(value, info);
  const proxy = new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string') info.read.add(key);
      return tracked(Reflect.get(target, key, receiver), seen);
    },
    has(target, key) {
      if (typeof key === 'string') info.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      info.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
  seen.proxies.set(value, proxy);
  return proxy;
}

function unknownFields(value, seen, at, out) {
  if (value === null || typeof value !== 'object') return;
  const info = seen.info.get(value);
  if (info === undefined) return;  // never reached by the validator
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, seen, `${at}[${i}]`, out));
    return;
  }
  for (const key of Object.keys(value)) {
    const where = at === '' ? key : `${at}.${key}`;
    if (!info.enumerated && !info.read.has(key)) {
      out.push(where);
    } else {
      unknownFields(value[key], seen, where, out);
    }
  }
}

function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' ||
      !/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind)) {
    return null;
  }
  try {
    const mod = require(`kubernetes-models/${apiVersion}/${kind}`);
    return mod[kind] || null;
  } catch (e) {
    return null;
  }
}

function validateSchema(doc, where) {
  const cls = modelClass(doc.apiVersion, doc.kind);
  if (cls === null) {
    fail(where, `unknown apiVersion/kind ${doc.apiVersion}/${doc.kind}`);
    return;
  }
  validated++;
  const seen = { proxies: new WeakMap(), info: new WeakMap() };
  try {
    cls.prototype.validate.call(tracked(doc, seen));
  } catch (e) {
    fail(where, `schema: ${e.message}`);
  }
  const unknown = [];
  unknownFields(doc, seen, '', unknown);
  for (const f of unknown) fail(where, `unknown field ${f}`);
}

// --- references within a set -------------------------------------------------

function podSpecOf(doc) {
  switch (doc.kind) {
    case 'Pod': return doc.spec;
    case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'ReplicaSet':
    case 'Job':
      return doc.spec && doc.spec.template && doc.spec.template.spec;
    case 'CronJob':
      return doc.spec && doc.spec.jobTemplate && doc.spec.jobTemplate.spec &&
        doc.spec.jobTemplate.spec.template && doc.spec.jobTemplate.spec.template.spec;
    default: return undefined;
  }
}

function podLabelsOf(doc) {
  if (doc.kind === 'Pod') return (doc.metadata && doc.metadata.labels) || {};
  const t = doc.kind === 'CronJob'
    ? doc.spec && doc.spec.jobTemplate && doc.spec.jobTemplate.spec.template
    : doc.spec && doc.spec.template;
  return (t && t.metadata && t.metadata.labels) || {};
}

function matches(selector, labels) {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function checkSet(docs, configsDir) {
  const byKind = (kind) => docs.filter((d) => d.doc.kind === kind);
  const names = (kind) => new Set(byKind(kind).map((d) => d.doc.metadata.name));
  const configMaps = names('ConfigMap');
  const secrets = names('Secret');
  const claims = names('PersistentVolumeClaim');
  const workloads = docs.filter((d) => podSpecOf(d.doc) !== undefined);
  const configMapData = new Map(byKind('ConfigMap').map((d) => [d.doc.metadata.name, d.doc.data || {}]));

  for (const { doc, where } of byKind('Service')) {
    const sel = doc.spec && doc.spec.selector;
    if (sel && !workloads.some((w) => matches(sel, podLabelsOf(w.doc)))) {
      fail(where, `selector ${JSON.stringify(sel)} matches no pod template of the set`);
    }
  }

  for (const { doc, where } of workloads) {
    const spec = podSpecOf(doc);
    const labels = podLabelsOf(doc);
    const sel = doc.spec && doc.spec.selector && doc.spec.selector.matchLabels;
    if (sel && !matches(sel, labels)) {
      fail(where, `spec.selector.matchLabels ${JSON.stringify(sel)} does not match the pod template's labels`);
    }
    if (doc.kind === 'StatefulSet') {
      const svc = byKind('Service').find((s) => s.doc.metadata.name === doc.spec.serviceName);
      if (!svc) fail(where, `serviceName ${doc.spec.serviceName}: no such Service in the set`);
      else if (svc.doc.spec.clusterIP !== 'None') fail(where, `serviceName ${doc.spec.serviceName}: not a headless Service (clusterIP: None)`);
    }
    const volumes = new Set((spec.volumes || []).map((v) => v.name));
    for (const t of (doc.kind === 'StatefulSet' && doc.spec.volumeClaimTemplates) || []) {
      volumes.add(t.metadata.name);
    }
    for (const v of spec.volumes || []) {
      if (v.configMap && !v.configMap.optional && !configMaps.has(v.configMap.name)) {
        fail(where, `volume ${v.name}: ConfigMap ${v.configMap.name} is not in the set`);
      }
      if (v.secret && !v.secret.optional && !secrets.has(v.secret.secretName)) {
        fail(where, `volume ${v.name}: Secret ${v.secret.secretName} is not in the set (or mark it optional)`);
      }
      if (v.persistentVolumeClaim && !claims.has(v.persistentVolumeClaim.claimName)) {
        fail(where, `volume ${v.name}: PersistentVolumeClaim ${v.persistentVolumeClaim.claimName} is not in the set`);
      }
    }
    const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
    for (const c of containers) {
      const cw = `${where} container ${c.name}`;
      for (const m of c.volumeMounts || []) {
        if (!volumes.has(m.name)) fail(cw, `volumeMount ${m.name}: no such volume`);
      }
      const portNames = new Set((c.ports || []).map((p) => p.name).filter(Boolean));
      for (const probeName of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const probe = c[probeName];
        const port = probe && ((probe.httpGet && probe.httpGet.port) ||
          (probe.tcpSocket && probe.tcpSocket.port));
        if (typeof port === 'string' && !portNames.has(port)) {
          fail(cw, `${probeName} port ${port}: no container port of that name`);
        }
      }
      const env = new Set((c.env || []).map((e) => e.name));
      for (const from of c.envFrom || []) {
        const ref = from.configMapRef;
        if (ref) {
          if (!configMapData.has(ref.name)) {
            if (!ref.optional) fail(cw, `envFrom ConfigMap ${ref.name} is not in the set`);
          } else {
            for (const k of Object.keys(configMapData.get(ref.name))) env.add((from.prefix || '') + k);
          }
        }
        if (from.secretRef && !from.secretRef.optional && !secrets.has(from.secretRef.name)) {
          fail(cw, `envFrom Secret ${from.secretRef.name} is not in the set`);
        }
      }
      if ((doc.kind === 'Job') && doc.spec.completionMode === 'Indexed') env.add('JOB_COMPLETION_INDEX');
      for (const arg of [...(c.command || []), ...(c.args || [])]) {
        for (const m of String(arg).matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!env.has(m[1])) fail(cw, `argument '${arg}' uses $(${m[1]}), which env/envFrom do not define (Kubernetes would pass it on literally)`);
        }
      }
    }
  }

  for (const { doc, where } of byKind('ConfigMap')) {
    const bytes = Object.values(doc.data || {}).reduce((n, v) => n + Buffer.byteLength(String(v)), 0);
    if (bytes > 1024 * 1024) fail(where, `data is ${bytes} bytes; a ConfigMap holds at most 1 MiB`);
  }

  if (configsDir) {
    for (const { doc, where } of byKind('ConfigMap')) {
      if (doc.metadata.name !== 'shoal-config') continue;
      const want = {};
      for (const f of fs.readdirSync(configsDir).filter((n) => n.endsWith('.yaml')).sort()) {
        want[f] = fs.readFileSync(path.join(configsDir, f), 'utf8');
      }
      const have = doc.data || {};
      const stale = [...new Set([...Object.keys(want), ...Object.keys(have)])]
        .filter((k) => want[k] !== have[k]).sort();
      if (stale.length) {
        fail(where, `differs from ${configsDir} in ${stale.join(', ')}: run deploy/k8s/sync_configmap.sh`);
      }
    }
  }
}

// --- loading -----------------------------------------------------------------

function loadDocs(file, text) {
  let docs;
  try {
    docs = yaml.loadAll(text === undefined ? fs.readFileSync(file, 'utf8') : text);
  } catch (e) {
    fail(file, `YAML: ${e.message.split('\n')[0]}`);
    return [];
  }
  const out = [];
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;
    const name = doc && doc.metadata && doc.metadata.name;
    const where = `${file} #${i + 1} ${doc.kind || '?'}/${name || '?'}`;
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      fail(where, 'a document must be a mapping');
      return;
    }
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      fail(where, `metadata.name ${JSON.stringify(name)} is not a DNS-1123 name`);
      return;
    }
    out.push({ doc, where });
  });
  return out;
}

function yamlFiles(dir) {
  return fs.readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()
    .map((n) => path.join(dir, n));
}

function kustomizationFile(dir) {
  for (const n of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) {
    if (fs.existsSync(path.join(dir, n))) return path.join(dir, n);
  }
  return null;
}

function haveKubectl() {
  return childProcess.spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

// Returns the documents of the set rooted at `dir` (after checking them).
function checkKustomization(dir, configsDir, kubectl, visited) {
  const kfile = kustomizationFile(dir);
  const real = fs.realpathSync(dir);
  if (visited.has(real)) return visited.get(real);
  visited.set(real, []);
  let k;
  try {
    k = yaml.load(fs.readFileSync(kfile, 'utf8')) || {};
  } catch (e) {
    fail(kfile, `YAML: ${e.message.split('\n')[0]}`);
    return [];
  }
  if (k.kind !== 'Kustomization' && k.kind !== undefined) fail(kfile, `kind ${k.kind}: expected Kustomization`);
  const docs = [];
  const used = new Set([kfile]);
  for (const r of k.resources || []) {
    const p = path.join(dir, r);
    if (/^[a-z]+:\/\//.test(r)) { fail(kfile, `resource ${r}: remote resources are not allowed`); continue; }
    if (!fs.existsSync(p)) { fail(kfile, `resource ${r} does not exist`); continue; }
    used.add(p);
    if (fs.statSync(p).isDirectory()) {
      if (!kustomizationFile(p)) { fail(kfile, `resource ${r} is a folder without a kustomization`); continue; }
      docs.push(...checkKustomization(p, configsDir, kubectl, visited));
    } else {
      const own = loadDocs(p);
      own.forEach((d) => validateSchema(d.doc, d.where));
      docs.push(...own);
    }
  }
  for (const patch of k.patches || k.patchesStrategicMerge || []) {
    const rel = typeof patch === 'string' ? patch : patch.path;
    if (rel === undefined) continue;  // an inline patch
    const p = path.join(dir, rel);
    if (!fs.existsSync(p)) { fail(kfile, `patch ${rel} does not exist`); continue; }
    used.add(p);
    for (const { doc, where } of loadDocs(p)) {
      if (Array.isArray(doc)) continue;  // a JSON 6902 patch
      const target = docs.find((d) => d.doc.kind === doc.kind && d.doc.metadata.name === doc.metadata.name);
      if (!target) fail(where, `patches ${doc.kind}/${doc.metadata.name}, which the resources do not have`);
    }
  }
  for (const f of yamlFiles(dir)) {
    if (!used.has(f)) fail(f, `not listed in ${path.basename(kfile)} (resources or patches): kubectl apply -k would leave it out`);
  }
  checkSet(docs, configsDir);
  if (kubectl) {
    const r = childProcess.spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    if (r.status !== 0) {
      fail(dir, `kubectl kustomize failed: ${(r.stderr || '').trim()}`);
    } else {
      const rendered = loadDocs(`${dir} (rendered)`, r.stdout);
      rendered.forEach((d) => validateSchema(d.doc, d.where));
      checkSet(rendered, configsDir);
    }
  }
  visited.set(real, docs);
  return docs;
}

function main(argv) {
  let configsDir = null;
  const paths = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--configs') configsDir = argv[++i];
    else paths.push(argv[i]);
  }
  if (paths.length === 0) {
    console.error('usage: validate_k8s.js [--configs DIR] PATH...');
    return 2;
  }
  const kubectl = haveKubectl();
  if (!kubectl) console.log('validate_k8s: kubectl not on PATH: kustomize rendering not checked');
  const visited = new Map();
  for (const p of paths) {
    if (!fs.existsSync(p)) { fail(p, 'does not exist'); continue; }
    if (fs.statSync(p).isDirectory()) {
      if (kustomizationFile(p)) {
        checkKustomization(p, configsDir, kubectl, visited);
        // Folders beside it that it does not include (overlays).
        const stack = fs.readdirSync(p).map((n) => path.join(p, n));
        while (stack.length) {
          const d = stack.pop();
          if (!fs.statSync(d).isDirectory()) continue;
          if (kustomizationFile(d)) checkKustomization(d, configsDir, kubectl, visited);
          else stack.push(...fs.readdirSync(d).map((n) => path.join(d, n)));
        }
      } else {
        const docs = yamlFiles(p).flatMap((f) => loadDocs(f));
        docs.forEach((d) => validateSchema(d.doc, d.where));
        checkSet(docs, configsDir);
      }
    } else {
      const docs = loadDocs(p);
      docs.forEach((d) => validateSchema(d.doc, d.where));
      checkSet(docs, configsDir);
    }
  }
  if (validated === 0 && errors.length === 0) fail(paths.join(' '), 'no Kubernetes objects found');
  for (const e of errors) console.error(`ERROR ${e}`);
  if (errors.length) {
    console.error(`validate_k8s: ${errors.length} error(s)`);
    return 1;
  }
  console.log(`validate_k8s: ${validated} objects OK`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
