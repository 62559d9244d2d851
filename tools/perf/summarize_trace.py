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
    print_gaps(events)
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


def print_gaps(events, top=6):
    """Where the GPU sat idle: total idle time by gap size, and the longest gaps with the kernels on
    either side (a sync shows as one long gap; launch-bound stretches as many short ones)."""
    gpu = sorted((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)), e.get("name", ""))
                 for e in events if e.get("ph") == "X" and "ts" in e
                 and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"))
    gaps, end, before = [], None, ""
    for start, stop, name in gpu:
        if end is not None and start > end:
            gaps.append((start - end, before, name))
        if end is None or stop > end:
            end, before = stop, name
    if not gaps:
        return
    buckets = [(10, "<10 us"), (100, "10-100 us"), (1000, "0.1-1 ms"), (float("inf"), ">1 ms")]
    totals = {label: [0, 0.0] for _, label in buckets}
    for length, _, _ in gaps:
        label = next(label for bound, label in buckets if length < bound)
        totals[label][0] += 1
        totals[label][1] += length
    print("  GPU idle between kernels: " + ", ".join(f"{label} {n} gaps {t / 1e3:.1f} ms"
                                                      for label, (n, t) in totals.items()))
    for length, after, then in sorted(gaps, reverse=True)[:top]:
        print(f"    {length / 1e3:6.2f} ms idle after {after[:60]} / before {then[:60]}")


if __name__ == "__main__":
    main()
