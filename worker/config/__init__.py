"""Pydantic models of the worker's YAML configuration, one module per section.

The ``salesforce:`` section mirrors "PS OMS Configuration" and keeps its field names verbatim (Service, UrlBase,
Username, Password, ApiVersion, QueryApiVersion, OMSCustomField, FilterQuery, OMSStatusCanceledValue,
OMSCashPaymentGatewayName, OMSStatusesToProcess). Every model is frozen and forbids unknown keys, so a typo is
an error naming the key instead of a silently ignored setting. Loading (``${VAR}`` interpolation, ``*_file``
secrets, error formatting) lives in :mod:`worker.config_load`.

Modules: :mod:`~worker.config.common` (the frozen base, secret key names, shared validators),
:mod:`~worker.config.salesforce` (``salesforce:`` and ``auth:``), :mod:`~worker.config.pos` (``pos:``),
:mod:`~worker.config.worker_section` (``worker:``) and :mod:`~worker.config.root` (:class:`Config`, the checks
spanning sections). Import every name from here: ``from worker.config import Config``.
"""

from __future__ import annotations

from .common import (
    API_VERSION,
    POS_VALUE,
    SECRET_KEYS,
    SECRET_LIST_KEYS,
    Frozen,
    check_api_version,
    check_pos_value,
)
from .pos import PosAuthConfig, PosConfig, PosPaths
from .root import Config
from .salesforce import (
    GRAPH_MIN_VERSION,
    ApplyTo,
    AuthConfig,
    FulfillmentRules,
    FulfillmentTypeRule,
    OmsCustomField,
    SalesforceConfig,
)
from .worker_section import (
    DEFAULT_RETURN_REASONS,
    POS_EVENTS,
    ConcurrencyConfig,
    HttpConfig,
    ReconcileConfig,
    RetryConfig,
    ReturnsConfig,
    SaleSweepConfig,
    SpiConfig,
    StreamConfig,
    WebhookConfig,
    WorkerConfig,
)

__all__ = [
    "API_VERSION", "DEFAULT_RETURN_REASONS", "GRAPH_MIN_VERSION", "POS_EVENTS", "POS_VALUE", "SECRET_KEYS",
    "SECRET_LIST_KEYS", "ApplyTo", "AuthConfig", "ConcurrencyConfig", "Config", "Frozen", "FulfillmentRules",
    "FulfillmentTypeRule", "HttpConfig", "OmsCustomField", "PosAuthConfig", "PosConfig", "PosPaths",
    "ReconcileConfig", "RetryConfig", "ReturnsConfig", "SaleSweepConfig", "SalesforceConfig", "SpiConfig",
    "StreamConfig", "WebhookConfig", "WorkerConfig", "check_api_version", "check_pos_value",
]
