#!/usr/bin/env bash
# The test suite under a sanitizer preset (CMakePresets.json): builds build-PRESET and runs ctest's
# selection for it on every core. Usage: scripts/test-sanitized.sh asan-ubsan[-ci]|tsan [ctest args...]
#   asan-ubsan     every test, every binary built with ASan + UBSan (LeakSanitizer on, suppressions
#                  for third-party leaks only: tests/sanitizers/lsan.supp)
#   asan-ubsan-ci  what .ci/run runs within its budget: the tests labelled sanitizer-ci (base,
#                  tokenizer, batcher, client statistics, and every fuzz target over its seeds and
#                  regressions), building only their binaries
#   tsan        the batcher, the adapter registry (server tests) and the job runner (trainer
#               tests), against an abseil built with TSan (scripts/build-absl-tsan.sh, first time
#               only); tests/sanitizers/tsan.supp says why each suppression is there
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/test-sanitized.sh asan-ubsan|asan-ubsan-ci|tsan [ctest args...]}
shift
case "$preset" in
  asan-ubsan) bash scripts/build-preset.sh asan-ubsan ;;
  asan-ubsan-ci)
    bash scripts/build-preset.sh asan-ubsan base_tests tokenizer_tests batch_scheduler_tests client_tests fuzz_replay ;;
  tsan) bash scripts/build-preset.sh tsan batch_scheduler_tests server_tests trainer_tests medgemma-trainer ;;
  *) echo "unknown preset $preset" >&2; exit 2 ;;
esac
ctest --preset "$preset" -j "$(nproc)" "$@"
