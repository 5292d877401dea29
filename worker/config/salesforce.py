"""The ``salesforce:`` section (PS OMS Configuration, names kept verbatim) and ``auth:`` (the Salesforce login)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from worker.soql_check import check_filter_query

from .common import Frozen, check_api_version, check_pos_value

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


class FulfillmentTypeRule(Frozen):
    """FulfillmentOrder ``Type`` and/or ``DeliveryMethod.Name`` (exact, case-insensitive) -> POS omniFulfillmentType."""

    fo_type: str | None = None
    delivery_method: str | None = None
    pos_type: str

    _pos = field_validator("pos_type")(check_pos_value)

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

    _default = field_validator("default_type")(check_pos_value)

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
    # POS order type <FulfillmentType>-<FulfillmentSubType> -> OrderDeliveryMethod name (the guide's defaults; the
    # POS's CMS lets a merchant rename them). A type not listed uses its own key as the name.
    delivery_methods: dict[str, str] = Field(default_factory=lambda: {
        "IN_STORE-DEFAULT": "IN_STORE-DEFAULT",  # in-store take-with
        "IN_STORE-PICKUP_LATER": "IN_STORE-PICKUP_LATER",  # in-store, picked up later
        "ONLINE-DEFAULT": "ONLINE-DEFAULT",  # endless aisle
    })
    # The OrderSummary of a posted sale. connect: the worker creates it (one Connect call per sale). org_flow: the
    # org's record-triggered flow creates it when the Order activates; the worker checks with one SOQL per batch
    # and creates one still missing after order_summary_grace_seconds through Connect (logged, counted)
    order_summary: Literal["connect", "org_flow"] = "connect"
    order_summary_grace_seconds: float = Field(default=30.0, ge=0)
    allow_insecure_local: bool = False
    ca_file: Path | None = None
    request_timeout_seconds: float = Field(default=60.0, gt=0)

    @field_validator("delivery_methods")
    @classmethod
    def _methods(cls, value: dict[str, str]) -> dict[str, str]:
        for key, name in value.items():
            if not re.fullmatch(r"[A-Z_]+-[A-Z_]+", key):
                raise ValueError(f'keys are POS order types such as IN_STORE-DEFAULT, got "{key}"')
            if not name.strip() or len(name) > 255:
                raise ValueError(f"{key}: expected an OrderDeliveryMethod name (1..255 characters)")
        return value

    def delivery_method_name(self, order_type: str) -> str:
        """The OrderDeliveryMethod name of a POS order type (``IN_STORE-DEFAULT`` ...)."""
        return self.delivery_methods.get(order_type, order_type)

    @field_validator("Service")
    @classmethod
    def _service(cls, value: str) -> str:
        if value != "LIGHTNING":
            raise ValueError(f'must be LIGHTNING, got "{value}"')
        return value

    _api = field_validator("ApiVersion", "QueryApiVersion")(check_api_version)

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

