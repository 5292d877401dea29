"""The ``worker:`` section: the store, the HTTP server and webhooks, SPIs, concurrency, retries, sweeps, logs."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from .common import Frozen

POS_EVENTS = ("PACK", "DELIVERED", "SHIPPED", "CANCELED")


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
    # Connect calls of the sale flow in flight at once, across all posting workers: OrderSummary creates
    # (salesforce.order_summary: connect) and, below API v50.0, take-with FulfillmentOrder creates. At ~0.5 s a
    # call, this bounds connect-mode sales to about connect_calls * 2 per second.
    connect_calls: int = Field(default=8, ge=1, le=64)
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


class PubSubConfig(Frozen):
    """The gRPC Pub/Sub API (``transport: pubsub``): service eventbus.v1.PubSub, Avro payloads, pull flow control."""

    target: str = "api.pubsub.salesforce.com:7443"  # host:port of the Pub/Sub API (the emulator prints pubsub_target)
    tls: bool = True  # false (plaintext HTTP/2) only with salesforce.allow_insecure_local, for the local emulator
    # flow-control window: events asked for per FetchRequest (Salesforce allows at most 100); more are asked for
    # only once the last ones are committed to the inbox, so a backlog never outruns the store
    num_requested: int = Field(default=100, ge=1, le=100)
    # reopen a subscription that got nothing (not even an empty keepalive response, which Salesforce sends about
    # every 270 s on a quiet topic) for this long
    keepalive_seconds: float = Field(default=330.0, gt=0)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in value:
            raise ValueError(f'expected host:port such as api.pubsub.salesforce.com:7443, got "{value}"')
        return value


class StreamConfig(Frozen):
    transport: Literal["cometd", "pubsub"] = "cometd"  # CometD Streaming API or the gRPC Pub/Sub API
    channel: str = "/event/FOStatusChangedEvent"  # the CometD channel; also the Pub/Sub topic name
    keepalive_seconds: float = Field(default=150.0, gt=0)  # CometD: reopen a stream silent for longer than this
    initial_replay: Literal[-1, -2] = -1  # no stored replay id: -1 new only (LATEST), -2 all retained (EARLIEST)
    pubsub: PubSubConfig = PubSubConfig()

    @property
    def watchdog_seconds(self) -> float:
        """The silence after which the running transport reopens (its keepalive watchdog)."""
        return self.pubsub.keepalive_seconds if self.transport == "pubsub" else self.keepalive_seconds


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
    webhook: WebhookConfig | None = None  # required for pos.backend retail_cloud (Config checks it)
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
    # Fulfil a sale's take-with (IN_STORE-DEFAULT) lines in OMS once its OrderSummary exists: an FO from the
    # store's Location, set to status_mapping.DELIVERED. OMS returns only fulfilled quantity, so without it no
    # in-store sale could be returned (BORIS). Turn off only when the org fulfils them itself (e.g. a flow).
    fulfil_take_with: bool = True
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

