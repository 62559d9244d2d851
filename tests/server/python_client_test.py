#!/usr/bin/python3
"""A non-C++ integrator's view of medgemma-server, plus a real Prometheus scrape.

Starts build/bin/medgemma-server on the tiny model (127.0.0.1, ephemeral ports), generates Python
stubs from proto/ with Debian's grpc_tools, calls Classify, ClassifyStream, GetModelInfo and the
standard grpc.health.v1 Health service, then runs Debian's prometheus against the metrics port and
queries the request counter through its HTTP API. Everything is bounded in time.

    python_client_test.py --bin-dir build/bin --proto-dir proto
"""
import argparse
import importlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib

HEALTH_PROTO = """syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
"""

RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    RESULTS["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name} {detail}", flush=True)


def png_bytes(width, height, seed):
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 7 + seed) % 256, (y * 5 + seed * 3) % 256, ((x + y) * 3) % 256))
        rows.append(bytes(row))
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate_stubs(proto_dir, out_dir):
    from grpc_tools import protoc
    with open(os.path.join(out_dir, "health.proto"), "w") as f:
        f.write(HEALTH_PROTO)
    for include, proto in [(proto_dir, "medgemma/v1/classifier.proto"), (out_dir, "health.proto")]:
        rc = protoc.main(["protoc", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto])
        if rc != 0:
            raise RuntimeError(f"protoc failed on {proto}")
    sys.path.insert(0, out_dir)


def start_server(bin_dir, model_dir):
    proc = subprocess.Popen([os.path.join(bin_dir, "medgemma-server"), "--model", model_dir, "--device", "cpu",
                             "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on port (\d+), metrics on port (\d+)", line)
        if m:
            return proc, int(m.group(1)), int(m.group(2))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("medgemma-server did not start")


def grpc_checks(port):
    import grpc
    pb = importlib.import_module("medgemma.v1.classifier_pb2")
    rpc = importlib.import_module("medgemma.v1.classifier_pb2_grpc")
    health_pb = importlib.import_module("health_pb2")
    health_rpc = importlib.import_module("health_pb2_grpc")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = rpc.ClassifierStub(channel)
    response = stub.Classify(pb.ClassifyRequest(request_id="py-1", image=pb.Image(encoded=png_bytes(70, 46, 1))),
                             timeout=30)
    total = sum(p.probability for p in response.probabilities)
    check("Classify answers with 8 probabilities summing to 1", len(response.probabilities) == 8 and abs(total - 1) < 1e-4,
          f"label={response.label} {response.label_name} group={response.group}")
    check("Classify echoes request_id", response.request_id == "py-1")
    raw = pb.Image(raw=pb.RawImage(width=4, height=3, rgb=bytes(range(36))))
    check("Classify takes raw RGB", stub.Classify(pb.ClassifyRequest(image=raw), timeout=30).label_name != "")
    requests = [pb.ClassifyRequest(request_id=f"s{i}", image=pb.Image(encoded=png_bytes(40 + i, 30, i)))
                for i in range(6)]
    ids = sorted(r.request_id for r in stub.ClassifyStream(iter(requests), timeout=60))
    check("ClassifyStream answers every request of the stream", ids == sorted(r.request_id for r in requests), str(ids))
    info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    check("GetModelInfo lists labels and groups", len(info.labels) == 8 and list(info.groups) == ["benign", "malignant"],
          f"model_id={info.model_id} dtype={info.dtype} device={info.device}")
    try:
        stub.Classify(pb.ClassifyRequest(image=pb.Image(encoded=b"not an image")), timeout=10)
        check("bad image is INVALID_ARGUMENT", False)
    except grpc.RpcError as e:
        check("bad image is INVALID_ARGUMENT", e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.details())
    health = health_rpc.HealthStub(channel).Check(health_pb.HealthCheckRequest(service=""), timeout=10)
    check("grpc.health.v1 reports SERVING", health.status == health_pb.HealthCheckResponse.SERVING)
    return 1 + 1 + 6  # successful classifications so far


def cli_checks(bin_dir, port, work):
    images = os.path.join(work, "images")
    os.makedirs(images)
    for i in range(5):
        with open(os.path.join(images, f"img{i}.png"), "wb") as f:
            f.write(png_bytes(50 + i, 40, 10 + i))
    cli = os.path.join(bin_dir, "medgemma-cli")
    out = subprocess.run([cli, "classify", "--server", f"127.0.0.1:{port}", "--json", images],
                         capture_output=True, text=True, timeout=60)
    results = json.loads(out.stdout) if out.returncode == 0 else []
    check("medgemma-cli classify --server DIR", len(results) == 5 and all("label_name" in r for r in results),
          out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "")
    listed = subprocess.run([cli, "adapters", "list", "--server", f"127.0.0.1:{port}"], capture_output=True,
                            text=True, timeout=30)
    check("medgemma-cli adapters list", listed.returncode == 0 and json.loads(listed.stdout)["adapters"] == [],
          listed.stderr.strip())
    return len(results)


def prometheus_checks(metrics_port, expected_ok, work):
    prometheus = shutil.which("prometheus") or "/usr/bin/prometheus"
    web_port = free_port()
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: medgemma\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{metrics_port}']\n")
    proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb",
                             f"--web.listen-address=127.0.0.1:{web_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        query = urllib.parse.quote('sum(medgemma_requests_total{code="OK"})')
        value, deadline = None, time.time() + 60
        while time.time() < deadline and value is None:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/v1/query?query={query}", timeout=5) as r:
                    result = json.load(r)["data"]["result"]
                    if result:
                        value = float(result[0]["value"][1])
            except OSError:
                continue
        check("Prometheus scrapes medgemma_requests_total", value is not None and value >= expected_ok, f"value={value}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run_against_tiny_server(bin_dir, prefix, body):
    """Writes a tiny model, starts medgemma-server on it, runs body(server, port, metrics_port, work),
    checks that SIGTERM then drains it to exit 0, reports the checks and exits with their verdict."""
    work = tempfile.mkdtemp(prefix=prefix)
    server = None
    try:
        subprocess.run([os.path.join(bin_dir, "medgemma-cli"), "make-tiny-model", "--out", f"{work}/model"],
                       check=True, stdout=subprocess.DEVNULL)
        server, port, metrics_port = start_server(bin_dir, f"{work}/model")
        body(server, port, metrics_port, work)
        server.terminate()
        check("SIGTERM drains and exits 0", server.wait(timeout=30) == 0)
        server = None
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()

    def body(server, port, metrics_port, work):
        generate_stubs(args.proto_dir, work)
        expected_ok = grpc_checks(port) + cli_checks(args.bin_dir, port, work)
        prometheus_checks(metrics_port, expected_ok, work)

    run_against_tiny_server(args.bin_dir, "medgemma-pytest-", body)


if __name__ == "__main__":
    main()
