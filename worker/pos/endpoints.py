"""Where the POS lives: base URL, token URL and path templates.

An explicit ``pos.base_url`` / ``pos.token_url`` always wins. Only the legacy (PredictSpring-hosted)
Production and Staging hosts are public (reference ``pos-api.md`` §1.1); Test/Dev and every Hyperforce host
are not (§1.2 "Hyperforce API host: NOT FOUND"), so those need explicit URLs instead of invented defaults.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from worker.config import PosConfig, PosPaths
from worker.errors import ConfigError

LEGACY_BASE_URLS = {
    "Production": "https://api.predictspring.com/prod/service",
    "Staging": "https://api.predictspring.com/staging/service",
}
LEGACY_TOKEN_URLS = {
    "Production": "https://prod-oauth2.predictspring.com/oauth2/token",
    "Staging": "https://staging-oauth2.predictspring.com/oauth2/token",
}
SALESFORCE_TOKEN_PATH = "/services/oauth2/token"
PATH_KEYS = frozenset(PosPaths.model_fields)


def _check_url(key: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError([f'{key}: expected an http(s) URL, got "{url}"'])
    return url.rstrip("/")


def resolve_base_url(config: PosConfig) -> str:
    """The API base URL (everything before ``/merchant/...``)."""
    if config.base_url:
        return _check_url("pos.base_url", config.base_url)
    if config.auth.mode == "hyperforce":
        raise ConfigError(
            [f"pos.base_url: no public default for Hyperforce {config.environment}; set pos.base_url"])
    if config.environment not in LEGACY_BASE_URLS:
        raise ConfigError(
            [f"pos.base_url: no public default for legacy {config.environment}; set pos.base_url"])
    return LEGACY_BASE_URLS[config.environment]


def resolve_token_url(config: PosConfig) -> str:
    """The OAuth2 client-credentials token URL for the configured auth mode."""
    if config.auth.mode == "hyperforce":
        if not config.token_url:
            raise ConfigError([
                "pos.token_url: Hyperforce tokens come from the merchant's Salesforce org; set "
                "pos.token_url to its My Domain URL (e.g. https://acme.my.salesforce.com)"
            ])
        url = _check_url("pos.token_url", config.token_url)
        if urlsplit(url).path in ("", "/"):
            url += SALESFORCE_TOKEN_PATH
        return url
    if config.token_url:
        return _check_url("pos.token_url", config.token_url)
    if config.environment not in LEGACY_TOKEN_URLS:
        raise ConfigError(
            [f"pos.token_url: no public default for legacy {config.environment}; set pos.token_url"])
    return LEGACY_TOKEN_URLS[config.environment]


class Endpoints:
    """Builds request URLs from the configured path templates (``{version}``, ``{order_id}``)."""

    def __init__(self, config: PosConfig) -> None:
        self.base_url = resolve_base_url(config)
        self.token_url = resolve_token_url(config)
        self._paths = config.paths
        self._version = config.api_version

    def template(self, path_key: str) -> str:
        """The configured template for ``path_key`` (a field name of :class:`PosPaths`); safe to log."""
        if path_key not in PATH_KEYS:
            raise KeyError(f"unknown POS path {path_key!r}")
        return str(getattr(self._paths, path_key))

    def url(self, path_key: str, order_id: str | None = None) -> str:
        template = self.template(path_key)
        if "{order_id}" in template and not order_id:
            raise ValueError(f"POS path {path_key!r} needs an order id")
        path = template.replace("{version}", quote(self._version, safe=""))
        if order_id is not None:
            path = path.replace("{order_id}", quote(order_id, safe=""))
        return self.base_url + path
