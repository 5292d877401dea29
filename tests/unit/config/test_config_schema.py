"""The configuration's JSON Schema: checked-in copy current, example configs valid, ${VAR} and *_file understood."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from worker.config_load import parse_config
from worker.config_schema import config_schema, render_schema
from worker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
CHECKED_IN = ROOT / "config" / "worker.schema.json"
SCHEMA_COMMENT = "# yaml-language-server: $schema=worker.schema.json"
MINIMAL: dict[str, Any] = {
    "salesforce": {"UrlBase": "https://acme.my.salesforce.com", "OMSCustomField": [
        {"omsFieldName": "Store__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}]},
    "auth": {"client_id": "cid", "client_secret": "s3cret-value"},
    "pos": {"merchant_id": "acme", "auth": {"client_id": "p", "client_secret": "x", "pos_secret": "y", "api_key": "z"}},
    "worker": {"webhook": {"api_key": "k"}},
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_checked_in_schema_is_current() -> None:
    """config/worker.schema.json equals what `oms-worker schema` prints for the current models."""
    current = CHECKED_IN.read_text(encoding="utf-8") if CHECKED_IN.exists() else ""
    if current != render_schema():
        pytest.fail("config/worker.schema.json is out of date with the config models: run "
                    "`oms-worker schema > config/worker.schema.json`", pytrace=False)


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_match_the_schema(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    """Every config/*.yaml names the schema on its first line and validates against it as written (${VAR} too)."""
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == SCHEMA_COMMENT
    data = yaml.safe_load(text)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize(("section", "key", "value", "valid"), [
    ("worker", "http", {"port": "${PORT:-8080}"}, True),  # interpolated before validation
    ("worker", "http", {"port": "eighty"}, False),
    ("worker", "log_level", "${LOG_LEVEL}", True),
    ("worker", "lease_seconds", -1, False),
    ("worker", "no_such_key", 1, False),  # unknown keys are errors
    ("auth", "client_secret_file", "/run/secrets/sf", True),  # *_file beside a secret (client_secret removed below)
    ("auth", "client_secret_file", "/run/secrets/sf", False),  # ... but not both
    ("salesforce", "OMSStatusesToProcess", "Allocated, Fulfilled", True),  # a list may be given as one string
])
def test_schema_decides_like_the_loader(validator: jsonschema.Draft202012Validator, section: str, key: str,
                                        value: Any, valid: bool, request: pytest.FixtureRequest) -> None:
    """The schema accepts and refuses these edits of a minimal config as the loader does."""
    data = copy.deepcopy(MINIMAL)
    data[section][key] = value
    if key == "client_secret_file" and valid:
        del data["auth"]["client_secret"]
    assert validator.is_valid(data) is valid


def test_schema_has_descriptions() -> None:
    """Fields carry descriptions (model comments, docstrings, the documented example), without reST markup."""
    props = config_schema()["$defs"]["SalesforceConfig"]["properties"]
    assert "My Domain" in props["UrlBase"]["description"]
    assert "``" not in render_schema()


@pytest.mark.parametrize(("value", "problem"), [
    (62, 'salesforce.ApiVersion: expected vNN.N, got "62"'),
    (62.0, 'salesforce.ApiVersion: expected vNN.N, got "62.0"'),
])
def test_api_version_as_a_yaml_number_is_explained(value: float, problem: str) -> None:
    """`ApiVersion: 62` (a YAML number) gets the field's own message, not pydantic's 'valid string'."""
    data = copy.deepcopy(MINIMAL)
    data["salesforce"]["ApiVersion"] = value
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    assert caught.value.problems == [problem]


def test_a_number_where_text_is_expected_says_quote_it() -> None:
    """A YAML number for a text field that would pass as text is still refused, with a hint to quote it."""
    data = copy.deepcopy(MINIMAL)
    data["pos"]["merchant_id"] = 12345
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    assert caught.value.problems == ["pos.merchant_id: expected text, got the number 12345 (put it in quotes)"]
