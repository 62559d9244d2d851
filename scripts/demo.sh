#!/usr/bin/env bash
# The main job on the embedded default: a tiny random Gemma 3 checkpoint and synthetic data in
# BreakHis' layout. Installs what is missing, builds, starts medgemma-server and medgemma-trainer on
# 127.0.0.1, classifies the fold-1 100X test images (untrained: chance level), fine-tunes a LoRA
# adapter through the trainer while a client keeps classifying, lets the trainer promote the
# adapter into the running server (hot swap), and classifies again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh medgemma-cli medgemma-server medgemma-trainer
bin=build/bin
work=${MEDGEMMA_DEMO_DIR:-build/demo}
port=${MEDGEMMA_PORT:-8500} metrics_port=${MEDGEMMA_METRICS_PORT:-9500}
trainer_port=${MEDGEMMA_TRAINER_PORT:-8600} trainer_metrics_port=${MEDGEMMA_TRAINER_METRICS_PORT:-9600}
mkdir -p "$work/adapters" "$work/trainer/jobs"
[ -f "$work/model/config.json" ] || $bin/medgemma-cli make-tiny-model --out "$work/model" --seed 1
[ -f "$work/data/Folds.csv" ] || $bin/medgemma-cli make-demo-data --out "$work/data" --seed 1 --images-per-patient 4

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
wait_for() {  # log file, what to print on failure
  for _ in $(seq 1 120); do grep -q "listening on port" "$1" && break; sleep 0.5; done
  grep "listening on port" "$1" || { cat "$1"; exit 1; }
}
$bin/medgemma-server --config config/server.yaml --model "$work/model" --adapters-dir "$work/adapters" \
  --adapter-root "$work/adapters" --adapter-root "$work/trainer/jobs" \
  --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" > "$work/server.log" 2>&1 &
pids+=($!)
$bin/medgemma-trainer --config config/trainer.yaml --model "$work/model" --state-dir "$work/trainer" \
  --data-root "$work/data" --server "127.0.0.1:$port" \
  --listen "127.0.0.1:$trainer_port" --metrics-listen "127.0.0.1:$trainer_metrics_port" > "$work/trainer.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log"
wait_for "$work/trainer.log"

mapfile -t images < <(grep '^1,100,test,' "$work/data/Folds.csv" | cut -d, -f4 | sed "s|^|$work/data/|")
classify() { $bin/medgemma-cli classify --server "127.0.0.1:$port" --json "${images[@]}" 2>/dev/null; }
echo "== 1. classify the fold-1 100X test split through the server (base model) =="
classify | /usr/bin/python3 scripts/breakhis_accuracy.py

echo "== 2. a client keeps classifying while the trainer fine-tunes and promotes =="
( rounds=0 failures=0
  while [ ! -f "$work/stop-load" ]; do
    classify > /dev/null || failures=$((failures + 1))
    rounds=$((rounds + 1))
  done
  echo "background client: $rounds rounds of ${#images[@]} images, $failures rounds with a failed request" ) &
load_pid=$!
rm -f "$work/stop-load"

echo "== 3. fine-tune through medgemma-trainer, promote into the server when accuracy >= 0.9 =="
# Demo hyper-parameters for the tiny random model (the configured defaults are the notebook's recipe).
$bin/medgemma-cli finetune start --trainer "127.0.0.1:$trainer_port" --adapter-name breakhis-demo \
  --breakhis-root "$work/data" --fold 1 --magnification 100 \
  --loss answer --lr 5e-3 --epochs 8 --grad-accum 2 --seed 42 \
  --promote --min-accuracy 0.9 --require-improvement --watch
touch "$work/stop-load"
wait $load_pid

echo "== 4. the server now answers with the promoted adapter =="
$bin/medgemma-cli adapters list --server "127.0.0.1:$port"
classify | /usr/bin/python3 scripts/breakhis_accuracy.py

echo "== 5. metrics =="
scrape() { /usr/bin/python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$1"; }
scrape "http://127.0.0.1:$metrics_port/metrics" | grep -E '^medgemma_(requests_total\{|adapter_swaps)'
scrape "http://127.0.0.1:$trainer_metrics_port/metrics" | grep -E '^medgemma_trainer_(jobs\{|step |eval_accuracy)'
kill -TERM "${pids[@]}" && wait "${pids[@]}"
tail -n 1 "$work/server.log" "$work/trainer.log"
