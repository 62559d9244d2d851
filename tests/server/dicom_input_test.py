#!/usr/bin/env python3
"""DICOM input (Image.dicom) on a real medgemma-server, files made here with DCMTK's tools.

Writes small DICOM files (RGB, MONOCHROME2, MONOCHROME1; one frame and three) and turns them into
every supported transfer syntax with dcmconv (implicit/explicit little endian, big endian,
deflated), dcmcrle (RLE) and dcmcjpeg (JPEG lossless, JPEG baseline: YBR_FULL_422), plus img2dcm
from a BMP and a JPEG. Each classifies as the same pixels sent as PNG (exactly for lossless
syntaxes, within a tolerance for JPEG baseline), echoes the Study/Series/SOP Instance UIDs and the
frame. A multi-frame file without a frame (uncompressed, RLE from dcmcrle, JPEG lossless from
dcmcjpeg) has every frame classified, one response each equal to that frame sent as PNG, through
ClassifyStream, POST /v1/classify ({"responses": [...]}) and `medgemma-cli classify --server x.dcm`
(one line per frame), and `--dicom-sr` writes a Structured Report that dsrdump reads; on the unary
Classify it is INVALID_ARGUMENT naming the frame count. A frame
out of range, an unsupported transfer syntax (JPEG-LS, from dcmcjpls) and a truncated file are
INVALID_ARGUMENT naming the problem.

    dicom_input_test.py --bin-dir build/bin --proto-dir proto
"""
import argparse
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_endpoint_test import http_port_of  # noqa: E402
from open_inference_test import (CLASSIFY_TOKEN, RESULTS, check, generate_v1_stubs, pixels, png_of,  # noqa: E402
                                 start_server)

STUDY, SERIES, SOP = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2", "1.2.826.0.1.3680043.8.498.3"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def element(group, elem, vr, value):
    if isinstance(value, str):
        value = value.encode()
        value += (b"\0" if vr == "UI" else b" ") * (len(value) % 2)
    if vr in ("OB", "OW", "SQ", "UN", "UT"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def us(value):
    return struct.pack("<H", value)


def dicom_file(frames, photometric):
    """frames: uint8 arrays [H,W,3] (RGB) or [H,W] (MONOCHROME*), explicit VR little endian."""
    color = frames[0].ndim == 3
    meta = (element(0x0002, 0x0001, "OB", b"\0\1") + element(0x0002, 0x0002, "UI", SECONDARY_CAPTURE) +
            element(0x0002, 0x0003, "UI", SOP) + element(0x0002, 0x0010, "UI", EXPLICIT_LE) +
            element(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.8.498.9"))
    meta = element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta))) + meta
    data = (element(0x0008, 0x0016, "UI", SECONDARY_CAPTURE) + element(0x0008, 0x0018, "UI", SOP) +
            element(0x0008, 0x0060, "CS", "OT") + element(0x0020, 0x000D, "UI", STUDY) +
            element(0x0020, 0x000E, "UI", SERIES) + element(0x0028, 0x0002, "US", us(3 if color else 1)) +
            element(0x0028, 0x0004, "CS", photometric))
    if color:
        data += element(0x0028, 0x0006, "US", us(0))
    if len(frames) > 1:
        data += element(0x0028, 0x0008, "IS", str(len(frames)))
    height, width = frames[0].shape[:2]
    data += (element(0x0028, 0x0010, "US", us(height)) + element(0x0028, 0x0011, "US", us(width)) +
             element(0x0028, 0x0100, "US", us(8)) + element(0x0028, 0x0101, "US", us(8)) +
             element(0x0028, 0x0102, "US", us(7)) + element(0x0028, 0x0103, "US", us(0)))
    pixel_bytes = b"".join(f.tobytes() for f in frames)
    data += element(0x7FE0, 0x0010, "OB", pixel_bytes + b"\0" * (len(pixel_bytes) % 2))
    return b"\0" * 128 + b"DICM" + meta + data


def tool(work, *args):
    run = subprocess.run(list(args), capture_output=True, text=True, cwd=work)
    if run.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {run.stderr}")


def bmp_of(rgb):
    height, width, _ = rgb.shape
    row = (width * 3 + 3) // 4 * 4
    body = b"".join(rgb[y, :, ::-1].tobytes().ljust(row, b"\0") for y in range(height - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(body), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return header + info + body


def all_frames_checks(port, http_port, work, bin_dir, frames, expect_png):
    """Every frame of a multi-frame file, without naming one, on the stream, HTTP and the CLI."""
    import grpc
    pb = __import__("medgemma.v1.classifier_pb2", fromlist=["x"])
    pb_rpc = __import__("medgemma.v1.classifier_pb2_grpc", fromlist=["x"])
    stub = pb_rpc.ClassifierStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    metadata = (("authorization", f"Bearer {CLASSIFY_TOKEN}"),)
    wants = [expect_png(f) for f in frames]

    def probs(response):
        return np.array([p.probability for p in response.probabilities], dtype=np.float32)

    tool(work, "dcmcrle", "multi.dcm", "multi-rle-all.dcm")
    tool(work, "dcmcjpeg", "+e1", "multi.dcm", "multi-jpeg-lossless.dcm")
    for name in ["multi.dcm", "multi-rle-all.dcm", "multi-jpeg-lossless.dcm"]:
        with open(os.path.join(work, name), "rb") as f:
            dicom = f.read()
        requests = [pb.ClassifyRequest(request_id="study-1", image=pb.Image(dicom=dicom)),
                    pb.ClassifyRequest(request_id="png", image=pb.Image(encoded=png_of(frames[0])))]
        responses = list(stub.ClassifyStream(iter(requests), metadata=metadata, timeout=120))
        by_frame = {r.dicom.frame: r for r in responses if r.request_id == "study-1"}
        check(f"ClassifyStream, {name} without a frame: one response per frame, each that frame's PNG probabilities",
              len(responses) == 4 and sorted(by_frame) == [1, 2, 3]
              and all(not r.HasField("error") and r.dicom.frames == 3 and r.dicom.sop_instance_uid == SOP
                      and r.dicom.study_instance_uid == STUDY and r.dicom.series_instance_uid == SERIES
                      and np.allclose(probs(r), wants[k - 1], atol=1e-6) for k, r in by_frame.items()),
              f"{len(responses)} responses, frames {sorted(by_frame)}")

        body = json.dumps({"dicom_base64": base64.b64encode(dicom).decode(), "request_id": "h-all"}).encode()
        run = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--max-time", "120", "-H",
                              f"Authorization: Bearer {CLASSIFY_TOKEN}", "-H", "Content-Type: application/json",
                              "--data-binary", "@-", f"http://127.0.0.1:{http_port}/v1/classify"],
                             input=body, capture_output=True)
        text, _, status = run.stdout.rpartition(b"\n")
        answers = json.loads(text).get("responses", []) if status == b"200" else []
        check(f"POST /v1/classify, {name} without a frame: responses in frame order, each the frame's PNG probabilities",
              [a["dicom"]["frame"] for a in answers] == [1, 2, 3]
              and all(a["request_id"] == "h-all" and a["dicom"]["sop_instance_uid"] == SOP
                      and np.allclose([p["probability"] for p in a["probabilities"]], wants[k], atol=1e-6)
                      for k, a in enumerate(answers)), f"status {status.decode()} {text[:200]!r}")

    with open(os.path.join(work, "token"), "w") as f:
        f.write(CLASSIFY_TOKEN + "\n")
    run = subprocess.run([os.path.join(bin_dir, "medgemma-cli"), "classify", "--server", f"127.0.0.1:{port}",
                          "--token-file", os.path.join(work, "token"), "--json",
                          os.path.join(work, "multi-rle-all.dcm"), os.path.join(work, "rgb.dcm")],
                         capture_output=True, text=True, timeout=120)
    try:
        lines = json.loads(run.stdout)
    except ValueError:
        lines = []
    multi = [r for r in lines if r.get("file", "").endswith("multi-rle-all.dcm")]
    single = [r for r in lines if r.get("file", "").endswith("rgb.dcm")]
    check("medgemma-cli classify x.dcm: one result per frame, in order, each the frame's PNG probabilities",
          run.returncode == 0 and [r.get("dicom", {}).get("frame") for r in multi] == [1, 2, 3]
          and all(np.allclose([p["probability"] for p in r["probabilities"]], wants[k], atol=1e-6)
                  for k, r in enumerate(multi)) and len(single) == 1 and single[0]["dicom"]["frames"] == 1,
          f"rc={run.returncode} {run.stderr[-300:]} {run.stdout[:300]}")
    run = subprocess.run([os.path.join(bin_dir, "medgemma-cli"), "classify", "--server", f"127.0.0.1:{port}",
                          "--token-file", os.path.join(work, "token"), os.path.join(work, "multi-rle-all.dcm")],
                         capture_output=True, text=True, timeout=120)
    names = [line.split("\t")[0] for line in run.stdout.splitlines()]
    check("medgemma-cli classify x.dcm (text): a line per frame named FILE#FRAME",
          run.returncode == 0 and [n.rsplit("#", 1)[-1] for n in names] == ["1", "2", "3"], run.stdout[-300:])

    sr_dir = os.path.join(work, "sr")
    os.makedirs(sr_dir)
    run = subprocess.run([os.path.join(bin_dir, "medgemma-cli"), "classify", "--server", f"127.0.0.1:{port}",
                          "--token-file", os.path.join(work, "token"), "--dicom-sr", sr_dir,
                          os.path.join(work, "multi-rle-all.dcm")], capture_output=True, text=True, timeout=120)
    report = os.path.join(sr_dir, "multi-rle-all.sr.dcm")
    dump = subprocess.run(["dsrdump", "+Pu", report], capture_output=True, text=True) if os.path.exists(report) else None
    header = subprocess.run(["dcmdump", report], capture_output=True, text=True) if os.path.exists(report) else None
    labels = [line.split("\t")[1].split(" ", 1)[1] for line in run.stdout.splitlines()]
    check("medgemma-cli classify --dicom-sr: a Comprehensive SR that DCMTK reads, in the source's study, naming the"
          " source instance, each frame's label, confidence and probabilities",
          run.returncode == 0 and dump is not None and dump.returncode == 0
          and "=ComprehensiveSRStorage" in header.stdout and STUDY in header.stdout and SOP in dump.stdout
          and dump.stdout.count("Classified frame") == 3 and dump.stdout.count("Probability of") == 24
          and all(label in dump.stdout for label in labels),
          f"rc={run.returncode} {run.stderr[-300:]} {(dump.stderr if dump else 'no report')[-300:]}")


def run(port, work):
    import grpc
    pb = __import__("medgemma.v1.classifier_pb2", fromlist=["x"])
    pb_rpc = __import__("medgemma.v1.classifier_pb2_grpc", fromlist=["x"])
    stub = pb_rpc.ClassifierStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    metadata = (("authorization", f"Bearer {CLASSIFY_TOKEN}"),)

    def classify(image):
        return stub.Classify(pb.ClassifyRequest(image=image), metadata=metadata, timeout=60)

    def probs(response):
        return np.array([p.probability for p in response.probabilities], dtype=np.float32)

    def expect_png(rgb):
        return probs(classify(pb.Image(encoded=png_of(rgb))))

    def code_of(image):
        try:
            classify(image)
            return "OK", ""
        except grpc.RpcError as e:
            return e.code().name, e.details()

    rgb = pixels(48, 64, 5)
    gray = rgb[:, :, 1].copy()
    frames = [pixels(48, 64, 10 + k) for k in range(3)]
    files = {"rgb.dcm": dicom_file([rgb], "RGB"), "mono2.dcm": dicom_file([gray], "MONOCHROME2"),
             "mono1.dcm": dicom_file([gray], "MONOCHROME1"), "multi.dcm": dicom_file(frames, "RGB")}
    for name, content in files.items():
        with open(os.path.join(work, name), "wb") as f:
            f.write(content)
    lossless = {"rgb.dcm": "explicit little endian"}
    for flag, syntax in [("+ti", "implicit little endian"), ("+tb", "explicit big endian"), ("+td", "deflated")]:
        tool(work, "dcmconv", flag, "rgb.dcm", f"rgb{flag}.dcm")
        lossless[f"rgb{flag}.dcm"] = syntax
    tool(work, "dcmcrle", "rgb.dcm", "rgb-rle.dcm")
    lossless["rgb-rle.dcm"] = "RLE lossless"
    tool(work, "dcmcjpeg", "+e1", "rgb.dcm", "rgb-jpeg-lossless.dcm")
    lossless["rgb-jpeg-lossless.dcm"] = "JPEG lossless SV1"
    with open(os.path.join(work, "rgb.bmp"), "wb") as f:
        f.write(bmp_of(rgb))
    tool(work, "img2dcm", "-i", "BMP", "rgb.bmp", "img2dcm-bmp.dcm")
    lossless["img2dcm-bmp.dcm"] = "img2dcm from BMP"

    expected = expect_png(rgb)
    for name, syntax in lossless.items():
        with open(os.path.join(work, name), "rb") as f:
            response = classify(pb.Image(dicom=f.read()))
        check(f"DICOM RGB, {syntax}: the PNG's probabilities", np.allclose(probs(response), expected, atol=1e-6),
              f"max diff {np.abs(probs(response) - expected).max():.2e}")
    response = classify(pb.Image(dicom=files["rgb.dcm"]))
    check("the response names the instance", (response.dicom.study_instance_uid, response.dicom.series_instance_uid,
                                              response.dicom.sop_instance_uid, response.dicom.frame) == (STUDY, SERIES, SOP, 1),
          str(response.dicom).replace("\n", " "))

    for name in ["mono2.dcm", "mono1.dcm"]:
        shown = gray if name == "mono2.dcm" else 255 - gray
        want = expect_png(np.stack([shown] * 3, axis=-1))
        for source in [name] + ([] if name == "mono1.dcm" else ["mono2-rle.dcm"]):
            if source == "mono2-rle.dcm":
                tool(work, "dcmcrle", name, source)
            with open(os.path.join(work, source), "rb") as f:
                got = probs(classify(pb.Image(dicom=f.read())))
            check(f"DICOM {source} ({'inverted as displayed' if name == 'mono1.dcm' else 'gray'}): the PNG's probabilities",
                  np.allclose(got, want, atol=1e-6), f"max diff {np.abs(got - want).max():.2e}")

    tool(work, "dcmcjpeg", "+eb", "rgb.dcm", "rgb-jpeg-baseline.dcm")
    with open(os.path.join(work, "rgb-jpeg-baseline.dcm"), "rb") as f:
        got = probs(classify(pb.Image(dicom=f.read())))
    check("DICOM JPEG baseline (YBR_FULL_422): within tolerance of the PNG's", np.allclose(got, expected, atol=0.05),
          f"max diff {np.abs(got - expected).max():.3f}")

    for k in range(3):
        response = classify(pb.Image(dicom=files["multi.dcm"], frame=k + 1))
        want = expect_png(frames[k])
        check(f"multi-frame, frame {k + 1}: that frame's probabilities and number",
              np.allclose(probs(response), want, atol=1e-6) and response.dicom.frame == k + 1 and response.dicom.frames == 3)
    tool(work, "dcmcrle", "multi.dcm", "multi-rle.dcm")
    with open(os.path.join(work, "multi-rle.dcm"), "rb") as f:
        response = classify(pb.Image(dicom=f.read(), frame=3))
    check("multi-frame RLE, frame 3", np.allclose(probs(response), expect_png(frames[2]), atol=1e-6))

    code, message = code_of(pb.Image(dicom=files["multi.dcm"]))
    check("unary Classify, multi-frame without a frame: INVALID_ARGUMENT naming the frames",
          code == "INVALID_ARGUMENT" and "3 frames" in message, message)
    code, message = code_of(pb.Image(dicom=files["multi.dcm"], frame=4))
    check("frame out of range: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and "frame 4" in message, message)
    code, message = code_of(pb.Image(encoded=png_of(rgb), frame=2))
    check("frame on a non-DICOM image: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", message)
    tool(work, "dcmcjpls", "rgb.dcm", "rgb-jpls.dcm")
    with open(os.path.join(work, "rgb-jpls.dcm"), "rb") as f:
        code, message = code_of(pb.Image(dicom=f.read()))
    check("JPEG-LS: INVALID_ARGUMENT naming the transfer syntax", code == "INVALID_ARGUMENT" and "JPEG-LS" in message, message)
    code, message = code_of(pb.Image(dicom=files["rgb.dcm"][: len(files["rgb.dcm"]) // 2]))
    check("truncated file: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", message)
    code, message = code_of(pb.Image(dicom=b"not a dicom file at all"))
    check("not DICOM: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", message)
    return frames, expect_png


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--proto-dir", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dicom-test-") as work:
        generate_v1_stubs(args.proto_dir, work)
        proc, port, _ = start_server(args.bin_dir, work, 2000, extra_yaml="http_listen: 127.0.0.1:0\n")
        try:
            frames, expect_png = run(port, work)
            all_frames_checks(port, http_port_of(proc), work, args.bin_dir, frames, expect_png)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
