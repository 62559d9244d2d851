#!/usr/bin/env bash
# Training speed and memory on the GPU machine, ours and peft's in the same call:
#   device run, carry [".device"]:  source .device/setup.sh && bash bench/train_gpu.sh
# Writes the 4B-shaped checkpoint as bench/gpu.sh's parity stage does, 64 synthetic 700x460 PNGs,
# then runs `medgemma-cli train` for MAX_STEPS steps (default 6) of 8 samples at each setting of
# SETTINGS ("micro-batch:checkpointing", default "1:on 8:on 1:off"), the rank-8 all-linear recipe.
# Then peft on the same checkpoint and recipe (tools/perf/peft_train_bench.py) at each setting
# unless PEFT=0. Reports samples/s over all steps and the process's peak GPU memory from nvidia-smi
# for both (plus torch's max allocated for peft), with logs and the table (TRAIN.md) under $OUT (or /tmp/train-bench).
set -uo pipefail
out=${OUT:-/tmp/train-bench}
mkdir -p "$out"
work=/tmp/parity
data=/tmp/train-bench-data
runs=/tmp/train-bench-runs  # adapters and checkpoints, kept out of $OUT
bash tools/device/build.sh medgemma-cli || exit 1
if [ ! -d "$work/big" ]; then
  PYTHONUNBUFFERED=1 python3 tools/parity/parity.py --cli build-gpu/bin/medgemma-cli --work "$work" \
    > "$out/parity.log" 2>&1 || { tail -20 "$out/parity.log"; exit 1; }
fi
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
echo "| run | micro-batch | checkpointing | samples/s | peak GPU memory (nvidia-smi) | wall s |" | tee "$out/TRAIN.md"
echo "|---|---|---|---|---|---|" | tee -a "$out/TRAIN.md"
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
for setting in ${SETTINGS:-1:on 8:on 1:off}; do
  micro=${setting%%:*} ckpt=${setting##*:}
  flag=--activation-checkpointing
  [ "$ckpt" = off ] && flag=--no-activation-checkpointing
  run="$out/ours_mb${micro}_$ckpt"
  rm -rf "$runs/${run##*/}"
  start=$SECONDS
  peak=$(with_peak_memory "$run.mem" "$run.log" build-gpu/bin/medgemma-cli train --model "$work/big" \
    --out "$runs/${run##*/}" --device cuda \
    --train-csv "$data/train.csv" --eval-csv "$data/eval.csv" --micro-batch-size "$micro" --grad-accum $((8 / micro)) \
    --max-steps "${MAX_STEPS:-6}" --epochs 1 --lr 5e-4 --r 8 --alpha 16 --dropout 0.1 --max-grad-norm 0.3 $flag)
  rate=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['samples_per_second'], 2))" \
    "$runs/${run##*/}/metrics.json" 2>/dev/null || echo failed)
  echo "| ours | $micro | $ckpt | $rate | $peak | $((SECONDS - start)) |" | tee -a "$out/TRAIN.md"
  [ "${PEFT:-1}" = 0 ] && continue
  run="$out/peft_mb${micro}_$ckpt"
  start=$SECONDS
  peak=$(with_peak_memory "$run.mem" "$run.log" python3 tools/perf/peft_train_bench.py --model "$work/big" \
    --micro-batch "$micro" --checkpointing "$ckpt" --steps "${MAX_STEPS:-6}")
  rate=$(grep -o "[0-9.]* samples/s, max allocated [0-9.]* GiB" "$run.log" || echo "failed: $(tail -1 "$run.log")")
  echo "| peft | $micro | $ckpt | $rate | $peak | $((SECONDS - start)) |" | tee -a "$out/TRAIN.md"
done
