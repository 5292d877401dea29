"""Pydantic models of the worker's YAML configuration.

The ``salesforce:`` section mirrors "PS OMS Configuration" and keeps its field names verbatim (Service, UrlBase,
Username, Password, ApiVersion, QueryApiVersion, OMSCustomField, FilterQuery, OMSStatusCanceledValue,
OMSCashPaymentGatewayName, OMSStatusesToProcess). Every model is frozen and forbids unknown keys, so a typo is
an error naming the key instead of a silently ignored setting. Loading (``${VAR}`` interpolation, ``*_file``
secrets, error formatting) lives in :mod:`worker.config_load`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from worker.soql_check import check_filter_query

API_VERSION = re.compile(r"^v\d{2}\.\d$")
SECRET_KEYS = frozenset({"Password", "client_secret", "refresh_token", "pos_secret", "api_key", "token"})
POS_EVENTS = ("PACK", "DELIVERED", "SHIPPED", "CANCELED")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


ApplyTo = Literal["LOCATION", "FULFILLMENT_ORDER", "ORDER_SUMMARY", "FULFILLMENT_ORDER_LINE_ITEM"]
GRAPH_MIN_VERSION = "v50.0"  # /composite/graph exists from REST API v50.0


class OmsCustomField(Frozen):
    """Where a POS field comes from in Salesforce (PS OMS ``OMSCustomField`` entry). ``applyTo`` is a list in the
    guide's JSON (``["LOCATION"]``); a single string is accepted too."""

    omsFieldName: str
    posField: str
    applyTo: tuple[ApplyTo, ...]

    @field_validator("applyTo", mode="before")
    @classmethod
    def _apply_to(cls, value: object) -> object:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple) and not value:
            raise ValueError("must name at least one object (e.g. LOCATION)")
        return value

    @field_validator("omsFieldName")
    @classmethod
    def _api_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise ValueError(f'expected a Salesforce field API name, got "{value}"')
        return value


def _version(value: str) -> str:
    if not API_VERSION.match(value):
        raise ValueError(f'expected vNN.N, got "{value}"')
    return value


POS_VALUE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _pos_value(value: str | None) -> str | None:
    if value is not None and not POS_VALUE.match(value):
        raise ValueError(f'expected a POS value such as PICKUP_IN_STORE (upper case, digits, _), got "{value}"')
    return value


class FulfillmentTypeRule(Frozen):
    """FulfillmentOrder ``Type`` and/or ``DeliveryMethod.Name`` (exact, case-insensitive) -> POS omniFulfillmentType."""

    fo_type: str | None = None
    delivery_method: str | None = None
    pos_type: str

    _pos = field_validator("pos_type")(_pos_value)

    @model_validator(mode="after")
    def _condition(self) -> FulfillmentTypeRule:
        if not (self.fo_type or "").strip() and not (self.delivery_method or "").strip():
            raise ValueError("name fo_type, delivery_method or both (a rule without a condition would match every FO)")
        return self


class FulfillmentRules(Frozen):
    """How an FO becomes a POS store-fulfilment order (:mod:`worker.mapping.fulfillment_pos`, whose docstring says
    which POS values are unconfirmed). ``types``: first match wins; no match -> ``default_type``, or (None) the FO
    is not imported (dead letter naming its Type and method). ``tenders``: carry the order's payments (one SOQL
    per batch)."""

    types: tuple[FulfillmentTypeRule, ...] = (
        FulfillmentTypeRule(fo_type="In Store Pickup", pos_type="PICKUP_IN_STORE"),  # BOPIS
        FulfillmentTypeRule(fo_type="Retail Store", pos_type="SHIP_TO_HOME_CURRENT_STORE"),  # BOFIS
    )
    default_type: str | None = None
    tenders: bool = True

    _default = field_validator("default_type")(_pos_value)

    @model_validator(mode="after")
    def _something(self) -> FulfillmentRules:
        if not self.types and not self.default_type:
            raise ValueError("types: no rule and no default_type, so no FulfillmentOrder could be imported")
        return self


class SalesforceConfig(Frozen):
    """PS OMS Configuration, names kept verbatim."""

    Service: str = "LIGHTNING"
    UrlBase: str
    Username: str | None = None
    Password: SecretStr | None = None
    ApiVersion: str = "v62.0"
    QueryApiVersion: str = "v62.0"
    OMSCustomField: tuple[OmsCustomField, ...] = ()
    FilterQuery: str = ""
    OMSStatusCanceledValue: str = "Cancelled"
    # The guide: "If this field isn't set, then DigitalWallet.paymentGatewayId isn't set in case of cash payment."
    OMSCashPaymentGatewayName: str | None = None
    # PaymentGateway of card and wallet payment methods (for payment capture in OM); unset: no gateway is set
    card_payment_gateway_name: str | None = None
    OMSStatusesToProcess: tuple[str, ...] = ("Allocated",)
    fulfillment_rules: FulfillmentRules = FulfillmentRules()  # FO Type / delivery method -> POS type; tenders
    allow_insecure_local: bool = False
    ca_file: Path | None = None
    request_timeout_seconds: float = Field(default=60.0, gt=0)

    @field_validator("Service")
    @classmethod
    def _service(cls, value: str) -> str:
        if value != "LIGHTNING":
            raise ValueError(f'must be LIGHTNING, got "{value}"')
        return value

    _api = field_validator("ApiVersion", "QueryApiVersion")(_version)

    @field_validator("OMSCustomField", mode="before")
    @classmethod
    def _custom_fields_json(cls, value: object) -> object:
        """The CMS shows OMSCustomField as JSON text; pasted as a YAML string it is parsed here."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"expected a JSON array of {{omsFieldName, posField, applyTo}} objects: {exc}"
                                 ) from None
        return value

    @field_validator("OMSStatusesToProcess", mode="before")
    @classmethod
    def _statuses(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple) and not value:
            raise ValueError("must list at least one FulfillmentOrder status")
        return value

    @field_validator("FilterQuery")
    @classmethod
    def _filter(cls, value: str) -> str:
        problem = check_filter_query(value)
        if problem:
            raise ValueError(problem)
        return value.strip()

    @model_validator(mode="after")
    def _url_and_fields(self) -> SalesforceConfig:
        parts = urlsplit(self.UrlBase)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError(f'UrlBase: expected an https URL, got "{self.UrlBase}"')
        if not self.allow_insecure_local and (parts.scheme != "https" or not host.endswith("my.salesforce.com")):
            raise ValueError(
                f'UrlBase: must be an https My Domain URL ending with my.salesforce.com, got "{self.UrlBase}" '
                "(set allow_insecure_local: true only for the local emulator)"
            )
        if not any(f.posField == "ORDER_STORE_ID" and "LOCATION" in f.applyTo for f in self.OMSCustomField):
            raise ValueError(
                "OMSCustomField: an entry with posField ORDER_STORE_ID and applyTo LOCATION is required for BOPIS "
                "(the Location field that holds the POS store id)"
            )
        return self

    @property
    def base_url(self) -> str:
        return self.UrlBase.rstrip("/")

    @property
    def graph_api_version(self) -> str:
        """The version of /composite/graph requests: ApiVersion, raised to v50.0 where the resource begins (the
        guide's example ApiVersion is v49.0). Every other call keeps the configured versions."""
        return self.ApiVersion if float(self.ApiVersion[1:]) >= float(GRAPH_MIN_VERSION[1:]) else GRAPH_MIN_VERSION

    @property
    def api_number(self) -> str:
        """``v62.0`` -> ``62.0`` (the CometD path uses the bare number)."""
        return self.ApiVersion[1:]

    @property
    def store_id_field(self) -> str:
        return next(f.omsFieldName for f in self.OMSCustomField
                    if f.posField == "ORDER_STORE_ID" and "LOCATION" in f.applyTo)

    def statuses_to_process(self) -> frozenset[str]:
        """Case-folded statuses, with both Canceled and Cancelled spellings accepted."""
        folded = {s.casefold() for s in self.OMSStatusesToProcess}
        if folded & {"canceled", "cancelled"}:
            folded |= {"canceled", "cancelled"}
        return frozenset(folded)


class AuthConfig(Frozen):
    """How the worker gets a Salesforce access token."""

    flow: Literal["password", "client_credentials", "jwt_bearer", "refresh_token"] = "client_credentials"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    private_key_file: Path | None = None
    refresh_token: SecretStr | None = None
    token_url: str | None = None
    audience: str = "https://login.salesforce.com"


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

    environment: Literal["Production", "Staging", "Test", "Dev"] = "Production"
    sandbox: bool = False  # hyperforce: the sandbox base URL of the environment
    base_url: str | None = None  # override of the derived base URL
    token_url: str | None = None  # legacy: override; hyperforce: the merchant org's My Domain URL (required)
    salesforce_region: str | None = None  # hyperforce: override of the derived x-salesforce-region
    api_version: str = "v1"
    merchant_id: str
    locale: str = "en-US"
    region: str = "US"
    auth: PosAuthConfig
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

        problem = config_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def seed_name(self) -> str:
        """``<MerchantId>-<Locale>-<Region>``: default account, price book and sales channel name."""
        return f"{self.merchant_id}-{self.locale}-{self.region}"


class HttpConfig(Frozen):
    """The worker's server; slow and surplus clients are bounded as described in :mod:`worker.http_limits`."""

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    header_read_timeout_seconds: float = Field(default=10.0, gt=0, le=300)  # first byte -> complete headers
    body_read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)  # the whole body, once a handler reads
    keepalive_timeout_seconds: float = Field(default=75.0, gt=0, le=3600)  # idle between requests
    max_connections: int = Field(default=1000, ge=1, le=100_000)  # more are answered 503 and closed
    max_request_line_bytes: int = Field(default=16_384, ge=8190, le=65_536)


class WebhookConfig(Frozen):
    """How the POS authenticates: ``<auth_header>: <auth_scheme> <api_key>``, exactly (constant-time compare).

    ``auth_scheme`` defaults to ``Bearer`` for the ``Authorization`` header and to none (the bare key) for any
    other header such as ``X-Api-Key``; set it to ``""`` for a bare key in ``Authorization``. The scheme is
    matched case-insensitively (RFC 9110), the key exactly.
    """

    auth_header: str = "Authorization"
    auth_scheme: str | None = None
    api_key: SecretStr
    max_body_bytes: int = Field(default=1_048_576, gt=0)

    @field_validator("auth_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):  # an HTTP token (RFC 9110)
            raise ValueError(f'expected an HTTP header name, got "{value}"')
        return value

    @field_validator("auth_scheme")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):
            raise ValueError(f'expected an authentication scheme such as Bearer, got "{value}"')
        return value

    @field_validator("api_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty (an empty key would accept a request without credentials)")
        return value

    @property
    def scheme(self) -> str:
        """The effective scheme ("" = the bare key)."""
        if self.auth_scheme is not None:
            return self.auth_scheme
        return "Bearer" if self.auth_header.lower() == "authorization" else ""


class SpiConfig(Frozen):
    api_keys: tuple[SecretStr, ...] = ()  # empty entries (an unset optional key) are dropped: never a match

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return tuple(key for key in value if key.get_secret_value().strip())


class ConcurrencyConfig(Frozen):
    import_batch_size: int = Field(default=100, ge=1, le=200)
    import_workers: int = Field(default=2, ge=1, le=64)
    posting_workers: int = Field(default=8, ge=1, le=64)
    posting_batch_size: int = Field(default=50, ge=1, le=75)  # sales per /composite/graph request (75 graphs max)
    status_workers: int = Field(default=4, ge=1, le=64)
    status_batch_size: int = Field(default=200, ge=1, le=200)
    # Sales and status events arrive one webhook at a time; waiting this long after a short claim lets a burst
    # share requests. 0 claims at once (lowest latency, most calls).
    batch_window_ms: float = Field(default=20.0, ge=0, le=1000)


class RetryConfig(Frozen):
    attempts: int = Field(default=10, ge=1)
    base_delay_seconds: float = Field(default=1.0, gt=0)
    max_delay_seconds: float = Field(default=300.0, gt=0)
    jitter: float = Field(default=1.0, ge=0, le=1)
    http_attempts: int = Field(default=4, ge=1)


class ReconcileConfig(Frozen):
    enabled: bool = True
    interval_seconds: float = Field(default=300.0, gt=0)
    overlap_seconds: float = Field(default=120.0, ge=0)


class SaleSweepConfig(Frozen):
    """The POS order search that catches sales whose webhook never arrived (the guide's "order export job")."""

    enabled: bool = True
    interval_seconds: float = Field(default=300.0, gt=0)
    overlap_seconds: float = Field(default=600.0, ge=0)  # late uploads (offline registers) and clock skew


class StreamConfig(Frozen):
    channel: str = "/event/FOStatusChangedEvent"
    keepalive_seconds: float = Field(default=150.0, gt=0)
    initial_replay: Literal[-1, -2] = -1


DEFAULT_RETURN_REASONS = {
    "DAMAGED": "Damaged", "DEFECTIVE": "Defective", "WRONG_ITEM": "Wrong Item", "NOT_SATISFIED": "Not Satisfied",
    "CHANGED_MIND": "Changed Mind", "CUSTOMER_CHANGED_MIND": "Customer Changed Mind",
    "DUPLICATE_ORDER": "Duplicate Order", "OTHER": "Other",
}


class ReturnsConfig(Frozen):
    # POS return reason code -> the org's change-order reason (a ChangeOrderItemReason picklist value). Codes match
    # case-insensitively with spaces as underscores; a label that already is a picklist value passes unchanged.
    reason_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RETURN_REASONS))
    default_reason: str = Field(default="Unknown", min_length=1)  # for an unknown or missing POS reason

    @field_validator("reason_map")
    @classmethod
    def _reasons(cls, value: dict[str, str]) -> dict[str, str]:
        empty = sorted(code for code, reason in value.items() if not code.strip() or not reason.strip())
        if empty:
            raise ValueError(f"codes and reasons must not be empty (check {empty})")
        return {code.strip().upper().replace(" ", "_"): reason for code, reason in value.items()}


class WorkerConfig(Frozen):
    store_url: str = "sqlite:///./oms-worker.db"
    worker_id: str | None = None
    http: HttpConfig = HttpConfig()
    webhook: WebhookConfig
    spi: SpiConfig = SpiConfig()
    concurrency: ConcurrencyConfig = ConcurrencyConfig()
    retry: RetryConfig = RetryConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    sale_sweep: SaleSweepConfig = SaleSweepConfig()
    stream: StreamConfig = StreamConfig()
    returns: ReturnsConfig = ReturnsConfig()
    status_mapping: dict[str, str] = Field(
        default_factory=lambda: {"PACK": "Pickpack", "DELIVERED": "Fulfilled", "SHIPPED": "Fulfilled"}
    )
    lease_seconds: float = Field(default=120.0, gt=0)
    drain_grace_seconds: float = Field(default=20.0, ge=0)
    # How long an outside call that may have started (a sale's graph sent, then the answer lost or the worker
    # stopped) is given to land before Salesforce is asked whether it did; default: salesforce.request_timeout_seconds
    effect_settle_seconds: float | None = Field(default=None, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    # JSON key of each line's message (structlog's "event" renamed), e.g. "msg" for tools that expect it
    log_message_key: str = Field(default="message", pattern=r"^[A-Za-z_][A-Za-z0-9_.@-]{0,63}$")

    @field_validator("status_mapping")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(POS_EVENTS))
        if unknown:
            raise ValueError(f"unknown POS event {', '.join(unknown)} (expected {', '.join(POS_EVENTS)})")
        if "CANCELED" in value:
            raise ValueError("CANCELED always maps to salesforce.OMSStatusCanceledValue; remove it here")
        return value

    @field_validator("store_url")
    @classmethod
    def _store(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError('expected "sqlite:///path.db" or "postgresql://user@host:port/db"')
        return value


class Config(Frozen):
    salesforce: SalesforceConfig
    auth: AuthConfig = AuthConfig()
    pos: PosConfig
    worker: WorkerConfig

    @model_validator(mode="after")
    def _auth_needs(self) -> Config:
        a, sf = self.auth, self.salesforce
        needs: dict[str, list[tuple[str, object]]] = {
            "password": [
                ("auth.client_id", a.client_id), ("auth.client_secret", a.client_secret),
                ("salesforce.Username", sf.Username), ("salesforce.Password", sf.Password),
            ],
            "client_credentials": [("auth.client_id", a.client_id), ("auth.client_secret", a.client_secret)],
            "jwt_bearer": [
                ("auth.client_id", a.client_id), ("auth.private_key_file", a.private_key_file),
                ("salesforce.Username", sf.Username),
            ],
            "refresh_token": [("auth.client_id", a.client_id), ("auth.refresh_token", a.refresh_token)],
        }
        missing = [name for name, val in needs[a.flow] if val in (None, "")]
        if missing:
            raise ValueError(f"auth.flow: the {a.flow} flow needs {', '.join(missing)}")
        if a.private_key_file is not None and a.flow == "jwt_bearer" and not a.private_key_file.is_file():
            raise ValueError(f"auth.private_key_file: no readable file at {a.private_key_file}")
        return self

    def secret_values(self) -> list[str]:
        """Every configured secret, so the log redactor can mask them wherever they appear."""
        found: list[str] = []

        def walk(model: BaseModel) -> None:
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretStr):
                    found.append(value.get_secret_value())
                elif isinstance(value, BaseModel):
                    walk(value)
                elif isinstance(value, tuple):
                    for item in value:
                        if isinstance(item, SecretStr):
                            found.append(item.get_secret_value())
                        elif isinstance(item, BaseModel):
                            walk(item)

        walk(self)
        return [s for s in found if s]
