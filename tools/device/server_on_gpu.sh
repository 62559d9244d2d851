#!/usr/bin/env bash
# One device call: build every target with CUDA libtorch, run the C++ test suites there, then run
# medgemma-server on CUDA (metrics exposer included) and stream the demo images through it.
#   device run, carry [".device"]:  source .device/setup.sh && bash tools/device/server_on_gpu.sh
set -uo pipefail
out=${OUT:-/tmp}
bash tools/device/build.sh medgemma-cli medgemma-server server_tests engine_tests tokenizer_tests || exit 1
(cd build-gpu && ctest -j 8 --output-on-failure -E python_client 2>&1 | tail -15) | tee "$out/ctest.log"
bin=build-gpu/bin
$bin/medgemma-cli make-tiny-model --out /tmp/tm --seed 1 > /dev/null
$bin/medgemma-cli make-demo-data --out /tmp/dd --images-per-patient 2 > /dev/null
$bin/medgemma-server --model /tmp/tm --device cuda --listen 127.0.0.1:18500 --metrics-listen 127.0.0.1:19500 \
  > "$out/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do grep -q "listening on port" "$out/server.log" && break; sleep 0.5; done
start=$(date +%s%N)
$bin/medgemma-cli classify --server 127.0.0.1:18500 --json /tmp/dd/BreaKHis_v1 > "$out/classify.json" 2> /dev/null
echo "classified $(grep -c '"label_name"' "$out/classify.json") images through the CUDA server in $(( ($(date +%s%N) - start) / 1000000 )) ms"
python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:19500/metrics').read().decode())" |
  grep -E '^medgemma_(requests_total\{|batch_size_(sum|count) |gpu_memory_used_bytes |inference_seconds_(sum|count) )'
kill -TERM $pid; wait $pid; echo "server exit code $?"; tail -3 "$out/server.log"
