#!/usr/bin/python3
"""medgemma-cli bench against a real medgemma-server (tiny model, 127.0.0.1, ephemeral ports).

Sweeps unary and stream load for a few seconds per level, with the server's /metrics, and checks
the JSON report for consistency with what the server itself counted; then the text table, errors
counted by gRPC code (an adapter the server does not have), and clear failures for an unreachable
server or metrics endpoint. Server start-up and helpers are tests/server/python_client_test.py's.

    bench_test.py --bin-dir build/bin
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from python_client_test import check, free_port, png_bytes, run_against_tiny_server  # noqa: E402


def bench(cli, *args, timeout=120):
    return subprocess.run([cli, "bench", *args], capture_output=True, text=True, timeout=timeout)


def report(out):
    try:
        return json.loads(out.stdout)
    except ValueError:
        return None


def check_level(name, level, max_batch):
    c = level["concurrency"]
    lat = level["latency_ms"]
    check(f"{name} c={c}: requests completed, none failed",
          level["requests"] > 0 and level["errors"] == 0 and level["ok"] == level["requests"] and
          level["errors_by_code"] == {}, f"requests={level['requests']} errors={level['errors_by_code']}")
    check(f"{name} c={c}: images/s > 0 and ok/window", level["images_per_s"] > 0 and
          abs(level["images_per_s"] - level["ok"] / level["window_s"]) < 1e-6 * level["images_per_s"] + 1e-9,
          f"{level['images_per_s']:.1f} img/s")
    check(f"{name} c={c}: 0 < p50 <= p90 <= p99 <= max", 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"],
          str(lat))
    server = level["server"]
    hist = {b["le"]: b["batches"] for b in server["batch_size_histogram"]}
    check(f"{name} c={c}: the server's batch histogram counts its batches",
          server["batches"] > 0 and sum(hist.values()) == server["batches"], str(hist))
    # Both sides count the same window, up to the requests in flight at its two edges.
    check(f"{name} c={c}: server images in the window match the client's",
          abs(server["images"] - level["ok"]) <= 2 * c, f"server={server['images']} client={level['ok']}")
    largest = max((float(le) for le, n in hist.items() if n > 0 and le != "+Inf"), default=0)
    check(f"{name} c={c}: no batch larger than the requests in flight",
          1 <= server["batch_size_mean"] <= min(c, max_batch) and largest <= max(1, 2 ** (c - 1).bit_length()),
          f"mean={server['batch_size_mean']:.2f} hist={hist}")
    check(f"{name} c={c}: queue and inference times", server["queue_ms_mean"] >= 0 and server["inference_ms_mean"] > 0,
          f"queue={server['queue_ms_mean']:.2f} ms inference={server['inference_ms_mean']:.2f} ms")


def sweeps(cli, address, metrics, images):
    common = ["--server", address, "--images", images, "--metrics", metrics, "--json"]
    out = bench(cli, *common, "--concurrency", "1,4", "--warmup-s", "0.5", "--duration-s", "2")
    r = report(out)
    check("unary sweep exits 0 with a JSON report", out.returncode == 0 and r is not None, out.stderr.strip()[-500:])
    if r is None:
        return
    check("unary sweep reports the setup", r["mode"] == "unary" and r["images"] == 4 and r["server"] == address and
          r["metrics"] == metrics and r["max_batch_size"] > 0, json.dumps({k: v for k, v in r.items() if k != "levels"}))
    check("unary sweep has one level per concurrency", [lv["concurrency"] for lv in r["levels"]] == [1, 4])
    for level in r["levels"]:
        check_level("unary", level, r["max_batch_size"])
    one = r["levels"][0]["server"]
    check("unary c=1: every server batch has size 1", one["batch_size_histogram"][0] == {"le": "1", "batches": one["batches"]},
          str(one["batch_size_histogram"]))

    out = bench(cli, *common, "--mode", "stream", "--streams", "2", "--concurrency", "4", "--warmup-s", "0.5",
                "--duration-s", "30", "--requests", "30")
    r = report(out)
    check("stream level exits 0 with a JSON report", out.returncode == 0 and r is not None, out.stderr.strip()[-500:])
    if r is None:
        return
    level = r["levels"][0]
    check("stream report says stream mode over 2 streams", r["mode"] == "stream" and r["streams"] == 2)
    check("--requests closes the window early", level["requests"] >= 30 and level["window_s"] < 30,
          f"requests={level['requests']} window={level['window_s']:.2f}s")
    check_level("stream", level, r["max_batch_size"])


def text_table(cli, address, metrics, images):
    out = bench(cli, "--server", address, "--images", images, "--metrics", metrics, "--concurrency", "2",
                "--warmup-s", "0", "--duration-s", "1")
    lines = out.stdout.splitlines()
    row = next((line for line in lines if line.split()[:1] == ["2"]), "")
    check("text report: header, a row for c=2 with server columns, the batch histogram",
          out.returncode == 0 and any(line.startswith("concurrency  requests  errors  images/s") for line in lines) and
          row.count("|") == 1 and "server batch sizes" in out.stdout, "\n" + out.stdout)


def failures(cli, address, metrics, images):
    out = bench(cli, "--server", address, "--images", images, "--metrics", metrics, "--adapter", "no-such-adapter",
                "--concurrency", "2", "--warmup-s", "0", "--duration-s", "1", "--json")
    r = report(out)
    level = r["levels"][0] if r else {}
    check("failed requests are counted by code, the report still printed, exit 1",
          out.returncode == 1 and level.get("ok") == 0 and level.get("requests", 0) > 0 and
          level.get("errors_by_code") == {"NOT_FOUND": level["requests"]} and "failed" in out.stderr,
          f"rc={out.returncode} {level.get('errors_by_code')} {out.stderr.strip()[-300:]}")

    dead = f"127.0.0.1:{free_port()}"
    start = time.time()
    out = bench(cli, "--server", dead, "--images", images, "--concurrency", "1", "--duration-s", "1")
    check("an unreachable server: non-zero exit naming it, quickly",
          out.returncode != 0 and f"cannot reach medgemma-server at {dead}" in out.stderr and time.time() - start < 30,
          out.stderr.strip())

    dead_metrics = f"http://127.0.0.1:{free_port()}/metrics"
    out = bench(cli, "--server", address, "--images", images, "--metrics", dead_metrics, "--duration-s", "1")
    check("an unreachable metrics endpoint: non-zero exit naming it",
          out.returncode != 0 and f"metrics at {dead_metrics}" in out.stderr and out.stdout == "", out.stderr.strip())

    out = bench(cli, "--server", address, "--images", images, "--mode", "sideways")
    check("a bad flag value exits 2 naming it", out.returncode == 2 and "--mode" in out.stderr, out.stderr.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    args = ap.parse_args()
    cli = os.path.join(args.bin_dir, "medgemma-cli")

    def body(server, port, metrics_port, work):
        images = os.path.join(work, "images")
        os.makedirs(images)
        for i in range(4):
            with open(os.path.join(images, f"img{i}.png"), "wb") as f:
                f.write(png_bytes(48 + 8 * i, 40, i))
        # Its logs (an error line per failed request) must not fill the pipe and stall it.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        address, metrics = f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
        sweeps(cli, address, metrics, images)
        text_table(cli, address, metrics, images)
        failures(cli, address, metrics, images)

    run_against_tiny_server(args.bin_dir, "medgemma-bench-test-", body)


if __name__ == "__main__":
    main()
