#!/usr/bin/env bash
# The whole test suite N times in a row while other processes keep every core busy: shows
# that no test depends on timing or on a port another process may take.
#
#   scripts/suite-under-load.sh [N]     (default 20; CI=true makes third-party tools required)
#
# Builds the tests once, then runs `cargo test` N times with one busy loop per core running
# beside it; prints each run's result and duration and exits non-zero if any run failed (its
# log is kept in the printed folder).
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
logs=$(mktemp -d)
cargo test --no-run --quiet || exit 2
hogs=()
for _ in $(seq "$(nproc)"); do
  (while :; do :; done) &
  hogs+=($!)
done
# Each run in its own session, so that stopping the script (Ctrl-C, kill) stops the run's
# whole process group: a test binary killed by a signal does not run its destructors, and the
# servers it started (tlsaudit serve, Prometheus, ...) would outlive it and keep probing ports
# that later tests reuse.
run=
stop() {
  kill "${hogs[@]}" 2>/dev/null
  [ -n "$run" ] && kill -- -"$run" 2>/dev/null
}
trap stop EXIT
trap 'exit 130' INT TERM
failed=0
for i in $(seq "$n"); do
  start=$(date +%s)
  setsid cargo test --quiet >"$logs/run-$i.log" 2>&1 &
  run=$!
  if wait "$run"; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
  fi
  run=
  tests=$(grep -Eo '[0-9]+ passed' "$logs/run-$i.log" | awk '{s += $1} END {print s + 0}')
  echo "run $i/$n: $result, $tests tests passed, $(( $(date +%s) - start )) s"
done
echo "$((n - failed)) of $n runs green under load (logs: $logs)"
[ "$failed" -eq 0 ]
