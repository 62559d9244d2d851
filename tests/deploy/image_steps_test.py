#!/usr/bin/python3
"""The Dockerfile's steps, run on this machine (there is no Docker engine here):

- every RUN step is a script of the repository (or scripts/build.sh, the suite's own build) that
  this test runs, every COPY source exists, the context leaves host build trees out;
- install-build-deps.sh cuda installs the packages and venv (present: a no-op) and a CUDA compiler
  from PyPI with which CMake configures this project with its CUDA sources required;
- stage-runtime.sh collects the three binaries with every library they load and nothing of the
  base image's, so each runs from the staged tree alone; it refuses a variant the binaries are not;
- medgemma-init writes the tokens once, in the format the services read, and the demo model;
- the runtime stage runs as a numeric non-root uid, exposes the configured ports, and its
  HEALTHCHECK asks grpc.health.v1 on the health port.

    image_steps_test.py --bin-dir build/bin --repo .
"""
import os
import re
import stat
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from service_host_test import check, run_checks  # noqa: E402

BINARIES = ["medgemma-server", "medgemma-trainer", "medgemma-cli"]


def dockerfile_checks(repo):
    with open(os.path.join(repo, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    runs = [line[4:] for line in lines if line.startswith("RUN ")]
    scripts = [re.search(r"bash (\S+\.sh)", r).group(1) for r in runs]
    check("every RUN step runs one script of the repository",
          len(scripts) == len(runs) and all(os.path.exists(os.path.join(repo, s)) for s in scripts), str(runs))
    check("... the ones this test runs, and the suite's own build",
          set(scripts) == {"deploy/image/install-build-deps.sh", "scripts/build.sh", "deploy/image/stage-runtime.sh"},
          str(scripts))
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            sources = line.split()[1:-1]
            check(f"COPY sources exist: {' '.join(sources)}",
                  all(s == "." or os.path.exists(os.path.join(repo, s)) for s in sources))
    with open(os.path.join(repo, ".dockerignore")) as f:
        ignored = f.read().split()
    check(".dockerignore keeps host build trees, the venv link, .git and kustomize's secrets out",
          {"build/", ".venv", ".git/", "deploy/base/secrets/"} <= set(ignored), str(ignored))
    runtime = text[text.index("AS runtime"):]
    user = re.search(r"^USER (\d+):(\d+)$", runtime, re.M)
    check("the runtime stage runs as a numeric non-root uid", user and int(user.group(1)) > 0)
    exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", runtime, re.M).group(1).split()}
    wanted = set()
    for name in ["server.yaml", "trainer.yaml"]:
        with open(os.path.join(repo, "config/container", name)) as f:
            config = yaml.safe_load(f)
        wanted |= {int(config[k].rsplit(":", 1)[1]) for k in ("listen", "admin_listen", "health_listen", "metrics_listen")
                   if k in config}
    check("EXPOSE lists every port of the container configs", exposed == wanted, f"{exposed} vs {wanted}")
    health = re.search(r"HEALTHCHECK .*CMD (.*)$", runtime, re.M)
    address = re.search(r"MEDGEMMA_HEALTH_ADDRESS=(\S+)", runtime)
    with open(os.path.join(repo, "config/container/server.yaml")) as f:
        health_port = yaml.safe_load(f)["health_listen"].rsplit(":", 1)[1]
    check("HEALTHCHECK asks grpc.health.v1 on the server's health port",
          health and "medgemma-cli health" in health.group(1) and address and address.group(1).endswith(":" + health_port))


def toolchain_checks(repo, work):
    prefix = os.path.join(work, "cuda-13.0")
    out = subprocess.run(["bash", os.path.join(repo, "deploy/image/install-build-deps.sh"), "cuda", prefix],
                         capture_output=True, text=True, timeout=900)
    check("install-build-deps.sh cuda succeeds", out.returncode == 0, (out.stdout + out.stderr).strip()[-800:])
    nvcc = os.path.join(prefix, "bin/nvcc")
    check("... leaving nvcc in the prefix, linked as cuda next to it",
          os.access(nvcc, os.X_OK) and os.readlink(os.path.join(work, "cuda")) == "cuda-13.0")
    bad = subprocess.run(["bash", os.path.join(repo, "deploy/image/install-build-deps.sh"), "tpu", prefix],
                         capture_output=True, text=True)
    check("... and refuses an unknown variant", bad.returncode == 2, bad.stderr.strip())
    torch_prefix = subprocess.run([os.path.join(repo, ".venv/bin/python"), "-c",
                                   "import torch.utils; print(torch.utils.cmake_prefix_path)"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    build = os.path.join(work, "build")
    env = dict(os.environ, CUDACXX=nvcc, CUDAToolkit_ROOT=prefix,
               PATH=os.path.join(prefix, "bin") + ":" + os.environ["PATH"])
    configured = subprocess.run(["cmake", "-S", repo, "-B", build, "-G", "Ninja", f"-DCMAKE_PREFIX_PATH={torch_prefix}",
                                 "-DCMAKE_CUDA_ARCHITECTURES=90", "-DMEDGEMMA_REQUIRE_CUDA=ON"],
                                capture_output=True, text=True, timeout=600, env=env)
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        cache = f.read()
    check("CMake configures the project with that compiler, CUDA sources required",
          configured.returncode == 0 and "medgemma: CUDA sources ON" in configured.stdout
          and f"CMAKE_CUDA_COMPILER:FILEPATH={nvcc}" in cache, configured.stderr.strip()[-800:])


def base_image_libraries():
    out = subprocess.run(["dpkg", "-L", "libc6", "libstdc++6", "libgcc-s1"], capture_output=True, text=True, check=True)
    return {os.path.basename(p) for p in out.stdout.split()}


def stage_checks(repo, bin_dir, work):
    dest = os.path.join(work, "stage")
    out = subprocess.run(["bash", os.path.join(repo, "deploy/image/stage-runtime.sh"), "cuda", bin_dir, dest],
                         capture_output=True, text=True, timeout=600)
    check("stage-runtime.sh cuda stages the runtime", out.returncode == 0, (out.stdout + out.stderr).strip()[-500:])
    if out.returncode != 0:
        return
    root = os.path.join(dest, "opt/medgemma")
    lib = os.path.join(root, "lib")
    env = {"LD_LIBRARY_PATH": lib, "PATH": "/usr/bin:/bin"}
    base = base_image_libraries()
    staged = set(os.listdir(lib))
    check("no library of the base image (glibc, libstdc++, libgcc) is staged", not staged & base, str(staged & base))
    for name in BINARIES + ["medgemma-init"]:
        check(f"{name} is staged, executable", os.access(os.path.join(root, "bin", name), os.X_OK))
    loaded = set()
    for f in [os.path.join(root, "bin", b) for b in BINARIES] + [os.path.join(lib, n) for n in staged]:
        ldd = subprocess.run(["ldd", f], capture_output=True, text=True, env=env).stdout
        for name, path in re.findall(r"^\s*(\S+) => (.+?) \(", ldd, re.M):
            loaded.add(name)
            if not path.startswith(lib + "/") and name not in base:
                check(f"{os.path.basename(f)}: {name} resolves inside the staged tree or the base image", False, path)
        if "not found" in ldd and not re.search(r"libcuda\.so\.1 => not found", ldd):
            check(f"{os.path.basename(f)}: every library it needs is found", False, ldd)
    check("every library the binaries and staged libraries load resolves from the staged tree or the base image",
          loaded and (loaded - base) <= staged, str(sorted(loaded - base - staged)))
    check("... and nothing else is staged but what libtorch and cuDNN load with dlopen",
          all(n in loaded or re.match(r"lib(caffe2_nvrtc|torch_cuda_linalg|nvrtc-builtins|cudnn_|medgemma-civetweb-)", n)
              for n in staged),
          str(sorted(n for n in staged if n not in loaded)))
    for companion in ["libcaffe2_nvrtc.so", "libtorch_cuda_linalg.so", "libcudnn_ops.so.9"]:
        check(f"the dlopen'ed {companion} is staged", companion in staged)
    for b in BINARIES:
        version = subprocess.run([os.path.join(root, "bin", b), "--version"], capture_output=True, text=True, env=env)
        check(f"the staged {b} runs (--version)", version.returncode == 0 and b in version.stdout, version.stderr[-300:])
    for name in ["server.yaml", "trainer.yaml", "task-breakhis.yaml"]:
        check(f"/etc/medgemma/{name} is staged", os.path.isfile(os.path.join(dest, "etc/medgemma", name)))
    with open(os.path.join(repo, "Dockerfile")) as f:
        dict_path = re.search(r"DCMDICTPATH=(\S+)", f.read())
    dictionaries = dict_path.group(1).split(":") if dict_path else []
    check("the Dockerfile's DCMDICTPATH names DCMTK's dictionaries, staged (DICOM input needs them)",
          any(d.endswith("/dicom.dic") for d in dictionaries)
          and all(os.path.isfile(os.path.join(dest, d.lstrip("/"))) for d in dictionaries), str(dictionaries))
    for d in ["var/lib/medgemma/models", "var/lib/medgemma/adapters", "var/lib/medgemma/trainer/jobs",
              "var/lib/medgemma/data", "run/secrets/medgemma"]:
        check(f"/{d} is staged", os.path.isdir(os.path.join(dest, d)))
    wrong = subprocess.run(["bash", os.path.join(repo, "deploy/image/stage-runtime.sh"), "cpu", bin_dir,
                            os.path.join(work, "stage-cpu")], capture_output=True, text=True)
    check("stage-runtime.sh cpu refuses binaries built against CUDA libtorch",
          wrong.returncode == 1 and "cpu variant" in wrong.stderr, wrong.stderr.strip())
    return root, env


def init_checks(repo, staged, work):
    root, env = staged
    secrets = os.path.join(work, "secrets")
    init = os.path.join(root, "bin/medgemma-init")
    run_env = dict(env, PATH=os.path.join(root, "bin") + ":" + env["PATH"])
    first = subprocess.run([init, secrets, "--demo", os.path.join(work, "state")], capture_output=True, text=True,
                           env=run_env, timeout=120)
    check("medgemma-init writes tokens and the demo model and data", first.returncode == 0
          and os.path.isfile(os.path.join(work, "state/models/medgemma-tiny/config.json"))
          and os.path.isfile(os.path.join(work, "state/data/breakhis-demo/Folds.csv")), first.stderr.strip()[-300:])
    files = {n: open(os.path.join(secrets, n)).read() for n in sorted(os.listdir(secrets))}
    check("... five token files, mode 0600",
          sorted(files) == ["admin-token", "classify-token", "server-tokens", "trainer-token", "trainer-tokens"]
          and all(stat.S_IMODE(os.stat(os.path.join(secrets, n)).st_mode) == 0o600 for n in files), str(sorted(files)))
    token = r"[0-9a-f]{48}"
    check("... in the services' 'role token' format, the clients' tokens matching",
          re.fullmatch(rf"classify ({token})\nadmin ({token})\n", files["server-tokens"])
          and files["server-tokens"] == f"classify {files['classify-token']}admin {files['admin-token']}"
          and files["trainer-tokens"] == f"admin {files['trainer-token']}", str(files.get("server-tokens", ""))[:20])
    check("... distinct tokens", len({files[n] for n in ["admin-token", "classify-token", "trainer-token"]}) == 3)
    subprocess.run([init, secrets], check=True, capture_output=True, env=run_env)
    check("a second run keeps the tokens", files == {n: open(os.path.join(secrets, n)).read() for n in sorted(files)})


def main():
    def body(args, work):
        dockerfile_checks(args.repo)
        staged = stage_checks(args.repo, args.bin_dir, work)
        if staged:
            init_checks(args.repo, staged, work)
        toolchain_checks(args.repo, work)

    run_checks("medgemma-imagetest-", ["--bin-dir", "--repo"], body)

if __name__ == "__main__":
    main()
