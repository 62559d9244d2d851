#!/usr/bin/env bash
# Training speed and memory on the GPU machine, ours and peft's in the same call:
#   device run, carry [".device"]:  source .device/setup.sh && bash bench/train_gpu.sh
# Writes the 4B-shaped checkpoint as bench/gpu.sh's parity stage does (running that parity gate
# unless PARITY=0), then runs the stages of STAGES (default "step trainer peft losses") at each setting of SETTINGS
# ("micro-batch:checkpointing", default "1:on 8:on 8:off"; accumulation 8 / micro-batch, at least
# 1), the rank-8 all-linear recipe:
#   step     train_step_bench: the device side alone on random images, after 2 warm-up steps;
#            with TRACE=1 also one traced step each, summarized (GPU busy time, launches, kernels)
#   trainer  medgemma-cli train end to end (data pipeline, evaluation, checkpoints) for MAX_STEPS
#            steps (default 6) on 64 synthetic 700x460 PNGs, samples/s as the trainer reports it
#   peft     tools/perf/peft_train_bench.py on the same checkpoint and recipe
#   losses   tools/parity/train_parity.py: per-step losses against peft's, dropout off and on
#            (LOSS_PARTS, default "off,on")
#   recipe   the reference notebook's whole recipe on a BreakHis-sized synthetic set (1,000 train
#            / 300 eval PNGs of 700x460, 5 epochs, evaluation after each): wall time, at
#            RECIPE_SETTING ("micro-batch:checkpointing", default 8:off; not in the default STAGES)
# Memory is reported the same way for all: torch's peak allocated and reserved bytes, and the
# process's peak from nvidia-smi (which adds the CUDA context). Logs and TRAIN.md go under $OUT
# (or /tmp/train-bench).
set -uo pipefail
out=${OUT:-/tmp/train-bench}
mkdir -p "$out"
work=/tmp/parity
data=/tmp/train-bench-data
runs=/tmp/train-bench-runs  # adapters and checkpoints, kept out of $OUT
mem=/tmp/train-bench-mem    # nvidia-smi samples, kept out of $OUT (whose file count is bounded)
mkdir -p "$mem"
stamp() { echo "[$(date +%T)] $*"; }
stages=${STAGES:-step trainer peft losses}
recipe_data=/tmp/recipe-data
# The recipe's 1,300 PNGs are written while the build runs.
write_recipe_data() {
  mkdir -p "$recipe_data/png"
  python3 - "$recipe_data" <<'PY'
import sys
from multiprocessing import Pool
sys.path.insert(0, "tools/parity")
import hf_reference as ref
data = sys.argv[1]
def write(i):
    ref.make_png(f"{data}/png/{i:04d}.png", 700, 460, 1000 + i)
with Pool(16) as pool:
    pool.map(write, range(1300))
rows = [f"png/{i:04d}.png,{i % 8}" for i in range(1300)]
open(f"{data}/train.csv", "w").write("path,label\n" + "\n".join(rows[:1000]) + "\n")
open(f"{data}/eval.csv", "w").write("path,label\n" + "\n".join(rows[1000:]) + "\n")
PY
}
[[ " $stages " == *" recipe "* ]] && { write_recipe_data & recipe_data_writer=$!; }
# The recipe alone runs close to the 10-minute call limit: it builds only the CLI and skips the tests.
if [ "$stages" = recipe ]; then
  bash tools/device/build.sh medgemma-cli || exit 1
else
  bash tools/device/build.sh medgemma-cli train_step_bench cuda_training_tests || exit 1
  build-gpu/bin/cuda_training_tests > "$out/cuda_training_tests.log" 2>&1
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED" "$out/cuda_training_tests.log"
fi
stamp built
if [ ! -d "$work/big" ]; then
  only=()
  [ "${PARITY:-1}" = 0 ] && only=(--write-4b-only)
  PYTHONUNBUFFERED=1 python3 tools/parity/parity.py --cli build-gpu/bin/medgemma-cli --work "$work" "${only[@]}" \
    > "$out/parity.log" 2>&1 || { tail -20 "$out/parity.log"; exit 1; }
  grep -E "gate|max \||argmax" "$out/parity.log" | head -12
  stamp "parity done"
fi

# with_peak_memory MEM LOG command...: runs the command (output to LOG) while polling nvidia-smi
# into MEM; prints the peak in GiB.
with_peak_memory() {
  local mem=$1 log=$2
  shift 2
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$mem" &
  local poll=$!
  "$@" > "$log" 2>&1
  kill $poll
  python3 -c "import sys; print(f'{max(int(l) for l in open(sys.argv[1]) if l.strip()) / 1024:.1f} GiB')" "$mem"
}
accumulation() { local a=$((8 / $1)); echo $((a > 0 ? a : 1)); }
# medgemma-cli train with the recipe's LoRA and optimizer settings at SETTING ("micro-batch:
# checkpointing") on DATA/train.csv and eval.csv, as run KIND_mbM_C, more flags after; prints the
# TRAIN.md fields from micro-batch to wall seconds.
cli_train() {
  local setting=$1 kind=$2 data_dir=$3
  shift 3
  local micro=${setting%%:*} ckpt=${setting##*:} flag=--activation-checkpointing
  [ "$ckpt" = off ] && flag=--no-activation-checkpointing
  local name="${kind}_mb${micro}_$ckpt" start=$SECONDS peak line
  rm -rf "${runs:?}/$name"
  peak=$(with_peak_memory "$mem/$name" "$out/$name.log" build-gpu/bin/medgemma-cli train --model "$work/big" \
    --out "$runs/$name" --device cuda --train-csv "$data_dir/train.csv" --eval-csv "$data_dir/eval.csv" \
    --micro-batch-size "$micro" --grad-accum "$(accumulation "$micro")" --lr 5e-4 --r 8 --alpha 16 --dropout 0.1 \
    --max-grad-norm 0.3 $flag "$@")
  line=$(python3 -c "import json,sys; m = json.load(open(sys.argv[1])); print(f\"{m['samples_per_second']:.2f} | {m['peak_gpu_allocated_bytes'] / 2**30:.1f} / {m['peak_gpu_reserved_bytes'] / 2**30:.1f} GiB\")" \
    "$runs/$name/metrics.json" 2>/dev/null || echo "failed: $(tail -1 "$out/$name.log") |")
  echo "$micro | $ckpt | $line | $peak | $((SECONDS - start))"
}
row() { echo "| $* |" | tee -a "$out/TRAIN.md"; }
: > "$out/TRAIN.md"
row "run | micro-batch | checkpointing | samples/s | peak allocated / reserved (torch) | peak (nvidia-smi) | wall s"
row "---|---|---|---|---|---|---"

if [[ " $stages " == *" step "* ]]; then
  for setting in ${SETTINGS:-1:on 8:on 8:off}; do
    micro=${setting%%:*} ckpt=${setting##*:}
    run="$out/step_mb${micro}_$ckpt"
    trace=()
    [ "${TRACE:-0}" = 1 ] && trace=(--trace "$run.trace.json")
    start=$SECONDS
    peak=$(with_peak_memory "$mem/$(basename "$run")" "$run.log" build-gpu/bin/train_step_bench --model "$work/big" --device cuda \
      --micro-batch "$micro" --accumulation "$(accumulation "$micro")" --checkpointing "$ckpt" "${trace[@]}")
    line=$(grep -o "[0-9.]* samples/s, peak allocated [0-9.]* GiB, peak reserved [0-9.]* GiB" "$run.log" || echo "failed: $(tail -1 "$run.log")")
    row "ours, step | $micro | $ckpt | $line | $peak | $((SECONDS - start))"
    if [ -f "$run.trace.json" ]; then
      python3 tools/perf/summarize_trace.py "$run.trace.json" --title "step mb$micro ckpt $ckpt" 2>&1 | head -36
      rm -f "$run.trace.json"
    fi
  done
fi

if [[ " $stages " == *" trainer "* ]]; then
  mkdir -p "$data/png"
  python3 - "$data" <<'PY'
import sys
sys.path.insert(0, "tools/parity")
import hf_reference as ref
data = sys.argv[1]
rows = []
for i in range(64):
    ref.make_png(f"{data}/png/{i:03d}.png", 700, 460, i)
    rows.append(f"png/{i:03d}.png,{i % 8}")
open(f"{data}/train.csv", "w").write("path,label\n" + "\n".join(rows) + "\n")
open(f"{data}/eval.csv", "w").write("path,label\n" + "\n".join(rows[:8]) + "\n")
PY
  for setting in ${SETTINGS:-1:on 8:on 8:off}; do
    row "ours, trainer | $(cli_train "$setting" trainer "$data" --max-steps "${MAX_STEPS:-6}" --epochs 1)"
  done
fi

if [[ " $stages " == *" peft "* ]]; then
  for setting in ${SETTINGS:-1:on 8:on 8:off}; do
    micro=${setting%%:*} ckpt=${setting##*:}
    run="$out/peft_mb${micro}_$ckpt"
    start=$SECONDS
    peak=$(with_peak_memory "$mem/$(basename "$run")" "$run.log" python3 tools/perf/peft_train_bench.py --model "$work/big" \
      --micro-batch "$micro" --accumulation "$(accumulation "$micro")" --checkpointing "$ckpt" --steps "${MAX_STEPS:-6}")
    line=$(grep -o "[0-9.]* samples/s .*GiB" "$run.log" || echo "failed: $(tail -1 "$run.log") |")
    row "peft | $micro | $ckpt | $line | $peak | $((SECONDS - start))"
  done
fi
if [[ " $stages " == *" recipe "* ]]; then
  wait "$recipe_data_writer" || exit 1
  stamp "recipe data written, training starts"
  run=$(cli_train "${RECIPE_SETTING:-8:off}" recipe "$recipe_data" --epochs 5 --warmup-ratio 0.03 \
    --checkpoint-every-steps 125 --eval-batch-size 32)
  row "ours, notebook recipe (5 epochs, 1000 + 300 images) | $run"
  cp "$runs"/recipe_*/metrics.json "$out/recipe.metrics.json" 2>/dev/null
fi

if [[ " $stages " == *" losses "* ]]; then
  PYTHONUNBUFFERED=1 python3 tools/parity/train_parity.py --cli build-gpu/bin/medgemma-cli --model "$work/big" \
    --work /tmp/train-parity --parts "${LOSS_PARTS:-off,on}" > "$out/train_parity.log" 2>&1
  echo "train_parity exit $?"
  grep -E "^\[parity\]|FAILED|Error" "$out/train_parity.log" | tail -8
fi
stamp done
