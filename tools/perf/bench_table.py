"""One markdown row per concurrency level of a `medgemma-cli bench --json` report.
  python3 tools/perf/bench_table.py [--label L] [--header] REPORT.json..."""
import argparse
import json


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--label", default="")
    ap.add_argument("--header", action="store_true")
    args = ap.parse_args()
    if args.header:
        print("| run | concurrency | images/s | p50 ms | p90 ms | p99 ms | errors | server batch mean | queue ms | inference ms |")
        print("|---|---|---|---|---|---|---|---|---|---|")
    for path in args.reports:
        r = json.load(open(path))
        for level in r["levels"]:
            lat, srv = level["latency_ms"], level.get("server") or {}
            print(f"| {args.label or r['adapter']} | {level['concurrency']} | {fmt(level['images_per_s'])} | "
                  f"{fmt(lat['p50'])} | {fmt(lat['p90'])} | {fmt(lat['p99'])} | {level['errors']} | "
                  f"{fmt(srv.get('batch_size_mean'), 2)} | {fmt(srv.get('queue_ms_mean'))} | "
                  f"{fmt(srv.get('inference_ms_mean'))} |")


if __name__ == "__main__":
    main()
