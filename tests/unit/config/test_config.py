"""Configuration: PS OMS names, validation messages naming key and reason, interpolation, redaction."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.cli import main
from worker.config_load import load_config, parse_config, redacted
from worker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]

BASE: dict[str, Any] = {
    "salesforce": {
        "Service": "LIGHTNING",
        "UrlBase": "https://acme.my.salesforce.com",
        "Username": "integration@acme.com",
        "Password": "pw-secret-123",
        "ApiVersion": "v62.0",
        "QueryApiVersion": "v62.0",
        "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}],
        "FilterQuery": "DeliveryMethod.Name IN ('BOPIS','BOFIS')",
        "OMSStatusesToProcess": ["Allocated"],
    },
    "auth": {"flow": "password", "client_id": "cid", "client_secret": "client-secret-456"},
    "pos": {
        "merchant_id": "acme",
        "auth": {"client_id": "p", "client_secret": "pos-secret-789", "pos_secret": "hdr-secret-1", "api_key": "key-1"},
    },
    "worker": {"webhook": {"api_key": "webhook-key-1"}},
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


def problems_of(data: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env or {})
    return info.value.problems


def test_valid_base_config_parses() -> None:
    """A complete PS OMS configuration parses and keeps the verbatim field names."""
    config = parse_config(BASE, {})
    assert config.salesforce.ApiVersion == "v62.0"
    assert config.salesforce.store_id_field == "warehouseID__c"
    assert config.pos.seed_name == "acme-en-US-US"
    assert config.worker.status_mapping["PACK"] == "Pickpack"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("salesforce.ApiVersion", "49", 'salesforce.ApiVersion: expected vNN.N, got "49"'),
        ("salesforce.QueryApiVersion", "62", 'salesforce.QueryApiVersion: expected vNN.N, got "62"'),
        ("salesforce.OMSCustomField", "[{", "salesforce.OMSCustomField: expected a JSON array of"),
        ("salesforce.delivery_methods", {"in store": "X"}, "salesforce.delivery_methods: keys are POS order types"),
        ("salesforce.delivery_methods", {"IN_STORE-DEFAULT": " "}, "salesforce.delivery_methods: IN_STORE-DEFAULT:"),
        ("salesforce.OMSCustomField", [{"omsFieldName": "x__c", "posField": "ORDER_STORE_ID", "applyTo": []}],
         "salesforce.OMSCustomField.0.applyTo: must name at least one object"),
        ("salesforce.Service", "CLASSIC", 'salesforce.Service: must be LIGHTNING, got "CLASSIC"'),
        ("salesforce.UrlBase", "https://acme.example.com", "salesforce.UrlBase: must be an https My Domain URL"),
        ("salesforce.UrlBase", "http://acme.my.salesforce.com", "salesforce.UrlBase: must be an https My Domain URL"),
        ("salesforce.OMSCustomField", [], "salesforce.OMSCustomField: an entry with posField ORDER_STORE_ID"),
        ("salesforce.OMSStatusesToProcess", [], "salesforce.OMSStatusesToProcess: must list at least one"),
        ("salesforce.FilterQuery", "Status = 'Allocated", "salesforce.FilterQuery: unterminated string literal"),
        ("salesforce.FilterQuery", "(Status = 'A'", "salesforce.FilterQuery: unbalanced parentheses"),
        ("salesforce.FilterQuery", "Status = 'A')", "salesforce.FilterQuery: unbalanced parentheses"),
        ("salesforce.FilterQuery", "Status = 'A'; DELETE", "salesforce.FilterQuery: must not contain ';'"),
        ("salesforce.FilterQuery", "Id != null SELECT Id FROM Account", "salesforce.FilterQuery: must be a WHERE"),
        ("salesforce.FilterQuery", "WHERE Status = 'A'", "salesforce.FilterQuery: write the condition without"),
        ("salesforce.FilterQuery", "Status = \"A\"", "salesforce.FilterQuery: double quotes are not SOQL"),
        ("salesforce.Bogus", 1, "salesforce.Bogus: unknown key"),
        ("salesforce.UrlBase", KeyError, "salesforce.UrlBase: required key is missing"),
        ("auth.flow", "saml", "auth.flow: Input should be"),
        ("auth.client_secret", KeyError, "auth.flow: the password flow needs auth.client_secret"),
        ("pos.auth.pos_secret", KeyError, "pos.auth: legacy mode needs pos_secret"),
        ("pos.environment", "Prod", "pos.environment: Input should be"),
        ("worker.store_url", "mysql://x", "worker.store_url: expected \"sqlite:///path.db\""),
        ("worker.status_mapping", {"PICK": "Pickpack"}, "worker.status_mapping: unknown POS event PICK"),
        ("worker.concurrency", {"import_batch_size": 500}, "worker.concurrency.import_batch_size:"),
        ("worker.concurrency", {"posting_batch_size": 76}, "worker.concurrency.posting_batch_size:"),
        ("worker.returns", {"reason_map": {"DAMAGED": " "}}, "worker.returns.reason_map: codes and reasons must"),
        ("worker.returns", {"default_reason": ""}, "worker.returns.default_reason:"),
        ("salesforce.order_summary", "flow", "salesforce.order_summary: Input should be 'connect' or 'org_flow'"),
        ("salesforce.order_summary_grace_seconds", -1, "salesforce.order_summary_grace_seconds:"),
    ],
)
def test_each_invalid_value_gets_one_clear_message(path: str, value: Any, expected: str) -> None:
    """Each bad value yields a message that names the key path and the reason."""
    problems = problems_of(with_change(path, value))
    assert any(p.startswith(expected) for p in problems), problems


GUIDE_VALUES: dict[str, Any] = {  # the integration guide's PS OMS Configuration example, verbatim
    "Service": "LIGHTNING", "UrlBase": "https://ps--uat.my.salesforce.com/",
    "Username": "psintegration@predictspring.com", "Password": "pw", "ApiVersion": "v49.0", "QueryApiVersion": "v49.0",
    "OMSCustomField":
        '[ { "omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": [ "LOCATION" ] } ]',
    "FilterQuery": "DeliveryMethod.Name = 'Store Pickup CAD'", "OMSStatusCanceledValue": "Processing Cancel",
    "OMSCashPaymentGatewayName": "CashPOS", "OMSStatusesToProcess": ["Invoice Paid"],
}


@pytest.mark.parametrize("custom_field", [GUIDE_VALUES["OMSCustomField"], [
    {"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": ["LOCATION"]}]])
def test_the_guides_ps_oms_configuration_parses_as_written(custom_field: Any) -> None:
    """The guide's example values (v49.0, applyTo as a list, the JSON text or the same as YAML) are accepted;
    composite graph requests go to v50.0 while every other call keeps v49.0."""
    config = parse_config({**BASE, "salesforce": {**GUIDE_VALUES, "OMSCustomField": custom_field}}, {})
    sf = config.salesforce
    assert (sf.ApiVersion, sf.QueryApiVersion, sf.graph_api_version) == ("v49.0", "v49.0", "v50.0")
    assert sf.store_id_field == "warehouseID__c" and sf.OMSCustomField[0].applyTo == ("LOCATION",)
    assert sf.statuses_to_process() == frozenset({"invoice paid"})
    assert parse_config(BASE, {}).salesforce.graph_api_version == "v62.0"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "DeliveryMethod.Name IN ('BOPIS','BOFIS')",
        "Type = 'In Store Pickup' AND (FulfilledFromLocation.warehouseID__c != null)",
        "Name = 'O\\'Brien; (test)'",
        "OrderSummaryId IN (SELECT Id FROM OrderSummary WHERE Status = 'Created')",
    ],
)
def test_valid_filter_queries_pass(query: str) -> None:
    """FilterQuery conditions with quotes, escapes, nesting and a semi-join are accepted."""
    config = parse_config(with_change("salesforce.FilterQuery", query), {})
    assert config.salesforce.FilterQuery == query.strip()


def test_secret_values_never_appear_in_errors() -> None:
    """A validation error about a secret field does not echo the secret's value."""
    problems = problems_of(with_change("salesforce.Password", ["not-a-string-secret"]))
    assert problems and all("not-a-string-secret" not in p for p in problems)


def test_env_interpolation_and_defaults() -> None:
    """${VAR} takes the environment value and ${VAR:-default} falls back to the default."""
    data = with_change("salesforce.Password", "${SF_PW}")
    data["salesforce"]["Username"] = "${SF_USER:-fallback@acme.com}"
    config = parse_config(data, {"SF_PW": "from-env"})
    assert config.salesforce.Password is not None
    assert config.salesforce.Password.get_secret_value() == "from-env"
    assert config.salesforce.Username == "fallback@acme.com"


def test_missing_env_variable_is_named() -> None:
    """An unset ${VAR} without default is reported with its key path and variable name."""
    problems = problems_of(with_change("salesforce.Password", "${NOPE_NOT_SET}"))
    assert problems == ["salesforce.Password: environment variable NOPE_NOT_SET is not set"]


def test_secret_from_file(tmp_path: Path) -> None:
    """<secret>_file reads the secret from a file, without its trailing newline."""
    secret = tmp_path / "pw"
    secret.write_text("file-secret\n")
    data = with_change("salesforce.Password", KeyError)
    data["salesforce"]["Password_file"] = str(secret)
    config = parse_config(data, {})
    assert config.salesforce.Password is not None
    assert config.salesforce.Password.get_secret_value() == "file-secret"


def test_secret_file_errors_are_clear(tmp_path: Path) -> None:
    """A missing secret file, or both forms at once, is a clear error naming the key."""
    data = copy.deepcopy(BASE)
    data["salesforce"]["Password_file"] = str(tmp_path / "missing")
    assert problems_of(data)[0].startswith("salesforce.Password_file: set either Password or Password_file")
    del data["salesforce"]["Password"]
    assert problems_of(data)[0].startswith("salesforce.Password_file: cannot read secret file")


def test_statuses_accept_comma_string_and_both_cancel_spellings() -> None:
    """OMSStatusesToProcess accepts a comma list; Canceled and Cancelled are treated as one status."""
    config = parse_config(with_change("salesforce.OMSStatusesToProcess", "Allocated, Canceled"), {})
    assert config.salesforce.statuses_to_process() == {"allocated", "canceled", "cancelled"}


def test_redacted_dump_hides_every_secret() -> None:
    """The effective config printed by check-config contains no secret value."""
    config = parse_config(BASE, {})
    text = yaml.safe_dump(redacted(config))
    for secret in config.secret_values():
        assert secret not in text
    assert "**********" in text
    assert set(config.secret_values()) >= {"pw-secret-123", "client-secret-456", "pos-secret-789", "webhook-key-1"}


def test_config_is_frozen() -> None:
    """Config models are immutable once loaded."""
    config = parse_config(BASE, {})
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for frozen models
        config.salesforce.ApiVersion = "v63.0"  # type: ignore[misc]


def test_check_config_cli_prints_redacted_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`oms-worker check-config` prints the effective config without secrets and exits 0."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ApiVersion: v62.0" in out and "pw-secret-123" not in out and "client-secret-456" not in out


def test_check_config_cli_bad_config_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad config exits 2 with one line per problem and no traceback."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_change("salesforce.ApiVersion", "49")))
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert 'salesforce.ApiVersion: expected vNN.N, got "49"' in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("salesforce: [", "not valid YAML at line"),
        ("- a\n- b\n", "(top level): expected a mapping"),
        ("worker: {x: [${V}]}", "quote ${VAR} values"),
    ],
)
def test_unreadable_yaml_is_explained(tmp_path: Path, text: str, expected: str) -> None:
    """Broken YAML or a non-mapping document gets a clear message, not a traceback."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert expected in info.value.problems[0]


def test_missing_file_is_explained(tmp_path: Path) -> None:
    """A config path that does not exist is reported, with exit code 2 from the CLI."""
    assert main(["check-config", "--config", str(tmp_path / "absent.yaml")]) == 2


@pytest.mark.parametrize("name", ["worker.example.yaml", "demo.yaml", "demo-graphql.yaml"])
def test_shipped_example_configs_are_valid(name: str) -> None:
    """The shipped example and demo configs validate (with the example's env vars set)."""
    env = {k: "x-value" for k in (
        "SF_CLIENT_ID", "SF_CLIENT_SECRET", "POS_CLIENT_ID", "POS_CLIENT_SECRET", "POS_SECRET", "POS_API_KEY",
        "WEBHOOK_API_KEY", "SPI_API_KEY_PRODUCTION", "SPI_API_KEY_STAGING",
    )}
    config = load_config(ROOT / "config" / name, env)
    assert config.salesforce.Service == "LIGHTNING"
