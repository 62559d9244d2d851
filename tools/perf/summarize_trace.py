"""Kernel-time table of a Chrome trace written by classify_bench --trace (Kineto format).
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
    print_table(kernels, args.title or args.trace)


if __name__ == "__main__":
    main()
