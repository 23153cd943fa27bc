#!/usr/bin/env python3
"""Checks that the Prometheus configs of deploy/monitoring scrape every shoal
process of the deployments, and that the compose monitoring profile is wired
up.

  check_monitoring.py [--compose FILE --prometheus FILE]
                      [--k8s DIR --prometheus-k8s FILE]

A shoal process is a shoal-replay, shoal-learner or shoal-actor command line
(directly or through shoal-entrypoint) with --metrics_port=P; its job is
shoal-replay, shoal-learner, shoal-actor or (shoal-actor --eval)
shoal-actor-eval, the same in both deployments, so one dashboard serves both.

--compose/--prometheus: each such compose service is scraped by exactly one
job, the right one, at SERVICE:P (a service with deploy.replicas through
dns_sd_configs type A on its name, so every replica is found; a static
target would reach one); every target names such a service and its port.
The prometheus and grafana services are in profile "monitoring" and no
shoal service is in any profile; prometheus mounts this --prometheus file
where its --config.file says; grafana mounts the provisioning folder, whose
data source points at the prometheus service and whose dashboard provider
reads a mounted folder that holds dashboards.

--k8s/--prometheus-k8s: every pod template of DIR (the kustomization's
namespace) that runs such a process carries prometheus.io/scrape "true",
prometheus.io/port P and prometheus.io/path /metrics and declares
containerPort P. Then Kubernetes pod discovery is simulated for each
(a target per declared container port, one per container without ports,
init containers included, as Prometheus' role: pod does) and the
relabel_configs of --prometheus-k8s applied: a running pod must come out as
exactly one target, <pod IP>:P/metrics with its job; a completed pod and an
unannotated pod as none.

Exit status 1 on any error, each on its own line.
"""
import argparse
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_flags import ENTRYPOINT, as_argv, expand, interpolate, pod_spec  # noqa: E402

JOBS = {"shoal-replay": "shoal-replay", "shoal-learner": "shoal-learner",
        "shoal-actor": "shoal-actor"}
EVAL_JOB = "shoal-actor-eval"
PROFILE = "monitoring"

errors = []


def fail(where, message):
    line = f"{where}: {message}"
    if line not in errors:
        errors.append(line)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def metrics_process(argv):
    """(job, metrics port) of a shoal command line, or None."""
    argv = [str(a) for a in argv or []]
    if argv and os.path.basename(argv[0]) == ENTRYPOINT:
        argv = argv[1:]
    if not argv or os.path.basename(argv[0]) not in JOBS:
        return None
    job = JOBS[os.path.basename(argv[0])]
    port = None
    for i, a in enumerate(argv[1:], 1):
        flag, eq, value = a.lstrip("-").partition("=")
        if not a.startswith("-"):
            continue
        if flag == "metrics_port":
            port = value if eq else (argv[i + 1] if i + 1 < len(argv) else None)
        if flag == "eval" and value in ("", "true", "1") and job == "shoal-actor":
            job = EVAL_JOB
    if port is None or str(port) == "0":
        return None
    return job, str(port)


def scrape_configs(path):
    try:
        doc = load_all(path)[0]
    except (OSError, yaml.YAMLError, IndexError) as e:
        fail(path, f"cannot read: {e}")
        return []
    configs = doc.get("scrape_configs") or []
    if not configs:
        fail(path, "no scrape_configs")
    for c in configs:
        if c.get("metrics_path", "/metrics") != "/metrics":
            fail(path, f"job {c.get('job_name')}: metrics_path {c['metrics_path']}, "
                       "shoal serves /metrics")
    return configs


# --- docker-compose -------------------------------------------------------------

def mounts(svc, base):
    """{container path: host path} of a compose service's bind mounts."""
    out = {}
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            source, target = v.get("source"), v.get("target")
        else:
            parts = str(v).split(":")
            if len(parts) < 2:
                continue
            source, target = parts[0], parts[1]
        if source and (source.startswith(".") or source.startswith("/")):
            out[target] = os.path.normpath(os.path.join(base, source))
    return out


def host_port(target):
    host, _, port = str(target).rpartition(":")
    return host, port


def check_compose(compose, prometheus):
    try:
        doc = interpolate(load_all(compose)[0])
    except (OSError, yaml.YAMLError, IndexError) as e:
        fail(compose, f"cannot read: {e}")
        return
    base = os.path.dirname(os.path.abspath(compose))
    services = doc.get("services") or {}
    want = {}  # service -> (job, port, scaled)
    for name, svc in services.items():
        svc = svc or {}
        entrypoint = as_argv(svc.get("entrypoint"))
        command = as_argv(svc.get("command"))
        if entrypoint is None and command is None:
            continue
        p = metrics_process((entrypoint if entrypoint is not None else [ENTRYPOINT]) +
                            (command or []))
        if p:
            scaled = "replicas" in (svc.get("deploy") or {}) or "scale" in svc
            want[name] = (p[0], p[1], scaled)
            if svc.get("profiles"):
                fail(compose, f"service {name} is in profiles {svc['profiles']}: "
                              "a plain `up` would not start it")
    if not want:
        fail(compose, "no service runs a shoal process with --metrics_port")

    found = {}  # (host, port) -> [(job, how)]
    for c in scrape_configs(prometheus):
        job = c.get("job_name")
        for sc in c.get("static_configs") or []:
            for t in sc.get("targets") or []:
                found.setdefault(host_port(t), []).append((job, "static"))
        for sd in c.get("dns_sd_configs") or []:
            kind = sd.get("type", "SRV")
            for n in sd.get("names") or []:
                if kind == "SRV":
                    fail(prometheus, f"job {job}: dns_sd_configs type SRV on {n}: "
                                     "Docker's DNS answers A queries")
                    continue
                found.setdefault((n, str(sd.get("port"))), []).append((job, f"dns_sd {kind}"))
        for key in c:
            if key.endswith("_sd_configs") and key != "dns_sd_configs":
                fail(prometheus, f"job {job}: {key} cannot find compose services")

    for name, (job, port, scaled) in sorted(want.items()):
        where = f"{compose}: service {name} (--metrics_port={port})"
        hits = found.get((name, port), [])
        if not hits:
            fail(where, f"not scraped: {prometheus} has no target {name}:{port}")
            continue
        if len(hits) > 1:
            fail(where, f"scraped {len(hits)} times: {hits}")
        got_job, how = hits[0]
        if got_job != job:
            fail(where, f"scraped by job {got_job}, want {job}")
        if scaled and how == "static":
            fail(where, f"has deploy.replicas but {prometheus} scrapes it as a static "
                        f"target, which reaches one replica: use dns_sd_configs type A "
                        f"on {name}")
    for (host, port), hits in sorted(found.items()):
        if host not in want:
            fail(prometheus, f"target {host}:{port} (job {hits[0][0]}): no compose "
                             "service of that name runs a shoal process with --metrics_port")
        elif want[host][1] != port:
            fail(prometheus, f"target {host}:{port} (job {hits[0][0]}): service {host} "
                             f"serves /metrics on {want[host][1]}")

    check_compose_monitoring(compose, base, services, prometheus)


def check_compose_monitoring(compose, base, services, prometheus):
    prom = [n for n, s in services.items()
            if str((s or {}).get("image", "")).startswith("prom/prometheus")]
    graf = [n for n, s in services.items()
            if str((s or {}).get("image", "")).startswith("grafana/grafana")]
    if len(prom) != 1 or len(graf) != 1:
        fail(compose, f"want one prometheus and one grafana service, found {prom} and {graf}")
        return
    for name in prom + graf:
        svc = services[name]
        if list(svc.get("profiles") or []) != [PROFILE]:
            fail(compose, f"service {name}: profiles {svc.get('profiles')}, want ['{PROFILE}'] "
                          "(a plain `up` must not start it)")
        for p in svc.get("ports") or []:
            if not str(p).startswith("127.0.0.1:"):
                fail(compose, f"service {name}: port {p} is not bound to 127.0.0.1")
    # Prometheus reads the checked file.
    psvc = services[prom[0]]
    config = "/etc/prometheus/prometheus.yml"
    for a in as_argv(psvc.get("command")) or []:
        if a.startswith("--config.file="):
            config = a.split("=", 1)[1]
    host = mounts(psvc, base).get(config)
    if host is None or not os.path.exists(host) or \
            not os.path.samefile(host, prometheus):
        fail(compose, f"service {prom[0]}: {config} is not a mount of {prometheus} "
                      f"(mounted: {host})")
    # Grafana: provisioning -> data source -> prometheus; dashboards folder.
    gsvc = services[graf[0]]
    gm = mounts(gsvc, base)
    prov = gm.get("/etc/grafana/provisioning")
    if prov is None or not os.path.isdir(prov):
        fail(compose, f"service {graf[0]}: no folder mounted at /etc/grafana/provisioning")
        return
    prom_ports = {str(p).split(":")[-1].split("/")[0] for p in psvc.get("ports") or []} | {"9090"}
    urls = []
    for f in sorted(os.listdir(os.path.join(prov, "datasources"))) \
            if os.path.isdir(os.path.join(prov, "datasources")) else []:
        for d in load_all(os.path.join(prov, "datasources", f)):
            for ds in d.get("datasources") or []:
                if ds.get("type") == "prometheus":
                    urls.append((f, ds.get("url", "")))
    if not urls:
        fail(prov, "no prometheus data source under datasources/")
    for f, url in urls:
        m = re.fullmatch(r"http://([^:/]+):(\d+)/?", str(url))
        if not m or m.group(1) != prom[0] or m.group(2) not in prom_ports:
            fail(os.path.join(prov, "datasources", f),
                 f"url {url}: want http://{prom[0]}:9090 (the compose service)")
    paths = []
    for f in sorted(os.listdir(os.path.join(prov, "dashboards"))) \
            if os.path.isdir(os.path.join(prov, "dashboards")) else []:
        for d in load_all(os.path.join(prov, "dashboards", f)):
            for p in d.get("providers") or []:
                if p.get("type", "file") == "file":
                    paths.append((f, (p.get("options") or {}).get("path")))
    if not paths:
        fail(prov, "no file dashboard provider under dashboards/")
    for f, path in paths:
        host = gm.get(path)
        if host is None or not os.path.isdir(host) or \
                not any(n.endswith(".json") for n in os.listdir(host)):
            fail(os.path.join(prov, "dashboards", f),
                 f"provider path {path} is no mounted folder of dashboards in {graf[0]}")
    home = (gsvc.get("environment") or {})
    if isinstance(home, dict):
        home = home.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        if home:
            folder = gm.get(os.path.dirname(home))
            if folder is None or not os.path.isfile(os.path.join(folder, os.path.basename(home))):
                fail(compose, f"service {graf[0]}: home dashboard {home} is not mounted")


# --- Kubernetes -----------------------------------------------------------------

def go_expand(template, match):
    """Go regexp's Expand: $1, ${1}, $name; unknown or missing groups are empty."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(2)
        try:
            g = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group
            g = None
        return g or ""
    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", sub, template)


def relabel(labels, configs):
    """Prometheus' relabelling; None when the target is dropped."""
    labels = dict(labels)
    for c in configs or []:
        action = str(c.get("action", "replace")).lower()
        regex = re.compile(f"^(?:{c.get('regex', '(.*)')})$")
        sep = c.get("separator", ";")
        value = sep.join(labels.get(s, "") for s in c.get("source_labels") or [])
        if action == "keep":
            if not regex.match(value):
                return None
        elif action == "drop":
            if regex.match(value):
                return None
        elif action == "replace":
            m = regex.match(value)
            if not m:
                continue
            target = go_expand(str(c.get("target_label", "")), m)
            result = go_expand(str(c.get("replacement", "$1")), m)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", target) or result == "":
                labels.pop(target, None)
            else:
                labels[target] = result
        elif action == "labelmap":
            for k, v in list(labels.items()):
                m = regex.match(k)
                if m:
                    labels[go_expand(str(c.get("replacement", "$1")), m)] = v
        elif action == "labeldrop":
            labels = {k: v for k, v in labels.items() if not regex.match(k)}
        elif action == "labelkeep":
            labels = {k: v for k, v in labels.items() if regex.match(k)}
        else:
            raise ValueError(f"relabel action {action} is not simulated")
    return labels


def meta_name(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


def discover(pod):
    """Targets Prometheus' kubernetes_sd role pod makes of a pod."""
    common = {
        "__meta_kubernetes_namespace": pod["namespace"],
        "__meta_kubernetes_pod_name": pod["name"],
        "__meta_kubernetes_pod_ip": pod["ip"],
        "__meta_kubernetes_pod_phase": pod["phase"],
        "__meta_kubernetes_pod_ready": "true" if pod["phase"] == "Running" else "false",
    }
    for k, v in pod["labels"].items():
        common[f"__meta_kubernetes_pod_label_{meta_name(k)}"] = str(v)
        common[f"__meta_kubernetes_pod_labelpresent_{meta_name(k)}"] = "true"
    for k, v in pod["annotations"].items():
        common[f"__meta_kubernetes_pod_annotation_{meta_name(k)}"] = str(v)
        common[f"__meta_kubernetes_pod_annotationpresent_{meta_name(k)}"] = "true"
    targets = []
    for init, containers in ((False, pod["containers"]), (True, pod["init"])):
        for c in containers:
            base = dict(common)
            base["__meta_kubernetes_pod_container_name"] = c.get("name", "")
            base["__meta_kubernetes_pod_container_image"] = c.get("image", "")
            base["__meta_kubernetes_pod_container_init"] = "true" if init else "false"
            ports = c.get("ports") or []
            if not ports:
                targets.append(dict(base, __address__=pod["ip"]))
            for p in ports:
                host = f"[{pod['ip']}]" if ":" in pod["ip"] else pod["ip"]  # Go's JoinHostPort
                t = dict(base, __address__=f"{host}:{p.get('containerPort')}")
                t["__meta_kubernetes_pod_container_port_name"] = str(p.get("name", ""))
                t["__meta_kubernetes_pod_container_port_number"] = str(p.get("containerPort"))
                t["__meta_kubernetes_pod_container_port_protocol"] = p.get("protocol", "TCP")
                targets.append(t)
    return targets


def scrape(pod, config):
    """The distinct targets a scrape config with role pod makes of a pod."""
    out = set()
    for sd in config.get("kubernetes_sd_configs") or []:
        if sd.get("role") != "pod":
            continue
        names = (sd.get("namespaces") or {}).get("names")
        if names and pod["namespace"] not in names:
            continue
        for t in discover(pod):
            t = dict(t, job=config.get("job_name", ""),
                     __metrics_path__=config.get("metrics_path", "/metrics"),
                     __scheme__=config.get("scheme", "http"))
            t = relabel(t, config.get("relabel_configs"))
            if t is None:
                continue
            t.setdefault("instance", t["__address__"])
            # Meta labels go after relabelling; targets with the same labels
            # (and so the same URL) are one target.
            keep = {k: v for k, v in t.items() if not k.startswith("__meta_")}
            out.add(tuple(sorted(keep.items())))
    return [dict(t) for t in out]


def check_k8s(folder, prometheus_k8s):
    namespace = None
    kust = os.path.join(folder, "kustomization.yaml")
    files = []
    if os.path.isfile(kust):
        k = load_all(kust)[0]
        namespace = k.get("namespace")
        files = [os.path.join(folder, r) for r in k.get("resources") or []
                 if os.path.isfile(os.path.join(folder, r))]
    else:
        files = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
                 if n.endswith((".yaml", ".yml"))]
    configs = [c for c in scrape_configs(prometheus_k8s)
               if any(sd.get("role") == "pod" for sd in c.get("kubernetes_sd_configs") or [])]
    if not configs:
        fail(prometheus_k8s, "no scrape config with kubernetes_sd_configs role pod")
    ns_names = {n for c in configs for sd in c.get("kubernetes_sd_configs") or []
                for n in (sd.get("namespaces") or {}).get("names") or []}
    if namespace and ns_names and namespace not in ns_names:
        fail(prometheus_k8s, f"discovers pods in {sorted(ns_names)}, but {kust} puts "
                             f"shoal in namespace {namespace}")

    pods = 0
    ip = 0
    for f in files:
        for doc in load_all(f):
            spec = pod_spec(doc) if isinstance(doc, dict) else None
            if not spec:
                continue
            name = doc["metadata"]["name"]
            where = f"{f}: {doc.get('kind')} {name}"
            template = doc["spec"].get("template") or {}
            meta = template.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            procs = []
            for c in spec.get("containers") or []:
                env = {e["name"]: str(e.get("value", "")) for e in c.get("env") or []
                       if "value" in e}
                argv = [expand(a, env) for a in (c.get("command") or []) + (c.get("args") or [])]
                p = metrics_process(argv)
                if p:
                    procs.append((c, p))
            if not procs:
                continue
            if len(procs) > 1:
                fail(where, "more than one container serves shoal metrics: the "
                            "prometheus.io annotations name one port")
                continue
            container, (job, port) = procs[0]
            pods += 1
            want_ann = {"prometheus.io/scrape": "true", "prometheus.io/port": port,
                        "prometheus.io/path": "/metrics"}
            for k, v in want_ann.items():
                if str(annotations.get(k)) != v:
                    got = annotations.get(k)
                    fail(where, f"pod template annotation {k}: {got!r}, want {v!r} "
                                f"(container {container.get('name')} runs --metrics_port={port})"
                         if got is not None else
                         f"pod template has no annotation {k}: {v!r}")
            if port not in {str(p.get("containerPort")) for p in container.get("ports") or []}:
                fail(where, f"container {container.get('name')} serves metrics on {port} "
                            "but declares no such containerPort")
            ip += 1
            pod = {"namespace": namespace or doc["metadata"].get("namespace", "default"),
                   "name": f"{name}-0", "ip": f"10.0.0.{ip}", "phase": "Running",
                   "labels": meta.get("labels") or {}, "annotations": annotations,
                   "containers": spec.get("containers") or [],
                   "init": spec.get("initContainers") or []}
            for addr, pod_ip in ((f"10.0.0.{ip}:{port}", f"10.0.0.{ip}"),
                                 (f"[fd00::{ip}]:{port}", f"fd00::{ip}")):
                got = [t for c in configs for t in scrape(dict(pod, ip=pod_ip), c)]
                want = {"__address__": addr, "__metrics_path__": "/metrics", "job": job}
                if len(got) != 1 or any(got[0].get(k) != v for k, v in want.items()):
                    shown = [{k: t.get(k) for k in ("__address__", "__metrics_path__", "job",
                                                     "instance")} for t in got]
                    fail(where, f"{prometheus_k8s} makes {len(got)} target(s) of a running "
                                f"pod at {pod_ip}: {shown}; want one, {want}")
            done = dict(pod, phase="Succeeded")
            if any(scrape(done, c) for c in configs):
                fail(where, f"{prometheus_k8s} scrapes a pod that has completed")
            plain = dict(pod, annotations={}, name=f"{name}-unannotated")
            if any(scrape(plain, c) for c in configs):
                fail(where, f"{prometheus_k8s} scrapes a pod without prometheus.io/scrape")
    if pods == 0:
        fail(folder, "no pod template runs a shoal process with --metrics_port")
    return pods


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compose")
    parser.add_argument("--prometheus")
    parser.add_argument("--k8s")
    parser.add_argument("--prometheus-k8s")
    args = parser.parse_args()
    if bool(args.compose) != bool(args.prometheus) or bool(args.k8s) != bool(args.prometheus_k8s) \
            or not (args.compose or args.k8s):
        parser.error("give --compose with --prometheus, and/or --k8s with --prometheus-k8s")
    done = []
    if args.compose:
        check_compose(args.compose, args.prometheus)
        done.append(f"{args.compose} with {args.prometheus}")
    if args.k8s:
        n = check_k8s(args.k8s, args.prometheus_k8s)
        done.append(f"{n} pod templates of {args.k8s} with {args.prometheus_k8s}")
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    if errors:
        print(f"check_monitoring: {len(errors)} error(s)", file=sys.stderr)
        return 1
    print("check_monitoring: OK: " + "; ".join(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
