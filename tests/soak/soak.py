#!/usr/bin/python3
"""A soak with faults: medgemma-server and medgemma-trainer on 127.0.0.1 over the tiny model (CPU),
many clients, and everything that goes wrong in a hospital network at once.

    soak.py --bin-dir build/bin --proto-dir proto --duration 600 --out build/soak

What the clients send (each logical request has its own request_id):
  ~10% invalid images (random bytes, truncated PNGs)    expected INVALID_ARGUMENT
  ~5%  deadlines too short for the model (1-5 ms)       expected DEADLINE_EXCEEDED (or an answer)
  ~10% ClassifyStream calls of 4 requests, cancelled by the client after the first answer
  the rest valid unary Classify calls on the demo data's PNGs, adapter "", A, B or "swap"
What happens meanwhile:
  every few seconds a hot swap: LoadAdapter("swap") alternating A's and B's weights, and
  SetDefaultAdapter cycling through "", A, B, swap;
  a fine-tune job on medgemma-trainer, the trainer SIGKILLed mid-job and restarted (the job must
  resume, never fail); a new job whenever one ends;
  medgemma-server restarted once (SIGTERM, graceful) while clients keep calling: UNAVAILABLE and
  RESOURCE_EXHAUSTED are retried with backoff, and so is CANCELLED while the server restarts
  (gRPC core cancels calls no handler has taken yet at shutdown: grpc/grpc#41785).
Checked: every request id answered exactly once (the answer carries its id) or failed with an
expected or retryable code; anything else is an unexpected error. RSS and open fds of the server
process after warm-up and at the end, p50/p99 of the answered unary calls. Writes summary.json and
summary.md to --out; exits 1 when a check fails.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate_stubs(proto_dir, out_dir):
    # Debian's protoc (3.21, proto3 `optional` included) with its gRPC Python plugin: grpc_tools'
    # bundled protoc is older and refuses trainer.proto.
    os.makedirs(out_dir, exist_ok=True)
    for proto in ("medgemma/v1/classifier.proto", "medgemma/v1/trainer.proto"):
        subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
                        f"--plugin=protoc-gen-grpc_python={shutil.which('grpc_python_plugin')}", proto], check=True)
    sys.path.insert(0, out_dir)


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def proc_stats(pid):
    """(RSS in KiB, open fds) of a live process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return None


class Service:
    """One medgemma binary in the background, its log in the work dir; restartable on the same ports."""

    def __init__(self, name, argv, log_path):
        self.name, self.argv, self.log_path, self.proc, self.starts = name, argv, log_path, None, 0

    def start(self, timeout=120):
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"=== start {self.starts} ===\n")
        log.flush()
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            with open(self.log_path) as f:
                if f.read().count("listening on port") >= self.starts:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start within {timeout} s; see {self.log_path}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None


class Ledger:
    """Every logical request and what became of it, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = {}       # request id -> answers received (must end at 0 or 1)
        self.outcome = {}       # request id -> final outcome
        self.attempts = 0
        self.retries = 0
        self.cancelled_by_shutdown = 0  # unary calls gRPC core cancelled during the restart, retried
        self.expected = {}      # code name -> count
        self.unexpected = []    # descriptions
        self.latencies = []     # seconds, answered valid unary calls

    def new_id(self, prefix):
        with self.lock:
            request_id = f"{prefix}-{len(self.outcome)}"
            self.outcome[request_id] = None
            self.answers[request_id] = 0
            return request_id

    def attempt(self):
        with self.lock:
            self.attempts += 1

    def answered(self, request_id, response_id, latency=None):
        with self.lock:
            if response_id != request_id:
                self.unexpected.append(f"{request_id}: answered with request_id {response_id!r}")
                return
            self.answers[request_id] += 1
            if self.answers[request_id] > 1:
                self.unexpected.append(f"{request_id}: answered {self.answers[request_id]} times")
            self.outcome[request_id] = "OK"
            if latency is not None:
                self.latencies.append(latency)

    def failed(self, request_id, code, expected, detail=""):
        with self.lock:
            self.outcome[request_id] = code.name
            if expected:
                self.expected[code.name] = self.expected.get(code.name, 0) + 1
            else:
                self.unexpected.append(f"{request_id}: {code.name} {detail}"[:300])


class Soak:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.rng = random.Random(args.seed)
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.events = []
        self.samples = []  # (t, phase, server rss KiB, server fds, trainer rss KiB)
        self.t0 = None
        self.swaps = 0
        self.jobs = {}  # job id -> last state name
        # From SIGTERM until a little after the new server listens: gRPC core answers calls it has
        # not yet handed to a handler with CANCELLED "CANCELLED" when the server shuts down
        # (grpc/grpc#41785) instead of UNAVAILABLE; inside this window they are retried like it.
        self.restart_window = (float("inf"), float("inf"))
        self.job_problems = []

    def log(self, what):
        t = time.time() - self.t0 if self.t0 else 0.0
        self.events.append(f"{t:7.1f}s {what}")
        print(f"[soak {t:7.1f}s] {what}", flush=True)

    # ---- setup -------------------------------------------------------------------------------
    def prepare(self):
        a, bin_dir = self.args, self.args.bin_dir
        cli = os.path.join(bin_dir, "medgemma-cli")
        run([cli, "make-tiny-model", "--out", f"{self.work}/model", "--seed", "1"])
        run([cli, "make-demo-data", "--out", f"{self.work}/data", "--seed", "1", "--images-per-patient", "1"])
        adapters = f"{self.work}/adapters"
        os.makedirs(adapters)
        for name, seed in (("A", 1), ("B", 2)):
            run([cli, "train", "--model", f"{self.work}/model", "--out", f"{self.work}/train-{name}", "--device", "cpu",
                 "--breakhis-root", f"{self.work}/data", "--max-steps", "1", "--epochs", "1", "--seed", str(seed)])
            shutil.copytree(f"{self.work}/train-{name}/adapter", f"{adapters}/{name}")
        shutil.copytree(f"{adapters}/A", f"{adapters}/swap")
        self.images = []
        for line in open(f"{self.work}/data/Folds.csv").read().splitlines()[1:]:
            fold, mag, grp, filename = line.split(",")
            if fold == "1" and mag == "100":
                self.images.append(open(f"{self.work}/data/{filename}", "rb").read())
        self.port, self.trainer_port = free_port(), free_port()
        self.server = Service("medgemma-server", [
            os.path.join(bin_dir, "medgemma-server"), "--config", os.path.join(a.repo, "config/server.yaml"),
            "--model", f"{self.work}/model", "--device", "cpu", "--adapters-dir", adapters,
            "--adapter-root", adapters, "--adapter-root", f"{self.work}/trainer/jobs",
            "--listen", f"127.0.0.1:{self.port}", "--metrics-listen", f"127.0.0.1:{free_port()}"],
            f"{self.work}/server.log")
        self.trainer = Service("medgemma-trainer", [
            os.path.join(bin_dir, "medgemma-trainer"), "--config", os.path.join(a.repo, "config/trainer.yaml"),
            "--model", f"{self.work}/model", "--device", "cpu", "--state-dir", f"{self.work}/trainer",
            "--data-root", f"{self.work}/data", "--server", f"127.0.0.1:{self.port}",
            "--listen", f"127.0.0.1:{self.trainer_port}", "--metrics-listen", f"127.0.0.1:{free_port()}"],
            f"{self.work}/trainer.log")

    # ---- clients -----------------------------------------------------------------------------
    def in_restart_window(self, call_start):
        begin, end = self.restart_window
        return begin <= time.time() and call_start <= end

    def invalid_image(self, rng):
        png = self.images[rng.randrange(len(self.images))]
        kind = rng.randrange(3)
        if kind == 0:
            return rng.randbytes(rng.randrange(1, 2000))
        if kind == 1:
            return png[: rng.randrange(8, 200)]  # header intact, data cut
        return png[:8] + rng.randbytes(64)        # PNG signature, then garbage

    def unary(self, stub, pb, rng, request_id, image, adapter, timeout, expect):
        """One logical unary request with retries on UNAVAILABLE / RESOURCE_EXHAUSTED."""
        request = pb.ClassifyRequest(request_id=request_id, adapter=adapter, image=pb.Image(encoded=image))
        backoff, give_up = 0.05, time.time() + 120
        while True:
            self.ledger.attempt()
            start = time.time()
            try:
                response = stub.Classify(request, timeout=timeout)
                self.ledger.answered(request_id, response.request_id,
                                     time.time() - start if expect == "OK" else None)
                return
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.CANCELLED and self.in_restart_window(start):
                    with self.ledger.lock:
                        self.ledger.cancelled_by_shutdown += 1
                    code = grpc.StatusCode.UNAVAILABLE
                if code in RETRYABLE and time.time() < give_up and not self.stop.is_set():
                    with self.ledger.lock:
                        self.ledger.retries += 1
                    time.sleep(backoff * (1 + rng.random()))
                    backoff = min(backoff * 2, 2.0)
                    continue
                ok = (code == expect or code in RETRYABLE or
                      (expect == grpc.StatusCode.INVALID_ARGUMENT and code == grpc.StatusCode.INVALID_ARGUMENT))
                self.ledger.failed(request_id, code, ok, e.details() or "")
                return

    def stream(self, stub, pb, rng, client):
        """4 requests on one ClassifyStream, cancelled by the client after the first answer."""
        ids = [self.ledger.new_id(f"c{client}s") for _ in range(4)]
        requests = [pb.ClassifyRequest(request_id=i, image=pb.Image(encoded=self.images[rng.randrange(len(self.images))]))
                    for i in ids]
        self.ledger.attempt()
        call = stub.ClassifyStream(iter(requests), timeout=60)
        got = []
        try:
            for response in call:
                if response.request_id not in ids:
                    self.ledger.unexpected.append(f"stream answered unknown id {response.request_id!r}")
                elif response.HasField("error") and response.error.code != 0:
                    # A stream answers a failed request in the response: still its one answer.
                    code = next(c for c in grpc.StatusCode if c.value[0] == response.error.code)
                    self.ledger.failed(response.request_id, code, code in RETRYABLE, response.error.message)
                else:
                    self.ledger.answered(response.request_id, response.request_id)
                got.append(response.request_id)
                call.cancel()
        except grpc.RpcError as e:
            code = e.code()
            expected = code == grpc.StatusCode.CANCELLED or code in RETRYABLE
            for i in ids:
                if i not in got:
                    self.ledger.failed(i, code, expected, e.details() or "")
            return
        for i in ids:  # the stream ended without the cancel taking effect: every id must be answered
            if i not in got:
                self.ledger.failed(i, grpc.StatusCode.OK, False, "stream ended without answering it")

    def client(self, index, pb, pb_grpc):
        rng = random.Random(self.args.seed * 1000 + index)
        # A connection of its own per client (gRPC Python otherwise shares one between channels).
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=[("grpc.use_local_subchannel_pool", 1)])
        stub = pb_grpc.ClassifierStub(channel)
        while not self.stop.is_set():
            r = rng.random()
            image = self.images[rng.randrange(len(self.images))]
            adapter = rng.choice(["", "A", "B", "swap"])
            if r < 0.10:
                rid = self.ledger.new_id(f"c{index}i")
                self.unary(stub, pb, rng, rid, self.invalid_image(rng), adapter, 30, grpc.StatusCode.INVALID_ARGUMENT)
            elif r < 0.15:
                rid = self.ledger.new_id(f"c{index}d")
                self.unary(stub, pb, rng, rid, image, adapter, rng.uniform(0.001, 0.005), grpc.StatusCode.DEADLINE_EXCEEDED)
            elif r < 0.25:
                self.stream(stub, pb, rng, index)
            else:
                rid = self.ledger.new_id(f"c{index}v")
                self.unary(stub, pb, rng, rid, image, adapter, 30, "OK")
        channel.close()

    # ---- faults ------------------------------------------------------------------------------
    def swapper(self, pb, pb_grpc):
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        admin = pb_grpc.AdapterAdminStub(channel)
        defaults = ["", "A", "B", "swap"]
        while not self.stop.wait(self.args.swap_every):
            self.swaps += 1
            source = "A" if self.swaps % 2 == 0 else "B"
            try:
                admin.LoadAdapter(pb.LoadAdapterRequest(name="swap", path=f"{self.work}/adapters/{source}"), timeout=60)
                admin.SetDefaultAdapter(pb.SetDefaultAdapterRequest(name=defaults[self.swaps % 4]), timeout=30)
            except grpc.RpcError as e:
                if e.code() not in RETRYABLE:  # the server restarting is expected; anything else is not
                    self.ledger.unexpected.append(f"hot swap {self.swaps}: {e.code().name} {e.details()}")
        channel.close()

    def start_job(self, tpb, trainer_stub):
        request = tpb.FineTuneRequest(
            adapter_name="soak-job",
            dataset=tpb.Dataset(breakhis=tpb.BreakHisDataset(root=f"{self.work}/data")),
            hyperparameters=tpb.Hyperparameters(max_steps=self.args.job_steps, checkpoint_every_steps=5,
                                                gradient_accumulation_steps=1, epochs=100, seed=len(self.jobs)),
            promote=tpb.Promotion(enabled=True, min_accuracy=0))
        job = trainer_stub.StartFineTune(request, timeout=60)
        self.jobs[job.job_id] = tpb.JobState.Name(job.state)
        self.log(f"trainer job {job.job_id} started")
        return job.job_id

    def job_state(self, tpb, trainer_stub, job_id):
        status = trainer_stub.GetStatus(tpb.GetStatusRequest(job_id=job_id), timeout=30)
        self.jobs[job_id] = tpb.JobState.Name(status.state)
        if status.state in (tpb.FAILED, tpb.CANCELLED):
            self.job_problems.append(f"job {job_id} ended {self.jobs[job_id]}: {status.error}")
        return status

    # ---- the run -----------------------------------------------------------------------------
    def sample(self, phase):
        s, t = proc_stats(self.server.proc.pid), proc_stats(self.trainer.proc.pid)
        if s:
            self.samples.append((round(time.time() - self.t0, 1), phase, s[0], s[1], t[0] if t else None))

    def main(self):
        a = self.args
        generate_stubs(a.proto_dir, f"{self.work}/stubs")
        import medgemma.v1.classifier_pb2 as pb
        import medgemma.v1.classifier_pb2_grpc as pb_grpc
        import medgemma.v1.trainer_pb2 as tpb
        import medgemma.v1.trainer_pb2_grpc as tpb_grpc
        self.prepare()
        self.server.start()
        self.trainer.start()
        trainer_channel = grpc.insecure_channel(f"127.0.0.1:{self.trainer_port}")
        trainer_stub = tpb_grpc.TrainerStub(trainer_channel)
        self.t0 = time.time()
        threads = [threading.Thread(target=self.client, args=(i, pb, pb_grpc)) for i in range(a.clients)]
        threads.append(threading.Thread(target=self.swapper, args=(pb, pb_grpc)))
        for t in threads:
            t.start()
        job = self.start_job(tpb, trainer_stub)
        d = a.duration
        # The warm-up runs from when the restarted server is back (its start-up time varies with the
        # machine's load), so that RSS is measured from a server that has served for a while.
        kill_at, restart_at, warm_up = 0.2 * d, 0.3 * d, max(0.1 * d, 10)
        warm_at = float("inf")
        killed = restarted = False
        phase = "before restart"
        rss_warm = None
        while time.time() - self.t0 < d:
            now = time.time() - self.t0
            # Killed mid-job: once the job has checkpoints to resume from.
            status = self.job_state(tpb, trainer_stub, job) if not killed and now >= kill_at else None
            if status is not None and status.state == tpb.RUNNING and status.step >= 6:
                self.log(f"SIGKILL trainer mid-job {job} at step {status.step}/{status.total_steps}")
                self.trainer.stop(signal.SIGKILL)
                self.trainer.start()
                killed = True
            if not restarted and now >= restart_at:
                self.log("restarting medgemma-server (SIGTERM)")
                self.restart_window = (time.time(), float("inf"))
                rc = self.server.stop(signal.SIGTERM)
                if rc != 0:
                    self.ledger.unexpected.append(f"server exited {rc} on SIGTERM")
                self.server.start()
                self.restart_window = (self.restart_window[0], time.time() + 2)
                self.log("medgemma-server back")
                restarted, phase = True, "after restart"
                warm_at = time.time() - self.t0 + warm_up
            if restarted and rss_warm is None and now >= warm_at:
                rss_warm = len(self.samples)
                phase = "measured"
                self.log("warm-up over: RSS and fds measured from here")
            try:
                status = self.job_state(tpb, trainer_stub, job)
                if status.state == tpb.SUCCEEDED:
                    self.log(f"trainer job {job} succeeded (resumed_from_step {status.resumed_from_step},"
                             f" promoted {status.promoted})")
                    job = self.start_job(tpb, trainer_stub)
            except grpc.RpcError as e:
                if e.code() not in RETRYABLE:
                    self.job_problems.append(f"trainer status: {e.code().name} {e.details()}")
            self.sample(phase)
            time.sleep(a.sample_every)
        self.sample(phase)  # the last figures under load: the clients' connections still open
        self.stop.set()
        for t in threads:
            t.join(180)
        statuses = {}
        for job_id in list(self.jobs):
            status = self.job_state(tpb, trainer_stub, job_id)
            statuses[job_id] = {"state": self.jobs[job_id], "step": status.step, "total_steps": status.total_steps,
                                "resumed_from_step": status.resumed_from_step, "promoted": status.promoted}
        trainer_channel.close()
        server_rc, trainer_rc = self.server.stop(), self.trainer.stop()
        return self.summary(rss_warm, statuses, server_rc, trainer_rc)

    def summary(self, warm_index, jobs, server_rc, trainer_rc):
        a, led = self.args, self.ledger
        lat = sorted(led.latencies)
        pct = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None
        measured = [s for s in self.samples[warm_index or 0:] if s[1] == "measured"]
        first, last = (measured[0], measured[-1]) if measured else (None, None)
        unanswered = [i for i, o in led.outcome.items() if o is None]
        answered = sum(1 for o in led.outcome.values() if o == "OK")
        never_twice = all(n <= 1 for n in led.answers.values())
        resumed = any(j["resumed_from_step"] >= 0 for j in jobs.values())
        s = {
            "duration_s": a.duration, "clients": a.clients, "swaps": self.swaps,
            "request_ids": len(led.outcome), "calls_sent": led.attempts, "retries": led.retries,
            "cancelled_by_server_shutdown_then_retried": led.cancelled_by_shutdown, "answered": answered,
            "expected_errors": led.expected, "unexpected_errors": len(led.unexpected),
            "unexpected_examples": led.unexpected[:20], "requests_without_outcome": len(unanswered),
            "answered_at_most_once": never_twice,
            "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "n": len(lat)},
            "server_rss_kib": {"warm": first[2] if first else None, "end": last[2] if last else None,
                               "max": max(s[2] for s in measured) if measured else None},
            "server_fds": {"warm": first[3] if first else None, "end": last[3] if last else None,
                           "max": max(s[3] for s in measured) if measured else None},
            "server_rss_kib_before_restart": [s[2] for s in self.samples if s[1] == "before restart"][:1] +
                                             [s[2] for s in self.samples if s[1] == "before restart"][-1:],
            "trainer_jobs": jobs, "job_problems": self.job_problems, "trainer_resumed_a_job": resumed,
            "server_exit_codes": server_rc, "trainer_exit_code": trainer_rc, "events": self.events,
        }
        growth = (last[2] - first[2]) / first[2] if first else 0.0
        s["server_rss_growth"] = round(growth, 4)
        s["checks"] = {
            "no unexpected errors": len(led.unexpected) == 0,
            "every request answered once or failed with an expected code": not unanswered and never_twice,
            f"server RSS growth after warm-up < {a.max_rss_growth:.0%}": first is not None and growth < a.max_rss_growth,
            f"server fds end - warm <= {a.max_fd_growth}": first is not None and last[3] - first[3] <= a.max_fd_growth,
            "trainer job resumed after SIGKILL, none failed": resumed and not self.job_problems,
            "server and trainer exit 0 on SIGTERM": server_rc == 0 and trainer_rc == 0,
        }
        s["passed"] = all(s["checks"].values())
        return s


def markdown(s, argv):
    lines = [f"Command: `{' '.join(argv)}`", "",
             "| figure | value |", "|---|---|"]
    for key in ("duration_s", "clients", "swaps", "request_ids", "calls_sent", "retries",
                "cancelled_by_server_shutdown_then_retried", "answered", "expected_errors",
                "unexpected_errors", "requests_without_outcome", "answered_at_most_once", "latency_ms",
                "server_rss_kib", "server_rss_growth", "server_fds", "server_rss_kib_before_restart",
                "trainer_jobs", "trainer_resumed_a_job"):
        lines.append(f"| {key} | `{json.dumps(s[key])}` |")
    lines += ["", "| check | result |", "|---|---|"]
    lines += [f"| {k} | {'pass' if v else 'FAIL'} |" for k, v in s["checks"].items()]
    lines += ["", "Events:", "", "```", *s["events"], "```"]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin-dir", required=True)
    p.add_argument("--proto-dir", required=True)
    p.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--swap-every", type=float, default=3.0)
    p.add_argument("--sample-every", type=float, default=2.0)
    p.add_argument("--job-steps", type=int, default=200)
    p.add_argument("--max-rss-growth", type=float, default=0.05)
    p.add_argument("--max-fd-growth", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="directory for summary.json and summary.md (default: the work dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, model, data)")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="medgemma-soak-")
    soak = Soak(a, work)
    try:
        s = soak.main()
    finally:
        for service in (getattr(soak, "server", None), getattr(soak, "trainer", None)):
            if service and service.proc and service.proc.poll() is None:
                service.proc.kill()
    out = a.out or work
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(s, f, indent=2)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(markdown(s, sys.argv))
    print(markdown(s, sys.argv))
    if s["passed"] and not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work directory kept: {work}")
    return 0 if s["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
