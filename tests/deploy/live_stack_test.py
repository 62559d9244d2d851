#!/usr/bin/python3
"""The container deployment's configuration, run for real on 127.0.0.1.

Starts medgemma-server and medgemma-trainer from config/container/*.yaml (the image's
/etc/medgemma) with only the flags a host needs instead of the container's paths and addresses, on
the tiny model, with tokens that deploy/image/medgemma-init.sh wrote. Checks: model.id comes from the
checkpoint directory's name; the classify port serves Classifier and health but not AdapterAdmin,
which is on the admin port; the health-only port answers grpc.health.v1; reflection lists and
describes every service of both API ports, grpc.health.v1.Health included; a fine-tune job promotes
into the server through the admin port (swap and promotion counters); LoadAdapter accepts the
adapters dir although --adapter-root names another root, and refuses paths outside both; 100
distinct unknown adapter names add at most one metrics series; medgemma_build_info; the Python
client package (clients/python) builds from proto/ and its example classifies; every metric the
Grafana dashboard and the alert rules name is in a scrape of the two services; a server restarted
with an adapter in its adapters dir loads it at start; SIGTERM exits 0.

    live_stack_test.py --bin-dir build/bin --repo .
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from python_client_test import free_port, png_bytes  # noqa: E402
from service_host_test import Service, check, find, generate_reflection_stubs, listed_services, run_checks  # noqa: E402


class Stack:
    """Paths, ports and tokens of one run."""

    def __init__(self, args, work):
        self.bin = args.bin_dir
        self.repo = args.repo
        self.work = work
        self.model = os.path.join(work, "models", "medgemma-tiny-x")
        self.data = os.path.join(work, "data")
        self.adapters = os.path.join(work, "adapters")
        self.state = os.path.join(work, "trainer")
        self.secrets = os.path.join(work, "secrets")
        self.server_ports = {k: free_port() for k in ("admin", "health", "metrics")}
        self.trainer_ports = {k: free_port() for k in ("health", "metrics")}

    def token(self, name):
        with open(os.path.join(self.secrets, name)) as f:
            return f.read().strip()

    def cli(self, *argv, token=None, timeout=300):
        env = dict(os.environ, MEDGEMMA_TOKEN=token) if token else dict(os.environ)
        return subprocess.run([os.path.join(self.bin, "medgemma-cli"), *argv], capture_output=True, text=True,
                              timeout=timeout, env=env)

    def start_server(self, name):
        # The container's config as it ships; flags replace only its container paths and addresses.
        return Service([os.path.join(self.bin, "medgemma-server"), "--config",
                        os.path.join(self.repo, "config/container/server.yaml"),
                        "--model", self.model + "/", "--device", "cpu", "--adapters-dir", self.adapters,
                        "--adapter-root", os.path.join(self.state, "jobs"),
                        "--auth-tokens-file", os.path.join(self.secrets, "server-tokens"),
                        "--listen", "127.0.0.1:0", "--admin-listen", f"127.0.0.1:{self.server_ports['admin']}",
                        "--health-listen", f"127.0.0.1:{self.server_ports['health']}",
                        "--metrics-listen", f"127.0.0.1:{self.server_ports['metrics']}", "--reflection"],
                       self.work, name)

    def start_trainer(self):
        return Service([os.path.join(self.bin, "medgemma-trainer"), "--config",
                        os.path.join(self.repo, "config/container/trainer.yaml"),
                        "--model", self.model, "--device", "cpu", "--state-dir", self.state,
                        "--data-root", self.data, "--server", f"127.0.0.1:{self.server_ports['admin']}",
                        "--promotion-token-file", os.path.join(self.secrets, "admin-token"),
                        "--auth-tokens-file", os.path.join(self.secrets, "trainer-tokens"),
                        "--listen", "127.0.0.1:0", "--health-listen", f"127.0.0.1:{self.trainer_ports['health']}",
                        "--metrics-listen", f"127.0.0.1:{self.trainer_ports['metrics']}"],
                       self.work, "trainer")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def series(text, metric):
    return [line for line in text.splitlines() if line.startswith(metric + "{") or line.startswith(metric + " ")]


def sample_names(text):
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0) for line in text.splitlines()
            if line and not line.startswith("#")}


def health_status(port):
    import grpc
    import health_pb2
    import health_pb2_grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def call_code(port, method, token, request=b""):
    import grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            call(request, metadata=[("authorization", f"Bearer {token}")], timeout=30)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def generate_stubs(repo, out):
    """medgemma.v1, and the repository's copy of grpc.health.v1 as top-level health_pb2 (a grpc.health
    package would collide with grpcio's), with Debian's protoc."""
    plugin = shutil.which("grpc_python_plugin")
    for include, proto in [("proto", "medgemma/v1/classifier.proto"), ("proto/grpc/health/v1", "health.proto")]:
        subprocess.run(["protoc", f"-I{os.path.join(repo, include)}", f"--plugin=protoc-gen-grpc_python={plugin}",
                        f"--python_out={out}", f"--grpc_python_out={out}", proto], check=True)
    sys.path.insert(0, out)


def api_checks(stack, server, port):
    import grpc
    from medgemma.v1 import classifier_pb2 as pb, classifier_pb2_grpc as rpc
    classify_token, admin_token = stack.token("classify-token"), stack.token("admin-token")
    admin_port = stack.server_ports["admin"]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        info = rpc.ClassifierStub(channel).GetModelInfo(pb.GetModelInfoRequest(), timeout=30,
                                                        metadata=[("authorization", f"Bearer {classify_token}")])
    check("model.id defaults to the checkpoint directory's name (given with a trailing /)",
          info.model_id == "medgemma-tiny-x", info.model_id)
    check("the classify port answers Classify with the classify token",
          call_code(port, "/medgemma.v1.Classifier/GetModelInfo", classify_token) == grpc.StatusCode.OK)
    check("the classify port refuses a call without a known token",
          call_code(port, "/medgemma.v1.Classifier/GetModelInfo", "not-a-token-123") == grpc.StatusCode.UNAUTHENTICATED)
    code = call_code(port, "/medgemma.v1.AdapterAdmin/ListAdapters", admin_token)
    check("the classify port does not serve AdapterAdmin", code == grpc.StatusCode.UNIMPLEMENTED, str(code))
    code = call_code(admin_port, "/medgemma.v1.AdapterAdmin/ListAdapters", admin_token)
    check("the admin port serves AdapterAdmin", code == grpc.StatusCode.OK, str(code))
    check("the health-only port answers SERVING", health_status(stack.server_ports["health"]) == "SERVING")
    for name, p in [("classify", port), ("admin", admin_port)]:
        names, described = listed_services(p)
        check(f"reflection on the {name} port lists grpc.health.v1.Health", "grpc.health.v1.Health" in names, str(names))
        check(f"reflection on the {name} port describes every service it lists",
              names and all(n in described.get(n, []) for n in names), str(described))


def adapters_on(stack, token):
    out = stack.cli("adapters", "list", "--server", f"127.0.0.1:{stack.server_ports['admin']}", token=token)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr}


def promotion_checks(stack, trainer_port):
    before = scrape(stack.server_ports["metrics"])
    job = stack.cli("finetune", "start", "--trainer", f"127.0.0.1:{trainer_port}", "--adapter-name", "promoted1",
                    "--breakhis-root", stack.data, "--max-steps", "2", "--promote", "--min-accuracy", "0", "--watch",
                    token=stack.token("trainer-token"), timeout=600)
    check("a fine-tune job through the trainer succeeds", job.returncode == 0, job.stderr.strip()[-400:])
    listed = adapters_on(stack, stack.token("admin-token"))
    check("... and the trainer promoted it into the server over the admin port",
          listed.get("default_adapter") == "promoted1", str(listed))
    after = scrape(stack.server_ports["metrics"])
    swaps = [float(line.split()[-1]) for line in series(after, "medgemma_adapter_swaps_total")]
    swaps_before = [float(line.split()[-1]) for line in series(before, "medgemma_adapter_swaps_total")]
    check("medgemma_adapter_swaps_total is a counter that counted the swap",
          "# TYPE medgemma_adapter_swaps_total counter" in after and swaps and swaps[0] > swaps_before[0],
          f"{swaps_before} -> {swaps}")
    promoted = series(scrape(stack.trainer_ports["metrics"]), "medgemma_trainer_promotions_total")
    check("medgemma_trainer_promotions_total counts the promotion, every outcome from zero",
          'medgemma_trainer_promotions_total{outcome="promoted"} 1' in promoted and len(promoted) == 3, str(promoted))
    return job.stdout.splitlines()[0] if job.stdout else ""


def load_adapter_checks(stack, job_id):
    admin_port = stack.server_ports["admin"]
    job_adapter = os.path.join(stack.state, "jobs", job_id, "adapter")
    shutil.copytree(job_adapter, os.path.join(stack.adapters, "site1"))
    shutil.copytree(job_adapter, os.path.join(stack.work, "elsewhere"))
    admin = stack.token("admin-token")
    loaded = stack.cli("adapters", "load", "site1", os.path.join(stack.adapters, "site1"), "--server",
                       f"127.0.0.1:{admin_port}", token=admin)
    check("LoadAdapter from the adapters dir succeeds though --adapter-root names another root",
          loaded.returncode == 0, loaded.stderr.strip())
    outside = stack.cli("adapters", "load", "x", os.path.join(stack.work, "elsewhere"), "--server",
                        f"127.0.0.1:{admin_port}", token=admin)
    check("LoadAdapter outside every root is PERMISSION_DENIED", "PERMISSION_DENIED" in outside.stderr,
          outside.stderr.strip())


def unknown_adapter_checks(stack, port):
    import grpc
    from medgemma.v1 import classifier_pb2 as pb, classifier_pb2_grpc as rpc
    metric = "medgemma_requests_total"
    before = set(series(scrape(stack.server_ports["metrics"]), metric))
    names = [f"bogus-{i:03d}" for i in range(100)]
    image = pb.Image(encoded=png_bytes(40, 30, 7))
    codes = set()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = rpc.ClassifierStub(channel)
        for name in names:
            try:
                stub.Classify(pb.ClassifyRequest(adapter=name, image=image), timeout=30,
                              metadata=[("authorization", f"Bearer {stack.token('classify-token')}")])
                codes.add("OK")
            except grpc.RpcError as e:
                codes.add(e.code().name)
    after_text = scrape(stack.server_ports["metrics"])
    after = series(after_text, metric)
    added = {re.sub(r"\} .*", "}", line) for line in after} - {re.sub(r"\} .*", "}", line) for line in before}
    check("100 requests naming unknown adapters are NOT_FOUND", codes == {"NOT_FOUND"}, str(codes))
    check("... and add at most one medgemma_requests_total series", len(added) <= 1, str(sorted(added)))
    check("... labelled adapter=\"unknown\", no client-supplied name in the metrics",
          any('adapter="unknown"' in line and 'code="NOT_FOUND"' in line for line in after)
          and "bogus-" not in after_text, str(added))
    info = series(after_text, "medgemma_build_info")
    check("medgemma_build_info names version, commit, torch and cuda",
          len(info) == 1 and all(f'{k}="' in info[0] for k in ("version", "commit", "torch", "cuda")), str(info))


def python_package_checks(stack, port):
    venv = os.path.join(stack.work, "client-venv")
    source = os.path.join(stack.work, "client-src")
    shutil.copytree(os.path.join(stack.repo, "clients/python"), source)
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
    built = subprocess.run([os.path.join(venv, "bin/pip"), "install", "-q", "--no-build-isolation", "--no-deps", source],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, MEDGEMMA_PROTO_DIR=os.path.join(stack.repo, "proto")))
    check("clients/python builds and installs, stubs generated from proto/", built.returncode == 0,
          built.stderr.strip()[-500:])
    images = []
    for i in range(3):
        images.append(os.path.join(stack.work, f"client-{i}.png"))
        with open(images[-1], "wb") as f:
            f.write(png_bytes(60 + i, 44, 20 + i))
    token_file = os.path.join(stack.secrets, "classify-token")
    # Outside the checkout and with a clean path: only the installed package can be imported.
    example = subprocess.run([os.path.join(venv, "bin/python"), os.path.join(stack.repo, "clients/python/examples/classify.py"),
                              "--server", f"127.0.0.1:{port}", "--token-file", token_file, *images],
                             capture_output=True, text=True, timeout=120, cwd=stack.work,
                             env={"PATH": "/usr/bin:/bin"})
    lines = example.stdout.strip().splitlines()
    check("its example classifies every image through the server",
          example.returncode == 0 and len(lines) == 3 and all(len(line.split("\t")) == 5 for line in lines),
          (example.stdout + example.stderr).strip()[-500:])


def dashboard_and_rules_checks(stack):
    scraped = sample_names(scrape(stack.server_ports["metrics"])) | sample_names(scrape(stack.trainer_ports["metrics"]))
    monitoring = os.path.join(stack.repo, "deploy/base/monitoring")
    with open(os.path.join(monitoring, "medgemma-dashboard.json")) as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    with open(os.path.join(monitoring, "medgemma-rules.yml")) as f:
        rules = f.read()
    for source, text in [("dashboard", "\n".join(exprs)), ("alert and recording rules", rules)]:
        named = set(re.findall(r"\bmedgemma_[a-z0-9_]+", text))
        missing = sorted(n for n in named if n not in scraped)
        check(f"every metric the {source} name is in the live scrape of server and trainer",
              named and not missing, f"{len(named)} named, missing: {missing}")


def main():
    def body(args, work):
        stack = Stack(args, work)
        subprocess.run(["sh", os.path.join(args.repo, "deploy/image/medgemma-init.sh"), stack.secrets], check=True,
                       stdout=subprocess.DEVNULL)
        os.makedirs(stack.adapters)
        stack.cli("make-tiny-model", "--out", stack.model)
        stack.cli("make-demo-data", "--out", stack.data, "--seed", "1", "--images-per-patient", "1")
        generate_reflection_stubs(work)
        generate_stubs(args.repo, work)
        services = []
        try:
            stack_checks(stack, services)
        finally:
            for service in services:
                service.kill()

    run_checks("medgemma-livestack-", ["--bin-dir", "--repo"], body)


def stack_checks(stack, services):
    server = stack.start_server("server")
    services.append(server)
    port = server.port()
    trainer = stack.start_trainer()
    services.append(trainer)
    trainer_port = trainer.port()
    check("the trainer's health-only port answers SERVING", health_status(stack.trainer_ports["health"]) == "SERVING")
    check("the server logs auth on, with no warning", find(server.log(), "auth", enabled=True, tokens=2)
          and not [line for line in server.log() if line.get("msg", "").startswith("AUTH IS OFF")])
    api_checks(stack, server, port)
    job_id = promotion_checks(stack, trainer_port)
    load_adapter_checks(stack, job_id)
    unknown_adapter_checks(stack, port)
    python_package_checks(stack, port)
    dashboard_and_rules_checks(stack)
    check("trainer: SIGTERM exits 0", trainer.stop() == 0)
    check("server: SIGTERM exits 0", server.stop() == 0)

    restarted = stack.start_server("server2")
    services.append(restarted)
    restarted.port()
    listed = adapters_on(stack, stack.token("admin-token"))
    check("a server started with an adapter in its adapters dir loads it",
          [a["name"] for a in listed.get("adapters", [])] == ["site1"], str(listed))
    check("restarted server: SIGTERM exits 0", restarted.stop() == 0)


if __name__ == "__main__":
    main()
