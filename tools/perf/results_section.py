"""The bench/RESULTS.md section of one bench/gpu.sh run, from the logs it left in its output folder:
date, device, commit, command, stage times, the parity gate, engine, HF and server tables, the
hot-swap lines and the kernel-time summary. gpu.sh writes it to $OUT/RESULTS.md; the analysis
(targets, what changed) is added by hand above the generated tables.
  python3 tools/perf/results_section.py OUT_DIR [--commit SHA]"""
import argparse
import datetime
import os
import re
import subprocess


def read(out, name):
    path = os.path.join(out, name)
    return open(path).read() if os.path.exists(path) else ""


def device_name():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown device"


def versions():
    try:
        import torch
        import transformers
        return f"torch {torch.__version__}, transformers {transformers.__version__}"
    except ImportError:
        return "torch/transformers not importable"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--commit", default=os.environ.get("BENCH_COMMIT", "unknown"))
    args = ap.parse_args()
    out = args.out
    print(f"## {datetime.date.today()}, {device_name()}, {versions()}\n")
    stages = re.findall(r"\] (\w+) done at (\d+s)", read(out, "stages.log"))
    print(f"Commit {args.commit}; command `source .device/setup.sh && bash bench/gpu.sh`; stages done at "
          + ", ".join(f"{stage} {at}" for stage, at in stages) + ".\n")
    gate = [line for line in read(out, "parity.log").splitlines() if line.startswith(("| check", "|---", "| 4B", "| preprocess"))]
    if gate:
        print("### Parity gate\n")
        print("\n".join(gate))
        ablations = [line for line in read(out, "parity.log").splitlines() if line.startswith("[ablation]")]
        print("\n" + "\n".join(f"- {line[len('[ablation] '):]}" for line in ablations) + "\n" if ablations else "")
    fusions = re.findall(r"\[  (PASSED|FAILED)  \].*", read(out, "cuda_fusions.log"))
    if fusions:
        print(f"cuda_fusions_tests: {' / '.join(fusions)}\n")
    engine = re.findall(r"batch=(\d+) .*adapter=(\S+): median ([\d.]+) ms/batch, p90 ([\d.]+) ms, ([\d.]+) images/s",
                        read(out, "engine.log"))
    if engine:
        print("### Engine (`classify_bench`)\n\n| batch | adapter | median ms | p90 ms | images/s |\n|---|---|---|---|---|")
        for b, adapter, med, p90, ips in engine:
            print(f"| {b} | {'none' if adapter == 'none' else 'lora8'} | {med} | {p90} | {ips} |")
        print()
    hf = re.findall(r"batch\s+(\d+):\s+([\d.]+) ms\s+([\d.]+) img/s", read(out, "hf.log"))
    if hf:
        print("### HF transformers forward-only (bf16, sdpa)\n\n| batch | ms | images/s |\n|---|---|---|")
        print("\n".join(f"| {b} | {ms} | {ips} |" for b, ms, ips in hf) + "\n")
    server = read(out, "server.log").splitlines()
    rows = [line for line in server if line.startswith("| ")]
    if rows:
        print("### Server (`medgemma-cli bench`)\n")
        print("| run | concurrency | images/s | p50 ms | p90 ms | p99 ms | errors | server batch mean | queue ms | "
              "inference ms |\n|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows) + "\n")
        print("\n".join(f"- {line}" for line in server if line.startswith("swap ")) + "\n")
    kernels = read(out, "kernels.log")
    if kernels:
        print("### Kernel time, one batch of 8 (`tools/perf/summarize_trace.py`)\n\n```")
        print("\n".join(line for line in kernels.splitlines() if not line.startswith("      ")))
        print("```")


if __name__ == "__main__":
    main()
