#!/usr/bin/env bash
# One device call: build with CUDA libtorch, run the parity table, then time the 4B-shaped model.
#   device run, carry [".device"]:  source .device/setup.sh && bash tools/parity/run_on_device.sh
set -uo pipefail
bash tools/device/build.sh medgemma-cli classify_bench || exit 1
out=${OUT:-/tmp}
PYTHONUNBUFFERED=1 python3 tools/parity/parity.py --cli build-gpu/bin/medgemma-cli --work /tmp/parity ${PARITY_ARGS:-} 2>&1 | tee "$out/parity.log"
status=${PIPESTATUS[0]}
if [ -d /tmp/parity/big ]; then
  for b in 1 8; do build-gpu/bin/classify_bench --model /tmp/parity/big --batch $b --iters 20 2>&1 | tee -a "$out/bench.log"; done
fi
build-gpu/bin/classify_bench --model /tmp/parity/tiny --batch 8 --iters 50 2>&1 | tee -a "$out/bench.log"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv | tee -a "$out/bench.log"
exit $status
