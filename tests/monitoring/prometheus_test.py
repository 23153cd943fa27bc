#!/usr/bin/env python3
"""A real Prometheus scraping a live `shoalctl run` cluster.

Starts `shoalctl run` (replay shards, learner, actors, eval actor), then
Debian's Prometheus on a free loopback port with a temporary data directory,
configured by deploy/monitoring/prometheus-local.yml (the run's
prometheus_targets.json through file_sd_configs; scraped every second here
instead of every 5 s). Checks, against Prometheus's HTTP API and promtool:

  - every child's /metrics passes `promtool check metrics` with no finding;
  - every target is up;
  - sum(rate(shoal_actor_env_steps_total[10s])) over the training actors
    matches the env steps/s shoalctl's progress line shows (its
    progress.csv, the same figures), within 20 % (median over the run);
  - the sampled-to-inserted ratio of the replay table, from Prometheus,
    equals the rate limiter's samples_per_insert, within 15 %;
  - the Grafana dashboard (deploy/monitoring) names only metrics the live
    cluster exports, and each of its expressions returns data.

Usage: prometheus_test.py SHOALCTL CONFIG PROMETHEUS_LOCAL_YML DASHBOARD
                          CHECK_DASHBOARD
Exits 0 when every check passes; prints what failed otherwise.
"""

import csv
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

RUN_SECONDS = 50
SCRAPE_INTERVAL = "1s"
FAILURES = []


def fail(message):
    FAILURES.append(message)
    print("FAIL: " + message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def query(prometheus, expr, at=None):
    """The result vector of an instant query; raises on an API error."""
    params = {"query": expr}
    if at is not None:
        params["time"] = "%.3f" % at
    body = json.loads(
        http_get("%s/api/v1/query?%s" % (prometheus, urllib.parse.urlencode(params))))
    if body.get("status") != "success":
        raise RuntimeError("query %r: %s" % (expr, body))
    return body["data"]["result"]


def scalar(prometheus, expr):
    """The single value of `expr`, or None when it has no sample."""
    result = query(prometheus, expr)
    if len(result) != 1:
        return None
    return float(result[0]["value"][1])


def wait_for(what, predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))


def families(text):
    """Metric family names of a scrape (from its # TYPE lines)."""
    return {m.group(1) for m in re.finditer(r"^# TYPE (\S+) \S+$", text, re.M)}


def last_progress_row(run_dir):
    try:
        with open(os.path.join(run_dir, "progress.csv")) as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    return rows[-1] if rows else None


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    shoalctl, config, prometheus_yml, dashboard, check_dashboard = sys.argv[1:]
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print("%s not found: scripts/install_deps.sh installs Debian's "
                  "prometheus package" % tool)
            return 1
    work = tempfile.mkdtemp(prefix="shoal-prometheus-")
    processes = []
    try:
        return run(work, processes, shoalctl, config, prometheus_yml, dashboard,
                   check_dashboard)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
        if not FAILURES:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("left %s for inspection" % work)


def run(work, processes, shoalctl, config, prometheus_yml, dashboard,
        check_dashboard):
    runs = os.path.join(work, "runs")
    # A fixed wall time (no eval_return stop), two training actors on one
    # shard, and an evaluation actor, so every kind of child is scraped.
    overrides = ("stop.eval_return=1000000;stop.wall_time_s=%d;"
                 "actor.num_actors=2;replay.shards=1" % (RUN_SECONDS + 30))
    run_log = open(os.path.join(work, "shoalctl.log"), "w")
    processes.append(subprocess.Popen(
        [shoalctl, "run", config, "--runs_dir=" + runs, "--set=" + overrides,
         "--progress_every_s=1"],
        stdout=run_log, stderr=subprocess.STDOUT))
    targets_file = wait_for(
        "the run's prometheus_targets.json listing the eval actor",
        lambda: next((path for path in glob.glob(
            os.path.join(runs, "*", "prometheus_targets.json"))
            if '"shoal-actor-eval"' in open(path).read()), None),
        timeout=120)
    run_dir = os.path.dirname(targets_file)
    targets = json.load(open(targets_file))
    print("targets: %s" % ", ".join(
        "%s=%s" % (t["labels"]["child"], t["targets"][0]) for t in targets),
        flush=True)

    # Prometheus, scraping the run every second.
    port = free_port()
    prometheus = "http://127.0.0.1:%d" % port
    config_file = os.path.join(work, "prometheus.yml")
    text = open(prometheus_yml).read().replace("RUN_DIR", run_dir)
    text, n = re.subn(r"(scrape_interval|evaluation_interval|refresh_interval):"
                      r" 5s", r"\1: " + SCRAPE_INTERVAL, text)
    text, m = re.subn(r"scrape_timeout: 4s", "scrape_timeout: 900ms", text)
    if n != 3 or m != 1 or targets_file not in text:
        fail("%s: expected RUN_DIR, three 5 s intervals and a 4 s timeout"
             % prometheus_yml)
        return 1
    with open(config_file, "w") as f:
        f.write(text)
    check = subprocess.run(["promtool", "check", "config", config_file],
                           capture_output=True, text=True)
    if check.returncode != 0:
        fail("promtool check config: " + check.stdout + check.stderr)
        return 1
    prometheus_log = open(os.path.join(work, "prometheus.log"), "w")
    processes.append(subprocess.Popen(
        ["prometheus", "--config.file=" + config_file,
         "--storage.tsdb.path=" + os.path.join(work, "data"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdout=prometheus_log, stderr=subprocess.STDOUT))
    wait_for("Prometheus to be ready",
             lambda: _ok(lambda: http_get(prometheus + "/-/ready")), timeout=60)
    started = time.time()

    # promtool on every child's /metrics, and the families they export.
    exported = set()
    for target in targets:
        child = target["labels"]["child"]
        text = http_get("http://%s/metrics" % target["targets"][0])
        exported |= families(text)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                              capture_output=True, text=True)
        if lint.returncode != 0 or lint.stdout.strip() or lint.stderr.strip():
            fail("promtool check metrics on %s: %s%s" %
                 (child, lint.stdout, lint.stderr))
    print("exported families: %d" % len(exported), flush=True)

    # Env steps/s: Prometheus against shoalctl's progress, once the run is
    # warm, every 2 s.
    ratios = []
    while time.time() - started < RUN_SECONDS:
        time.sleep(2)
        if time.time() - started < 15:
            continue
        row = last_progress_row(run_dir)
        rate = scalar(prometheus, 'sum(rate(shoal_actor_env_steps_total'
                                  '{job="shoal-actor"}[10s]))')
        if row is None or rate is None or float(row["env_steps_per_s"]) <= 0:
            continue
        ratios.append(rate / float(row["env_steps_per_s"]))
    print("env steps/s, Prometheus / progress line: %s" %
          ", ".join("%.3f" % r for r in ratios), flush=True)
    if len(ratios) < 5:
        fail("only %d env-steps/s comparisons in %d s" % (len(ratios), RUN_SECONDS))
    elif abs(statistics.median(ratios) - 1.0) > 0.20:
        fail("env steps/s from Prometheus is %.2f x the progress line's "
             "(median of %d)" % (statistics.median(ratios), len(ratios)))

    # Every target up, the eval actor's included.
    up = query(prometheus, "up")
    if len(up) != len(targets) or any(s["value"][1] != "1" for s in up):
        fail("up: expected %d targets at 1, got %s" %
             (len(targets), [(s["metric"].get("child"), s["value"][1]) for s in up]))

    # The rate limiter's ratio, observed over the last 20 s.
    observed = scalar(prometheus,
                      "sum(increase(shoal_replay_table_samples_total[20s])) / "
                      "sum(increase(shoal_replay_table_inserts_total[20s]))")
    configured = scalar(prometheus,
                        "max(shoal_replay_rate_limiter_samples_per_insert)")
    print("samples per insert: observed %s, configured %s" % (observed, configured),
          flush=True)
    if observed is None or configured is None or configured <= 0:
        fail("samples per insert: no data (observed %s, configured %s)" %
             (observed, configured))
    elif abs(observed / configured - 1.0) > 0.15:
        fail("samples per insert: observed %.2f, configured %.2f" %
             (observed, configured))

    # The dashboard: only exported names, and every expression has data.
    names_file = os.path.join(work, "exported_metrics.txt")
    with open(names_file, "w") as f:
        f.write("\n".join(sorted(exported)) + "\n")
    names = subprocess.run([sys.executable, check_dashboard, dashboard,
                            "--names", names_file], capture_output=True, text=True)
    if names.returncode != 0:
        fail("dashboard names metrics the cluster does not export: " +
             names.stdout + names.stderr)
    exprs = subprocess.run([sys.executable, check_dashboard, dashboard,
                            "--print-exprs"], capture_output=True, text=True)
    panels = [json.loads(line) for line in exprs.stdout.splitlines() if line]
    if exprs.returncode != 0 or not panels:
        fail("dashboard expressions: %s%s" % (exprs.stdout, exprs.stderr))
    for panel in panels:
        # Grafana's own variables, as Grafana would substitute them.
        expr = panel["expr"].replace("$__rate_interval", "20s").replace(
            "$__interval", "5s")
        try:
            result = query(prometheus, expr)
        except Exception as e:  # an API error names the expression
            fail("panel %r: %s" % (panel["panel"], e))
            continue
        if not result:
            fail("panel %r: no data for %s" % (panel["panel"], expr))
    print("dashboard: %d expressions checked" % len(panels), flush=True)

    if FAILURES:
        print("%d checks failed" % len(FAILURES))
        return 1
    print("all Prometheus checks passed")
    return 0


def _ok(call):
    try:
        call()
        return True
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
