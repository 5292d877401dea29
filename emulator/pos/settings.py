"""Settings of the emulated POS (defaults match ``config/demo.yaml`` and the e2e harness)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

# Validates a Hyperforce bearer token (the raw token, without "Bearer "). The real token is issued by the
# merchant's Salesforce org (External Client App, client credentials); the emulator's default accepts the
# tokens of its own POST /__admin/hyperforce/token helper. Plug the Salesforce emulator's token store here to
# accept tokens issued by the emulated org instead.
TokenValidator = Callable[[str], "bool | Awaitable[bool]"]


@dataclass
class PosEmulatorSettings:
    merchant_id: str = "acme"
    locale: str = "en-US"
    region: str = "US"
    salesforce_region: str = "us-east-2"
    auth_mode: Literal["legacy", "hyperforce"] = "legacy"
    client_id: str = "demo-pos-client"
    client_secret: str = field(default="demo-pos-secret", repr=False)
    pos_secret: str = field(default="demo-pos-secret-header", repr=False)
    api_key: str = field(default="demo-pos-api-key", repr=False)
    token_ttl_seconds: int = 3600  # legacy "expired_in"
    hyperforce_token_ttl_seconds: int = 1800  # "expires in 30 minutes" by default (§1.2)
    hyperforce_validator: TokenValidator | None = None
    rate_limit_per_second: float = 10.0  # 0 disables
    page_size: int = 50
    seed: int = 1
    webhook_timeout_seconds: float = 10.0
    clock: Callable[[], float] = time.time  # wall clock (seconds) for token expiry and event dates
    api_version: str = "v1"
    # The GraphQL POS (emulator/pos/graphql): OIDC clients (id -> (secret, roles)); a client without the
    # "integration" role gets FORBIDDEN errors. graphql_sdl replaces the assumed schema (tests: a changed server).
    graphql_clients: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=lambda: {
        "demo-gql-client": ("demo-gql-secret", ("integration",)), "demo-gql-norole": ("demo-gql-secret", ())})
    graphql_token_ttl_seconds: int = 3600
    graphql_sdl: str | None = None
