#!/bin/sh
# medgemma-init SECRETS_DIR [--demo STATE_DIR]
# Writes the bearer tokens a deployment needs into SECRETS_DIR, once: later runs keep them. Files
# (mode 0600, one token per line, 48 hex digits from /dev/urandom):
#   server-tokens   medgemma-server's "role token" lines: classify, admin
#   trainer-tokens  medgemma-trainer's: admin
#   classify-token  the server's classify token, for PACS clients (MEDGEMMA_TOKEN / --token-file)
#   admin-token     the server's admin token: the trainer promotes with it, operators load adapters
#   trainer-token   the trainer's admin token, for starting fine-tune jobs
# With --demo, also the embedded default under STATE_DIR when missing: a tiny random checkpoint
# (models/medgemma-tiny) and a synthetic data set in BreakHis' layout (data/breakhis-demo).
# Runs in the image (docker-compose.yml's init service) and on any host with a POSIX shell.
set -eu
usage="usage: medgemma-init SECRETS_DIR [--demo STATE_DIR]"
secrets=${1:?$usage}
shift
demo=""
case ${1:-} in
  "") ;;
  --demo) demo=${2:?$usage} ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
umask 077
mkdir -p "$secrets"

token() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
# Each file whole or not at all: a crash never leaves an empty token file behind.
write() {  # NAME TEXT
  printf '%s\n' "$2" > "$secrets/.$1.tmp"
  mv "$secrets/.$1.tmp" "$secrets/$1"
}
if [ ! -s "$secrets/server-tokens" ]; then
  classify=$(token) admin=$(token)
  write classify-token "$classify"
  write admin-token "$admin"
  write server-tokens "classify $classify
admin $admin"
  echo "medgemma-init: wrote server tokens to $secrets"
fi
if [ ! -s "$secrets/trainer-tokens" ]; then
  trainer=$(token)
  write trainer-token "$trainer"
  write trainer-tokens "admin $trainer"
  echo "medgemma-init: wrote trainer tokens to $secrets"
fi

if [ -n "$demo" ]; then
  umask 022
  [ -f "$demo/models/medgemma-tiny/config.json" ] ||
    medgemma-cli make-tiny-model --out "$demo/models/medgemma-tiny" --seed 1
  [ -f "$demo/data/breakhis-demo/Folds.csv" ] ||
    medgemma-cli make-demo-data --out "$demo/data/breakhis-demo" --seed 1 --images-per-patient 4
fi
