"""The Hyperforce POS API table of the integration guide, built in: base URL and x-salesforce-region per row."""

from __future__ import annotations

from typing import Any

import pytest

from worker.config import PosConfig
from worker.config_load import parse_config
from worker.errors import ConfigError
from worker.pos.auth import hyperforce_routing
from worker.pos.endpoints import resolve_base_url, resolve_salesforce_region

MY_DOMAIN = "https://acme.my.salesforce.com"

# integration-guide-facts.md, "Hyperforce POS API": Environment | Base URL (non-sandbox) | Sandbox base URL | region
GUIDE_TABLE = [
    ("Production", "https://api.salesforce.com/commerce/retailcloud/v1-alpha.1",
     "https://api.salesforce.com/commerce/retailcloud/v1-alpha.1/sandbox", "us-east-2"),
    ("Staging", "https://stage.api.salesforce.com/commerce/retailcloud/v1-alpha.1",
     "https://stage.api.salesforce.com/commerce/retailcloud/v1-alpha.1/sandbox", "us-east-2"),
    ("Test", "https://test.api.salesforce.com/commerce/retailcloud/v1-alpha.1",
     "https://test.api.salesforce.com/commerce/retailcloud/v1-alpha.1/sandbox", "us-west-2"),
    ("Dev", "https://dev.api.salesforce.com/commerce/retailcloud/v1-alpha.1",
     "https://dev.api.salesforce.com/commerce/retailcloud/v1-alpha.1/sandbox", "us-west-2"),
]
ROWS = [(env, False, base, region) for env, base, _, region in GUIDE_TABLE] + [
    (env, True, sandbox, region) for env, _, sandbox, region in GUIDE_TABLE
]


def hyperforce(**overrides: Any) -> PosConfig:
    raw: dict[str, Any] = {
        "merchant_id": "acme", "locale": "en_US", "region": "US", "token_url": MY_DOMAIN,
        "auth": {"mode": "hyperforce", "client_id": "c", "client_secret": "s", **overrides.pop("auth", {})},
    }
    return PosConfig.model_validate({**raw, **overrides})


@pytest.mark.parametrize(("environment", "sandbox", "base_url", "region"), ROWS)
def test_guide_table_row(environment: str, sandbox: bool, base_url: str, region: str) -> None:
    """Each (environment, sandbox) row of the guide's table gives its base URL and x-salesforce-region."""
    config = hyperforce(environment=environment, sandbox=sandbox)
    assert resolve_base_url(config) == base_url
    assert resolve_salesforce_region(config) == region
    assert hyperforce_routing(config) == {"x-salesforce-region": region, "x-locale": "en_US", "x-region": "US"}


def test_each_value_is_overridable() -> None:
    """pos.base_url and pos.salesforce_region override the table; the other value still comes from it."""
    url_only = hyperforce(environment="Test", base_url="https://pos.example/")
    assert (resolve_base_url(url_only), resolve_salesforce_region(url_only)) == ("https://pos.example", "us-west-2")
    region_only = hyperforce(environment="Test", sandbox=True, salesforce_region="eu-central-1")
    assert resolve_base_url(region_only) == GUIDE_TABLE[2][2]
    assert resolve_salesforce_region(region_only) == "eu-central-1"


LEGACY = {"mode": "legacy", "pos_secret": "p", "api_key": "k"}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"auth": {"sandbox": True}}, "pos.auth.sandbox: moved to pos.sandbox"),
        ({"auth": {"salesforce_region": "us-east-2"}}, "pos.auth.salesforce_region: moved to pos.salesforce_region"),
        ({"salesforce_region": "us east 2"}, "pos.salesforce_region: expected a region such as us-east-2"),
        ({"token_url": None}, "pos.token_url: Hyperforce tokens come from the merchant's Salesforce org"),
        ({"auth": LEGACY, "sandbox": True}, "pos.sandbox: only for auth.mode hyperforce"),
        ({"auth": LEGACY, "salesforce_region": "us-east-2"}, "pos.salesforce_region: only for auth.mode hyperforce"),
        ({"auth": LEGACY, "environment": "Dev", "token_url": None}, "pos.base_url: no public default for legacy Dev"),
    ],
)
def test_config_errors_name_the_key(overrides: dict[str, Any], problem: str) -> None:
    """Old or misplaced keys and URLs the worker cannot derive fail at load time (check-config), naming the key."""
    overrides = dict(overrides)
    raw_pos: dict[str, Any] = {
        "merchant_id": "acme", "token_url": MY_DOMAIN,
        "auth": {"mode": "hyperforce", "client_id": "c", "client_secret": "s", **overrides.pop("auth", {})},
        **overrides,
    }
    raw = {
        "salesforce": {"UrlBase": "https://acme.my.salesforce.com", "OMSCustomField": [
            {"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}]},
        "auth": {"client_id": "cid", "client_secret": "cs"},
        "pos": {k: v for k, v in raw_pos.items() if v is not None},
        "worker": {"webhook": {"api_key": "wk"}},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, {})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem)
