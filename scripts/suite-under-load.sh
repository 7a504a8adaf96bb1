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
trap 'kill "${hogs[@]}" 2>/dev/null' EXIT
failed=0
for i in $(seq "$n"); do
  start=$(date +%s)
  if cargo test --quiet >"$logs/run-$i.log" 2>&1; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
  fi
  tests=$(grep -Eo '[0-9]+ passed' "$logs/run-$i.log" | awk '{s += $1} END {print s + 0}')
  echo "run $i/$n: $result, $tests tests passed, $(( $(date +%s) - start )) s"
done
echo "$((n - failed)) of $n runs green under load (logs: $logs)"
[ "$failed" -eq 0 ]
