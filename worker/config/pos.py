"""The ``pos:`` section: where and how the POS is called, and its client credentials."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from .common import Frozen
from .pos_graphql import PosGraphqlConfig


class PosAuthConfig(Frozen):
    mode: Literal["legacy", "hyperforce"] = "legacy"
    client_id: str
    client_secret: SecretStr
    pos_secret: SecretStr | None = None  # legacy: PredictSpring-Secret header
    api_key: SecretStr | None = None  # legacy: X-api-key header

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: object) -> object:
        """Keys that moved out of pos.auth get a clear error instead of "unknown key"."""
        moved = {
            "sandbox": "moved to pos.sandbox (it picks the Hyperforce sandbox base URL)",
            "salesforce_region": "moved to pos.salesforce_region (default: from pos.environment, the guide's table)",
        }
        for key, where in moved.items():
            if isinstance(data, dict) and key in data:
                raise ValueError(f"{key}: {where}")
        return data

    @model_validator(mode="after")
    def _mode_fields(self) -> PosAuthConfig:
        if self.mode == "legacy" and (self.pos_secret is None or self.api_key is None):
            raise ValueError("legacy mode needs pos_secret (PredictSpring-Secret) and api_key (X-api-key)")
        return self


class PosPaths(Frozen):
    import_fulfillment_order: str = "/merchant/{version}/fulfillmentorders"
    fulfillment_order: str = "/merchant/{version}/fulfillmentorders/{order_id}"
    search_fulfillment_orders: str = "/merchant/{version}/fulfillmentorders/search"
    cancel_fulfillment_order: str = "/merchant/{version}/fulfillmentorders/{order_id}/cancel"
    sale: str = "/merchant/{version}/sa/orders/{order_id}"
    search_sales: str = "/merchant/{version}/sa/orders/search"
    repost: str = "/merchant/{version}/sa/orders/repost"


class PosConfig(Frozen):
    """Where and how the POS is called. Hyperforce: base URL and ``x-salesforce-region`` come from ``environment`` and
    ``sandbox`` (the guide's table, :mod:`worker.pos.endpoints`), each overridable; ``x-locale``/``x-region`` are
    ``locale``/``region`` (the merchant's settings)."""

    backend: Literal["retail_cloud", "graphql"] = "retail_cloud"  # graphql: pos.graphql, sale history polling
    environment: Literal["Production", "Staging", "Test", "Dev"] = "Production"
    sandbox: bool = False  # hyperforce: the sandbox base URL of the environment
    base_url: str | None = None  # override of the derived base URL
    token_url: str | None = None  # legacy: override; hyperforce: the merchant org's My Domain URL (required)
    salesforce_region: str | None = None  # hyperforce: override of the derived x-salesforce-region
    api_version: str = "v1"
    merchant_id: str
    locale: str = "en-US"
    region: str = "US"
    auth: PosAuthConfig | None = None  # retail_cloud: required (Config checks it with the back-end)
    graphql: PosGraphqlConfig | None = None  # graphql: required
    paths: PosPaths = PosPaths()
    timeout_seconds: float = Field(default=15.0, gt=0)
    rate_limit_per_second: float = Field(default=10.0, gt=0)

    @field_validator("salesforce_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", value):
            raise ValueError(f'expected a region such as us-east-2, got "{value}"')
        return value

    @model_validator(mode="after")
    def _resolvable(self) -> PosConfig:
        """Every URL and header value the client needs can be derived now, so check-config catches what is missing."""
        from worker.pos.endpoints import config_problem  # the URL tables live beside the POS client

        if self.auth is None:  # the GraphQL back-end, or a missing pos.auth (Config names it)
            return self
        problem = config_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def rest_auth(self) -> PosAuthConfig:
        """``pos.auth`` of the Retail Cloud back-end (Config has checked it is set for that back-end)."""
        if self.auth is None:
            raise ValueError("pos.auth: required for pos.backend retail_cloud")
        return self.auth

    @property
    def seed_name(self) -> str:
        """``<MerchantId>-<Locale>-<Region>``: default account, price book and sales channel name."""
        return f"{self.merchant_id}-{self.locale}-{self.region}"

