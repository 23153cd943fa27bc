#!/usr/bin/env python3
"""Checks every shoal command line in docker-compose files and Kubernetes
manifests against the binaries themselves.

  check_flags.py --bin-dir BUILD_DIR [--configs DIR] PATH...

PATH is a compose file, a manifest, or a folder of manifests (searched
recursively; each folder's files form one set for $(VAR) expansion). Command
lines are taken from compose `entrypoint`/`command`/`healthcheck.test` and
from Kubernetes container `command`/`args`, probes and lifecycle hooks
(`sh -c`/`bash -c` scripts are split into their commands). A command line
that runs shoal-replay, shoal-learner, shoal-actor or shoalctl (directly or
through the images' shoal-entrypoint) must name a binary that exists under
BUILD_DIR, and each of its flags must be one that the binary's --helpfull
lists (shoalctl: the subcommand too). Then the deployment must agree with
itself: shard indices 0..N-1 and replay.shards = N, --replay lists in shard
order, --num_actors = the actor replicas (compose deploy.replicas, Indexed
Job completions), the wait-shards count = the StatefulSet's replicas, and
--config=/etc/shoal/X names a file X of --configs DIR.
Exit status 1 on any error, each printed on its own line.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

import yaml

BINARIES = {
    "shoal-replay": "replay/shoal-replay",
    "shoal-learner": "learner/shoal-learner",
    "shoal-actor": "actor/shoal-actor",
    "shoalctl": "tools/shoalctl",
}
ENTRYPOINT = "shoal-entrypoint"  # the images' ENTRYPOINT (deploy/docker)
AUTO_FLAGS = {"shard_index", "actor_index"}  # "auto" is filled in by it
SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash"}

errors = []


def fail(where, message):
    line = f"{where}: {message}"
    if line not in errors:
        errors.append(line)


class Binary:
    """A binary's flags (name -> is_bool) from its --helpfull output."""

    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.flags = {}
        self.subcommands = set()
        self.error = None
        if not os.access(path, os.X_OK):
            self.error = f"{name}: binary {path} does not exist (build it first)"
            return
        try:
            out = subprocess.run([path, "--helpfull"], capture_output=True,
                                 text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.error = f"{name}: {path} --helpfull failed: {e}"
            return
        text = out.stdout + out.stderr
        # "    --name (help...); default: value;", wrapped over several lines.
        starts = list(re.finditer(r"^ +--([A-Za-z0-9_]+) \(", text, re.M))
        for m, nxt in zip(starts, starts[1:] + [None]):
            entry = text[m.end():nxt.start() if nxt else len(text)]
            default = re.findall(r"\);\s+default: (.*?);\s*$", entry, re.M)
            self.flags[m.group(1)] = bool(default) and default[-1].strip() in ("true", "false")
        for builtin in ("help", "helpfull", "helpshort", "helppackage", "version",
                        "only_check_args"):  # absl's usage flags, not listed
            self.flags.setdefault(builtin, True)
        if not starts:
            self.error = f"{name}: no flags in the output of {path} --helpfull"
        self.subcommands = set(re.findall(rf"^\s*{re.escape(name)} ([a-z][a-z_-]*)\b",
                                          text, re.M))


class Checker:
    def __init__(self, bin_dir, configs_dir):
        self.bin_dir = bin_dir
        self.configs_dir = configs_dir
        self.binaries = {}
        self.commands = 0

    def binary(self, name):
        if name not in self.binaries:
            self.binaries[name] = Binary(name, os.path.join(self.bin_dir, BINARIES[name]))
        return self.binaries[name]

    # Returns {"binary": name, "flags": {flag: value or True}, "args": [...]}
    # for a shoal command line, None for anything else.
    def check_argv(self, argv, where):
        argv = [str(a) for a in argv]
        if not argv:
            return None
        via_entrypoint = False
        if os.path.basename(argv[0]) == ENTRYPOINT:
            via_entrypoint = True
            argv = argv[1:]
            if not argv:
                fail(where, f"{ENTRYPOINT} needs a binary to run")
                return None
            if argv[0] == "wait-shards":
                if not 3 <= len(argv) <= 4:
                    fail(where, "wait-shards takes HOST:PORT N [TIMEOUT_S]")
                return {"binary": "wait-shards", "flags": {}, "args": argv[1:]}
        if os.path.basename(argv[0]) in SHELLS and len(argv) >= 3 and argv[1] == "-c":
            return self.check_script(argv[2], where)
        name = os.path.basename(argv[0])
        if name not in BINARIES:
            return None
        self.commands += 1
        binary = self.binary(name)
        if binary.error:
            fail(where, binary.error)
            return None
        flags, positional = {}, []
        i = 1
        while i < len(argv):
            tok = argv[i]
            i += 1
            if tok == "--":
                positional.extend(argv[i:])
                break
            if not tok.startswith("-") or tok == "-" or re.fullmatch(r"-[0-9.]+", tok):
                positional.append(tok)
                continue
            body = tok.lstrip("-")
            flag, eq, value = body.partition("=")
            if flag in binary.flags:
                is_bool = binary.flags[flag]
            elif flag.startswith("no") and binary.flags.get(flag[2:]) is True:
                flag, is_bool, value, eq = flag[2:], True, "false", "="
            else:
                fail(where, f"{name}: unknown flag --{flag} (not in {name} --helpfull)")
                continue
            if not eq and not is_bool:
                if i >= len(argv):
                    fail(where, f"{name}: --{flag} needs a value")
                    continue
                value = argv[i]
                i += 1
            flags[flag] = value if (eq or not is_bool) else True
            if flag in AUTO_FLAGS and value == "auto" and not via_entrypoint:
                fail(where, f"{name}: --{flag}=auto is filled in only by {ENTRYPOINT}")
        if name == "shoalctl":
            if not positional:
                fail(where, "shoalctl: no subcommand")
            elif binary.subcommands and positional[0] not in binary.subcommands:
                fail(where, f"shoalctl: unknown subcommand '{positional[0]}' "
                            f"(--help lists {', '.join(sorted(binary.subcommands))})")
        config = flags.get("config")
        if config and self.configs_dir and isinstance(config, str) and config.startswith("/etc/shoal/"):
            rel = config[len("/etc/shoal/"):]
            if not os.path.isfile(os.path.join(self.configs_dir, rel)):
                fail(where, f"{name}: --config={config}: no {rel} in {self.configs_dir}")
        return {"binary": name, "flags": flags, "args": positional}

    def check_script(self, script, where):
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words, result = [], None
        for tok in list(lexer) + [";"]:
            if tok and set(tok) <= set(";&|"):
                if words and words[0] == "exec":
                    words = words[1:]
                r = self.check_argv(words, where) if words else None
                result = result or r
                words = []
            else:
                words.append(tok)
        return result


# --- docker-compose -----------------------------------------------------------

INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}"
                           r"|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value):
    """Compose's ${VAR:-default} with every variable unset."""
    if isinstance(value, str):
        def sub(m):
            if m.group(0) == "$$":
                return "$"
            if m.group(2) in (":-", "-"):
                return interpolate(m.group(3))
            return ""
        return INTERPOLATION.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def as_argv(value):
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def settings(flags):
    """The --set overrides of a command line as a dict."""
    out = {}
    for part in str(flags.get("set", "")).split(";"):
        key, eq, value = part.strip().partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def check_compose(checker, path, doc):
    services = doc.get("services") or {}
    runs = {}  # service -> result of its main command line
    for name, svc in services.items():
        svc = interpolate(svc or {})
        where = f"{path}: service {name}"
        entrypoint = as_argv(svc.get("entrypoint"))
        command = as_argv(svc.get("command"))
        r = None
        if entrypoint is not None or command is not None:  # else the image's CMD
            argv = (entrypoint if entrypoint is not None else [ENTRYPOINT]) + (command or [])
            r = checker.check_argv(argv, where)
        if r:
            r["replicas"] = int((svc.get("deploy") or {}).get("replicas", 1))
            runs[name] = r
        test = (svc.get("healthcheck") or {}).get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        if test and test[0] == "CMD":
            checker.check_argv(test[1:], f"{where} healthcheck")
        elif test and test[0] == "CMD-SHELL":
            checker.check_script(" ".join(test[1:]), f"{where} healthcheck")

    replay = {n: r for n, r in runs.items() if r["binary"] == "shoal-replay"}
    if replay:
        indices = sorted(int(r["flags"].get("shard_index", 0)) for r in replay.values())
        if indices != list(range(len(replay))):
            fail(path, f"replay services have --shard_index {indices}, want 0..{len(replay) - 1}")
    by_shard = {str(r["flags"].get("shard_index", 0)): n for n, r in replay.items()}
    for name, r in runs.items():
        where = f"{path}: service {name}"
        shards = settings(r["flags"]).get("replay.shards")
        if replay and shards is not None and shards != str(len(replay)):
            fail(where, f"replay.shards={shards}, but the file has {len(replay)} replay services")
        addresses = r["flags"].get("replay")
        if addresses and replay:
            hosts = [a.rsplit(":", 1)[0] for a in str(addresses).split(",")]
            want = [by_shard.get(str(i)) for i in range(len(replay))]
            if len(hosts) > 1 and hosts != want:
                fail(where, f"--replay={addresses}: entry i must be the service of shard i ({','.join(map(str, want))})")
        if r["binary"] == "shoal-actor" and r["flags"].get("actor_index") == "auto":
            n = r["flags"].get("num_actors")
            if n is None or str(n) != str(r["replicas"]):
                fail(where, f"--num_actors={n} but deploy.replicas is {r['replicas']}")
        learner = r["flags"].get("learner")
        if learner:
            host, _, port = str(learner).rpartition(":")
            target = runs.get(host)
            if target is None or target["binary"] != "shoal-learner":
                fail(where, f"--learner={learner}: no shoal-learner service named {host}")
            elif str(target["flags"].get("port")) != port:
                fail(where, f"--learner={learner}: service {host} listens on --port={target['flags'].get('port')}")


# --- Kubernetes ----------------------------------------------------------------

def pod_spec(doc):
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec"))
    return None


def expand(value, env):
    """Kubernetes' $(VAR) expansion ($$ escapes; unknown names stay)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                  str(value))


def check_k8s_set(checker, docs):
    config_maps = {d["metadata"]["name"]: d.get("data") or {}
                   for _, d in docs if d.get("kind") == "ConfigMap"}
    replay_sets = []   # (where, replicas, shards from --set)
    waits = []         # (where, N)
    for path, doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        obj = f"{path}: {doc['kind']}/{doc['metadata']['name']}"
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            where = f"{obj} container {c.get('name')}"
            env = {}
            for src in c.get("envFrom") or []:
                ref = src.get("configMapRef")
                if ref:
                    for k, v in config_maps.get(ref.get("name"), {}).items():
                        env[src.get("prefix", "") + k] = str(v)
            for e in c.get("env") or []:
                if "value" in e:
                    env[e["name"]] = expand(e["value"], env)
            command = c.get("command")
            argv = [expand(a, env) for a in (command if command is not None else [ENTRYPOINT])
                    + (c.get("args") or [])]
            r = checker.check_argv(argv, where)
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                exec_ = (c.get(probe) or {}).get("exec")
                if exec_:
                    checker.check_argv(exec_.get("command") or [], f"{where} {probe}")
            for hook in ("postStart", "preStop"):
                exec_ = ((c.get("lifecycle") or {}).get(hook) or {}).get("exec")
                if exec_:
                    checker.check_argv(exec_.get("command") or [], f"{where} {hook}")
            if not r:
                continue
            if r["binary"] == "wait-shards" and len(r["args"]) >= 2:
                waits.append((where, r["args"][1]))
            if r["binary"] == "shoal-replay" and doc["kind"] == "StatefulSet":
                replay_sets.append((where, doc["spec"].get("replicas", 1),
                                    settings(r["flags"]).get("replay.shards")))
                if r["flags"].get("shard_index") != "auto":
                    fail(where, "a StatefulSet of shards needs --shard_index=auto (the pod's ordinal)")
            if r["binary"] == "shoal-actor" and r["flags"].get("actor_index") == "auto":
                js = doc.get("spec") or {}
                if doc["kind"] != "Job" or js.get("completionMode") != "Indexed":
                    fail(where, "--actor_index=auto in Kubernetes needs an Indexed Job")
                else:
                    n = str(r["flags"].get("num_actors"))
                    for field in ("completions", "parallelism"):
                        if str(js.get(field)) != n:
                            fail(where, f"--num_actors={n} but the Job's {field} is {js.get(field)}")
    for where, replicas, shards in replay_sets:
        if shards is not None and str(shards) != str(replicas):
            fail(where, f"replay.shards={shards} but the StatefulSet has {replicas} replicas")
        for w, n in waits:
            if str(n) != str(replicas):
                fail(w, f"wait-shards waits for {n} shards but the StatefulSet has {replicas} replicas")


def kustomize_patches(files):
    """Patch files named by the kustomizations among `files`: partial objects."""
    out = set()
    for f in files:
        if os.path.basename(f) not in ("kustomization.yaml", "kustomization.yml"):
            continue
        try:
            k = load(f)[0] or {}
        except (yaml.YAMLError, IndexError):
            continue
        for patch in (k.get("patches") or []) + (k.get("patchesStrategicMerge") or []):
            rel = patch if isinstance(patch, str) else (patch or {}).get("path")
            if rel:
                out.add(os.path.normpath(os.path.join(os.path.dirname(f), rel)))
    return out


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin-dir", required=True, help="the build folder")
    parser.add_argument("--configs", help="folder mounted at /etc/shoal")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    checker = Checker(args.bin_dir, args.configs)

    k8s_sets = {}  # folder -> [(path, doc)]
    for p in args.paths:
        files = []
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in sorted(names)
                          if n.endswith((".yaml", ".yml"))]
            files = [f for f in files if f not in kustomize_patches(files)]
        elif os.path.isfile(p):
            files.append(p)
        else:
            fail(p, "does not exist")
        for f in sorted(files):
            try:
                docs = load(f)
            except yaml.YAMLError as e:
                fail(f, f"YAML: {e}")
                continue
            for doc in docs:
                if not isinstance(doc, dict):
                    continue
                if "services" in doc and "kind" not in doc:
                    check_compose(checker, f, doc)
                elif doc.get("kind") and isinstance(doc.get("metadata"), dict) and "name" in doc["metadata"]:
                    k8s_sets.setdefault(os.path.dirname(f), []).append((f, doc))
    # A kustomize base is used by the folders above it: check each folder with
    # the ConfigMaps of its own set and of the sets beneath it.
    for folder in sorted(k8s_sets):
        docs = list(k8s_sets[folder])
        for other, more in k8s_sets.items():
            if other != folder and other.startswith(folder + os.sep):
                docs += [(p, d) for p, d in more if d.get("kind") == "ConfigMap"]
        check_k8s_set(checker, docs)

    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    if checker.commands == 0 and not errors:
        print("check_flags: no shoal command lines found", file=sys.stderr)
        return 1
    if errors:
        print(f"check_flags: {len(errors)} error(s) in {checker.commands} shoal command lines",
              file=sys.stderr)
        return 1
    used = ", ".join(sorted(checker.binaries))
    print(f"check_flags: {checker.commands} shoal command lines OK ({used})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
