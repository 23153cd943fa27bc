#!/usr/bin/env python3
"""The scaling study: shoal's asynchronous system against the synchronous
baseline (`shoalctl run --sync`), on pendulum_sac with a step cost of 0, 1000
and 10000 us and on ks_sac, with 1, 2, 4, 8 and 16 actors. Prints JSON lines
{"bench", "value", "unit"[, "limit", "ratio"]}; not a timed test.

    python3 tests/bench/scaling_bench.py [--build build] [--budget_s 90]
        [--costs 0,1000,10000] [--actors 1,2,4,8,16] [--no_ks]
        [--ratios 64,256] [--out_dir scaling-out] [--seeds 1,2,3]

Per run: env steps/s and learner updates/s at steady state (from the run's
progress.csv, after the first 5 s), policy lag mean and max, seconds and env
steps to the target return (pendulum: -200; ks has none: the return reached
at the budget), the final return. Per setting: parallel efficiency = steps/s
with k actors / (k x steps/s with 1), learner updates/s relative to the cheap
env's, and the speed-up and sample-efficiency ratio of 8 actors against the
synchronous baseline.

Every run uses the study's SAC (--study_set): pendulum_sac's algorithm with
2x64 networks and batches of 64, one update per env step, and an
evaluation round (5 episodes) every second, so that time to target is not
rounded up to pendulum_sac's 5 s evaluation interval. A CPU learner's
update then costs ~2 ms, less than a slow simulator's step: the regime APT
is for (with pendulum_sac's 2x256 networks and batches of 256 an update
costs ~10 ms here, as much as the 10 ms step, and no schedule can be more
than 2x faster than the synchronous loop at the same update-to-data ratio).

Throughput runs let the actors run free (an error buffer of 1e12 on the
ratio limiter). Time to target is measured at the synchronous loop's
update-to-data ratio (the limiter held, "async8_ratio"): the same number of
updates per env step, so env steps to target compare sample efficiency. The
update-to-data study (--ratios) pins samples_per_insert and reports return
against wall clock for each ratio. Every run's evals.csv and progress.csv
are copied to --out_dir for scripts/plot_scaling.sh.

--seeds repeats every pendulum setting once per experiment seed (labels gain
"/seedN") and then reports the median, min and max over the seeds of each
goal ratio (speed-up and env steps to target of 8 actors against the
synchronous loop): one run per seed is one sample of the actors' timing and
of the seed, so goals are judged on the median with the spread beside it.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

CHEAP_ENVS = 16  # envs in total where the env is cheap


def emit(bench, value, unit, limit=None, higher_is_better=True):
    line = {"bench": bench, "value": value, "unit": unit}
    if limit is not None and value is not None:
        line["limit"] = limit
        line["ratio"] = round(value / limit if higher_is_better
                              else limit / value if value else 0.0, 4)
    print(json.dumps(line), flush=True)


def steady_rates(progress_csv, skip_s=5.0):
    """Env steps/s and updates/s between the first row after skip_s and the
    last row of a run's progress.csv."""
    with open(progress_csv) as f:
        rows = list(csv.DictReader(f))
    rows = [r for r in rows if float(r["elapsed_s"]) >= skip_s] or rows
    first, last = rows[0], rows[-1]
    span = float(last["elapsed_s"]) - float(first["elapsed_s"])
    if span <= 0:
        return 0.0, 0.0
    env = (int(last["env_steps"]) - int(first["env_steps"])) / span
    learner = (int(last["learner_steps"]) - int(first["learner_steps"])) / span
    return env, learner


def run(args, recipe, name, sets, sync=False):
    config = os.path.join(args.source, "deploy", "configs", recipe + ".yaml")
    runs_dir = tempfile.mkdtemp(prefix="shoal-scaling-")
    cmd = [os.path.join(args.build, "tools", "shoalctl"), "run", config,
           "--runs_dir", runs_dir, "--progress_every_s", "60",
           "--set", ";".join(sets)]
    if sync:
        cmd.append("--sync")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    dirs = [os.path.join(runs_dir, d) for d in os.listdir(runs_dir)]
    if len(dirs) != 1:
        raise SystemExit(f"scaling_bench: {name}: no run: {proc.stdout[-2000:]}")
    run_dir = dirs[0]
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    env_rate, learner_rate = steady_rates(os.path.join(run_dir, "progress.csv"))
    for part in ("evals.csv", "progress.csv"):
        target = os.path.join(args.out_dir, f"{name}.{part}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(os.path.join(run_dir, part), target)
    shutil.rmtree(runs_dir, ignore_errors=True)
    result = {
        "env_steps_per_s": round(env_rate, 1),
        "learner_updates_per_s": round(learner_rate, 1),
        "policy_lag_mean": summary["policy_lag_mean"],
        "policy_lag_max": summary["policy_lag_max"],
        "seconds_to_target": summary.get("seconds_to_target"),
        "env_steps_to_target": summary.get("env_steps_to_target"),
        "final_return": summary.get("eval_return"),
        "elapsed_s": round(summary["elapsed_s"], 1),
    }
    units = {"env_steps_per_s": "steps/s", "learner_updates_per_s": "updates/s",
             "policy_lag_mean": "versions", "policy_lag_max": "versions",
             "seconds_to_target": "s", "env_steps_to_target": "steps",
             "final_return": "return", "elapsed_s": "s"}
    for key, value in result.items():
        emit(f"scaling/{name}/{key}", value, units[key])
    sys.stderr.write(f"scaling_bench: {name}: {json.dumps(result)}\n")
    return result


def setting(args, recipe, label, cost, slow, target, extra_sets=()):
    """Sync baseline plus 1..16 free actors for one env setting, and 8
    actors at the baseline's update-to-data ratio. Returns the sync run, the
    actor runs and the goal ratios {bench name: value}."""
    limited = ([f"stop.wall_time_s={args.budget_s}"] + study_sets(args) +
               list(extra_sets))
    if cost is not None:
        limited.append(f"env.step_cost_us={cost}")
    # No env-step budget: free actors would spend pendulum_sac's 20,000
    # steps before the first evaluation; runs end at the target or the
    # wall-clock budget.
    limited.append("stop.env_steps=0")
    base = limited + ["tables[transitions].rate_limiter.error_buffer=1e12"]
    sync_envs = 1 if slow else CHEAP_ENVS
    sync = run(args, recipe, f"{label}/sync",
               base + [f"actor.num_envs={sync_envs}"], sync=True)
    results = {}
    for k in args.actors:
        envs = 1 if slow else max(1, CHEAP_ENVS // k)
        results[k] = run(args, recipe, f"{label}/async{k}",
                         base + [f"actor.num_actors={k}",
                                 f"actor.num_envs={envs}"])
    if target is not None and 8 in args.actors:
        results["8_ratio"] = run(
            args, recipe, f"{label}/async8_ratio",
            limited + ["actor.num_actors=8",
                       f"actor.num_envs={1 if slow else CHEAP_ENVS // 8}"])
    one = results.get(1)
    for k, r in results.items():
        if not isinstance(k, int):
            continue
        if one and one["env_steps_per_s"] > 0 and slow:
            emit(f"scaling/{label}/async{k}/parallel_efficiency",
                 round(r["env_steps_per_s"] / (k * one["env_steps_per_s"]), 4),
                 "fraction", limit=0.9)
    goals = {}
    for name, limits in (("async8_ratio", True), ("async8", False)):
        eight = results.get("8_ratio" if limits else 8)
        if not (eight and target is not None and sync["seconds_to_target"]
                and eight["seconds_to_target"]):
            continue
        # The goals hold at the baseline's ratio; free actors are reported
        # for comparison.
        speedup = round(sync["seconds_to_target"] /
                        eight["seconds_to_target"], 3)
        steps = round(eight["env_steps_to_target"] /
                      sync["env_steps_to_target"], 3)
        emit(f"scaling/{label}/{name}_speedup_to_target", speedup, "x",
             limit=4.0 if limits else None)
        emit(f"scaling/{label}/{name}_env_steps_to_target_vs_sync", steps,
             "x", limit=1.5 if limits else None, higher_is_better=False)
        if limits:
            goals["async8_ratio_speedup_to_target"] = speedup
            goals["async8_ratio_env_steps_to_target_vs_sync"] = steps
    return sync, results, goals


def emit_over_seeds(label, per_seed):
    """Median, min and max of each goal ratio over the seeds' runs (a seed
    whose run missed the target counts as missing, and is counted)."""
    goals = (("async8_ratio_speedup_to_target", 4.0, True),
             ("async8_ratio_env_steps_to_target_vs_sync", 1.5, False))
    for name, limit, higher in goals:
        values = sorted(g[name] for g in per_seed if name in g)
        emit(f"scaling/{label}/{name}/seeds_reaching_target", len(values),
             "runs")
        emit(f"scaling/{label}/{name}/seeds", len(per_seed), "runs")
        if not values:
            continue
        emit(f"scaling/{label}/{name}/median",
             round(statistics.median(values), 3), "x", limit=limit,
             higher_is_better=higher)
        emit(f"scaling/{label}/{name}/min", values[0], "x")
        emit(f"scaling/{label}/{name}/max", values[-1], "x")


def study_sets(args):
    return [s for s in args.study_set.split(";") if s]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--source", default=os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parser.add_argument("--budget_s", type=int, default=90)
    parser.add_argument("--costs", default="0,1000,10000")
    parser.add_argument("--actors", default="1,2,4,8,16")
    parser.add_argument("--no_ks", action="store_true")
    parser.add_argument("--ratios", default="64,256")
    parser.add_argument("--out_dir", default="scaling-out")
    parser.add_argument("--seeds", default="",
                        help="experiment seeds, e.g. 1,2,3 ('' = the "
                             "recipe's own, one run per setting)")
    parser.add_argument(
        "--study_set",
        default="network.hidden[0]=64;network.hidden[1]=64;"
                "algorithm.batch_size=64;"
                "tables[transitions].rate_limiter.samples_per_insert=64;"
                "tables[transitions].rate_limiter.error_buffer=6400;"
                "eval.every_s=1;eval.episodes=5",
        help="--set overrides applied to every run ('' for the recipe as is)")
    args = parser.parse_args()
    args.actors = [int(k) for k in args.actors.split(",") if k]
    seeds = [int(x) for x in args.seeds.split(",") if x] or [None]
    updates = {}
    for cost in [int(c) for c in args.costs.split(",") if c]:
        label = f"pendulum_sac/cost{cost}"
        per_seed = []
        for seed in seeds:
            sync, results, goals = setting(
                args, "pendulum_sac",
                label if seed is None else f"{label}/seed{seed}", cost,
                slow=cost > 0, target=-200,
                extra_sets=() if seed is None else (f"seed={seed}",))
            per_seed.append(goals)
            if results:
                updates[cost] = max([updates.get(cost, 0.0)] +
                                    [r["learner_updates_per_s"]
                                     for r in results.values()])
        if len(seeds) > 1:
            emit_over_seeds(label, per_seed)
    if 0 in updates:
        for cost, rate in updates.items():
            emit(f"scaling/pendulum_sac/cost{cost}/learner_updates_vs_cheap",
                 round(rate / updates[0], 3) if updates[0] else None, "x")
    if not args.no_ks:
        setting(args, "ks_sac", "ks_sac", None, slow=True, target=None)
    # Update-to-data: 8 actors at 10 ms per step, the ratio pinned.
    for ratio in [int(r) for r in args.ratios.split(",") if r]:
        run(args, "pendulum_sac", f"pendulum_sac/cost10000/ratio{ratio}",
            [f"stop.wall_time_s={args.budget_s}"] + study_sets(args) +
            ["env.step_cost_us=10000", "actor.num_actors=8",
             "actor.num_envs=1",
             f"tables[transitions].rate_limiter.samples_per_insert={ratio}",
             f"tables[transitions].rate_limiter.error_buffer={100 * ratio}"])


if __name__ == "__main__":
    main()
