#!/usr/bin/python3
"""What both services get from rpc/service_host, seen from outside the binaries.

Starts build/bin/medgemma-trainer and medgemma-server on the tiny model (127.0.0.1, ephemeral
ports) and checks: gRPC server reflection is off by default and, when configured, lists each one's
services and serves their descriptors; bytes that do not parse as a method's request are
INVALID_ARGUMENT naming the request type, on unary and streaming methods alike; a second process
cannot take a port already in use; stderr is JSON lines (ts, level, msg) with the
start-up settings, the auth set-up, access denials (method, peer, reason) and job state changes,
and never a token; request-level lines appear only with --log-level debug; SIGTERM exits 0.

    service_host_test.py --bin-dir build/bin
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REFLECTION_PROTO = """syntax = "proto3";
package grpc.reflection.v1alpha;
message ServerReflectionRequest {
  string host = 1;
  oneof message_request { string file_containing_symbol = 4; string list_services = 7; }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ServiceResponse { string name = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}
"""

ADMIN_TOKEN = "admin-token-0123456789"
WRONG_TOKEN = "wrong-token-9876543210"
RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    RESULTS["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name} {detail}", flush=True)


def generate_reflection_stubs(out_dir):
    from grpc_tools import protoc
    with open(os.path.join(out_dir, "reflection.proto"), "w") as f:
        f.write(REFLECTION_PROTO)
    if protoc.main(["protoc", f"-I{out_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
                    "reflection.proto"]) != 0:
        raise RuntimeError("protoc failed on reflection.proto")
    sys.path.insert(0, out_dir)


class Service:
    """A service binary with stdout and stderr in files; port() waits for the readiness line."""

    def __init__(self, argv, work, name, env=None):
        self.stdout_path = os.path.join(work, f"{name}.out")
        self.stderr_path = os.path.join(work, f"{name}.err")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)

    def port(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.stdout_path) as f:
                m = re.search(r"listening on port (\d+), metrics on port (\d+)", f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.stdout_path}: no readiness line; stderr:\n{self.stderr()}")

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def log(self):
        """stderr parsed as JSON lines; a line that is not JSON fails the check that calls this."""
        lines = []
        for line in self.stderr().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                lines.append({"unparsed": line})
        return lines

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def listed_services(port):
    import grpc
    import reflection_pb2 as pb
    import reflection_pb2_grpc as rpc
    from google.protobuf import descriptor_pb2
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = rpc.ServerReflectionStub(channel)
        requests = [pb.ServerReflectionRequest(list_services="*")]
        listed = next(iter(stub.ServerReflectionInfo(iter(requests), timeout=30)))
        names = sorted(s.name for s in listed.list_services_response.service)
        described = {}
        for name in names:
            answer = next(iter(stub.ServerReflectionInfo(
                iter([pb.ServerReflectionRequest(file_containing_symbol=name)]), timeout=30)))
            files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                     for b in answer.file_descriptor_response.file_descriptor_proto]
            described[name] = sorted(f"{f.package}.{s.name}" for f in files for s in f.service)
        return names, described


def raw_call(port, method, token):
    """A unary call with an empty request, for the status alone."""
    import grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            call(b"", metadata=[("authorization", f"Bearer {token}")], timeout=30)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def garbage_call(port, kind, method, token=None):
    """A call of `kind` ("unary", "server_stream", "bidi_stream") whose one request is bytes that
    parse as no protobuf message (a field tag with wire type 7); (status code, details)."""
    import grpc
    garbage = b"\xff\xff\xff\xff\x0f"
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        identity = {"request_serializer": None, "response_deserializer": None}
        try:
            if kind == "unary":
                channel.unary_unary(method, **identity)(garbage, metadata=metadata, timeout=30)
            elif kind == "server_stream":
                list(channel.unary_stream(method, **identity)(garbage, metadata=metadata, timeout=30))
            else:
                list(channel.stream_stream(method, **identity)(iter([garbage]), metadata=metadata, timeout=30))
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details() or ""


def garbage_checks(name, port, calls, token=None):
    import grpc
    for kind, method, request_type in calls:
        code, details = garbage_call(port, kind, method, token)
        check(f"{name}: garbage bytes to {method} ({kind}) are INVALID_ARGUMENT naming {request_type}",
              code == grpc.StatusCode.INVALID_ARGUMENT and f"not a valid {request_type} message" in details,
              f"{code} {details!r}")


def reflection_code(port):
    """The status of a list_services call on the reflection service: OK where it is served."""
    import grpc
    import reflection_pb2 as pb
    import reflection_pb2_grpc as rpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            next(iter(rpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([pb.ServerReflectionRequest(list_services="*")]), timeout=30)))
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def find(log, msg, **fields):
    return [line for line in log if line.get("msg") == msg and all(line.get(k) == v for k, v in fields.items())]


def log_format_checks(name, service):
    log = service.log()
    check(f"{name}: every stderr line is a JSON object with ts, level and msg",
          log and all({"ts", "level", "msg"} <= set(line) for line in log),
          str([line for line in log if not {"ts", "level", "msg"} <= set(line)][:2]))
    check(f"{name}: timestamps are RFC 3339 UTC with milliseconds",
          all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.get("ts", "")) for line in log))
    text = service.stderr()
    check(f"{name}: no token reaches the log", ADMIN_TOKEN not in text and WRONG_TOKEN not in text)
    return log


def trainer_checks(args, work, model):
    import grpc
    data = os.path.join(work, "data")
    subprocess.run([os.path.join(args.bin_dir, "medgemma-cli"), "make-demo-data", "--out", data, "--seed", "1",
                    "--images-per-patient", "1"], check=True, stdout=subprocess.DEVNULL)
    config = os.path.join(work, "trainer.yaml")
    with open(config, "w") as f:
        f.write(f"model: {{dir: {model}, device: cpu, dtype: float32, attention: eager}}\n"
                f"listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\nstate_dir: {work}/trainer\n"
                f"data_roots: [{data}]\nauth: {{tokens_env: MEDGEMMA_TEST_TRAINER_TOKENS}}\n"
                "promotion: {servers: []}\nreflection: true\n")
    env = dict(os.environ, MEDGEMMA_TEST_TRAINER_TOKENS=f"admin {ADMIN_TOKEN}")
    trainer = Service([os.path.join(args.bin_dir, "medgemma-trainer"), "--config", config], work, "trainer", env)
    try:
        port = trainer.port()
        names, described = listed_services(port)
        check("trainer: reflection lists medgemma.v1.Trainer, health and reflection",
              {"medgemma.v1.Trainer", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= set(names),
              str(names))
        check("trainer: reflection serves every listed service's descriptor, grpc.health.v1.Health's included",
              all(name in described.get(name, []) for name in names), str(described))
        garbage_checks("trainer", port, [("unary", "/medgemma.v1.Trainer/StartFineTune", "medgemma.v1.FineTuneRequest"),
                                         ("server_stream", "/medgemma.v1.Trainer/WatchJob",
                                          "medgemma.v1.GetStatusRequest")], ADMIN_TOKEN)

        second = Service([os.path.join(args.bin_dir, "medgemma-trainer"), "--config", config, "--listen",
                          f"127.0.0.1:{port}", "--state-dir", f"{work}/trainer2"], work, "trainer2", env)
        code = second.proc.wait(timeout=120)
        failure = find(second.log(), "start-up failed")
        check("a second trainer on the same port exits 1", code == 1, f"exit {code}")
        check("... logging that it cannot listen there",
              failure and f"cannot listen on 127.0.0.1:{port}" in failure[0].get("error", ""), str(failure))

        denied = raw_call(port, "/medgemma.v1.Trainer/ListJobs", WRONG_TOKEN)
        check("trainer: a wrong token is UNAUTHENTICATED", denied == grpc.StatusCode.UNAUTHENTICATED, str(denied))
        job = subprocess.run([os.path.join(args.bin_dir, "medgemma-cli"), "finetune", "start", "--trainer",
                              f"127.0.0.1:{port}", "--adapter-name", "logged", "--breakhis-root", data,
                              "--max-steps", "2", "--watch"],
                             capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, MEDGEMMA_TOKEN=ADMIN_TOKEN))
        check("trainer: a two-step job succeeds", job.returncode == 0, job.stderr.strip()[-300:])
        job_id = job.stdout.splitlines()[0] if job.stdout else ""
        log = log_format_checks("trainer", trainer)
        started = find(log, "starting medgemma-trainer")
        check("trainer: start-up settings are logged",
              started and started[0].get("model_dir") == model and started[0].get("attention") == "eager"
              and started[0].get("auth_tokens_env") == "MEDGEMMA_TEST_TRAINER_TOKENS", str(started))
        check("trainer: reflection: true is logged", started and started[0].get("reflection") is True, str(started))
        check("trainer: auth is logged on, with its token count",
              find(log, "auth", enabled=True, tokens=1), str(find(log, "auth")))
        check("trainer: the listening ports are logged", find(log, "listening", port=port))
        check("trainer: the access denial is logged with method, peer and reason",
              find(log, "access denied", method="/medgemma.v1.Trainer/ListJobs", code="UNAUTHENTICATED",
                   reason="unknown bearer token")
              and all(line.get("peer", "").startswith("ipv4:127.0.0.1:") for line in find(log, "access denied")),
              str(find(log, "access denied")))
        states = [line["state"] for line in find(log, "job state", job_id=job_id)]
        check("trainer: the job's state changes are logged", states == ["QUEUED", "RUNNING", "SUCCEEDED"], str(states))
        check("trainer: no request-level lines at the default level", not find(log, "call"))
        check("trainer: SIGTERM exits 0", trainer.stop() == 0)
        check("trainer: shutdown is logged", find(trainer.log(), "shutting down", signal="SIGTERM")
              and find(trainer.log(), "stopped"))
    finally:
        trainer.kill()


def server_checks(args, work, model):
    import grpc
    bad_image = os.path.join(work, "not-an-image.png")
    with open(bad_image, "wb") as f:
        f.write(b"not an image")
    server = Service([os.path.join(args.bin_dir, "medgemma-server"), "--model", model, "--device", "cpu",
                      "--listen", "127.0.0.1:0", "--metrics-listen", "", "--log-level", "debug"], work, "server")
    try:
        port = server.port()
        code = reflection_code(port)
        check("server: no reflection by default (UNIMPLEMENTED)", code == grpc.StatusCode.UNIMPLEMENTED, str(code))
        garbage_checks("server", port, [("unary", "/medgemma.v1.Classifier/Classify", "medgemma.v1.ClassifyRequest"),
                                        ("bidi_stream", "/medgemma.v1.Classifier/ClassifyStream",
                                         "medgemma.v1.ClassifyRequest"),
                                        ("unary", "/medgemma.v1.AdapterAdmin/LoadAdapter",
                                         "medgemma.v1.LoadAdapterRequest")])
        cli = os.path.join(args.bin_dir, "medgemma-cli")
        subprocess.run([cli, "classify", "--server", f"127.0.0.1:{port}", bad_image], capture_output=True, timeout=60)
        subprocess.run([cli, "adapters", "set-default", "--server", f"127.0.0.1:{port}"], capture_output=True,
                       timeout=60, check=True)
        log = log_format_checks("server", server)
        started = find(log, "starting medgemma-server")
        check("server: start-up settings are logged, batching included",
              started and started[0].get("max_batch_size") == 8 and started[0].get("metrics_listen") == ""
              and started[0].get("tls") == "off" and started[0].get("reflection") is False, str(started))
        check("server: auth is logged off", find(log, "auth", enabled=False, tokens=0))
        check("server: ... with a warning that says so loudly",
              [line for line in log if line.get("level") == "warning" and line.get("msg", "").startswith("AUTH IS OFF")])
        check("server: the model's device and dtype are logged", find(log, "model loaded", device="cpu", dtype="float32"))
        calls = find(log, "call", method="/medgemma.v1.Classifier/ClassifyStream", code="OK")
        check("server: the call log shows the unparsable request's INVALID_ARGUMENT",
              find(log, "call", method="/medgemma.v1.Classifier/Classify", code="INVALID_ARGUMENT"),
              str(find(log, "call", method="/medgemma.v1.Classifier/Classify")))
        check("server: with --log-level debug every call is logged, with its peer",
              calls and all(c.get("peer", "").startswith("ipv4:127.0.0.1:") for c in find(log, "call")),
              str(find(log, "call")))
        classified = find(log, "classify", request_id="0", code="INVALID_ARGUMENT", level="debug")
        check("server: ... and every classify request, with its id", classified, str(find(log, "classify")))
        check("server: a default change is logged",
              find(log, "default adapter changed", to="(base model)"), str(find(log, "default adapter changed")))
        check("server: SIGTERM exits 0", server.stop() == 0)
    finally:
        server.kill()


def run_checks(prefix, flags, body):
    """body(args, work): `flags` (each required) parsed into args, `work` a fresh temporary directory,
    removed afterwards. Then prints the tally of the checks and exits with their verdict."""
    ap = argparse.ArgumentParser()
    for flag in flags:
        ap.add_argument(flag, required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        body(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def main():
    def body(args, work):
        model = os.path.join(work, "model")
        subprocess.run([os.path.join(args.bin_dir, "medgemma-cli"), "make-tiny-model", "--out", model], check=True,
                       stdout=subprocess.DEVNULL)
        generate_reflection_stubs(work)
        trainer_checks(args, work, model)
        server_checks(args, work, model)

    run_checks("medgemma-hosttest-", ["--bin-dir"], body)


if __name__ == "__main__":
    main()
