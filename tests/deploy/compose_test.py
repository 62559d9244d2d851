#!/usr/bin/python3
"""docker-compose.yml, its Prometheus and Grafana files, and the shared rules and dashboard, checked
without a Docker engine: Debian's docker-compose validates and resolves the file per profile;
promtool checks the rules and the Prometheus config as the container sees them (rebuilt from the
compose volume list); the dashboard JSON parses and selects on the scrape jobs Prometheus defines.
Also: auth on by default (tokens only from the init step's volume, never from the environment),
GPU reservations only in the gpu profile, and services started only after init.

    compose_test.py --repo .
"""
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from service_host_test import check, run_checks  # noqa: E402


def resolved(repo, *args):
    out = subprocess.run(["docker-compose", "--project-directory", repo, "-f", os.path.join(repo, "docker-compose.yml"),
                          *args, "config"], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    check(f"docker-compose {' '.join(args)} config validates", out.returncode == 0, out.stderr.strip()[-400:])
    return yaml.safe_load(out.stdout)["services"] if out.returncode == 0 else {}


def mounts(service):
    """container path -> (source, read_only) for the service's volumes, long or short form."""
    result = {}
    for v in service.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            result[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2])
        else:
            result[v["target"]] = (v.get("source"), bool(v.get("read_only")))
    return result


def container_config(repo, name):
    with open(os.path.join(repo, "config/container", name)) as f:
        return yaml.safe_load(f)


def service_checks(repo, services, profile):
    server_config, trainer_config = container_config(repo, "server.yaml"), container_config(repo, "trainer.yaml")
    suffix = "-gpu" if profile == "gpu" else ""
    server, trainer = services.get(f"medgemma-server{suffix}", {}), services.get(f"medgemma-trainer{suffix}", {})
    check(f"{profile}: the profile has the server and the trainer", server and trainer, str(sorted(services)))
    init = services.get("medgemma-init", {})
    secrets_dir = os.path.dirname(server_config["auth"]["tokens_file"])
    check(f"{profile}: init writes the tokens into the secrets volume",
          init.get("command", [])[:2] == ["medgemma-init", secrets_dir] and not mounts(init)[secrets_dir][1])
    for name, service, config in [("server", server, server_config), ("trainer", trainer, trainer_config)]:
        m = mounts(service)
        check(f"{profile}: {name} reads its tokens from the init step's volume, read-only",
              m.get(secrets_dir) == (mounts(init)[secrets_dir][0], True), str(m))
        check(f"{profile}: {name} takes no token from the environment",
              not any("TOKEN" in k for k in (service.get("environment") or {})))
        check(f"{profile}: {name} starts after init has succeeded",
              service.get("depends_on", {}).get("medgemma-init", {}).get("condition") == "service_completed_successfully")
        check(f"{profile}: {name} runs the image's config", f"/etc/medgemma/{name}.yaml" in service.get("command", []))
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        check(f"{profile}: {name} {'reserves a GPU' if profile == 'gpu' else 'reserves no GPU'}",
              (devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]) == (profile == "gpu"), str(devices))
    check(f"{profile}: the trainer's HEALTHCHECK asks its own health port",
          trainer.get("environment", {}).get("MEDGEMMA_HEALTH_ADDRESS", "").endswith(
              ":" + trainer_config["health_listen"].rsplit(":", 1)[1]))
    check(f"{profile}: the trainer waits for a healthy server",
          trainer.get("depends_on", {}).get(f"medgemma-server{suffix}", {}).get("condition") == "service_healthy")
    if profile == "gpu":
        check("gpu: the services answer to the names the trainer config and Prometheus use",
              "medgemma-server" in server.get("networks", {}).get("default", {}).get("aliases", [])
              and "medgemma-trainer" in trainer.get("networks", {}).get("default", {}).get("aliases", []))


def prometheus_checks(repo, services, work):
    rules = os.path.join(repo, "deploy/base/monitoring/medgemma-rules.yml")
    out = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True)
    check("promtool check rules passes on the shipped rules", out.returncode == 0, (out.stdout + out.stderr).strip())
    # /etc/prometheus as the container sees it, from the compose file's bind mounts.
    etc = os.path.join(work, "etc-prometheus")
    for target, (source, _) in mounts(services["prometheus"]).items():
        if target.startswith("/etc/prometheus/"):
            os.makedirs(os.path.dirname(os.path.join(etc, target[len("/etc/prometheus/"):])), exist_ok=True)
            shutil.copy(source, os.path.join(etc, target[len("/etc/prometheus/"):]))
    config_path = os.path.join(etc, "prometheus.yml")
    with open(config_path) as f:
        config = yaml.safe_load(f)
    config["rule_files"] = [os.path.join(etc, r[len("/etc/prometheus/"):]) for r in config["rule_files"]]
    with open(config_path, "w") as f:
        yaml.safe_dump(config, f)
    out = subprocess.run(["promtool", "check", "config", config_path], capture_output=True, text=True)
    check("promtool check config passes on compose/prometheus.yml with its rule files",
          out.returncode == 0 and "SUCCESS" in out.stdout, (out.stdout + out.stderr).strip())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    expected = {"medgemma-server": [f"medgemma-server:{container_config(repo, 'server.yaml')['metrics_listen'].rsplit(':', 1)[1]}"],
                "medgemma-trainer": [f"medgemma-trainer:{container_config(repo, 'trainer.yaml')['metrics_listen'].rsplit(':', 1)[1]}"]}
    check("Prometheus scrapes both services' metrics ports, as jobs the rules and dashboard name",
          targets == expected, str(targets))
    return set(targets)


def grafana_checks(repo, services, jobs):
    grafana = mounts(services["grafana"])
    with open(os.path.join(repo, "compose/grafana/provisioning/dashboards/medgemma.yml")) as f:
        provider = yaml.safe_load(f)["providers"][0]["options"]["path"]
    dashboards = [source for target, (source, _) in grafana.items() if target.startswith(provider + "/")]
    check("Grafana's dashboard provider reads the mounted dashboard", len(dashboards) == 1, str(grafana))
    with open(dashboards[0]) as f:
        dashboard = json.load(f)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    check("the dashboard picks its Prometheus through a datasource variable",
          variables.get("datasource", {}).get("type") == "datasource"
          and all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"]))
    check("its job variables default to the scrape jobs", {variables["server_job"]["query"],
                                                           variables["trainer_job"]["query"]} == jobs)
    exprs = [t.get("expr", "") for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set(re.findall(r"\$(\w+)", " ".join(exprs))) - {"__rate_interval", "__range"}
    check("every variable its queries use is defined", used <= set(variables), str(used - set(variables)))
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ["status code", "p99", "queue wait", "batch size", "queue depth", "gpu memory", "adapter in use",
                  "swaps", "jobs by state", "loss", "eval accuracy"]:
        check(f"the dashboard has a panel for {topic}", topic in titles)


def main():
    def body(args, work):
        for profile in ["cpu", "gpu"]:
            services = resolved(args.repo, "--profile", profile)
            if services:
                service_checks(args.repo, services, profile)
        if services:
            jobs = prometheus_checks(args.repo, services, work)
            grafana_checks(args.repo, services, jobs)
            ports = [p for s in services.values() for p in s.get("ports", [])]
            public = {p["target"] if isinstance(p, dict) else p for p in ports
                      if not (isinstance(p, str) and p.startswith("127.0.0.1:"))}
            classify = int(container_config(args.repo, "server.yaml")["listen"].rsplit(":", 1)[1])
            check("only the classify API is published beyond 127.0.0.1", public == {classify}, str(public))

    run_checks("medgemma-composetest-", ["--repo"], body)

if __name__ == "__main__":
    main()
