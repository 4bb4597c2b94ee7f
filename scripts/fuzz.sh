#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for FUZZ_SECONDS (default 30), from the
# seeds in fuzz/corpus/<target> (read only) plus what earlier runs found in
# target/fuzz-corpus/<target> (kept, so warm runs start further on). Prints one
# line per target: runs, executions per second, coverage (libFuzzer's `cov:`,
# edges) and features; fails on the first target that crashes, leaking, hanging
# or breaking a property (the input lands in fuzz/artifacts/<target>/).
#
# FUZZ_SEED=N fixes libFuzzer's seed (CI sets it), so a run on this machine before
# a submission replays the inputs CI will try, as far as the time lets it get.
#
# usage: scripts/fuzz.sh [TARGET...]     (default: every target)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

seconds=${FUZZ_SECONDS:-30}
seed=()
[[ -n ${FUZZ_SEED:-} ]] && seed=(-seed="$FUZZ_SEED")
targets=("$@")
((${#targets[@]})) || targets=(config lock tar zip helm_index reference)

scripts/install-fuzz-deps.sh
start=$(date +%s)
cargo +nightly fuzz build --fuzz-dir fuzz 2>&1 | tail -n 3
echo "fuzz: build $(($(date +%s) - start))s"

mkdir -p target/fuzz-logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "target/fuzz-corpus/$t"
  log=target/fuzz-logs/$t.log
  # -rss_limit_mb and -timeout: a hostile input may neither balloon nor hang.
  if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    "${seed[@]}" >"$log" 2>&1; then
    echo "fuzz: $t FAILED; the log is $log, the input in fuzz/artifacts/$t/" >&2
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 20 >&2 || true
    status=1
    continue
  fi
  done_line=$(grep -E '^#[0-9]+\s+DONE' "$log" | tail -n 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
  printf 'fuzz: %-11s %6ss  runs %9s  exec/s %6s  cov %5s  ft %6s  corpus %5s\n' \
    "$t" "$seconds" "$runs" "$eps" "$cov" "$ft" "$corp"
done
echo "fuzz: total $(($(date +%s) - start))s"
exit $status
