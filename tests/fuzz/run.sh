#!/usr/bin/env bash
# Fuzzes each target for SECONDS, one after another (never two at once: the machine has 2 cores).
#   tests/fuzz/run.sh SECONDS [TARGET...]      (no TARGET: every <target>_fuzzer the preset built)
# Builds the `fuzz` preset first (build-fuzz/, under $MEDGEMMA_BUILD_LOCK when flock exists; set
# MEDGEMMA_FUZZ_NO_BUILD=1 to skip). New corpus entries go to build-fuzz/fuzz-corpus/<target>
# (the committed seeds in tests/fuzz/corpus are only read), logs to $FUZZ_LOG_DIR (default
# build-fuzz/fuzz-logs), crashes to build-fuzz/fuzz-artifacts/<target>/. Prints one Markdown row a
# target (executions, coverage, corpus, crashes) and exits 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}
shift
if [ "${MEDGEMMA_FUZZ_NO_BUILD:-0}" != 1 ]; then
  lock=${MEDGEMMA_BUILD_LOCK:-/tmp/medgemma-build.lock}
  if command -v flock > /dev/null; then
    flock "$lock" bash scripts/build-preset.sh fuzz fuzzers
  else
    bash scripts/build-preset.sh fuzz fuzzers
  fi
fi
bin=build-fuzz/bin
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$bin"/*_fuzzer; do t=$(basename "$f"); targets+=("${t%_fuzzer}"); done
fi
logs=${FUZZ_LOG_DIR:-build-fuzz/fuzz-logs}
mkdir -p "$logs"
# UBSan findings abort like ASan's, so libFuzzer saves the input; leaks in the C libraries under
# the decoders would end a run without being ours to fix, so LeakSanitizer reports them only in
# the ctest suite (tests/sanitizers/lsan.supp), not here.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# One allocation of more than 1 GB is a finding (libFuzzer's default would be the RSS limit, 4 GB:
# DCMTK's allocations of declared lengths, 2-4 GB from a 300-byte file, then passed unseen).
malloc_limit_mb=${FUZZ_MALLOC_LIMIT_MB:-1024}
echo "| target | seconds | executions | exec/s | cov (edges) | ft (features) | corpus | crashes |"
echo "|---|---|---|---|---|---|---|---|"
crashed=0
for t in "${targets[@]}"; do
  work=build-fuzz/fuzz-corpus/$t artifacts=build-fuzz/fuzz-artifacts/$t
  mkdir -p "$work" "$artifacts"
  start=$(date +%s)
  set +e
  nice -n "${FUZZ_NICE:-19}" "$bin/${t}_fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -malloc_limit_mb="$malloc_limit_mb" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "tests/fuzz/corpus/$t" > "$logs/$t.log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  stat() { grep -o "^stat::$1: *[0-9]*" "$logs/$t.log" | grep -o '[0-9]*$' || echo "?"; }
  last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' <<< "$last" | grep -o '[0-9]*' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' <<< "$last" | grep -o '[0-9]*' || echo "?")
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<< "$last" | cut -d' ' -f2 || echo "?")
  crashes=$(find "$artifacts" -type f | wc -l)
  [ "$rc" -eq 0 ] || crashed=1
  echo "| $t | $elapsed | $(stat number_of_executed_units) | $(stat average_exec_per_sec) | $cov | $ft | $corp | $crashes (exit $rc) |"
done
exit $crashed
