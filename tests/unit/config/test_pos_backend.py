"""pos.backend: the GraphQL back-end's settings, and the Retail Cloud flows check-config refuses for it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.cli import main
from worker.config_load import parse_config
from worker.errors import ConfigError

from .test_config import BASE

GRAPHQL_POS = {
    "backend": "graphql", "merchant_id": "acme",
    "graphql": {"url": "https://pos.example.com/graphql", "issuer": "https://pos.example.com/oidc",
                "client_id": "gql-client", "client_secret": "gql-secret-42"},
}


def graphql_config(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["pos"] = copy.deepcopy(GRAPHQL_POS)
    del data["worker"]["webhook"]
    del data["salesforce"]["FilterQuery"], data["salesforce"]["OMSStatusesToProcess"]
    for path, value in changes.items():
        section, key = path.split("__")
        data[section][key] = value
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, {})
    return "\n".join(caught.value.problems).splitlines()


def test_a_graphql_configuration_without_retail_cloud_flows_is_valid() -> None:
    """pos.backend graphql with pos.graphql and none of the Retail Cloud flows loads, with its defaults."""
    config = parse_config(graphql_config(), {})
    assert config.pos.backend == "graphql" and config.pos.auth is None and config.worker.webhook is None
    assert config.pos.graphql is not None and config.pos.graphql.page_size == 100
    assert "gql-secret-42" in config.secret_values()


@pytest.mark.parametrize(("change", "key", "flow"), [
    ({"salesforce__OMSStatusesToProcess": ["Allocated"]}, "salesforce.OMSStatusesToProcess", "fulfillment import"),
    ({"salesforce__FilterQuery": "DeliveryMethod.Name = 'X'"}, "salesforce.FilterQuery", "fulfillment import"),
    ({"worker__reconcile": {"interval_seconds": 60}}, "worker.reconcile", "fulfillment import"),
    ({"worker__stream": {"keepalive_seconds": 60}}, "worker.stream", "fulfillment import"),
    ({"worker__status_mapping": {"PACK": "Pickpack"}}, "worker.status_mapping", "status write-back"),
    ({"worker__spi": {"api_keys": ["k1"]}}, "worker.spi.api_keys", "SPIs the POS would call"),
    ({"worker__webhook": {"api_key": "w"}}, "worker.webhook", "POS webhooks"),
    ({"worker__sale_sweep": {"interval_seconds": 60}}, "worker.sale_sweep", "order search"),
])
def test_a_retail_cloud_flow_is_refused_naming_flow_and_back_end(change: dict[str, Any], key: str,
                                                                 flow: str) -> None:
    """Each Retail Cloud-only flow configured with pos.backend graphql is one error naming key, flow, back-end."""
    (line,) = problems(graphql_config(**change))
    assert line.startswith(f"{key}: ") and flow in line and "pos.backend graphql" in line


def test_every_refused_flow_is_listed_at_once() -> None:
    """Several refused flows give one line each, so one check-config run shows them all."""
    lines = problems(graphql_config(worker__spi={"api_keys": ["k1"]}, worker__webhook={"api_key": "w"}))
    assert [line.split(":")[0] for line in lines] == ["worker.spi.api_keys", "worker.webhook"]


def test_the_graphql_back_end_needs_its_section_and_retail_cloud_needs_its_credentials() -> None:
    """pos.graphql is required for graphql; pos.auth and worker.webhook for retail_cloud, and pos.graphql is not."""
    data = graphql_config()
    del data["pos"]["graphql"]
    assert problems(data)[0].startswith("pos.graphql: required for pos.backend graphql")
    retail = copy.deepcopy(BASE)
    del retail["worker"]["webhook"]
    retail["pos"]["graphql"] = GRAPHQL_POS["graphql"]
    lines = problems(retail)
    assert lines[0].startswith("worker.webhook: required for pos.backend retail_cloud")
    assert lines[1].startswith("pos.graphql: only for pos.backend graphql")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("url", "ftp://pos/graphql", "pos.graphql.url: expected an http(s) URL"),
    ("page_size", 0, "pos.graphql.page_size: Input should be greater than or equal to 1"),
    ("poll_interval_seconds", 0, "pos.graphql.poll_interval_seconds: Input should be greater than 0"),
    ("colour", "red", "pos.graphql.colour: unknown key"),
])
def test_bad_graphql_settings_name_the_key(key: str, value: Any, message: str) -> None:
    """A bad pos.graphql setting is an error naming pos.graphql.<key> and why."""
    data = graphql_config()
    data["pos"]["graphql"][key] = value
    assert any(line.startswith(message) for line in problems(data))


def test_check_config_refuses_with_exit_2_and_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """oms-worker check-config on a graphql config asking for webhooks exits 2 with the refusal, no traceback."""
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(graphql_config(worker__webhook={"api_key": "w"})))
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "worker.webhook: the POS webhooks flow is configured, but pos.backend graphql cannot do it" in err
    assert "Traceback" not in err


def test_the_graphql_client_secret_can_come_from_a_file_or_the_environment(tmp_path: Path) -> None:
    """pos.graphql.client_secret_file and ${VAR} both fill client_secret (one trailing newline dropped)."""
    secret = tmp_path / "gql-secret"
    secret.write_text("from-a-file\n")
    data = graphql_config()
    del data["pos"]["graphql"]["client_secret"]
    data["pos"]["graphql"]["client_secret_file"] = str(secret)
    config = parse_config(data, {})
    assert config.pos.graphql is not None
    assert config.pos.graphql.client_secret.get_secret_value() == "from-a-file"
    data = graphql_config()
    data["pos"]["graphql"]["client_secret"] = "${GQL_SECRET}"
    config = parse_config(data, {"GQL_SECRET": "from-env"})
    assert config.pos.graphql is not None and config.pos.graphql.client_secret.get_secret_value() == "from-env"
