#!/usr/bin/env bash
# Tests deploy/docker/shoal-entrypoint with stand-ins for the shoal binaries,
# getent (Docker's and Kubernetes' DNS) and shoalctl on PATH.
#   entrypoint_test.sh [ENTRYPOINT]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
entry=${1:-$here/../../deploy/docker/shoal-entrypoint}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"

for b in shoal-replay shoal-learner shoal-actor; do
  cat >"$tmp/bin/$b" <<'EOF'
#!/usr/bin/env bash
printf '%s' "$(basename "$0")"; printf ' [%s]' "$@"; echo
EOF
done
# shoalctl health ADDR: healthy unless ADDR is in $FAKE_UNHEALTHY.
cat >"$tmp/bin/shoalctl" <<'EOF'
#!/usr/bin/env bash
addr=${!#}
echo "$addr" >>"$FAKE_LOG"
[[ " ${FAKE_UNHEALTHY:-} " != *" $addr "* ]]
EOF
# getent hosts NAME | getent -s dns hosts IP | getent ahostsv4 NAME
cat >"$tmp/bin/getent" <<'EOF'
#!/usr/bin/env bash
case "$*" in
  "hosts $HOSTNAME") echo "172.18.0.5      $HOSTNAME" ;;
  "-s dns hosts 172.18.0.5") [ -n "${FAKE_PTR:-}" ] && echo "172.18.0.5      $FAKE_PTR" || exit 2 ;;
  ahostsv4\ *) for a in ${FAKE_ADDRS:-}; do echo "$a STREAM ${2}"; echo "$a DGRAM"; done ;;
  *) exit 2 ;;
esac
EOF
chmod +x "$tmp/bin"/*
export PATH="$tmp/bin:$PATH" FAKE_LOG="$tmp/shoalctl.log"

passed=0 failed=0
# expect NAME WANT_STATUS WANT_OUTPUT_SUBSTRING -- ENV... -- ARGS...
expect() {
  local name=$1 want_rc=$2 want=$3
  shift 3
  local envs=()
  [ "$1" = -- ] && shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  local out rc
  out=$(env -u SHOAL_SHARD_INDEX -u SHOAL_ACTOR_INDEX -u JOB_COMPLETION_INDEX \
        HOSTNAME=nohost "${envs[@]}" bash "$entry" "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want_rc" ] && [[ $out == *"$want"* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: status $rc (want $want_rc), output:"
    printf '    %s\n' "$out"
    echo "  want it to contain: $want"
  fi
}

expect shard-from-hostname 0 "shoal-replay [--shard_index=1] [--port=7000]" \
  -- HOSTNAME=shoal-replay-1 -- shoal-replay --shard_index=auto --port=7000
expect shard-from-env 0 "shoal-replay [--shard_index=4]" \
  -- HOSTNAME=shoal-replay-1 SHOAL_SHARD_INDEX=4 -- shoal-replay --shard_index=auto
expect shard-explicit-kept 0 "shoal-replay [--shard_index=0]" \
  -- HOSTNAME=x-7 -- shoal-replay --shard_index=0
expect shard-no-ordinal 2 "--shard_index=auto: set SHOAL_SHARD_INDEX" \
  -- HOSTNAME=3f2a1b4c5d6e -- shoal-replay --shard_index=auto
expect actor-indexed-job 0 "shoal-actor [--actor_index=3] [--num_actors=4]" \
  -- JOB_COMPLETION_INDEX=3 -- shoal-actor --actor_index=auto --num_actors=4
expect actor-env-first 0 "shoal-actor [--actor_index=5]" \
  -- JOB_COMPLETION_INDEX=3 SHOAL_ACTOR_INDEX=5 -- shoal-actor --actor_index=auto
expect actor-compose-v2 0 "shoal-actor [--actor_index=2]" \
  -- HOSTNAME=0123456789ab FAKE_PTR=deploy-actor-3.deploy_default -- shoal-actor --actor_index=auto
expect actor-compose-v1 0 "shoal-actor [--actor_index=0]" \
  -- HOSTNAME=0123456789ab FAKE_PTR=deploy_actor_1.deploy_default -- shoal-actor --actor_index=auto
expect actor-no-index 2 "--actor_index=auto: set SHOAL_ACTOR_INDEX" \
  -- HOSTNAME=0123456789ab -- shoal-actor --actor_index=auto
expect args-kept-whole 0 "shoal-learner [--set=a=1;b=2] [two words]" \
  -- -- shoal-learner "--set=a=1;b=2" "two words"
expect other-command 0 "hello from echo" \
  -- -- echo hello from echo
expect no-args 2 "usage: shoal-entrypoint" -- --
# exec: the binary replaces the script (same PID), so it gets SIGTERM itself.
cat >"$tmp/bin/shoal-learner" <<'EOF'
#!/usr/bin/env bash
echo "pid $$"
EOF
out=$(bash -c 'echo "pid $$"; exec bash "$0" shoal-learner' "$entry")
if [ "$(sed -n 1p <<<"$out")" = "$(sed -n 2p <<<"$out")" ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL exec: the binary ran in another process: $out"
fi

expect wait-shards-up 0 "shoal-replay:7000: 2 shards up" \
  -- FAKE_ADDRS="10.0.0.8 10.0.0.7" -- wait-shards shoal-replay:7000 2 5
if grep -qx "10.0.0.7:7000" "$FAKE_LOG" && grep -qx "10.0.0.8:7000" "$FAKE_LOG"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL wait-shards-probes: shoalctl health was not asked about each shard: $(cat "$FAKE_LOG")"
fi
expect wait-shards-too-few 1 "waited 0s for 3 healthy shards" \
  -- FAKE_ADDRS="10.0.0.8 10.0.0.7" -- wait-shards shoal-replay:7000 3 0
expect wait-shards-unhealthy 1 "waited 0s for 2 healthy shards" \
  -- FAKE_ADDRS="10.0.0.8 10.0.0.7" FAKE_UNHEALTHY=10.0.0.7:7000 -- wait-shards shoal-replay:7000 2 0
expect wait-shards-usage 2 "wait-shards: 'shoal-replay' is not HOST:PORT" \
  -- -- wait-shards shoal-replay 2

echo "entrypoint_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
