"""The deployment recipe in deploy/: the image is small, non-root and pinned, its entrypoint runs what
it says, the Kubernetes manifests hang together with the config they mount, and the image builds
where a Docker engine is available."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from katana_woo_sdk.config import validate_text

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def _manifest(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / name).read_text(encoding="utf-8"))


def _entrypoint() -> list[str]:
    (line,) = [ln for ln in DOCKERFILE.splitlines() if ln.startswith("ENTRYPOINT ")]
    return json.loads(line[len("ENTRYPOINT "):])


# --- the image -------------------------------------------------------------------------------------

def test_the_image_is_pinned_small_and_not_root():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert [ln.split()[1] for ln in DOCKERFILE.splitlines() if ln.startswith("FROM ")] == ["${PYTHON_IMAGE}"] * 2
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)                     # numeric: runAsNonRoot can check it
    assert "'.[postgres,service]'" in DOCKERFILE and "pip uninstall --yes --quiet pip setuptools" in DOCKERFILE
    assert "apt-get" not in DOCKERFILE                                            # nothing compiled, nothing added
    copied = {part for ln in DOCKERFILE.splitlines() if ln.startswith("COPY ") and "--from" not in ln
              for part in ln.split()[1:-1]}
    allowed = {ln[1:].rstrip("/") for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.startswith("!")}
    assert copied and copied <= allowed, "the Dockerfile copies what .dockerignore leaves out"


@pytest.mark.skipif(os.name != "posix", reason="the entrypoint is a POSIX shell script")
@pytest.mark.parametrize("env, args, expected", [
    ({}, [], "run /etc/katana-woo/katana-woo.yaml --no-progress"),
    ({"KATANA_WOO_COMMAND": "apply"}, [], "apply /etc/katana-woo/katana-woo.yaml --no-progress"),
    ({"KATANA_WOO_CONFIG": "/cfg/shops.yaml"}, [], "run /cfg/shops.yaml --no-progress"),
    ({}, ["apply", "/etc/katana-woo/katana-woo.yaml", "--json"], "apply /etc/katana-woo/katana-woo.yaml --json"),
    ({}, ["--version"], "--version"),
])
def test_the_entrypoint_runs_the_configured_command_or_the_arguments(tmp_path, env, args, expected):
    stub = tmp_path / "katana-woo"
    stub.write_text('#!/bin/sh\necho "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    defaults = dict(re.findall(r"(KATANA_WOO_(?:COMMAND|CONFIG))=(\S+)", DOCKERFILE))
    defaults["KATANA_WOO_COMMAND"] = re.search(r"^ARG DEFAULT_COMMAND=(\S+)$", DOCKERFILE, re.M).group(1)
    run_env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **defaults, **env}
    done = subprocess.run([*_entrypoint(), *args], env=run_env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


# --- Kubernetes --------------------------------------------------------------------------------------

def test_the_config_the_pods_mount_is_valid_and_uses_a_postgresql_state():
    text = _manifest("configmap.yaml")["data"]["katana-woo.yaml"]
    assert validate_text(text, require_env=False) == []
    config = yaml.safe_load(text)
    assert config["state"]["url"].startswith("postgresql://") and "password_env" in config["state"]
    named = {config["katana"]["api_key_env"], config["state"]["password_env"]}
    named |= {s[k] for s in config["stores"] for k in ("consumer_key_env", "consumer_secret_env", "webhook_secret_env")}
    named.add(config["webhooks"]["katana_token_env"])
    assert named == set(_manifest("secret.example.yaml")["stringData"])          # the Secret provides them all


def _pod(spec: dict) -> tuple[dict, dict]:
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["envFrom"] == [{"secretRef": {"name": "katana-woo"}}]        # secrets from a Secret only
    assert "env" not in container
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/katana-woo"]["readOnly"] is True
    return spec, container


def test_the_deployment_runs_the_service_two_replicas_with_health_probes():
    from katana_woo_sdk.cli import build_parser
    from katana_woo_sdk.service import parse_listen
    deployment = _manifest("deployment.yaml")
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec, container = _pod(deployment["spec"]["template"]["spec"])
    args = container["args"]
    assert args[:2] == ["run", "/etc/katana-woo/katana-woo.yaml"]
    parsed = build_parser().parse_args(args)               # the arguments are ones `run` takes
    assert parsed.standby is True                          # the second replica waits on the lock: a hot standby
    host, port = parse_listen(parsed.listen)
    assert host == "0.0.0.0"
    (exposed,) = container["ports"]
    assert exposed["containerPort"] == port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": exposed["name"]}
    # SIGTERM: one action plus at worst one wait for Katana's rate budget (a 60 s window), with room.
    assert spec["terminationGracePeriodSeconds"] >= 90
    service = _manifest("service.yaml")
    assert service["kind"] == "Service" and service["spec"]["ports"][0]["targetPort"] == exposed["name"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert "service.yaml" in _manifest("kustomization.yaml")["resources"]


def test_the_image_has_the_service_extra():
    assert "'.[postgres,service]'" in DOCKERFILE


@pytest.mark.skipif(os.name != "posix", reason="the Job's command is a POSIX shell line")
def test_the_cronjob_applies_and_counts_changes_made_as_success(tmp_path):
    cronjob = _manifest("cronjob.yaml")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    spec, container = _pod(job["template"]["spec"])
    assert spec["restartPolicy"] == "Never"
    (line,) = container["args"]
    assert line.startswith("katana-woo apply /etc/katana-woo/katana-woo.yaml")
    for code, job_code in ((0, 0), (2, 0), (1, 1)):
        stub = tmp_path / "katana-woo"
        stub.write_text(f"#!/bin/sh\nexit {code}\n")
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
        done = subprocess.run([*container["command"], line], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=10)
        assert done.returncode == job_code, (code, done.returncode)


def test_kustomization_lists_files_that_exist():
    kustomization = _manifest("kustomization.yaml")
    for name in kustomization["resources"]:
        assert (DEPLOY / "kubernetes" / name).is_file(), name
    commented = re.findall(r"#\s*-\s*(\S+\.yaml)", (DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    assert all((DEPLOY / "kubernetes" / name).is_file() for name in commented)


# --- the build ---------------------------------------------------------------------------------------

def _docker_engine() -> str | None:
    """Why Docker cannot build here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          timeout=30)
    if info.returncode != 0:
        return f"no Docker engine reachable ({(info.stderr or info.stdout).strip().splitlines()[-1]})"
    return None


def test_the_image_builds_and_runs(tmp_path):
    why = _docker_engine()
    if why:
        pytest.skip(f"docker build cannot run: {why}")
    tag = "katana-woo-test:deploy"
    build = subprocess.run(["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", tag, str(ROOT)],
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stderr[-3000:]
    try:
        version = subprocess.run(["docker", "run", "--rm", tag, "--version"], capture_output=True, text=True,
                                 timeout=120)
        assert version.returncode == 0 and version.stdout.startswith("katana-woo "), version.stderr
        user = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True,
                              text=True, timeout=120)
        assert user.stdout.strip() == "10001"
        size = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True,
                                  text=True, timeout=60).stdout)
        print(f"image {tag}: {size / 1e6:.0f} MB")
        assert size < 300e6, f"the image is {size / 1e6:.0f} MB"
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=120)
