"""TokenStore: header parsing, expiry with a fake clock, revocation and user ids."""

from __future__ import annotations

from emulator.salesforce.ids import to18
from emulator.salesforce.oauth import OAuthSettings, TokenStore


class FakeClock:
    """A settable clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _store(clock: FakeClock, ttl: float = 60.0) -> TokenStore:
    settings = OAuthSettings(users={"a@example.com": "pw", "b@example.com": "pw"}, token_ttl_seconds=ttl)
    return TokenStore(settings, clock)


def test_validate_accepts_bearer_and_oauth_schemes_only() -> None:
    """Bearer and OAuth schemes (any case) name a session; other schemes, blanks and unknown tokens do not."""
    store = _store(FakeClock())
    token = store.issue("a@example.com", "client").token
    assert store.validate(f"Bearer {token}") is not None
    assert store.validate(f"oauth {token}") is not None
    assert store.validate(f"Basic {token}") is None
    assert store.validate(None) is None and store.validate("Bearer ") is None
    assert store.validate("Bearer 00Dnope") is None


def test_tokens_expire_after_ttl() -> None:
    """A token is valid until issued_at + ttl and invalid from then on; set_ttl applies to new tokens."""
    clock = FakeClock()
    store = _store(clock, ttl=60)
    session = store.issue("a@example.com", "client")
    assert session.expires_at == 1060.0 and session.issued_at == 1000.0
    clock.now = 1059.9
    assert store.validate(f"Bearer {session.token}") is session
    clock.now = 1060.0
    assert store.validate(f"Bearer {session.token}") is None
    store.set_ttl(5)
    assert store.issue("a@example.com", "client").expires_at == 1065.0


def test_revoke_and_revoke_all() -> None:
    """revoke drops one token, revoke_all every access token but not refresh tokens."""
    store = _store(FakeClock())
    first, second = store.issue("a@example.com", "c"), store.issue("b@example.com", "c")
    refresh = store.issue_refresh_token("a@example.com", "c")
    assert store.revoke(first.token) is True and store.revoke(first.token) is False
    assert store.revoke_all() == 1
    assert store.validate(f"Bearer {second.token}") is None
    assert store.redeem_refresh_token(refresh, "c") == "a@example.com"
    assert store.redeem_refresh_token(refresh, "other-client") is None


def test_user_ids_are_stable_valid_18_char_user_ids() -> None:
    """Each user gets a distinct, stable 005 id with a correct case-safe suffix."""
    store = _store(FakeClock())
    ids = {
        name: store.user_id(name) for name in ("a@example.com", "b@example.com", "integration@example.com")
    }
    assert len(set(ids.values())) == 3
    for value in ids.values():
        assert value.startswith("005") and to18(value) == value
    assert store.issue("a@example.com", "c").user_id == ids["a@example.com"]
    assert "pw" not in repr(store.issue("a@example.com", "c"))
