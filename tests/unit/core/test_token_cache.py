"""TokenCache: the refresh margin, and invalidating only the refused token (the rest is pinned via both POS auths)."""

from __future__ import annotations

import pytest

from worker.token_cache import TokenCache, refresh_at


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
