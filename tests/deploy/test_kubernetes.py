"""deploy/kubernetes: the real Kubernetes schema, the "restricted" Pod Security Standard, sidecar, probes, secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from worker.config_load import parse_config

ROOT = Path(__file__).resolve().parents[2]
SIDECAR = ROOT / "deploy/kubernetes/oms-worker-sidecar.yaml"
PODMONITOR = ROOT / "deploy/monitoring/podmonitor.yaml"
OLDEST_SIDECAR_VERSION = "1.29"  # native sidecars (restartPolicy on an init container) are on by default from 1.29


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kind(kind: str) -> dict[str, Any]:
    (doc,) = [doc for doc in _documents(SIDECAR) if doc["kind"] == kind]
    return doc


def _pod() -> dict[str, Any]:
    return dict(_kind("Deployment")["spec"]["template"]["spec"])


def _containers() -> list[dict[str, Any]]:
    pod = _pod()
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _worker() -> dict[str, Any]:
    (worker,) = [c for c in _pod()["initContainers"] if c["name"] == "oms-worker"]
    return dict(worker)


def _effective(container: dict[str, Any], key: str) -> Any:
    """A container's security setting, else the pod's (as the kubelet resolves it)."""
    value = container.get("securityContext", {}).get(key)
    return value if value is not None else _pod().get("securityContext", {}).get(key)


@pytest.mark.parametrize("version", [OLDEST_SIDECAR_VERSION, kubernetes_validate.utils.latest_version()])
def test_manifests_validate_against_the_kubernetes_schema(version: str) -> None:
    """Every object in deploy/kubernetes/ is valid (strict: no unknown field) for Kubernetes 1.29 and the newest."""
    paths = sorted((ROOT / "deploy/kubernetes").glob("*.yaml"))
    assert paths
    for path in paths:
        for doc in _documents(path):
            kubernetes_validate.validate(doc, version, strict=True)


def _allowed_volume_types(pod: dict[str, Any]) -> bool:
    allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
               "secret"}
    return all(set(volume) - {"name"} <= allowed for volume in pod.get("volumes", []))


# The "restricted" Pod Security Standard (kubernetes.io/docs/concepts/security/pod-security-standards), baseline
# rules included, as the admission controller applies them to every container (init and sidecar too).
RESTRICTED: list[tuple[str, Any]] = [
    ("no host namespaces", lambda pod, cs: not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))),
    ("no privileged container", lambda pod, cs: not any(c.get("securityContext", {}).get("privileged") for c in cs)),
    ("capabilities drop ALL", lambda pod, cs: all(
        "ALL" in c.get("securityContext", {}).get("capabilities", {}).get("drop", []) for c in cs)),
    ("no capability added but NET_BIND_SERVICE", lambda pod, cs: all(
        set(c.get("securityContext", {}).get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}
        for c in cs)),
    ("no hostPath volume, only the allowed volume types", lambda pod, cs: _allowed_volume_types(pod)),
    ("no host port", lambda pod, cs: not any(p.get("hostPort") for c in cs for p in c.get("ports", []))),
    ("allowPrivilegeEscalation false", lambda pod, cs: all(
        c.get("securityContext", {}).get("allowPrivilegeEscalation") is False for c in cs)),
    ("runAsNonRoot true", lambda pod, cs: all(_effective(c, "runAsNonRoot") is True for c in cs)),
    ("runAsUser numeric and not 0", lambda pod, cs: all(
        isinstance(_effective(c, "runAsUser"), int) and _effective(c, "runAsUser") > 0 for c in cs)),
    ("seccompProfile RuntimeDefault or Localhost", lambda pod, cs: all(
        (_effective(c, "seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost") for c in cs)),
    ("no unsafe sysctls", lambda pod, cs: not pod.get("securityContext", {}).get("sysctls")),
    ("default /proc mount", lambda pod, cs: all(
        c.get("securityContext", {}).get("procMount", "Default") == "Default" for c in cs)),
    ("no custom SELinux type", lambda pod, cs: all(
        (_effective(c, "seLinuxOptions") or {}).get("type", "container_t") in ("container_t", "container_init_t",
                                                                              "container_kvm_t") for c in cs)),
    ("AppArmor not unconfined", lambda pod, cs: all(
        (_effective(c, "appArmorProfile") or {}).get("type", "RuntimeDefault") != "Unconfined" for c in cs)),
]


@pytest.mark.parametrize(("rule", "check"), RESTRICTED, ids=[rule for rule, _ in RESTRICTED])
def test_pod_passes_the_restricted_pod_security_standard(rule: str, check: Any) -> None:
    """The pod, every container included, satisfies each rule of the restricted Pod Security Standard."""
    assert check(_pod(), _containers()), rule


def test_worker_runs_read_only_with_tmp_and_state_volumes() -> None:
    """The worker has a read-only root filesystem, an emptyDir at /tmp and a persistent volume for its SQLite state."""
    worker, pod = _worker(), _pod()
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in worker["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    state = volumes[mounts["/var/lib/oms-worker"]]
    assert "persistentVolumeClaim" in state
    assert state["persistentVolumeClaim"]["claimName"] == _kind("PersistentVolumeClaim")["metadata"]["name"]
    store_url = yaml.safe_load(_kind("ConfigMap")["data"]["config.yaml"])["worker"]["store_url"]
    assert store_url.startswith("sqlite:////var/lib/oms-worker/")


def test_worker_user_matches_the_image_user() -> None:
    """The pod's numeric user is the Dockerfile's USER, so runAsNonRoot is satisfied by the image as built."""
    users = re.findall(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert users and {int(u) for u, _ in users} == {_effective(_worker(), "runAsUser")}
    assert {int(g) for _, g in users} == {_effective(_worker(), "runAsGroup")}


def test_worker_is_a_native_sidecar_beside_the_pos_integration() -> None:
    """The worker is an init container with restartPolicy Always; the POS integration is the main container."""
    pod = _pod()
    assert _worker()["restartPolicy"] == "Always"
    assert [c["name"] for c in pod["containers"]] == ["pos-integration"]
    deployment = _kind("Deployment")
    assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"][
        "labels"].items()
    assert pod["terminationGracePeriodSeconds"] > yaml.safe_load(_kind("ConfigMap")["data"]["config.yaml"])[
        "worker"]["drain_grace_seconds"]


def test_probes_are_healthz_for_liveness_and_readyz_for_readiness() -> None:
    """Liveness probes /healthz and readiness /readyz on the worker's own port."""
    worker = _worker()
    port_names = {p["name"] for p in worker["ports"]}
    assert worker["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {worker["livenessProbe"]["httpGet"]["port"], worker["readinessProbe"]["httpGet"]["port"]} <= port_names


def test_secrets_reach_the_worker_as_files_only(tmp_path: Path) -> None:
    """No secret is an environment variable; the config reads each Secret key from its mounted file and loads."""
    for container in _containers():
        assert "envFrom" not in container, container["name"]
        for env in container.get("env", []):
            assert "secretKeyRef" not in env.get("valueFrom", {}), (container["name"], env["name"])
    secret = _kind("Secret")
    (volume,) = [v for v in _pod()["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    (mount,) = [m["mountPath"] for m in _worker()["volumeMounts"] if m["name"] == volume["name"]]
    text = _kind("ConfigMap")["data"]["config.yaml"]
    assert "${" not in text  # nothing comes from the environment
    paths = set(re.findall(r"_file: ([^\s,}]+)", text))
    assert paths == {f"{mount}/{key}" for key in secret["stringData"]}  # every key used, every file a key
    for key in secret["stringData"]:
        (tmp_path / key).write_text(f"secret-{key}\n", encoding="utf-8")
    config = parse_config(yaml.safe_load(text.replace(f"{mount}/", f"{tmp_path}/")), env={})
    assert config.auth.client_secret is not None
    assert config.auth.client_secret.get_secret_value() == "secret-sf_client_secret"
    assert config.worker.webhook.api_key.get_secret_value() == "secret-webhook_api_key"
    assert [key.get_secret_value() for key in config.worker.spi.api_keys] == ["secret-spi_api_keys"]


def test_spi_keys_are_one_secret_file_with_one_key_per_line(tmp_path: Path) -> None:
    """The SPI keys come from one mounted Secret key, read as one key per line, as the manifest ships them."""
    secret = _kind("Secret")["stringData"]
    text = _kind("ConfigMap")["data"]["config.yaml"]
    assert yaml.safe_load(text)["worker"]["spi"] == {"api_keys_file": "/run/secrets/oms/spi_api_keys"}
    for key, value in secret.items():
        (tmp_path / key).write_text(value, encoding="utf-8")
    config = parse_config(yaml.safe_load(text.replace("/run/secrets/oms/", f"{tmp_path}/")), env={})
    assert [key.get_secret_value() for key in config.worker.spi.api_keys] == [
        line for line in secret["spi_api_keys"].splitlines() if line.strip()]
    assert len(config.worker.spi.api_keys) == 2


def test_metrics_are_scraped_by_annotations_or_podmonitor() -> None:
    """The pod's prometheus.io annotations and the PodMonitor both point at the worker's /metrics port."""
    worker = _worker()
    annotations = _kind("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) in {p["containerPort"] for p in worker["ports"]}
    (monitor,) = _documents(PODMONITOR)
    assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
    labels = _kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in worker["ports"]}
    assert endpoint["path"] == "/metrics"
