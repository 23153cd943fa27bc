#!/usr/bin/env python3
"""End-to-end benchmark: runs the recipes in deploy/configs with `shoalctl run`
and prints JSON lines {"bench", "value", "unit"[, "limit", "ratio"]}.

    python3 tests/bench/e2e_bench.py [--build build] [--repeats 1]
        [--set 'k=v;k=v'] [recipe ...]

Per recipe: seconds and env steps to the target return, and the final
evaluation return. Limits are the recipes' goals: cartpole_dqn reaches 475
within 120 s, pendulum_sac reaches -200 within 20,000 env steps. For ks_sac
(no return target; a 300 s budget) it also runs the evaluation actor with the
zero-action policy on the same initial states and reports both returns.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

RECIPES = ["cartpole_dqn", "pendulum_sac", "cartpole_impala", "ks_sac"]
# (metric, limit): value <= limit is the goal.
LIMITS = {
    "cartpole_dqn": ("seconds_to_target", 120.0),
    "pendulum_sac": ("env_steps_to_target", 20000.0),
}


def emit(bench, value, unit, limit=None):
    line = {"bench": bench, "value": value, "unit": unit}
    if limit is not None and value is not None:
        line["limit"] = limit
        line["ratio"] = round(value / limit, 4)
    print(json.dumps(line), flush=True)


def run_recipe(build, source, recipe, runs_dir, sets):
    config = os.path.join(source, "deploy", "configs", recipe + ".yaml")
    before = set(os.listdir(runs_dir))
    cmd = [os.path.join(build, "tools", "shoalctl"), "run", config,
           "--runs_dir", runs_dir, "--progress_every_s", "30"]
    if sets:
        cmd += ["--set", sets]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    new = sorted(set(os.listdir(runs_dir)) - before)
    if not new:
        sys.stderr.write(proc.stdout)
        raise SystemExit(f"e2e_bench: {recipe}: no run directory")
    run_dir = os.path.join(runs_dir, new[-1])
    with open(os.path.join(run_dir, "summary.json")) as f:
        return json.load(f), run_dir, proc.returncode


def zero_action_return(build, source):
    """The ks_sac eval actor's first round with every action 0."""
    config = os.path.join(source, "deploy", "configs", "ks_sac.yaml")
    out = subprocess.run(
        [os.path.join(build, "actor", "shoal-actor"), "--eval",
         "--config", config, "--set", "actor.initial_policy=zero",
         "--max_env_steps", "4000"],  # one round: 10 episodes x 400 steps
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600).stdout
    match = re.search(r"eval round 1: mean_return (-?[0-9.]+)", out)
    if not match:
        raise SystemExit("e2e_bench: no eval round from the zero policy:\n" + out)
    return float(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--source", default=os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", default="",
                        help="overrides for every recipe, 'k=v;k=v'")
    parser.add_argument("recipes", nargs="*", default=RECIPES)
    args = parser.parse_args()
    runs_dir = tempfile.mkdtemp(prefix="shoal-e2e-bench-")
    for recipe in args.recipes:
        for _ in range(args.repeats):
            summary, run_dir, code = run_recipe(args.build, args.source,
                                                recipe, runs_dir, args.set)
            name = "e2e/" + recipe
            limit_metric, limit = LIMITS.get(recipe, (None, None))
            emit(name + "/seconds_to_target", summary.get("seconds_to_target"),
                 "s", limit if limit_metric == "seconds_to_target" else None)
            emit(name + "/env_steps_to_target",
                 summary.get("env_steps_to_target"), "steps",
                 limit if limit_metric == "env_steps_to_target" else None)
            emit(name + "/final_return", summary.get("eval_return"), "return")
            emit(name + "/best_return",
                 (summary.get("best_eval") or {}).get("mean_return"), "return")
            emit(name + "/env_steps_per_s", round(summary["env_steps_per_s"], 1),
                 "steps/s")
            emit(name + "/learner_steps_per_s",
                 round(summary["learner_steps_per_s"], 1), "updates/s")
            emit(name + "/exit_code", code, "code")
            if recipe == "ks_sac":
                zero = zero_action_return(args.build, args.source)
                emit(name + "/zero_action_return", zero, "return")
                final = summary.get("eval_return")
                if final is not None and zero < 0:
                    # Fraction of the uncontrolled cost the policy removes.
                    emit(name + "/cost_reduction", round(1 - final / zero, 4),
                         "fraction")
            sys.stderr.write(f"e2e_bench: {recipe}: {run_dir}\n")


if __name__ == "__main__":
    main()
