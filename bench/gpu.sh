#!/usr/bin/env bash
# The serving-speed benchmark, in one call on the GPU machine (build included, ~9 minutes on a
# fresh H100 machine):
#   device run, carry [".device"]:  source .device/setup.sh && bash bench/gpu.sh
# Stages (STAGES="parity engine hf server", all by default):
#   parity  the fused CUDA kernels against their torch chains (cuda_fusions_tests); writes the
#           4B-shaped bf16 checkpoint and an all-linear r=8 peft adapter, runs the parity gate
#           against HF fp32 with and without the adapter (tools/parity/parity.py)
#   engine  classify_bench on that checkpoint, batch 1/8/16, without and with the adapter, and a
#           kernel-time table of one batch-8 forward of each (torch profiler trace)
#   hf      HF transformers forward-only throughput in the same run
#   server  the real server without and with the adapter as default, swept by `medgemma-cli bench`,
#           and three hot-swaps under load
# Logs go to $OUT (or /tmp/gpu-bench), and $OUT/RESULTS.md, the tables of bench/RESULTS.md's
# section for this run (tools/perf/results_section.py; the analysis above them is written by hand).
# BENCH_COMMIT names the commit where the device's copy of the tree has no .git.
set -uo pipefail
out=${OUT:-/tmp/gpu-bench}
mkdir -p "$out"
stages=${STAGES:-parity engine hf server}
work=/tmp/parity
has() { [[ " $stages " == *" $1 "* ]]; }

stage_done() { echo "[gpu.sh] $1 done at ${SECONDS}s" | tee -a "$out/stages.log"; }

targets="medgemma-cli classify_bench cuda_fusions_tests"
has server && targets+=" medgemma-server"
bash tools/device/build.sh $targets || exit 1
stage_done build
status=0
if has parity; then
  build-gpu/bin/cuda_fusions_tests 2>&1 | tee "$out/cuda_fusions.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if has parity || [ ! -d "$work/big" ]; then
  PYTHONUNBUFFERED=1 python3 tools/parity/parity.py --cli build-gpu/bin/medgemma-cli --work "$work" \
    ${PARITY_ARGS:-} 2>&1 | tee "$out/parity.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  stage_done parity
fi
if has engine; then
  for adapter in "" "$work/big_adapter"; do
    for b in ${ENGINE_BATCHES:-1 8 16}; do
      trace=()
      [ "$b" = 8 ] && trace=(--trace "$out/trace_b8${adapter:+_adapter}.json")
      build-gpu/bin/classify_bench --model "$work/big" --batch "$b" --iters 10 ${adapter:+--adapter "$adapter"} \
        "${trace[@]}" 2>&1 | grep -v "^\[W" | tee -a "$out/engine.log"
    done
  done
  for t in "$out"/trace_b8*.json; do
    python3 tools/perf/summarize_trace.py "$t" | tee -a "$out/kernels.log"
    gzip -f "$t"
  done
  stage_done engine
fi
if has hf; then
  PYTHONUNBUFFERED=1 python3 tools/perf/profile_forward.py --only-hf --batches 1,8,16 2>&1 | tee "$out/hf.log"
  stage_done hf
fi
if has server; then
  bench_dir=/tmp/gpu-bench-data
  mkdir -p "$bench_dir/png" "$bench_dir/adapters"
  rm -rf "$bench_dir/adapters/lora8" && cp -r "$work/big_adapter" "$bench_dir/adapters/lora8"
  python3 -c "
import sys; sys.path.insert(0, 'tools/parity'); import hf_reference as ref
for i in range(64): ref.make_png(f'$bench_dir/png/{i:03d}.png', 700, 460, i)"
  for default in "" lora8; do
    name=${default:-base}
    build-gpu/bin/medgemma-server --config config/server.yaml --model "$work/big" --model-id medgemma-4b-shaped \
      --device cuda --listen 127.0.0.1:8500 --metrics-listen 127.0.0.1:9500 --adapters-dir "$bench_dir/adapters" \
      --adapter-root "$bench_dir/adapters" ${default:+--default-adapter $default} 2> "$out/server_$name.log" &
    server=$!
    for _ in $(seq 120); do (echo > /dev/tcp/127.0.0.1/8500) 2>/dev/null && break; sleep 1; done
    for mode in unary stream; do
      levels=${CONCURRENCY:-1,4,16,64}
      [ $mode = stream ] && levels=64
      build-gpu/bin/medgemma-cli bench --server 127.0.0.1:8500 --images "$bench_dir/png" --mode $mode \
        --concurrency $levels --warmup-s 2 --duration-s ${DURATION_S:-5} \
        --metrics http://127.0.0.1:9500/metrics --json > "$out/bench_${name}_$mode.json"
      python3 tools/perf/bench_table.py --label "$name $mode" "$out/bench_${name}_$mode.json" | tee -a "$out/server.log"
    done
    if [ -n "$default" ]; then  # hot-swap: the default adapter replaced 3 times under load at 16 clients
      build-gpu/bin/medgemma-cli bench --server 127.0.0.1:8500 --images "$bench_dir/png" --concurrency 16 \
        --warmup-s 2 --duration-s 12 --metrics http://127.0.0.1:9500/metrics --json > "$out/bench_swap.json" &
      loadgen=$!
      sleep 5
      for i in 1 2 3; do
        t0=$EPOCHREALTIME
        build-gpu/bin/medgemma-cli adapters load lora8 "$bench_dir/adapters/lora8" --default --server 127.0.0.1:8500 \
          > /dev/null || echo "swap $i failed"
        echo "swap $i: LoadAdapter returned after $(awk "BEGIN{printf \"%.3f\", $EPOCHREALTIME - $t0}") s" | tee -a "$out/server.log"
        sleep 1
      done
      wait $loadgen
      python3 tools/perf/bench_table.py --label "during 3 swaps" "$out/bench_swap.json" | tee -a "$out/server.log"
    fi
    kill -TERM $server; wait $server
  done
  stage_done server
fi
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv | tee -a "$out/engine.log"
# Named to sort first: the device tool brings back a limited number of $OUT's files.
BENCH_COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)} \
  python3 tools/perf/results_section.py "$out" > "$out/RESULTS.md"
exit $status
