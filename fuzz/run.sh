#!/usr/bin/env bash
# Run fuzz targets for a fixed time each: fuzz/run.sh SECONDS [TARGET...] (default: all).
# New inputs go to fuzz/corpus/TARGET (gitignored), seeds are read from fuzz/seeds/TARGET, a
# crash is saved in fuzz/artifacts/TARGET and fails the run. Prints each target's executions.
# FUZZ_FLAGS, when set, goes to both `cargo fuzz build` and `cargo fuzz run` (CI's smoke run:
# "--dev --sanitizer none", a debug build with overflow checks that compiles in a third of the
# time of the default release build with AddressSanitizer).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
read -r -a flags <<<"${FUZZ_FLAGS:-}"
cargo +nightly fuzz build "${flags[@]}"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if ! cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
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
