#!/usr/bin/env bash
# One device call: build the trainer stack with CUDA libtorch, run the training and trainer tests
# there, then fine-tune the tiny model on CUDA in-process (fp32 and bf16, with and without
# activation checkpointing) and through medgemma-trainer promoting into a CUDA medgemma-server.
#   device run, carry [".device"]:  source .device/setup.sh && bash tools/device/train_on_gpu.sh
set -uo pipefail
out=${OUT:-/tmp}
bash tools/device/build.sh medgemma-cli medgemma-server medgemma-trainer engine_tests trainer_tests || exit 1
bin=build-gpu/bin
$bin/engine_tests --gtest_filter='AdamW*:Cosine*:EvalMetrics*:TrainingPlan*:TrainingSeq*:Activation*:FineTuneRun*' 2>&1 | tail -3 | tee "$out/tests.log"
$bin/trainer_tests 2>&1 | grep -E '^\[  (PASSED|FAILED)|OK \]|FAILED \]' | tee -a "$out/tests.log"
$bin/medgemma-cli make-tiny-model --out /tmp/tm --seed 1 > /dev/null
$bin/medgemma-cli make-demo-data --out /tmp/dd --seed 1 --images-per-patient 4 > /dev/null
for cfg in "float32" "bfloat16" "bfloat16 --checkpoint-activations"; do
  set -- $cfg
  rm -rf /tmp/job
  start=$(date +%s)
  $bin/medgemma-cli train --model /tmp/tm --device cuda --dtype "$@" --breakhis-root /tmp/dd --out /tmp/job \
    --loss answer --lr 5e-3 --epochs 8 --grad-accum 2 2> "$out/train.err" |
    python3 -c "import json,sys; m=json.load(sys.stdin); print('$cfg', 'baseline', m['baseline']['accuracy'], 'final', m['final']['accuracy'], 'last loss', round(m['step_losses'][-1], 4))" | tee -a "$out/train.log"
  tr '\r' '\n' < "$out/train.err" | tail -2 | tee -a "$out/train.log"
  echo "wall $(( $(date +%s) - start )) s" | tee -a "$out/train.log"
done
nvidia-smi --query-gpu=name,memory.used --format=csv | tee -a "$out/train.log"
