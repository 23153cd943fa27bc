#!/usr/bin/env python3
"""Checks Grafana dashboards (deploy/monitoring/grafana/dashboards/*.json).

  check_dashboard.py [--names FILE] [--promtool PATH] [--print-exprs] DASHBOARD...

Structure: the file is a dashboard (uid, title, schemaVersion, panels) with
at least one panel that queries; panel ids are unique; every panel but a row
has a gridPos inside the 24-column grid that overlaps no other panel, a
datasource (the panel's or each target's), and at least one target, each
with a refId, a non-empty PromQL `expr` and a `legendFormat`. A datasource
written as a variable (${datasource}) must be a datasource variable of the
dashboard's templating. Rows' nested panels (collapsed rows) count too.

Metric names: the names each expr uses are the identifiers that are neither
PromQL functions, aggregations nor keywords, once strings, label matchers
({...}), ranges ([...]), grouping label lists (by/without/on/ignoring/
group_left/group_right (...)) and Grafana variables are taken out; a name
ending in _bucket, _sum or _count stands for its family (the name without
the suffix). An identifier called like a function must be a PromQL function.
--names FILE (one exported family name a line; blank lines and # comments
skipped): every name an expr uses must be listed (or, suffix and all, be
listed itself). Each error names the panel and the metric.

--promtool PATH: each expr also goes through PromQL's own parser (a
recording rule per expr, `promtool check rules`).

--print-exprs: one JSON line per target, {"panel": TITLE, "expr": EXPR,
"metrics": [FAMILY...]}, e.g. for a test that runs each expr against a
Prometheus scraping a live cluster. Without --print-exprs a summary line.

Exit status 1 on any error (each on its own line), 2 on bad usage.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan",
    "atanh", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "cos", "cosh", "count_over_time", "day_of_month", "day_of_week", "day_of_year",
    "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters",
    "hour", "idelta", "increase", "irate", "label_join", "label_replace",
    "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time",
    "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin",
    "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "offset", "and", "or", "unless", "atan2", "start", "end", "inf", "nan",
}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)",
                      re.I)
VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\]")
STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
NAME_MATCHER = re.compile(r'__name__\s*=\s*"((?:\\.|[^"\\])*)"')
IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")
SUFFIXES = ("_bucket", "_sum", "_count")

errors = []


def fail(where, message):
    line = f"{where}: {message}"
    if line not in errors:
        errors.append(line)


def family(name):
    for s in SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            return name[:-len(s)]
    return name


def metric_names(expr):
    """(names, unknown functions) an expr uses; names as written."""
    text = VARIABLE.sub(" ", expr)
    names = [m.group(1) for m in NAME_MATCHER.finditer(text)]
    text = STRING.sub('""', text)
    text = re.sub(r"\{[^{}]*\}", "{}", text)
    text = re.sub(r"\[[^\[\]]*\]", "[]", text)
    text = re.sub(r"\boffset\s+-?[\w.]+", "offset", text, flags=re.I)
    text = re.sub(r"@\s*(start\s*\(\s*\)|end\s*\(\s*\)|[\d.e+-]+)", " ", text)
    text = GROUPING.sub(lambda m: m.group(1), text)  # once: `by (a) (b)` keeps (b)
    unknown_functions = []
    for m in IDENTIFIER.finditer(text):
        ident, call = m.group(1), m.group(2)
        low = ident.lower()
        if low in KEYWORDS or low in AGGREGATIONS:
            continue
        if call:
            if ident not in FUNCTIONS:
                unknown_functions.append(ident)
            continue
        if ident in FUNCTIONS:  # e.g. `time` without parentheses: not a metric
            continue
        names.append(ident)
    return names, unknown_functions


def walk_panels(panels, out, where):
    if not isinstance(panels, list):
        fail(where, "panels is not a list")
        return
    for i, p in enumerate(panels):
        if not isinstance(p, dict):
            fail(where, f"panels[{i}] is not an object")
            continue
        out.append(p)
        if p.get("type") == "row":
            walk_panels(p.get("panels", []), out, f"{where}: row {p.get('title')!r}")


def datasource_ok(ds, variables):
    """An error message for a datasource reference, or None."""
    if ds is None:
        return "no datasource"
    if isinstance(ds, str):  # the old form: a name or ${var}
        uid = ds
    elif isinstance(ds, dict):
        uid = ds.get("uid")
        if not uid:
            return "datasource without uid"
        if ds.get("type") not in (None, "prometheus"):
            return f"datasource type {ds.get('type')!r}, not prometheus"
    else:
        return "datasource is neither an object nor a string"
    m = re.fullmatch(r"\$\{([^}:]+)(?::\w+)?\}|\$(\w+)", str(uid))
    if m:
        var = m.group(1) or m.group(2)
        if var not in variables:
            return f"datasource ${{{var}}} is no datasource variable of the dashboard"
    return None


def check(path, names, exprs_out):
    try:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        fail(path, f"cannot read the dashboard: {e}")
        return 0, 0
    if not isinstance(dash, dict):
        fail(path, "not a JSON object")
        return 0, 0
    if "dashboard" in dash and isinstance(dash["dashboard"], dict):
        dash = dash["dashboard"]  # the API's export wrapper
    for key in ("uid", "title"):
        if not isinstance(dash.get(key), str) or not dash.get(key):
            fail(path, f"no {key}")
    if not isinstance(dash.get("schemaVersion"), int):
        fail(path, "no integer schemaVersion")
    variables = {}
    for v in (dash.get("templating") or {}).get("list") or []:
        if isinstance(v, dict) and v.get("type") == "datasource":
            variables[v.get("name")] = v
            if v.get("query") != "prometheus":
                fail(path, f"datasource variable {v.get('name')!r} is of type "
                           f"{v.get('query')!r}, not prometheus")

    panels = []
    walk_panels(dash.get("panels"), panels, path)
    ids = {}
    boxes = []
    queried = targets_n = 0
    for p in panels:
        title = p.get("title") or "(untitled)"
        where = f"{path}: panel {title!r} (id {p.get('id')})"
        pid = p.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            fail(where, "no integer id")
        elif pid in ids:
            fail(where, f"id {pid} is also panel {ids[pid]!r}'s")
        else:
            ids[pid] = title
        grid = p.get("gridPos")
        if not isinstance(grid, dict) or not all(
                isinstance(grid.get(k), int) and not isinstance(grid.get(k), bool)
                for k in ("h", "w", "x", "y")):
            fail(where, "no gridPos with integer h, w, x, y")
        elif grid["w"] < 1 or grid["h"] < 1 or grid["x"] < 0 or grid["y"] < 0 \
                or grid["x"] + grid["w"] > 24:
            fail(where, f"gridPos {grid} is outside the 24-column grid")
        else:
            box = (grid["x"], grid["y"], grid["x"] + grid["w"], grid["y"] + grid["h"])
            for other_title, o in boxes:
                if box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]:
                    fail(where, f"gridPos overlaps panel {other_title!r}")
            boxes.append((title, box))
        if p.get("type") == "row":
            if p.get("targets"):
                fail(where, "a row with targets")
            continue
        if not p.get("type"):
            fail(where, "no type")
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            fail(where, "no targets")
            continue
        refs = set()
        panel_ok = False
        for j, t in enumerate(targets):
            twhere = f"{where} target {j}"
            if not isinstance(t, dict):
                fail(twhere, "not an object")
                continue
            ref = t.get("refId")
            if not ref:
                fail(twhere, "no refId")
            elif ref in refs:
                fail(twhere, f"refId {ref} twice")
            refs.add(ref)
            ds_error = datasource_ok(t.get("datasource", p.get("datasource")), variables)
            if ds_error:
                fail(twhere, ds_error)
            if t.get("hide"):
                continue
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                fail(twhere, "no expr")
                continue
            if not isinstance(t.get("legendFormat"), str) or not t["legendFormat"].strip():
                fail(twhere, "no legendFormat")
            used, unknown_functions = metric_names(expr)
            for fn in unknown_functions:
                fail(where, f"{fn}(...) is no PromQL function (in {expr})")
            if not used:
                fail(where, f"expr uses no metric: {expr}")
            for name in used:
                if names is not None and name not in names and family(name) not in names:
                    fail(where, f"metric {family(name)} is not exported (in {expr})")
            families = sorted({family(n) for n in used})
            exprs_out.append({"panel": title, "expr": expr, "metrics": families,
                              "where": where})
            targets_n += 1
            panel_ok = True
        queried += panel_ok
    if queried == 0:
        fail(path, "no panel with a query")
    return queried, targets_n


def promtool_check(promtool, exprs):
    """Parses every expr with PromQL's own parser (promtool check rules)."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": e["expr"]} for i, e in enumerate(exprs)]}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard_rules.yml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(rules, f)  # JSON is YAML
        try:
            out = subprocess.run([promtool, "check", "rules", path],
                                 capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            fail(promtool, f"cannot run: {e}")
            return
        if out.returncode == 0:
            return
        text = out.stdout + out.stderr
        # One expr at a time names the one that does not parse.
        found = False
        for e in exprs:
            single = {"groups": [{"name": "one", "rules": [
                {"record": "dashboard:expr", "expr": e["expr"]}]}]}
            with open(path, "w", encoding="utf-8") as f:
                json.dump(single, f)
            r = subprocess.run([promtool, "check", "rules", path],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                found = True
                msg = " ".join((r.stdout + r.stderr).split())
                msg = re.sub(r".*?(parse error|could not parse)", r"\1", msg, count=1)
                fail(e["where"], f"PromQL does not parse: {msg} (in {e['expr']})")
        if not found:
            fail(promtool, f"check rules failed: {' '.join(text.split())}")


def read_names(path):
    names = set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    names.add(line)
                    names.add(family(line))
    except OSError as e:
        fail(path, f"cannot read: {e}")
        return None
    if not names:
        fail(path, "no metric names in it")
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", help="file of exported metric family names, one a line")
    parser.add_argument("--promtool", help="promtool, to parse each expr")
    parser.add_argument("--print-exprs", action="store_true",
                        help="print one JSON line per target")
    parser.add_argument("dashboards", nargs="+")
    args = parser.parse_args()

    names = read_names(args.names) if args.names else None
    exprs = []
    panels_n = targets_n = 0
    for d in args.dashboards:
        p, t = check(d, names, exprs)
        panels_n += p
        targets_n += t
    if args.promtool and exprs:
        promtool_check(args.promtool, exprs)

    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    if errors:
        print(f"check_dashboard: {len(errors)} error(s)", file=sys.stderr)
        return 1
    if args.print_exprs:
        for e in exprs:
            print(json.dumps({"panel": e["panel"], "expr": e["expr"], "metrics": e["metrics"]}))
    else:
        used = sorted({m for e in exprs for m in e["metrics"]})
        checked = " against " + args.names if names is not None else ""
        parsed = ", parsed by promtool" if args.promtool else ""
        print(f"check_dashboard: {panels_n} panels, {targets_n} queries, "
              f"{len(used)} metrics OK{checked}{parsed}: {', '.join(used)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
