#!/usr/bin/env bash
# Run fuzz targets for a fixed time each: fuzz/run.sh SECONDS [TARGET...] (default: all).
# New inputs go to fuzz/corpus/TARGET (gitignored), seeds are read from fuzz/seeds/TARGET, a
# crash is saved in fuzz/artifacts/TARGET and fails the run. Prints each target's executions.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if ! cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $t FAILED (reproducer in fuzz/artifacts/$t)" >&2
    rm -f "$log"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz: $t ok, ${runs} executions in ${secs}s"
  rm -f "$log"
done
