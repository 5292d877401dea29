"""Webhook and SPI credentials at the edge, and the ``worker.http`` / ``worker.webhook`` / ``worker.spi`` config."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr, ValidationError

from worker.config import HttpConfig, SpiConfig, WebhookConfig
from worker.http_limits import server_options
from worker.server import authorized, header_bytes
from worker.spi_edge import SPI_KEYS
from worker.spi_edge import authorized as spi_authorized

KEY = "whk-S3CRET-7f31c2d9"


def _request(headers: dict[str, str], path: str = "/webhooks/pos/ORDER") -> Any:
    return make_mocked_request("POST", path, headers=headers)


@pytest.mark.parametrize(("config", "value", "ok"), [
    ({}, f"Bearer {KEY}", True), ({}, f"bearer {KEY}", True), ({}, f"BEARER   {KEY}", True),
    ({}, KEY, False), ({}, f"Basic {KEY}", False), ({}, f"Bearer{KEY}", False), ({}, f"Bearer {KEY}x", False),
    ({}, f"Bearer {KEY} {KEY}", False), ({}, "", False),  # (non-UTF-8 bytes: tests/integration/server/test_edges)
    ({"auth_scheme": ""}, KEY, True), ({"auth_scheme": ""}, f"Bearer {KEY}", False),
    ({"auth_scheme": "Token"}, f"token {KEY}", True), ({"auth_scheme": "Token"}, f"Bearer {KEY}", False),
    ({"auth_header": "X-Api-Key"}, KEY, True), ({"auth_header": "X-Api-Key"}, f"Bearer {KEY}", False),
    ({"auth_header": "X-Api-Key", "auth_scheme": "Bearer"}, f"Bearer {KEY}", True),
])
def test_webhook_accepts_exactly_the_configured_scheme(config: dict[str, Any], value: str, ok: bool) -> None:
    """'<scheme> <key>' as configured (Bearer for Authorization, bare for other headers); nothing else."""
    webhook = WebhookConfig.model_validate({"api_key": KEY, **config})
    assert authorized(_request({webhook.auth_header: value}), webhook) is ok


def test_missing_header_is_refused() -> None:
    """No header at all is refused for every scheme."""
    for config in ({}, {"auth_scheme": ""}, {"auth_header": "X-Api-Key"}):
        assert not authorized(_request({}), WebhookConfig.model_validate({"api_key": KEY, **config}))


@pytest.mark.parametrize("value", ["Bearer \udcff", "\ud800", "plain", ""])
def test_header_bytes_never_raises(value: str) -> None:
    """Header text from aiohttp (surrogate-escaped bytes) and even a lone surrogate become bytes without error."""
    assert isinstance(header_bytes(value), bytes)


@pytest.mark.parametrize(("query", "ok"), [
    ("api_key=prod", True), ("api_key=staging", True), ("api_key=", False), ("", False), ("api_key=Prod", False),
    ("api_key=prod%00", False), ("api_key=%ff%fe", False), ("api_key=" + "k" * 10_000, False),
    ("api_key=prod&api_key=x", True),
])
def test_spi_key_check(query: str, ok: bool) -> None:
    """?api_key= must equal one of the keys exactly; undecodable or huge keys are simply refused."""
    app = web.Application()
    app[SPI_KEYS] = (SecretStr("prod"), SecretStr("staging"))
    request = make_mocked_request("GET", f"/spi/1.0/orders/search?{query}", app=app)
    assert spi_authorized(request) is ok


def test_webhook_config_defaults_and_refusals() -> None:
    """Bearer is the default scheme for Authorization only; bad header names, schemes and empty keys are refused."""
    assert WebhookConfig.model_validate({"api_key": KEY}).scheme == "Bearer"
    assert WebhookConfig.model_validate({"api_key": KEY, "auth_header": "X-Api-Key"}).scheme == ""
    assert WebhookConfig.model_validate({"api_key": KEY, "auth_scheme": ""}).scheme == ""
    for bad in ({"api_key": ""}, {"api_key": "  "}, {"api_key": KEY, "auth_header": "X Api"},
                {"api_key": KEY, "auth_scheme": "Bear er"}, {"api_key": KEY, "auth_header": "X-Key:"}):
        with pytest.raises(ValidationError):
            WebhookConfig.model_validate(bad)


def test_spi_config_drops_empty_keys() -> None:
    """An empty SPI key (an unset optional env var) is dropped: it must never match an empty ?api_key=."""
    keys = SpiConfig.model_validate({"api_keys": ["prod", "", "  "]}).api_keys
    assert [k.get_secret_value() for k in keys] == ["prod"]


def test_http_config_limits_and_server_options() -> None:
    """Timeouts and the cap have bounded defaults and reach aiohttp as keepalive/line-size/lingering options."""
    http = HttpConfig()
    assert (http.header_read_timeout_seconds, http.body_read_timeout_seconds, http.keepalive_timeout_seconds,
            http.max_connections, http.max_request_line_bytes) == (10.0, 30.0, 75.0, 1000, 16_384)
    assert server_options(HttpConfig(body_read_timeout_seconds=3)) == {
        "keepalive_timeout": 75.0, "max_line_size": 16_384, "lingering_time": 3.0}
    for bad in ({"max_connections": 0}, {"header_read_timeout_seconds": 0}, {"max_request_line_bytes": 100},
                {"keepalive_timeout_seconds": -1}, {"read_timeout": 5}):
        with pytest.raises(ValidationError):
            HttpConfig.model_validate(bad)
