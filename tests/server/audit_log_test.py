#!/usr/bin/env python3
"""The audit log of medgemma-server: exactly one JSON line per request, whatever its outcome.

Run by the integration venv's python. Starts medgemma-server on the tiny model with bearer tokens
and --audit-log FILE (with a small audit.max_bytes, so the file rotates), sends 1000 requests with
mixed outcomes over medgemma.v1 (Classify, ClassifyStream) and the Open Inference Protocol
(ModelInfer) — classified, undecodable, no token, unknown token, unknown adapter, wrong
datatype — plus AdapterAdmin actions (allowed, refused, failing), then checks: the audit files
hold exactly one line per request, each a JSON object with the caller's token name (never a token
value), the code the client saw and, for classifications, the results; no token value appears in
the audit files or in the server's own output.

    audit_log_test.py --bin-dir build/bin --proto-dir proto
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from open_inference_test import (ADMIN_TOKEN, CLASSIFY_TOKEN, RESULTS, check, generate_v1_stubs, pixels,  # noqa: E402
                                 png_of, start_server)

TOTAL = 1000


def run(port, work):
    import grpc
    import tritonclient.grpc as tc
    from tritonclient.utils import InferenceServerException
    pb = __import__("medgemma.v1.classifier_pb2", fromlist=["x"])
    pb_rpc = __import__("medgemma.v1.classifier_pb2_grpc", fromlist=["x"])
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_rpc.ClassifierStub(channel)
    admin = pb_rpc.AdapterAdminStub(channel)
    oip = tc.InferenceServerClient(url=f"127.0.0.1:{port}")
    good = (("authorization", f"Bearer {CLASSIFY_TOKEN}"),)
    admin_md = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
    png = png_of(pixels(20, 24, 1))

    def v1(image, metadata=good, adapter=""):
        try:
            stub.Classify(pb.ClassifyRequest(request_id=f"r{random.random()}", image=image, adapter=adapter),
                          metadata=metadata, timeout=30)
            return "OK"
        except grpc.RpcError as e:
            return e.code().name

    def infer(datatype="BYTES", headers={"authorization": f"Bearer {CLASSIFY_TOKEN}"}):
        i = tc.InferInput("image", [1], datatype)
        i.set_data_from_numpy(np.array([png], dtype=np.object_) if datatype == "BYTES" else np.zeros(1, np.float32))
        try:
            oip.infer("tiny", [i], headers=headers, client_timeout=30)
            return "OK"
        except InferenceServerException as e:
            return str(e.status()).replace("StatusCode.", "")

    def stream(n):
        requests = [pb.ClassifyRequest(request_id=f"s{k}", image=pb.Image(encoded=png if k % 2 else b"junk"))
                    for k in range(n)]
        answers = list(stub.ClassifyStream(iter(requests), metadata=good, timeout=60))
        return ["OK" if a.error.code == 0 else "INVALID_ARGUMENT" for a in answers]

    def admin_call(kind):
        try:
            if kind == "list":
                admin.ListAdapters(pb.ListAdaptersRequest(), metadata=admin_md, timeout=10)
            elif kind == "weak":
                admin.ListAdapters(pb.ListAdaptersRequest(), metadata=good, timeout=10)
            else:
                admin.LoadAdapter(pb.LoadAdapterRequest(name="x", path="/no/such/adapter"), metadata=admin_md, timeout=30)
            return "OK"
        except grpc.RpcError as e:
            return e.code().name

    kinds = [
        ("classify", lambda: v1(pb.Image(encoded=png))),
        ("classify", lambda: v1(pb.Image(encoded=b"not an image"))),
        ("classify", lambda: v1(pb.Image(encoded=png), metadata=())),
        ("classify", lambda: v1(pb.Image(encoded=png), metadata=(("authorization", "Bearer not-a-known-token"),))),
        ("classify", lambda: v1(pb.Image(encoded=png), adapter="no-such-adapter")),
        ("classify", lambda: infer()),
        ("classify", lambda: infer(datatype="FP32")),
        ("classify", lambda: infer(headers={})),
        ("action", lambda: admin_call("list")),
        ("action", lambda: admin_call("weak")),
        ("action", lambda: admin_call("load")),
    ]
    rng = random.Random(7)
    expected = []  # (event, code)
    while len(expected) < TOTAL:
        if len(expected) + 4 <= TOTAL and rng.random() < 0.05:
            expected += [("classify", code) for code in stream(4)]
            continue
        event, call = kinds[rng.randrange(len(kinds))]
        expected.append((event, call()))
    return expected


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--proto-dir", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-test-") as work:
        generate_v1_stubs(args.proto_dir, work)
        audit = f"{work}/audit.log"
        proc, port, _ = start_server(args.bin_dir, work, 2000,
                                     extra_yaml=f"audit:\n  path: {audit}\n  max_bytes: 65536\n  keep: 50\n")
        try:
            expected = run(port, work)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        server_output = "".join(proc.output)
        files = sorted(glob.glob(f"{audit}*"), key=lambda p: -int(p.rsplit(".", 1)[1]) if p[-1].isdigit() else 0)
        lines = [line for path in files for line in open(path).read().splitlines()]
        entries = [json.loads(line) for line in lines]
        check(f"{TOTAL} requests, {TOTAL} audit lines", len(entries) == TOTAL, f"{len(entries)} lines in {len(files)} files")
        check("the audit file rotated (several files)", len(files) > 1, str(len(files)))
        got = sorted((e["event"], e["code"]) for e in entries)
        check("each line's event and code match a request's outcome", got == sorted(expected),
              f"outcomes {sorted(set(expected))}")
        callers = {e["caller"] for e in entries}
        check("callers are token names", callers <= {"", "oip-reader", "oip-operator"}, str(callers))
        classified = [e for e in entries if e["event"] == "classify" and e["code"] == "OK"]
        check("classified lines carry label, confidence and adapter version",
              classified and all(len(e["results"]) == 1 and {"label", "label_name", "confidence", "adapter_version"}
                                  <= set(e["results"][0]) for e in classified))
        everything = "\n".join(lines) + server_output
        check("no token value in the audit log or the server's output",
              CLASSIFY_TOKEN not in everything and ADMIN_TOKEN not in everything)
        check("no image bytes in the audit log", "IHDR" not in everything and "not an image" not in "\n".join(lines))
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
