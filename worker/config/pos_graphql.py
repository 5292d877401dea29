"""``pos.backend: graphql``: the GraphQL POS API settings (``pos.graphql``) and the flows that back-end refuses.

The GraphQL POS offers sale history, customers, locations and the environment, and nothing a Retail Cloud POS
does for the OMS (fulfillment order import, store-fulfilment events, SPIs, webhooks). A configuration that asks
for one of those flows with this back-end is refused by ``check-config`` (and at ``run``), naming the flow and
the back-end, so the worker never half-runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from .common import Frozen

if TYPE_CHECKING:
    from .root import Config

BACKENDS = ("retail_cloud", "graphql")


class PosGraphqlConfig(Frozen):
    """Where the GraphQL POS answers and how the worker logs in (OpenID Connect client credentials)."""

    url: str  # the GraphQL endpoint (POST)
    issuer: str  # OIDC issuer: {issuer}/.well-known/openid-configuration names the token_endpoint
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: str | None = None  # sent with the token request when set
    poll_interval_seconds: float = Field(default=30.0, gt=0)  # how often sale history is polled
    overlap_seconds: float = Field(default=300.0, ge=0)  # windows start this long before the newest sale read
    initial_lookback_seconds: float = Field(default=86_400.0, ge=0)  # the first window, with no cursor yet
    page_size: int = Field(default=100, ge=1, le=500)  # sales per `sale` page
    timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("url", "issuer")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f'expected an http(s) URL, got "{value}"')
        return value.rstrip("/")


def backend_problems(config: Config) -> list[str]:
    """``key: reason`` for each setting the configured POS back-end cannot honour (empty: consistent)."""
    pos, wc, sf = config.pos, config.worker, config.salesforce
    if pos.backend == "retail_cloud":
        found = []
        if pos.auth is None:
            found.append("pos.auth: required for pos.backend retail_cloud (the POS client credentials)")
        if wc.webhook is None:
            found.append("worker.webhook: required for pos.backend retail_cloud (the POS exports sales by webhook)")
        if pos.graphql is not None:
            found.append("pos.graphql: only for pos.backend graphql (set pos.backend: graphql or remove it)")
        return found
    why = "pos.backend graphql cannot do it (the GraphQL POS API offers no endpoint for it)"
    found = []
    if pos.graphql is None:
        found.append("pos.graphql: required for pos.backend graphql (url, issuer, client_id, client_secret)")
    fulfillment_import = (("salesforce.OMSStatusesToProcess", "OMSStatusesToProcess" in sf.model_fields_set),
                          ("salesforce.FilterQuery", bool(sf.FilterQuery)),
                          ("worker.reconcile", "reconcile" in wc.model_fields_set),
                          ("worker.stream", "stream" in wc.model_fields_set))
    import_keys = [key for key, configured in fulfillment_import if configured]
    if import_keys:  # the key named is one the configuration sets
        found.append(f"{import_keys[0]}: the fulfillment import flow (FulfillmentOrders into the POS) is configured, "
                     f"but {why}; remove {', '.join(import_keys)}")
    if "status_mapping" in wc.model_fields_set:
        found.append("worker.status_mapping: the store-fulfilment status write-back flow is configured, but "
                     f"{why}; remove worker.status_mapping")
    if wc.spi.api_keys:
        found.append(f"worker.spi.api_keys: the SPIs the POS would call are configured, but {why}; remove worker.spi")
    if wc.webhook is not None:
        found.append(f"worker.webhook: the POS webhooks flow is configured, but {why} (sales come from sale "
                     "history polling); remove worker.webhook")
    if "sale_sweep" in wc.model_fields_set:
        found.append("worker.sale_sweep: the Retail Cloud order search flow is configured, but "
                     f"{why}; sale history is polled every pos.graphql.poll_interval_seconds instead")
    if pos.auth is not None:
        found.append("pos.auth: Retail Cloud credentials are configured, but pos.backend graphql logs in with "
                     "pos.graphql.client_id and client_secret; remove pos.auth")
    return found
