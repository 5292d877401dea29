"""Where the POS lives: base URL, token URL, ``x-salesforce-region`` and path templates.

* Legacy (PredictSpring-hosted): only the Production and Staging hosts are public (reference ``pos-api.md`` §1.1);
  Test/Dev need explicit ``pos.base_url`` and ``pos.token_url``.
* Hyperforce: the integration guide's table (``integration-guide-facts.md``, "Hyperforce POS API"): base URL and
  ``x-salesforce-region`` per environment, ``/sandbox`` appended for a sandbox (``pos.sandbox``). Tokens come from
  the merchant's own org, so ``pos.token_url`` (its My Domain URL) is required. Whether the Hyperforce gateway keeps
  the legacy ``/merchant/{version}/...`` paths below the base URL is not in the guide; ``pos.paths`` changes them.

An explicit ``pos.base_url`` / ``pos.token_url`` / ``pos.salesforce_region`` always wins. :func:`config_problem` runs
at config load (``PosConfig`` validation), so ``check-config`` reports what cannot be derived.
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
# environment -> (non-sandbox base URL, x-salesforce-region); a sandbox base URL is the same plus "/sandbox"
HYPERFORCE = {
    "Production": ("https://api.salesforce.com/commerce/retailcloud/v1-alpha.1", "us-east-2"),
    "Staging": ("https://stage.api.salesforce.com/commerce/retailcloud/v1-alpha.1", "us-east-2"),
    "Test": ("https://test.api.salesforce.com/commerce/retailcloud/v1-alpha.1", "us-west-2"),
    "Dev": ("https://dev.api.salesforce.com/commerce/retailcloud/v1-alpha.1", "us-west-2"),
}
HYPERFORCE_SANDBOX_SUFFIX = "/sandbox"
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
    if config.rest_auth.mode == "hyperforce":
        base = HYPERFORCE[config.environment][0]
        return base + HYPERFORCE_SANDBOX_SUFFIX if config.sandbox else base
    if config.environment not in LEGACY_BASE_URLS:
        raise ConfigError(
            [f"pos.base_url: no public default for legacy {config.environment}; set pos.base_url"])
    return LEGACY_BASE_URLS[config.environment]


def resolve_token_url(config: PosConfig) -> str:
    """The OAuth2 client-credentials token URL for the configured auth mode."""
    if config.rest_auth.mode == "hyperforce":
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


def resolve_salesforce_region(config: PosConfig) -> str:
    """Hyperforce ``x-salesforce-region``: ``pos.salesforce_region``, else the guide's value for the environment."""
    return config.salesforce_region or HYPERFORCE[config.environment][1]


def config_problem(config: PosConfig) -> str | None:
    """The first thing the client could not derive, as ``key: reason`` relative to ``pos`` (None: all fine)."""
    if config.rest_auth.mode != "hyperforce":
        if config.sandbox:
            return "sandbox: only for auth.mode hyperforce (the legacy hosts have no sandbox URL)"
        if config.salesforce_region:
            return "salesforce_region: only for auth.mode hyperforce (x-salesforce-region is a Hyperforce header)"
    try:
        resolve_base_url(config)
        resolve_token_url(config)
    except ConfigError as exc:
        return exc.problems[0].removeprefix("pos.")
    return None


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
