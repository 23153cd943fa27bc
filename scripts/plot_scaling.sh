#!/usr/bin/env bash
# Charts of the scaling study (tests/bench/scaling_bench.py):
#   scripts/plot_scaling.sh scaling.jsonl scaling-out docs/
# writes into the last directory:
#   scaling_throughput.png      env steps/s against actors, per step cost
#   scaling_time_to_target.png  seconds to return -200 against actors
#   scaling_curves.png          eval return against wall clock, sync vs 8
#                               actors (pendulum, 10 ms per step)
#   scaling_ratios.png          the same for two update-to-data ratios
# Needs gnuplot (gnuplot-nox, installed by scripts/install_deps.sh).
set -euo pipefail
jsonl=${1:?usage: plot_scaling.sh SCALING.jsonl OUT_DIR_OF_BENCH PNG_DIR}
runs=${2:?usage: plot_scaling.sh SCALING.jsonl OUT_DIR_OF_BENCH PNG_DIR}
out=${3:?usage: plot_scaling.sh SCALING.jsonl OUT_DIR_OF_BENCH PNG_DIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One table per figure: "<actors> <value>" rows per setting, the sync
# baseline as actors 0.
python3 - "$jsonl" "$tmp" <<'PY'
import json, re, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    try:
        b = json.loads(line)
    except ValueError:
        continue
    m = re.match(r"scaling/(.+)/(sync|async(\d+))/(env_steps_per_s|seconds_to_target)$", b["bench"])
    if not m or b["value"] is None:
        continue
    setting, mode, k, metric = m.group(1), m.group(2), m.group(3), m.group(4)
    actors = 0 if mode == "sync" else int(k)
    rows[(metric, setting)].append((actors, b["value"]))
for (metric, setting), values in rows.items():
    name = f"{sys.argv[2]}/{metric}.{setting.replace('/', '_')}.dat"
    with open(name, "w") as f:
        for actors, value in sorted(values):
            f.write(f"{actors} {value}\n")
PY

plot_family() {  # metric, title, ylabel, png
  local metric=$1 title=$2 ylabel=$3 png=$4 cmd="" sep=""
  for dat in "$tmp"/"$metric".*.dat; do
    [ -e "$dat" ] || continue
    local label=${dat#"$tmp/$metric."}
    label=${label%.dat}
    cmd+="$sep'$dat' using 1:2 with linespoints pt 7 title '$label'"
    sep=", "
  done
  [ -n "$cmd" ] || return 0
  gnuplot <<GNUPLOT
set terminal pngcairo size 800,500 font "sans,10" noenhanced
set output "$out/$png"
set title "$title (actors 0 = synchronous baseline)"
set xlabel "actors"
set ylabel "$ylabel"
set logscale y
set grid
set key outside right
plot $cmd
GNUPLOT
  echo "plot_scaling: wrote $out/$png"
}
plot_family env_steps_per_s "Env throughput" "env steps/s" scaling_throughput.png
plot_family seconds_to_target "Wall clock to return -200" "seconds" scaling_time_to_target.png

# plot_curves PNG TITLE FILES...: eval return against wall clock.
plot_curves() {
  local png=$1 title=$2 curves="" sep="" f label
  shift 2
  for f in "$@"; do
    [ -s "$f" ] || continue
    label=$(basename "$f" .evals.csv)
    curves+="$sep'$f' using 1:5 skip 1 with linespoints pt 7 ps 0.5 title '$label'"
    sep=", "
  done
  [ -n "$curves" ] || return 0
  gnuplot <<GNUPLOT
set terminal pngcairo size 800,500 font "sans,10" noenhanced
set output "$out/$png"
set datafile separator ","
set title "$title"
set xlabel "seconds"
set ylabel "mean eval return"
set grid
set key bottom right
plot $curves, -200 with lines dt 2 lc rgb 'gray40' title 'target'
GNUPLOT
  echo "plot_scaling: wrote $out/$png"
}
d="$runs/pendulum_sac/cost10000"
plot_curves scaling_curves.png \
  "Pendulum SAC, 10 ms per env step: sync vs 8 actors (free, and at sync's update-to-data ratio)" \
  "$d/sync.evals.csv" "$d/async8.evals.csv" "$d/async8_ratio.evals.csv"
plot_curves scaling_ratios.png \
  "Pendulum SAC, 10 ms per env step, 8 actors: samples per insert (batch 64)" \
  "$d"/ratio*.evals.csv
