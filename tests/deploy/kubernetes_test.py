#!/usr/bin/python3
"""deploy/ rendered by `kubectl kustomize` for every overlay, checked for what a cluster would reject
or silently break. Debian has no Kubernetes schema validator (kubeconform, kubeval) and kubectl's
own validation needs a cluster, so the checks are these:

- every Deployment's, Service's, PodDisruptionBudget's and NetworkPolicy's selector matches pod labels;
- every Service targetPort and ServiceMonitor endpoint port is a declared container port (name);
- startup, readiness and liveness probes are gRPC probes on the port the container's config
  (config/container/*.yaml, the image's /etc/medgemma) serves grpc.health.v1 on (health_listen);
- every Secret, ConfigMap and PVC a pod references is in the rendering, with the keys it mounts,
  and every file the container's config and flags read (tokens, TLS) is on a mounted volume;
- pods run as a non-root uid, without privilege escalation, on a read-only root file system
  (with a writable /tmp), with resource requests and a memory limit;
- the gpu overlay requests a GPU for server and trainer, the cpu overlay none;
- the NetworkPolicy leaves the client port open and admits to the admin and trainer ports only
  pods it names.

Secrets come from deploy/image/medgemma-init.sh and a self-signed certificate, in a copy of deploy/.

    kubernetes_test.py --repo .
"""
import os
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from service_host_test import check, run_checks  # noqa: E402


def render(deploy, overlay):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(deploy, "overlays", overlay)], capture_output=True,
                         text=True, timeout=120)
    check(f"{overlay}: kubectl kustomize renders", out.returncode == 0, out.stderr.strip()[-500:])
    return [d for d in yaml.safe_load_all(out.stdout) if d] if out.returncode == 0 else []


def container_config(repo, container):
    """The config/container file the container's --config names, as the image installs it."""
    command = container.get("command", []) + container.get("args", [])
    path = command[command.index("--config") + 1]
    with open(os.path.join(repo, "config/container", os.path.basename(path))) as f:
        return yaml.safe_load(f), command


def flag(command, name):
    return command[command.index(name) + 1] if name in command else None


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def mounted_file(pod_spec, container, path, objects):
    """Whether `path` is a file the container will see: under a mount of a Secret (holding that key)
    or of another volume."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        volume = volumes.get(mount["name"], {})
        if "secret" not in volume:
            return True
        name = path[len(prefix):]
        items = volume["secret"].get("items")
        keys = [i["path"] for i in items] if items else list(objects.get(("Secret", volume["secret"]["secretName"]),
                                                                          {}).get("data", {}))
        return name in keys
    return False


def check_workloads(repo, overlay, docs):
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    check(f"{overlay}: a server and a trainer Deployment",
          sorted(d["metadata"]["name"] for d in deployments) == ["medgemma-server", "medgemma-trainer"])
    pods = []
    for d in deployments:
        name, spec = d["metadata"]["name"], d["spec"]["template"]["spec"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        pods.append((name, labels, d))
        check(f"{overlay}: {name}: the selector matches the pod labels", matches(d["spec"]["selector"]["matchLabels"], labels))
        pod_security = spec.get("securityContext", {})
        for c in spec["containers"]:
            config, command = container_config(repo, c)
            where = f"{overlay}: {name}/{c['name']}"
            health = port_of(config["health_listen"])
            ports = {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                grpc = c.get(probe, {}).get("grpc", {})
                check(f"{where}: {probe} is a gRPC probe on the health port it serves ({health})",
                      grpc.get("port") == health and health in ports, str(c.get(probe)))
            check(f"{where}: declares the config's API, health and metrics ports",
                  {port_of(config[k]) for k in ("listen", "health_listen", "metrics_listen")} <= ports, str(ports))
            security = c.get("securityContext", {})
            uid = security.get("runAsUser", pod_security.get("runAsUser"))
            check(f"{where}: runs as a non-root uid", (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot"))
                  and isinstance(uid, int) and uid > 0, str(pod_security))
            check(f"{where}: no privilege escalation, read-only root, all capabilities dropped",
                  security.get("allowPrivilegeEscalation") is False and security.get("readOnlyRootFilesystem") is True
                  and security.get("capabilities", {}).get("drop") == ["ALL"], str(security))
            check(f"{where}: /tmp is writable", any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])))
            resources = c.get("resources", {})
            check(f"{where}: CPU and memory requests, a memory limit",
                  {"cpu", "memory"} <= set(resources.get("requests", {})) and "memory" in resources.get("limits", {}),
                  str(resources))
            gpus = resources.get("limits", {}).get("nvidia.com/gpu")
            check(f"{where}: {'one GPU' if overlay == 'gpu' else 'no GPU'}", gpus == (1 if overlay == "gpu" else None),
                  str(resources))
            files = [config["auth"]["tokens_file"], flag(command, "--tls-cert"), flag(command, "--tls-key"),
                     flag(command, "--promotion-tls-ca"), config.get("promotion", {}).get("token_file")]
            for path in filter(None, files):
                check(f"{where}: {path} is on a mounted volume with that key", mounted_file(spec, c, path, objects))
        for v in spec.get("volumes", []):
            if "secret" in v:
                secret = objects.get(("Secret", v["secret"]["secretName"]))
                keys = {i["key"] for i in v["secret"].get("items", [])}
                check(f"{overlay}: {name}: Secret {v['secret']['secretName']} is defined with keys {sorted(keys)}",
                      secret is not None and keys <= set(secret.get("data", {})))
            if "configMap" in v:
                check(f"{overlay}: {name}: ConfigMap {v['configMap']['name']} is defined",
                      ("ConfigMap", v["configMap"]["name"]) in objects)
            if "persistentVolumeClaim" in v:
                check(f"{overlay}: {name}: PVC {v['persistentVolumeClaim']['claimName']} is defined",
                      ("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]) in objects)
    return objects, pods


def check_network(overlay, docs, objects, pods):
    port_names = {}
    for name, labels, d in pods:
        for c in d["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports", []):
                port_names.setdefault(name, {})[p["name"]] = p["containerPort"]
    for s in [d for d in docs if d["kind"] == "Service"]:
        name = s["metadata"]["name"]
        targets = [n for n, labels, _ in pods if matches(s["spec"]["selector"], labels)]
        check(f"{overlay}: Service {name} selects pods", len(targets) == 1, str(targets))
        for p in s["spec"]["ports"]:
            check(f"{overlay}: Service {name} port {p['name']} targets a declared container port",
                  targets and p["targetPort"] in port_names.get(targets[0], {}))
    check(f"{overlay}: the server Service is headless (client-side balancing)",
          objects[("Service", "medgemma-server")]["spec"].get("clusterIP") == "None")
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    check(f"{overlay}: a PodDisruptionBudget selects the server pods",
          any(matches(p["spec"]["selector"]["matchLabels"], pods[0][1]) for p in pdbs) and pods[0][0] == "medgemma-server")
    for monitor in [d for d in docs if d["kind"] == "ServiceMonitor"]:
        selected = [s for s in docs if s["kind"] == "Service" and matches(monitor["spec"]["selector"]["matchLabels"],
                                                                             s["metadata"].get("labels", {}))]
        check(f"{overlay}: the ServiceMonitor selects both Services, each with its metrics port",
              sorted(s["metadata"]["name"] for s in selected) == ["medgemma-server", "medgemma-trainer"]
              and all(any(p["name"] == e["port"] for p in s["spec"]["ports"])
                      for s in selected for e in monitor["spec"]["endpoints"]))
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    for name, labels, _ in pods:
        check(f"{overlay}: a NetworkPolicy selects the {name} pods",
              any(matches(p["spec"]["podSelector"]["matchLabels"], labels) for p in policies.values()))

    def open_to_all(policy, port):
        return any(any(p["port"] == port for p in rule.get("ports", [])) and not rule.get("from")
                   for rule in policy["spec"]["ingress"])
    server_policy, trainer_policy = policies.get("medgemma-server"), policies.get("medgemma-trainer")
    ports = port_names["medgemma-server"]
    check(f"{overlay}: PACS clients reach the classify port", server_policy and open_to_all(server_policy, ports["grpc"]))
    check(f"{overlay}: ... but not AdapterAdmin's port", server_policy and not open_to_all(server_policy, ports["admin"]))
    check(f"{overlay}: ... nor the trainer's API", trainer_policy
          and not open_to_all(trainer_policy, port_names["medgemma-trainer"]["grpc"]))


def main():
    def body(args, work):
        deploy = os.path.join(work, "deploy")
        shutil.copytree(os.path.join(args.repo, "deploy"), deploy, ignore=shutil.ignore_patterns("secrets"))
        secrets = os.path.join(deploy, "base/secrets")
        subprocess.run(["sh", os.path.join(args.repo, "deploy/image/medgemma-init.sh"), secrets], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=medgemma-server", "-keyout", f"{secrets}/tls.key", "-out", f"{secrets}/tls.crt"],
                       check=True, capture_output=True)
        shutil.copy(f"{secrets}/tls.crt", f"{secrets}/ca.crt")
        for overlay in sorted(os.listdir(os.path.join(deploy, "overlays"))):
            docs = render(deploy, overlay)
            if docs:
                objects, pods = check_workloads(args.repo, overlay, docs)
                check_network(overlay, docs, objects, pods)

    run_checks("medgemma-k8stest-", ["--repo"], body)

if __name__ == "__main__":
    main()
