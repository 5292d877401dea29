"""TokenCache: the refresh margin, invalidating only the refused token, reading a token answer (the rest is pinned
via both POS auths)."""

from __future__ import annotations

import pytest

from worker.errors import AuthenticationError, PermanentError, ServiceError, TransientError
from worker.token_cache import TokenCache, refresh_at, token_from_answer


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Hands out tok-1, tok-2, ... for an hour each."""

    def __init__(self) -> None:
        self.fetches = 0

    async def __call__(self) -> tuple[str, float]:
        self.fetches += 1
        return f"tok-{self.fetches}", 3600.0


@pytest.mark.parametrize(("ttl", "after"), [(3600.0, 1800.0), (120.0, 60.0), (100.0, 40.0), (60.0, 0.0),
                                           (30.0, 0.0), (0.0, 0.0), (-5.0, 0.0)])
def test_refresh_is_half_way_or_a_minute_before_the_end_whichever_is_sooner(ttl: float, after: float) -> None:
    """A token is fetched again half-way through its life, or a minute before its end if sooner, never in the past."""
    assert refresh_at(1000.0, ttl) == 1000.0 + after


async def test_a_refusal_of_a_replaced_token_keeps_the_new_one() -> None:
    """Invalidating with a token that is no longer cached is a no-op; with the cached one it forgets it."""
    issuer = Issuer()
    cache = TokenCache("pos", clock=Clock())
    await cache.get(issuer)
    cache.invalidate("tok-1")
    assert await cache.get(issuer) == "tok-2"
    cache.invalidate("tok-1")  # a late 401 for the token already replaced
    assert cache.cached and await cache.get(issuer) == "tok-2"
    cache.invalidate()
    assert not cache.cached and await cache.get(issuer) == "tok-3"


@pytest.mark.parametrize(("status", "body", "kind", "message", "code"), [
    (401, {"error": "invalid_client", "error_description": "bad secret"}, AuthenticationError,
     "token endpoint refused the client credentials: bad secret", "invalid_client"),
    (400, {"errorCode": "AUTH_FAILED", "errorMessage": "unknown client"}, AuthenticationError,
     "token endpoint refused the client credentials: unknown client", "AUTH_FAILED"),
    (403, {"error": "unauthorized_client"}, AuthenticationError,
     "token endpoint refused the client credentials: unauthorized_client", "unauthorized_client"),
    (400, {}, AuthenticationError, "token endpoint refused the client credentials: HTTP 400", None),
    (503, {"error_description": "maintenance"}, TransientError, "token endpoint: maintenance", None),
    (429, {}, TransientError, "token endpoint: HTTP 429", None),
    (408, {}, TransientError, "token endpoint: HTTP 408", None),
    (200, {"token_type": "Bearer"}, PermanentError, "token endpoint answered without an access_token", None),
    (200, {"access_token": ""}, PermanentError, "token endpoint answered without an access_token", None),
])
def test_token_answers_map_to_error_kinds(status: int, body: dict[str, str], kind: type[ServiceError],
                                          message: str, code: str | None) -> None:
    """A refusal (4xx) is AuthenticationError, an outage (5xx, 408, 429) transient, a tokenless 200 permanent;
    the message and code come from OAuth's or Retail Cloud's error fields."""
    with pytest.raises(kind) as caught:
        token_from_answer(status, body)
    assert type(caught.value) is kind and caught.value.message == message and caught.value.code == code


def test_a_token_answer_gives_its_token() -> None:
    """A 200 with an access_token gives that token."""
    assert token_from_answer(200, {"access_token": "tok", "expires_in": 3600}) == "tok"
