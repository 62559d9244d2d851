#!/usr/bin/env python3
"""The Open Inference Protocol (KServe v2) on medgemma-server, driven by Triton's own clients.

Run by the integration venv's python (scripts/install-integration-venv.sh: tritonclient,
perf_analyzer). Starts build/bin/medgemma-server on the tiny model (127.0.0.1, ephemeral ports,
bearer tokens on) and checks, bounded in time:

  grpc: tritonclient.grpc: live/ready, server and model metadata, model config; ModelInfer on PNG
        bytes and on UINT8 [H,W,3] / [N,H,W,3] gives Classify's probabilities; bad input,
        unknown models/versions and missing or weak tokens get the right codes; 32 OIP clients and
        32 medgemma.v1 clients at once share batches (a batch larger than 32 in medgemma_batch_size
        must hold both kinds, since each client has one request in flight).
  perf: perf_analyzer, gRPC, a bounded run at concurrency 4: no errors.

    open_inference_test.py --bin-dir build/bin --proto-dir proto --check grpc|perf
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

RESULTS = {"passed": 0, "failed": 0}
CLASSIFY_TOKEN = "oip-classify-secret-7d1c"
ADMIN_TOKEN = "oip-admin-secret-93fa"
AUTH = {"authorization": f"Bearer {CLASSIFY_TOKEN}"}
MAX_BATCH = 64


def check(name, condition, detail=""):
    RESULTS["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name} {detail}", flush=True)


def pixels(height, width, seed):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 7 + seed) % 256, (y * 5 + seed * 3) % 256, ((x + y) * 3 + seed) % 256], axis=-1).astype(np.uint8)


def png_of(rgb):
    import struct
    import zlib
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def generate_v1_stubs(proto_dir, out_dir):
    """medgemma.v1 stubs, to compare with Classify."""
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}", "medgemma/v1/classifier.proto"], check=True)
    sys.path.insert(0, out_dir)


def start_server(bin_dir, work, queue_delay_us, extra_yaml=""):
    """The server's process, gRPC port and metrics port; proc.output collects what it prints."""
    subprocess.run([os.path.join(bin_dir, "medgemma-cli"), "make-tiny-model", "--out", f"{work}/model"],
                   check=True, capture_output=True)
    with open(f"{work}/tokens", "w") as f:
        f.write(f"classify oip-reader {CLASSIFY_TOKEN}\nadmin oip-operator {ADMIN_TOKEN}\n")
    with open(f"{work}/server.yaml", "w") as f:
        f.write(f"batching:\n  max_batch_size: {MAX_BATCH}\n  max_queue_delay_us: {queue_delay_us}\n"
                "  max_queue_size: 512\n" + extra_yaml)
    proc = subprocess.Popen([os.path.join(bin_dir, "medgemma-server"), "--config", f"{work}/server.yaml",
                             "--model", f"{work}/model", "--model-id", "tiny", "--device", "cpu",
                             "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                             "--auth-tokens-file", f"{work}/tokens"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc.output = []
    deadline = time.time() + 90
    while time.time() < deadline:
        line = proc.stdout.readline()
        proc.output.append(line)
        m = re.search(r"listening on port (\d+), metrics on port (\d+)", line)
        if m:
            threading.Thread(target=lambda: proc.output.extend(proc.stdout), daemon=True).start()  # drains the pipe
            return proc, int(m.group(1)), int(m.group(2))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("medgemma-server did not start")


def code_of(call):
    from tritonclient.utils import InferenceServerException
    try:
        call()
        return "OK", ""
    except InferenceServerException as e:
        return str(e.status()).replace("StatusCode.", ""), e.message()


def grpc_checks(port, metrics_port):
    import grpc
    import tritonclient.grpc as tc
    pb = __import__("medgemma.v1.classifier_pb2", fromlist=["x"])
    pb_rpc = __import__("medgemma.v1.classifier_pb2_grpc", fromlist=["x"])
    stub = pb_rpc.ClassifierStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    metadata = (("authorization", f"Bearer {CLASSIFY_TOKEN}"),)
    client = tc.InferenceServerClient(url=f"127.0.0.1:{port}")

    check("ServerLive without a token", client.is_server_live())
    check("ServerReady", client.is_server_ready())
    check("ModelReady", client.is_model_ready("tiny", headers=AUTH))
    check("ModelReady false for another model", not client.is_model_ready("other", headers=AUTH))
    server_md = client.get_server_metadata(headers=AUTH, as_json=True)
    check("ServerMetadata names the server", server_md["name"] == "medgemma-server", json.dumps(server_md))
    md = client.get_model_metadata("tiny", headers=AUTH, as_json=True)
    shapes = {t["name"]: (t["datatype"], t["shape"]) for t in md["outputs"]}
    check("ModelMetadata: image input and three outputs",
          md["inputs"][0] == {"name": "image", "datatype": "BYTES", "shape": ["-1", "1"]} and shapes == {"probabilities": ("FP32", ["-1", "8"]), "label": ("INT32", ["-1"]),
                                                            "label_name": ("BYTES", ["-1"])}, json.dumps(md))
    config = client.get_model_config("tiny", headers=AUTH, as_json=True)["config"]
    check("ModelConfig carries max_batch_size", config["max_batch_size"] == MAX_BATCH, json.dumps(config)[:200])

    def classify(rgb):
        raw = pb.Image(raw=pb.RawImage(width=rgb.shape[1], height=rgb.shape[0], rgb=rgb.tobytes()))
        r = stub.Classify(pb.ClassifyRequest(image=raw), metadata=metadata, timeout=60)
        return np.array([p.probability for p in r.probabilities], dtype=np.float32), r.label, r.label_name

    def infer(inputs, outputs=None, model="tiny", version="", headers=AUTH):
        return client.infer(model, inputs, model_version=version, outputs=outputs, headers=headers, client_timeout=60)

    def bytes_input(blobs, shape=None):
        i = tc.InferInput("image", shape or [len(blobs)], "BYTES")
        i.set_data_from_numpy(np.array(blobs, dtype=np.object_).reshape(shape or [len(blobs)]))
        return i

    def uint8_input(array):
        i = tc.InferInput("image", list(array.shape), "UINT8")
        i.set_data_from_numpy(array)
        return i

    images = [pixels(37 + 5 * k, 53 - 3 * k, k) for k in range(3)]
    expected = [classify(rgb) for rgb in images]
    result = infer([bytes_input([png_of(images[0])])])
    probs = result.as_numpy("probabilities")
    check("ModelInfer on PNG bytes: Classify's probabilities", probs.shape == (1, 8) and
          np.allclose(probs[0], expected[0][0], atol=1e-6), f"max diff {np.abs(probs[0] - expected[0][0]).max():.2e}")
    check("ModelInfer label and label_name match Classify",
          result.as_numpy("label")[0] == expected[0][1] and result.as_numpy("label_name")[0].decode() == expected[0][2])
    result = infer([bytes_input([png_of(rgb) for rgb in images])])
    check("ModelInfer on 3 PNGs: one row each, Classify's", np.allclose(result.as_numpy("probabilities"),
                                                                         np.stack([e[0] for e in expected]), atol=1e-6))
    result = infer([bytes_input([png_of(images[1])], shape=[1, 1])])
    check("BYTES [N,1] accepted", np.allclose(result.as_numpy("probabilities")[0], expected[1][0], atol=1e-6))
    result = infer([uint8_input(images[2])])
    check("ModelInfer on UINT8 [H,W,3]: Classify's probabilities",
          np.allclose(result.as_numpy("probabilities")[0], expected[2][0], atol=1e-6))
    same_size = np.stack([pixels(32, 48, k) for k in range(4)])
    result = infer([uint8_input(same_size)], outputs=[tc.InferRequestedOutput("label")])
    check("UINT8 [N,H,W,3] and a requested output subset", result.as_numpy("label").shape == (4,) and
          result.as_numpy("probabilities") is None and
          list(result.as_numpy("label")) == [classify(same_size[k])[1] for k in range(4)])

    code, message = code_of(lambda: infer([bytes_input([b"not an image"])]))
    check("undecodable image bytes: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", message)
    fp32 = tc.InferInput("image", [1, 4], "FP32")
    fp32.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32))
    code, message = code_of(lambda: infer([fp32]))
    check("FP32 input: INVALID_ARGUMENT naming the datatype", code == "INVALID_ARGUMENT" and "FP32" in message, message)
    code, message = code_of(lambda: infer([uint8_input(np.zeros((4, 4, 4), dtype=np.uint8))]))
    check("UINT8 with 4 channels: INVALID_ARGUMENT naming the shape", code == "INVALID_ARGUMENT" and "[4,4,4]" in message, message)
    code, message = code_of(lambda: infer([bytes_input([png_of(images[0])] * (MAX_BATCH + 1))]))
    check("batch above max_batch_size: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and str(MAX_BATCH) in message, message)
    code, message = code_of(lambda: infer([bytes_input([png_of(images[0])])], outputs=[tc.InferRequestedOutput("logits")]))
    check("unknown output: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and "logits" in message, message)
    wrong_name = tc.InferInput("pixels", [1], "BYTES")
    wrong_name.set_data_from_numpy(np.array([b"x"], dtype=np.object_))
    code, message = code_of(lambda: infer([wrong_name]))
    check("unknown input name: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and "pixels" in message, message)
    code, message = code_of(lambda: infer([bytes_input([png_of(images[0])])], model="other"))
    check("unknown model: NOT_FOUND", code == "NOT_FOUND", message)
    code, message = code_of(lambda: infer([bytes_input([png_of(images[0])])], version="no-such-adapter"))
    check("unknown version (adapter): NOT_FOUND", code == "NOT_FOUND", message)
    code, message = code_of(lambda: infer([bytes_input([png_of(images[0])])], headers={}))
    check("no token: UNAUTHENTICATED", code == "UNAUTHENTICATED", message)
    code, message = code_of(lambda: infer([bytes_input([png_of(images[0])])], headers={"authorization": "Bearer wrong"}))
    check("wrong token: UNAUTHENTICATED", code == "UNAUTHENTICATED", message)
    code, message = code_of(lambda: client.get_model_metadata("tiny"))
    check("ModelMetadata without a token: UNAUTHENTICATED", code == "UNAUTHENTICATED", message)
    check("the server still answers after the bad requests", client.is_model_ready("tiny", headers=AUTH))

    # 32 OIP clients and 32 medgemma.v1 clients, each with one request in flight at a time.
    before = batch_buckets(metrics_port)
    start = threading.Barrier(64)
    errors = []
    def oip_client(k):
        own = tc.InferenceServerClient(url=f"127.0.0.1:{port}")
        start.wait()
        for r in range(3):
            try:
                own.infer("tiny", [bytes_input([png_of(pixels(24, 24, k + r))])], headers=AUTH, client_timeout=120)
            except Exception as e:  # noqa: BLE001 - any failure fails the check below
                errors.append(repr(e))
    def v1_client(k):
        start.wait()
        for r in range(3):
            try:
                classify(pixels(24, 24, 100 + k + r))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
    threads = [threading.Thread(target=oip_client, args=(k,)) for k in range(32)]
    threads += [threading.Thread(target=v1_client, args=(k,)) for k in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    after = batch_buckets(metrics_port)
    mixed = (after["+Inf"] - after["32"]) - (before["+Inf"] - before["32"])
    check("32 OIP + 32 medgemma.v1 clients: every request answered", not errors, "; ".join(errors[:3]))
    check("batches above 32 requests ran (so OIP and medgemma.v1 requests shared them)", mixed > 0,
          f"{mixed} such batches; buckets {after}")


def batch_buckets(metrics_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'medgemma_batch_size_bucket\{le="([^"]+)"\} (\S+)', text)}


def perf_checks(port, work):
    venv_bin = os.path.dirname(sys.executable)
    perf = os.path.join(venv_bin, "perf_analyzer")
    import nvidia.cuda_runtime  # a namespace package: no __file__
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(list(nvidia.cuda_runtime.__path__)[0], "lib"))
    # b64 holds the tensor's raw serialization: for BYTES, each element after its uint32 LE length.
    def serialized(blob):
        return base64.b64encode(len(blob).to_bytes(4, "little") + blob).decode()
    data = {"data": [{"image": {"b64": serialized(png_of(pixels(48, 64, k)))}} for k in range(4)]}
    with open(f"{work}/perf-data.json", "w") as f:
        json.dump(data, f)
    cmd = [perf, "-m", "tiny", "-u", f"127.0.0.1:{port}", "-i", "grpc", "--input-data", f"{work}/perf-data.json",
           "--concurrency-range", "4", "--measurement-interval", "3000", "--max-trials", "4",
           "--stability-percentage", "100", "-H", f"authorization: Bearer {CLASSIFY_TOKEN}"]
    print("$", " ".join(cmd).replace(CLASSIFY_TOKEN, "<token>"), flush=True)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    print(run.stdout[-3000:], run.stderr[-2000:], flush=True)
    throughput = re.search(r"Concurrency: 4, throughput: ([\d.]+) infer/sec", run.stdout)
    check("perf_analyzer completes a bounded run", run.returncode == 0 and throughput is not None,
          f"rc={run.returncode}")
    check("perf_analyzer saw no errors", "error" not in (run.stdout + run.stderr).lower())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--check", choices=["grpc", "perf"], required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oip-test-") as work:
        generate_v1_stubs(args.proto_dir, work)
        # grpc: a long queue delay so that concurrent callers' requests meet in one batch.
        proc, port, metrics_port = start_server(args.bin_dir, work, 200000 if args.check == "grpc" else 2000)
        try:
            if args.check == "grpc":
                grpc_checks(port, metrics_port)
            else:
                perf_checks(port, work)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
