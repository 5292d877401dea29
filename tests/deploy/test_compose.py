"""deploy/compose.yaml: valid for the compose-spec schema, numeric non-root users, read-only, a working config."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from worker.config_load import parse_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/compose.yaml"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def _compose_spec() -> dict[str, Any]:
    """The compose-spec JSON schema, as vendored (a data file) by the check-jsonschema package."""
    schema = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return dict(json.loads(schema.read_text(encoding="utf-8")))


def test_compose_file_matches_the_compose_spec_schema() -> None:
    """deploy/compose.yaml validates against the compose-spec JSON schema (unknown keys are errors)."""
    schema = _compose_spec()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    broken = _compose()
    broken["services"]["worker"]["readonly"] = True  # a typo the schema must catch
    assert list(validator.iter_errors(broken))


def test_services_run_as_a_numeric_user_on_a_read_only_root() -> None:
    """Both services run as 10001:10001, read-only with a /tmp tmpfs, all capabilities dropped, no new privileges."""
    for name, service in _compose()["services"].items():
        assert service["user"] == "10001:10001", name
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_services_build_the_dockerfile_targets() -> None:
    """The worker builds the production stage, the emulator its own stage, and both stages exist in the Dockerfile."""
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M))
    services = _compose()["services"]
    assert services["worker"]["build"]["target"] == "runtime"
    assert services["emulator"]["build"]["target"] == "emulator"
    assert {"runtime", "emulator"} <= stages
    assert "healthcheck" not in services["emulator"]  # the emulator image has no worker HEALTHCHECK to inherit


def test_worker_config_is_valid_with_the_compose_environment() -> None:
    """The mounted demo config, with the compose service's environment, is a valid worker configuration."""
    worker = _compose()["services"]["worker"]
    (mount,) = [v for v in worker["volumes"] if v.endswith(":/etc/oms-worker/demo.yaml:ro")]
    source = (COMPOSE.parent / mount.split(":")[0]).resolve()
    config = parse_config(yaml.safe_load(source.read_text(encoding="utf-8")), env=worker["environment"])
    assert config.worker.http.port == 8080
    assert config.worker.store_url.startswith("sqlite:////var/lib/oms-worker/")
    assert any(v.endswith(":/var/lib/oms-worker") for v in worker["volumes"])


def test_the_demo_runs_on_the_emulators_pubsub_api_when_asked() -> None:
    """OMS_DEMO_TRANSPORT=pubsub points the worker at the emulator service's Pub/Sub port (plaintext, exposed by the
    emulator image and published beside 18081/18082); the compose default stays CometD."""
    services = _compose()["services"]
    worker = services["worker"]
    (mount,) = [v for v in worker["volumes"] if v.endswith(":/etc/oms-worker/demo.yaml:ro")]
    raw = yaml.safe_load((COMPOSE.parent / mount.split(":")[0]).resolve().read_text(encoding="utf-8"))
    assert parse_config(raw, env=worker["environment"]).worker.stream.transport == "cometd"
    stream = parse_config(raw, env={**worker["environment"], "OMS_DEMO_TRANSPORT": "pubsub"}).worker.stream
    host, _, port = stream.pubsub.target.rpartition(":")
    assert (stream.transport, host, stream.pubsub.tls) == ("pubsub", "emulator", False)
    assert f"127.0.0.1:{port}:{port}" in services["emulator"]["ports"]
    dockerfile = (COMPOSE.parent.parent / "Dockerfile").read_text(encoding="utf-8")
    assert f"--pubsub-port\", \"{port}\"" in dockerfile and port in dockerfile.split("EXPOSE")[1].split("\n")[0]
