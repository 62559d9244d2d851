#!/usr/bin/env bash
# The main job on the embedded default: a tiny random Gemma 3 checkpoint and synthetic data in
# BreakHis' layout. Installs what is missing, builds, starts medgemma-server on 127.0.0.1, and
# classifies the fold-1 100X test images through it, then drains the server with SIGTERM.
# (The trainer's fine-tune and hot-swap join this story with issue 6.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh medgemma-cli medgemma-server
bin=build/bin
work=${MEDGEMMA_DEMO_DIR:-build/demo}
port=${MEDGEMMA_PORT:-8500} metrics_port=${MEDGEMMA_METRICS_PORT:-9500}
mkdir -p "$work/adapters"
[ -f "$work/model/config.json" ] || $bin/medgemma-cli make-tiny-model --out "$work/model" --seed 1
[ -f "$work/data/Folds.csv" ] || $bin/medgemma-cli make-demo-data --out "$work/data" --seed 1 --images-per-patient 2

$bin/medgemma-server --config config/server.yaml --model "$work/model" --adapters-dir "$work/adapters" \
  --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" > "$work/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do grep -q "listening on port" "$work/server.log" && break; sleep 0.5; done
grep "listening on port" "$work/server.log" || { cat "$work/server.log"; exit 1; }

echo "== classify through the server: fold 1, 100X, test split (untrained tiny model: chance-level answers) =="
mapfile -t images < <(grep '^1,100,test,' "$work/data/Folds.csv" | cut -d, -f4 | sed "s|^|$work/data/|")
$bin/medgemma-cli classify --server "127.0.0.1:$port" "${images[@]}"
echo "== adapters on the server =="
$bin/medgemma-cli adapters list --server "127.0.0.1:$port"
echo "== metrics (Prometheus text format) =="
/usr/bin/python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics').read().decode())" |
  grep -E '^medgemma_(requests_total\{|batch_size_(sum|count) )'
kill -TERM $server_pid && wait $server_pid
tail -2 "$work/server.log"
