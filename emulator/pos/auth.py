"""Credentials and rate limit of the emulated POS API (reference ``pos-api.md`` §1, §8.1).

* Legacy: ``POST /oauth2/token`` (form ``grant_type=client_credentials``; client id/secret in HTTP Basic or in
  the form) answers ``{"access_token", "token_type": "Bearer", "expired_in"}``. Every API call needs
  ``PredictSpring-Token`` (a live token), ``PredictSpring-Secret``, ``X-api-key``.
* Hyperforce: ``Authorization: Bearer <token>`` checked by the pluggable validator, plus
  ``x-salesforce-region``, ``x-locale`` and ``x-region``. A missing header or a bad token is 401; routing
  headers that are present but do not match the merchant are **403 MERCHANT_MISMATCH** (the token is fine,
  it just addresses another merchant, so a token refresh cannot help).
* Every API call needs ``Content-Type: application/json`` (415 otherwise).
* Rate limit: a token bucket over all API calls; over it, 429 with ``Retry-After`` (whole seconds, >= 1).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

from .settings import PosEmulatorSettings


def api_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorCode": code, "errorMessage": message}, status=status, headers=headers)


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Stats:
    requests: int = 0
    tokens_issued: int = 0
    unauthorized: int = 0
    forbidden: int = 0
    rate_limited: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Tokens:
    """Issued legacy tokens and Hyperforce helper tokens, with expiry and revocation."""

    settings: PosEmulatorSettings
    legacy: dict[str, float] = field(default_factory=dict)  # token -> expires_at (wall seconds)
    key: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    generation: int = 0  # Hyperforce JWTs of an older generation are refused (revoked)

    def issue_legacy(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(24)
        ttl = self.settings.token_ttl_seconds
        self.legacy[token] = self.settings.clock() + ttl
        return token, ttl

    def legacy_ok(self, token: str | None) -> bool:
        expires = self.legacy.get(token or "")
        return expires is not None and self.settings.clock() < expires

    def issue_hyperforce(self, ttl: float | None = None) -> str:
        now = self.settings.clock()
        claims = {
            "iss": "emulated-salesforce-org",
            "sub": "run-as-user",
            "iat": now,
            "jti": secrets.token_hex(8),
            "gen": self.generation,
            "exp": int(now + (ttl if ttl is not None else self.settings.hyperforce_token_ttl_seconds)),
        }
        return jwt.encode(claims, self.key, algorithm="HS256")

    def hyperforce_ok(self, token: str) -> bool:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return False
        now = self.settings.clock()
        return bool(float(claims.get("exp", 0)) > now and claims.get("gen") == self.generation)

    def revoke_all(self) -> int:
        count = len(self.legacy)
        self.legacy.clear()
        self.generation += 1
        return count


class RateLimiter:
    """Token bucket: ``rate`` requests per second, burst ``max(1, rate)``; 0 disables."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self._clock = rate, clock
        self.capacity = max(1.0, rate)
        self._tokens, self._stamp = self.capacity, clock()

    def take(self) -> float | None:
        """None when the request may pass, else the seconds until it could."""
        if self.rate <= 0:
            return None
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.rate


def client_credentials(request: web.Request, form: Any) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return user, password
    return form.get("client_id"), form.get("client_secret")


async def token_endpoint(
    request: web.Request, settings: PosEmulatorSettings, tokens: Tokens, stats: Stats
) -> web.Response:
    form = await request.post()
    if form.get("grant_type") != "client_credentials":
        return web.json_response(
            {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"},
            status=400,
        )
    client_id, client_secret = client_credentials(request, form)
    if not (_same(client_id, settings.client_id) and _same(client_secret, settings.client_secret)):
        return web.json_response(
            {"error": "invalid_client", "error_description": "invalid client credentials"}, status=401
        )
    token, ttl = tokens.issue_legacy()
    stats.tokens_issued += 1
    return web.json_response({"access_token": token, "token_type": "Bearer", "expired_in": ttl})


async def check_credentials(
    request: web.Request, settings: PosEmulatorSettings, tokens: Tokens
) -> web.Response | None:
    """None when the call is authorised, else the 401/403 answer."""
    h = request.headers
    if settings.auth_mode == "legacy":
        for name in ("PredictSpring-Token", "PredictSpring-Secret", "X-api-key"):
            if not h.get(name):
                return api_error(401, "UNAUTHORIZED", f"missing {name} header")
        if not tokens.legacy_ok(h.get("PredictSpring-Token")):
            return api_error(401, "UNAUTHORIZED", "invalid or expired PredictSpring-Token")
        if not _same(h.get("PredictSpring-Secret"), settings.pos_secret):
            return api_error(401, "UNAUTHORIZED", "invalid PredictSpring-Secret")
        if not _same(h.get("X-api-key"), settings.api_key):
            return api_error(401, "UNAUTHORIZED", "invalid X-api-key")
        return None
    auth = h.get("Authorization", "")
    if auth[:7].lower() != "bearer " or not auth[7:].strip():
        return api_error(401, "UNAUTHORIZED", "missing Authorization: Bearer header")
    for name in ("x-salesforce-region", "x-locale", "x-region"):
        if not h.get(name):
            return api_error(401, "UNAUTHORIZED", f"missing {name} header")
    validator = settings.hyperforce_validator or tokens.hyperforce_ok
    verdict = validator(auth[7:].strip())
    if inspect.isawaitable(verdict):
        verdict = await verdict
    if not verdict:
        return api_error(401, "UNAUTHORIZED", "invalid or expired bearer token")
    expected = {
        "x-salesforce-region": settings.salesforce_region,
        "x-locale": settings.locale,
        "x-region": settings.region,
    }
    wrong = [name for name, value in expected.items() if h.get(name) != value]
    if wrong:
        return api_error(
            403, "MERCHANT_MISMATCH", f"{', '.join(wrong)} do not match merchant {settings.merchant_id}"
        )
    return None


def too_many(wait: float) -> web.Response:
    return api_error(
        429,
        "RATE_LIMITED",
        "rate limit exceeded; retry later",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )
