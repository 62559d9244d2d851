"""Kernel-time table of a Chrome trace written by classify_bench or train_step_bench --trace
(Kineto format), and whether the traced work kept the GPU busy: the span of the trace, the time
at least one kernel ran, and the CPU ops and launches that fed it.
  python3 tools/perf/summarize_trace.py TRACE.json [--title T]"""
import argparse
import json

from kernel_categories import print_table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    with open(args.trace) as f:
        events = json.load(f)["traceEvents"]
    kernels = [(e["name"], float(e.get("dur", 0))) for e in events
               if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    print_busy(events)
    print_table(kernels, args.title or args.trace)


def busy_microseconds(intervals):
    """Length of the union of (start, end) intervals."""
    busy, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        busy += stop - max(start, end)
        end = stop
    return busy


def print_busy(events):
    timed = [e for e in events if e.get("ph") == "X" and "ts" in e]
    if not timed:
        return
    span = max(float(e["ts"]) + float(e.get("dur", 0)) for e in timed) - min(float(e["ts"]) for e in timed)
    gpu = [(float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0))) for e in timed
           if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    cpu_ops = sum(1 for e in timed if e.get("cat") == "cpu_op")
    launches = sum(1 for e in timed if e.get("cat") == "cuda_runtime" and "Launch" in e.get("name", ""))
    busy = busy_microseconds(gpu)
    print(f"  trace span {span / 1e3:.1f} ms, GPU busy {busy / 1e3:.1f} ms ({100 * busy / max(span, 1):.0f}%), "
          f"{cpu_ops} CPU ops, {launches} kernel launches")


if __name__ == "__main__":
    main()
