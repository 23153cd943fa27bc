#!/usr/bin/env python3
"""`promtool check config` on Prometheus configuration files.

  promtool_check_config.py PROMTOOL FILE...

Debian's promtool (package prometheus) is built without Kubernetes service
discovery and rejects `kubernetes_sd_configs` as an unknown field. With such
a promtool, a file that uses it is checked in two parts: its
kubernetes_sd_configs blocks here (known keys, role, namespaces), and the
rest of the file (global settings, relabel_configs and all) by promtool,
with each kubernetes_sd_configs replaced by a placeholder static target.
The output says when that happened. Exit status 1 on any error.
"""
import os
import subprocess
import sys
import tempfile

import yaml

K8S_SD_KEYS = {
    "api_server", "role", "kubeconfig_file", "namespaces", "selectors",
    "attach_metadata", "basic_auth", "authorization", "oauth2", "bearer_token",
    "bearer_token_file", "tls_config", "proxy_url", "no_proxy",
    "proxy_from_environment", "proxy_connect_header", "follow_redirects",
    "enable_http2",
}
ROLES = {"pod", "service", "endpoints", "endpointslice", "node", "ingress"}
NO_K8S = "field kubernetes_sd_configs not found"


def run(promtool, path):
    out = subprocess.run([promtool, "check", "config", path],
                         capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout + out.stderr


def check_k8s_sd(path, doc):
    errors = []
    for c in doc.get("scrape_configs") or []:
        for i, sd in enumerate(c.get("kubernetes_sd_configs") or []):
            where = f"{path}: job {c.get('job_name')}: kubernetes_sd_configs[{i}]"
            if not isinstance(sd, dict):
                errors.append(f"{where}: not a mapping")
                continue
            for k in sorted(set(sd) - K8S_SD_KEYS):
                errors.append(f"{where}: unknown field {k}")
            if sd.get("role") not in ROLES:
                errors.append(f"{where}: role {sd.get('role')!r} is not one of {sorted(ROLES)}")
            ns = sd.get("namespaces")
            if ns is not None:
                if not isinstance(ns, dict) or set(ns) - {"names", "own_namespace"}:
                    errors.append(f"{where}: namespaces takes names and own_namespace")
                elif not isinstance(ns.get("names", []), list) or \
                        not all(isinstance(n, str) and n for n in ns.get("names", [])):
                    errors.append(f"{where}: namespaces.names is not a list of names")
            for j, sel in enumerate(sd.get("selectors") or []):
                if not isinstance(sel, dict) or sel.get("role") not in ROLES or \
                        set(sel) - {"role", "label", "field"}:
                    errors.append(f"{where}: selectors[{j}] is not {{role, label, field}}")
    return errors


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    promtool, files = sys.argv[1], sys.argv[2:]
    failed = False
    for path in files:
        rc, text = run(promtool, path)
        if rc == 0 or NO_K8S not in text:
            print(text.rstrip())
            failed |= rc != 0
            continue
        print(f"NOTE: {promtool} has no Kubernetes service discovery ({NO_K8S}): "
              f"checking {path}'s kubernetes_sd_configs here and the rest with promtool")
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        errors = check_k8s_sd(path, doc)
        n = 0
        for c in doc.get("scrape_configs") or []:
            if "kubernetes_sd_configs" in c:
                n += len(c.pop("kubernetes_sd_configs") or [])
                c.setdefault("static_configs", []).append(
                    {"targets": ["kubernetes-sd-placeholder.invalid:9"]})
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, os.path.basename(path))
            with open(copy, "w", encoding="utf-8") as f:
                yaml.safe_dump(doc, f, sort_keys=False)
            rc, text = run(promtool, copy)
        print(text.rstrip())
        for e in errors:
            print(f"ERROR {e}")
        print(f"{path}: {n} kubernetes_sd_configs block(s) "
              f"{'checked' if not errors else 'with errors'}")
        failed |= rc != 0 or bool(errors) or n == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
