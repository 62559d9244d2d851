#!/usr/bin/env python3
"""medgemma-server's HTTP/JSON port, driven by curl, tritonclient.http, openapi-spec-validator and
schemathesis from the integration venv.

Starts medgemma-server on the tiny model with --http-listen (127.0.0.1, ephemeral ports, bearer
tokens on) and checks, bounded in time:
  - curl POST /v1/classify (JSON base64 and multipart) and POST /v2/models/tiny/infer (JSON with
    base64 BYTES, and UINT8 data) give Classify's probabilities;
  - tritonclient.http (binary tensor extension): metadata, config and infer on PNG bytes and
    UINT8 pixels equal Classify;
  - bad JSON, bad base64, oversize bodies, missing and wrong tokens, a classify token on nothing
    stronger: 400 / 413 / 401 with a JSON {"error"} body; a JSON UINT8 body of more values than an
    eighth of the body limit is 413 before it is parsed into a document, and the server answers on;
  - replies sent before the body is read (401 on a 100 GB declared body, 413 on a declared size
    over the limit) close the connection at once instead of leaving a worker reading the body;
    401 carries WWW-Authenticate: Bearer; a repeated multipart field is 400;
  - with TLS configured (a certificate made here with openssl), the HTTP port serves HTTPS: curl
    with the CA classifies and checks health, plain HTTP to it gets no answer;
  - /openapi.json validates (openapi-spec-validator) and schemathesis, for a bounded number of
    examples per operation, finds no 5xx.

    http_endpoint_test.py --bin-dir build/bin --proto-dir proto
"""
import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from open_inference_test import (CLASSIFY_TOKEN, RESULTS, check, generate_v1_stubs, pixels, png_of,  # noqa: E402
                                 start_server)

AUTH = f"Authorization: Bearer {CLASSIFY_TOKEN}"
MAX_BODY = 1 << 20


def http_port_of(proc):
    deadline = time.time() + 10
    while time.time() < deadline:
        for line in proc.output:
            m = re.search(r'"msg":"HTTP endpoint".*"port":(\d+)', line)
            if m:
                return int(m.group(1))
        time.sleep(0.1)
    raise RuntimeError("no HTTP endpoint line in the server's log")


def curl(url, *args, data=None):
    """(status, parsed JSON body or raw text)"""
    cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "60", url, *args]
    run = subprocess.run(cmd, input=data, capture_output=True)
    body, _, status = run.stdout.rpartition(b"\n")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body.decode(errors="replace")
    return int(status), parsed


def classify_v1(port, rgb):
    import grpc
    pb = __import__("medgemma.v1.classifier_pb2", fromlist=["x"])
    pb_rpc = __import__("medgemma.v1.classifier_pb2_grpc", fromlist=["x"])
    stub = pb_rpc.ClassifierStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    raw = pb.Image(raw=pb.RawImage(width=rgb.shape[1], height=rgb.shape[0], rgb=rgb.tobytes()))
    r = stub.Classify(pb.ClassifyRequest(image=raw), metadata=(("authorization", f"Bearer {CLASSIFY_TOKEN}"),), timeout=60)
    return np.array([p.probability for p in r.probabilities], dtype=np.float32), r.label_name


def curl_checks(grpc_port, port, work):
    base = f"http://127.0.0.1:{port}"
    rgb = pixels(40, 56, 3)
    png = png_of(rgb)
    expected, expected_name = classify_v1(grpc_port, rgb)

    status, body = curl(f"{base}/v1/classify", "-H", AUTH, "-H", "Content-Type: application/json", "--data-binary", "@-",
                        data=json.dumps({"image_base64": base64.b64encode(png).decode(), "request_id": "h1"}).encode())
    probs = np.array([p["probability"] for p in body["probabilities"]], dtype=np.float32) if status == 200 else None
    check("curl /v1/classify JSON: Classify's probabilities", status == 200 and np.allclose(probs, expected, atol=1e-6)
          and body["label_name"] == expected_name and body["request_id"] == "h1", f"status {status}")
    with open(f"{work}/image.png", "wb") as f:
        f.write(png)
    status, body = curl(f"{base}/v1/classify", "-H", AUTH, "-F", f"image=@{work}/image.png", "-F", "request_id=h2")
    probs = np.array([p["probability"] for p in body["probabilities"]], dtype=np.float32) if status == 200 else None
    check("curl /v1/classify multipart: Classify's probabilities", status == 200 and np.allclose(probs, expected, atol=1e-6),
          f"status {status} {body if status != 200 else ''}")
    infer = {"id": "i1", "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"content_type": "base64"},
                                     "data": [base64.b64encode(png).decode()]}]}
    status, body = curl(f"{base}/v2/models/tiny/infer", "-H", AUTH, "--data-binary", "@-", data=json.dumps(infer).encode())
    outputs = {o["name"]: o for o in body.get("outputs", [])} if status == 200 else {}
    check("curl /v2/models/tiny/infer (BYTES, base64): Classify's probabilities",
          status == 200 and np.allclose(outputs["probabilities"]["data"], expected, atol=1e-6)
          and outputs["label_name"]["data"] == [expected_name] and body["id"] == "i1", f"status {status}")
    infer = {"inputs": [{"name": "image", "datatype": "UINT8", "shape": list(rgb.shape), "data": rgb.flatten().tolist()}]}
    status, body = curl(f"{base}/v2/models/tiny/infer", "-H", AUTH, "--data-binary", "@-", data=json.dumps(infer).encode())
    outputs = {o["name"]: o for o in body.get("outputs", [])} if status == 200 else {}
    check("curl /v2/models/tiny/infer (UINT8 [H,W,3]): Classify's probabilities",
          status == 200 and np.allclose(outputs["probabilities"]["data"], expected, atol=1e-6), f"status {status}")

    def refused(name, want, *args, data=None, url=f"{base}/v1/classify"):
        status, body = curl(url, *args, data=data)
        check(f"{name}: {want} with a JSON error", status == want and isinstance(body, dict) and "error" in body,
              f"{status} {body}")
    json_type = ("-H", "Content-Type: application/json", "--data-binary", "@-")
    refused("bad JSON", 400, "-H", AUTH, *json_type, data=b"{not json")
    refused("bad base64", 400, "-H", AUTH, *json_type, data=b'{"image_base64": "***"}')
    refused("image_base64 of the wrong type", 400, "-H", AUTH, *json_type, data=b'{"image_base64": 5}')
    refused("undecodable image", 400, "-H", AUTH, *json_type, data=json.dumps({"image_base64": "aGVsbG8="}).encode())
    refused("oversize body", 413, "-H", AUTH, *json_type,
            data=json.dumps({"image_base64": "A" * (MAX_BODY + 10)}).encode())
    refused("missing token", 401, *json_type, data=b"{}")
    refused("wrong token", 401, "-H", "Authorization: Bearer wrong-token-123", *json_type, data=b"{}")
    refused("infer: bad JSON", 400, "-H", AUTH, "--data-binary", "@-", data=b"[1,", url=f"{base}/v2/models/tiny/infer")
    refused("infer: unknown model", 404, "-H", AUTH, "--data-binary", "@-", url=f"{base}/v2/models/nope/infer",
            data=json.dumps({"inputs": []}).encode())
    refused("infer: missing token", 401, "--data-binary", "@-", data=b"{}", url=f"{base}/v2/models/tiny/infer")
    values = (MAX_BODY // 8) + 1000
    side = int((values / 3) ** 0.5) + 1
    big = {"inputs": [{"name": "image", "datatype": "UINT8", "shape": [side, side, 3], "data": [0] * (side * side * 3)}]}
    body = json.dumps(big, separators=(",", ":")).encode()
    assert len(body) < MAX_BODY, "under the body limit: the value bound refuses it"
    refused("JSON UINT8 of more values than max_message_bytes / 8", 413, "-H", AUTH, "--data-binary", "@-", data=body,
            url=f"{base}/v2/models/tiny/infer")
    status, body = curl(f"{base}/v2/models/tiny/infer", "-H", AUTH, "--data-binary", "@-", data=json.dumps(infer).encode())
    check("... and the server answers on (UINT8 infer after it)", status == 200, f"status {status}")
    refused("multipart with two image fields", 400, "-H", AUTH, "-F", f"image=@{work}/image.png",
            "-F", f"image=@{work}/image.png")
    early_reply_checks(port)
    status, _ = curl(f"{base}/v2/health/live")
    check("/v2/health/live without a token", status == 200)
    status, _ = curl(f"{base}/v2/health/ready")
    check("/v2/health/ready without a token", status == 200)


def raw_exchange(port, head, body=b"", wait=10):
    """Sends a request head (and the start of a body); (reply bytes, whether the server closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        reply, closed = b"", False
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            reply += chunk
        return reply, closed


def early_reply_checks(port):
    huge = (b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000000\r\n\r\n")
    start = time.time()
    reply, closed = raw_exchange(port, huge, b"{" * 1000)
    check("401 before a 100 GB body: answered, WWW-Authenticate: Bearer, and the connection closes at once",
          reply.startswith(b"HTTP/1.1 401") and b"WWW-Authenticate: Bearer" in reply and b'"error"' in reply
          and closed and time.time() - start < 5, f"closed={closed} {reply[:300]!r}")
    over = (b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH.encode() + b"\r\n"
            b"Content-Length: " + str(MAX_BODY * 4).encode() + b"\r\n\r\n")
    reply, closed = raw_exchange(port, over, b"0" * 1000)
    check("413 on a declared size over the limit: the connection closes at once",
          reply.startswith(b"HTTP/1.1 413") and b"Connection: close" in reply and closed, f"closed={closed} {reply[:300]!r}")
    live = b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def one_response(sock):
        """Reads a whole response (head, then Content-Length bytes of body): it may come in pieces."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(live)
        first = one_response(sock)
        sock.sendall(live)
        second = one_response(sock)
    check("a request read whole keeps the connection alive (two GETs on one connection)",
          first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200"), f"{first[:80]!r} {second[:80]!r}")


def tls_checks(args, work):
    """A second server with TLS: its HTTP port serves HTTPS with the configured certificate."""
    tls = os.path.join(work, "tls")
    os.makedirs(tls)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", f"{tls}/key.pem", "-out", f"{tls}/cert.pem"],
                   check=True, capture_output=True)
    proc, _, _ = start_server(args.bin_dir, tls, 2000, extra_yaml=f"http_listen: 127.0.0.1:0\ntls:\n  cert: {tls}/cert.pem\n"
                                                                   f"  key: {tls}/key.pem\n")
    try:
        port = http_port_of(proc)
        base = f"https://127.0.0.1:{port}"
        status, body = curl(f"{base}/v2/health/live", "--cacert", f"{tls}/cert.pem")
        check("HTTPS: /v2/health/live with the server's CA", status == 200 and body == {"live": True}, f"{status} {body}")
        png = png_of(pixels(40, 56, 3))
        status, body = curl(f"{base}/v1/classify", "--cacert", f"{tls}/cert.pem", "-H", AUTH, "-H",
                            "Content-Type: application/json", "--data-binary", "@-",
                            data=json.dumps({"image_base64": base64.b64encode(png).decode()}).encode())
        check("HTTPS: POST /v1/classify", status == 200 and len(body.get("probabilities", [])) == 8, f"{status}")
        status, _ = curl(f"{base}/v2/health/live")
        check("HTTPS: a client that does not trust the certificate is refused (curl verifies)", status == 0, f"{status}")
        status, _ = curl(f"http://127.0.0.1:{port}/v2/health/live", "--max-time", "5")
        check("HTTPS: plain HTTP to the TLS port gets no HTTP answer", status != 200, f"{status}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def tritonclient_checks(grpc_port, port):
    import tritonclient.http as th
    client = th.InferenceServerClient(url=f"127.0.0.1:{port}")
    # A fresh dict per call: tritonclient.http adds Inference-Header-Content-Length to the one passed.
    auth = {"Authorization": f"Bearer {CLASSIFY_TOKEN}"}
    fresh = lambda: dict(auth)  # noqa: E731
    check("tritonclient.http: live and ready", client.is_server_live() and client.is_server_ready())
    check("tritonclient.http: model ready", client.is_model_ready("tiny", headers=fresh()))
    md = client.get_model_metadata("tiny", headers=fresh())
    check("tritonclient.http: model metadata", md["name"] == "tiny" and md["inputs"][0]["name"] == "image", json.dumps(md))
    config = client.get_model_config("tiny", headers=fresh())
    check("tritonclient.http: model config", config.get("max_batch_size") == 64, json.dumps(config)[:200])
    images = [pixels(33, 47, k) for k in range(2)]
    expected = [classify_v1(grpc_port, rgb)[0] for rgb in images]
    i = th.InferInput("image", [2], "BYTES")
    i.set_data_from_numpy(np.array([png_of(rgb) for rgb in images], dtype=np.object_), binary_data=True)
    result = client.infer("tiny", [i], headers=fresh())
    check("tritonclient.http infer on PNG bytes (binary data): Classify's",
          np.allclose(result.as_numpy("probabilities"), np.stack(expected), atol=1e-6))
    i = th.InferInput("image", list(images[1].shape), "UINT8")
    i.set_data_from_numpy(images[1], binary_data=False)
    result = client.infer("tiny", [i], headers=fresh(), outputs=[th.InferRequestedOutput("probabilities", binary_data=False)])
    check("tritonclient.http infer on UINT8 (JSON data): Classify's",
          np.allclose(result.as_numpy("probabilities")[0], expected[1], atol=1e-6))


def openapi_checks(port, work):
    base = f"http://127.0.0.1:{port}"
    status, doc = curl(f"{base}/openapi.json")
    with open(f"{work}/openapi.json", "w") as f:
        json.dump(doc, f)
    venv_bin = os.path.dirname(sys.executable)
    run = subprocess.run([os.path.join(venv_bin, "openapi-spec-validator"), f"{work}/openapi.json"],
                         capture_output=True, text=True, timeout=120)
    check("/openapi.json validates (openapi-spec-validator)", status == 200 and run.returncode == 0,
          (run.stdout + run.stderr).strip()[-300:])
    # The served model's name for {model}, so that generated requests reach the model, not a 404.
    with open(f"{work}/schemathesis.toml", "w") as f:
        f.write('[parameters]\n"path.model" = "tiny"\n')
    cmd = [os.path.join(venv_bin, "schemathesis"), "--config-file", f"{work}/schemathesis.toml", "run",
           f"{base}/openapi.json", "--checks", "not_a_server_error",
           "--max-examples", "25", "--request-timeout", "60", "-H", f"Authorization: Bearer {CLASSIFY_TOKEN}",
           "--no-color", "--seed", "1", "--phases", "examples,coverage,fuzzing"]
    # In the scratch directory: schemathesis and hypothesis leave their caches in the working directory.
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=work)
    tail = (run.stdout + run.stderr)[-2500:]
    print(tail.replace(CLASSIFY_TOKEN, "<token>"), flush=True)
    check("schemathesis (25 examples per operation) finds no 5xx", run.returncode == 0, f"rc={run.returncode}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--proto-dir", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="http-test-") as work:
        generate_v1_stubs(args.proto_dir, work)
        proc, grpc_port, _ = start_server(args.bin_dir, work, 2000,
                                          extra_yaml=f"http_listen: 127.0.0.1:0\nlimits:\n  max_message_bytes: {MAX_BODY}\n")
        try:
            port = http_port_of(proc)
            curl_checks(grpc_port, port, work)
            tritonclient_checks(grpc_port, port)
            openapi_checks(port, work)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        tls_checks(args, work)
        output = "".join(proc.output)
        check("no token value in the server's output", CLASSIFY_TOKEN not in output)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
