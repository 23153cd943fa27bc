#!/usr/bin/env bash
# Learning curve of one `shoalctl run`: evaluation return against wall-clock
# seconds and against env steps, from the run directory's evals.csv.
#   scripts/plot_run.sh runs/cartpole_dqn-20261126-133919 [out.png]
# Writes <run_dir>/learning_curve.png by default. Needs gnuplot (gnuplot-nox,
# installed by scripts/install_deps.sh).
set -euo pipefail
run_dir=${1:?usage: plot_run.sh RUN_DIR [OUT.png]}
out=${2:-$run_dir/learning_curve.png}
evals="$run_dir/evals.csv"
[ -s "$evals" ] || { echo "plot_run: $evals is missing or empty" >&2; exit 1; }
experiment=$(basename "$run_dir")
target=$(sed -n 's/.*"target_eval_return": \([-0-9.e]*\).*/\1/p' "$run_dir/summary.json" 2>/dev/null | head -1)
gnuplot <<GNUPLOT
set terminal pngcairo size 1100,420 font "sans,10" noenhanced
set output "$out"
set datafile separator ","
set key bottom right
set grid
set multiplot layout 1,2 title "$experiment"
set xlabel "wall-clock seconds"
set ylabel "mean evaluation return"
plot "$evals" using 1:5 skip 1 with linespoints pt 7 ps 0.6 title "eval return"$( [ -n "$target" ] && echo ", $target with lines dt 2 lc rgb 'gray40' title 'target'" )
set xlabel "env steps"
plot "$evals" using 2:5 skip 1 with linespoints pt 7 ps 0.6 title "eval return"$( [ -n "$target" ] && echo ", $target with lines dt 2 lc rgb 'gray40' title 'target'" )
unset multiplot
GNUPLOT
echo "plot_run: wrote $out"
