#!/usr/bin/env bash
# Every binary answers --help (its flags, each with a description, on stdout, exit 0) and --version;
# every medgemma-cli command answers --help; an unknown command or flag is named, with exit 2. The
# two services offer the same model and endpoint flags.
# Usage: cli_help_test.sh BIN_DIR
set -uo pipefail
bin=$1
failed=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check() {  # DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then
    echo "ok   $what"
  else
    echo "FAIL $what"
    sed 's/^/    stdout: /' "$out" | head -20
    sed 's/^/    stderr: /' "$err" | head -20
    failed=1
  fi
}
run() { "$@" >"$out" 2>"$err"; }
exits() { [ "$1" -eq "$2" ]; }
stdout_starts() { head -1 "$out" | grep -q "^$1"; }
stdout_has() { grep -qF -- "$1" "$out"; }
stderr_has() { grep -qF -- "$1" "$err"; }
# Every "  --flag ..." line of the help carries a description after its flag column.
flags_described() { ! grep -E '^  --' "$out" | grep -vqE '^  --[a-z0-9-]+( [^ ]+)?  +[^ ]'; }
flag_names() { grep -oE '^  --[a-z0-9-]+' "$out" | tr -d ' ' | LC_ALL=C sort; }

for program in medgemma-server medgemma-trainer medgemma-cli classify_bench; do
  run "$bin/$program" --help
  rc=$?
  check "$program --help exits 0 with usage on stdout" exits $rc 0
  check "$program --help starts with its usage line" stdout_starts "usage: $program"
  check "$program --help describes every flag" flags_described
  run "$bin/$program" --version
  rc=$?
  check "$program --version exits 0" exits $rc 0
  check "$program --version names version, commit and libtorch" \
    grep -qE "^$program [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-z]+, libtorch [0-9][^)]*\)$" "$out"
done

run "$bin/medgemma-server" --help
server_flags=$(flag_names)
for flag in --config --model --model-id --device --dtype --attention --listen --admin-listen --metrics-listen --health-listen \
  --tls-cert --tls-key --tls-client-ca --auth-tokens-file --reflection --log-level --adapters-dir --adapter-root \
  --default-adapter --http-listen --audit-log; do
  check "medgemma-server --help lists $flag" stdout_has "  $flag"
done
run "$bin/medgemma-trainer" --help
trainer_flags=$(flag_names)
for flag in --state-dir --data-root --server --promotion-token-file --promotion-tls-ca; do
  check "medgemma-trainer --help lists $flag" stdout_has "  $flag"
done
shared=$(LC_ALL=C comm -12 <(echo "$server_flags") <(echo "$trainer_flags") | tr '\n' ' ')
check "the trainer has every model and endpoint flag of the server" \
  test "$shared" = "--attention --audit-log --auth-tokens-file --config --device --dtype --health-listen --help --listen --log-level --metrics-listen --model --model-id --reflection --tls-cert --tls-client-ca --tls-key --version "

run "$bin/medgemma-server" --frobnicate
rc=$?
check "medgemma-server --frobnicate exits 2" exits $rc 2
check "medgemma-server --frobnicate names the flag" stderr_has "unknown flag --frobnicate"

run "$bin/medgemma-cli" --help
commands=$(sed -n '/^commands:/,/^$/p' "$out" | grep -oE '^  [a-z-]+' | tr -d ' ')
check "medgemma-cli --help lists its commands" test "$(echo "$commands" | wc -l)" -ge 10
for command in $commands; do
  run "$bin/medgemma-cli" "$command" --help
  rc=$?
  check "medgemma-cli $command --help exits 0" exits $rc 0
  check "medgemma-cli $command --help starts with its usage line" stdout_starts "usage: medgemma-cli $command"
  check "medgemma-cli $command --help describes every flag" flags_described
done
run "$bin/medgemma-cli" classify --server 127.0.0.1:1 --help
check "medgemma-cli classify --server --help shows the remote flags" stdout_has "--token-file FILE"

run "$bin/medgemma-cli" frobnicate
rc=$?
check "medgemma-cli frobnicate exits 2" exits $rc 2
check "medgemma-cli frobnicate names the command" stderr_has "unknown command 'frobnicate'"
check "medgemma-cli frobnicate lists the commands" stderr_has "  classify"
run "$bin/medgemma-cli"
rc=$?
check "medgemma-cli alone exits 2 with the usage" exits $rc 2
run "$bin/medgemma-cli" classify --frobnicate
rc=$?
check "medgemma-cli classify --frobnicate exits 2 naming the flag" exits $rc 2
check "medgemma-cli classify --frobnicate names the flag" stderr_has "unknown flag --frobnicate"

exit $failed
