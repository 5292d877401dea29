"""TokenProvider: the four OAuth flows, caching, single flight, invalidation and error kinds (fake token endpoint)."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from worker.errors import AuthenticationError, TransientError
from worker.retry import RetryPolicy
from worker.salesforce.auth import Token, TokenProvider, make_ssl_context, token_url

from .conftest import FakeSalesforce, auth_config, sf_config

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005)


def provider(fake: FakeSalesforce, session: aiohttp.ClientSession, **auth: Any) -> TokenProvider:
    return TokenProvider(sf_config(fake.url), auth_config(**auth), session, retry=FAST, clock=lambda: 1_700_000_000.0)


def rsa_key(tmp_path: Path) -> tuple[Path, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path, key


async def test_password_flow_posts_credentials_and_warns_once(fake_sf: FakeSalesforce, session) -> None:
    """Password flow sends grant_type=password with username/password and logs password_flow_deprecated once."""
    tokens = provider(fake_sf, session, flow="password")
    with structlog.testing.capture_logs() as logs:
        token = await tokens.token()
        await tokens.invalidate(token)
        await tokens.token()
    form = fake_sf.token_forms[0]
    assert form["grant_type"] == "password" and form["username"] == "integration@example.com"
    assert form["password"] == "pw-secret-123" and form["client_secret"] == "client-secret-xyz"
    assert [e["event"] for e in logs].count("password_flow_deprecated") == 1
    assert token.instance_url == fake_sf.url and token.issued_at == pytest.approx(1700000000.123)


async def test_client_credentials_flow_uses_my_domain_token_url(fake_sf: FakeSalesforce, session) -> None:
    """Client credentials go to <UrlBase>/services/oauth2/token with client id and secret only."""
    tokens = provider(fake_sf, session)
    await tokens.token()
    assert fake_sf.token_forms == [{"grant_type": "client_credentials", "client_id": "client-id-1",
                                    "client_secret": "client-secret-xyz"}]
    assert token_url(sf_config(fake_sf.url), auth_config()) == f"{fake_sf.url}/services/oauth2/token"
    assert token_url(sf_config(fake_sf.url), auth_config(token_url="https://x/t")) == "https://x/t"


async def test_jwt_bearer_flow_signs_rs256_assertion(fake_sf: FakeSalesforce, session, tmp_path: Path) -> None:
    """JWT bearer sends an RS256 assertion with iss=client_id, sub=Username, aud=audience, exp=now+180."""
    key_file, key = rsa_key(tmp_path)
    tokens = provider(fake_sf, session, flow="jwt_bearer", private_key_file=key_file, client_secret=None,
                      audience="https://test.salesforce.com")
    await tokens.token()
    form = fake_sf.token_forms[0]
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(form["assertion"], key.public_key(), algorithms=["RS256"],
                        audience="https://test.salesforce.com", options={"verify_exp": False})
    assert claims == {"iss": "client-id-1", "sub": "integration@example.com", "aud": "https://test.salesforce.com",
                      "exp": 1_700_000_180}
    assert jwt.get_unverified_header(form["assertion"])["alg"] == "RS256"


async def test_jwt_bad_key_is_a_clear_error_without_key_text(fake_sf: FakeSalesforce, session,
                                                             tmp_path: Path) -> None:
    """An unusable private key file is an AuthenticationError that does not echo the file's contents."""
    bad = tmp_path / "bad.pem"
    bad.write_text("not-a-key-SECRETMATERIAL")
    tokens = provider(fake_sf, session, flow="jwt_bearer", private_key_file=bad)
    with pytest.raises(AuthenticationError) as caught:
        await tokens.token()
    assert "SECRETMATERIAL" not in str(caught.value) and fake_sf.token_forms == []


async def test_refresh_token_flow_keeps_rotated_refresh_token(fake_sf: FakeSalesforce, session) -> None:
    """Refresh flow posts the refresh token; a rotated refresh_token in the answer is used next time."""
    fake_sf.token_replies.append((200, {"access_token": "a1", "instance_url": fake_sf.url, "issued_at": "1",
                                        "refresh_token": "rotated-rt"}))
    tokens = provider(fake_sf, session, flow="refresh_token", refresh_token="first-rt")
    first = await tokens.token()
    await tokens.invalidate(first)
    await tokens.token()
    assert [f["refresh_token"] for f in fake_sf.token_forms] == ["first-rt", "rotated-rt"]
    assert fake_sf.token_forms[0]["grant_type"] == "refresh_token"


async def test_concurrent_callers_share_one_token_request(fake_sf: FakeSalesforce, session) -> None:
    """Twenty concurrent token() calls cause exactly one token request and get the same token."""
    tokens = provider(fake_sf, session)
    got = await asyncio.gather(*(tokens.token() for _ in range(20)))
    assert len(fake_sf.token_forms) == 1 and len({t.access_token for t in got}) == 1


async def test_invalidate_only_drops_the_token_it_names(fake_sf: FakeSalesforce, session) -> None:
    """invalidate(old) after a refresh keeps the newer token (no refresh storm); invalidate(current) drops it."""
    tokens = provider(fake_sf, session)
    old = await tokens.token()
    await tokens.invalidate(old)
    new = await tokens.token()
    await tokens.invalidate(old)
    assert await tokens.token() is new and len(fake_sf.token_forms) == 2
    await tokens.invalidate(new)
    assert (await tokens.token()).access_token != new.access_token


@pytest.mark.parametrize(
    "body",
    [{"error": "invalid_grant", "error_description": "authentication failure"},
     {"error": "invalid_client_id", "error_description": "client identifier invalid"},
     {"error": "invalid_grant", "error_description": "expired access/refresh token"}],
)
async def test_oauth_error_bodies_are_permanent_authentication_errors(fake_sf: FakeSalesforce, session,
                                                                     body: dict[str, str]) -> None:
    """A 400 {"error","error_description"} answer raises AuthenticationError at once (not retried)."""
    fake_sf.token_replies.append((400, body))
    with pytest.raises(AuthenticationError) as caught:
        await provider(fake_sf, session).token()
    assert caught.value.code == body["error"] and body["error_description"] in str(caught.value)
    assert len(fake_sf.token_forms) == 1


async def test_token_endpoint_5xx_and_network_errors_are_retried(fake_sf: FakeSalesforce, session) -> None:
    """A 503 and a dropped connection are transient: retried with backoff until a token arrives."""
    fake_sf.token_replies.extend([(503, {"error": "unavailable", "error_description": "down"}), (0, None)])
    token = await provider(fake_sf, session).token()
    assert token.access_token and len(fake_sf.token_forms) == 3


async def test_token_endpoint_keeps_failing_raises_transient(fake_sf: FakeSalesforce, session) -> None:
    """When every attempt fails with 5xx the last TransientError propagates."""
    fake_sf.token_replies.extend([(500, {})] * 3)
    with pytest.raises(TransientError):
        await provider(fake_sf, session).token()


async def test_secrets_never_in_reprs(fake_sf: FakeSalesforce, session) -> None:
    """Token and TokenProvider reprs never show the access token or client secret."""
    tokens = provider(fake_sf, session)
    token = await tokens.token()
    assert token.access_token not in repr(token) and "client-secret-xyz" not in repr(tokens)
    assert isinstance(token, Token)


def test_make_ssl_context_trusts_ca_file(tmp_path: Path) -> None:
    """ca_file yields a verifying SSL context that contains the private CA; no ca_file yields None (default)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    context = make_ssl_context(sf_config("http://127.0.0.1:1", ca_file=str(ca)))
    assert context is not None and context.check_hostname
    assert any(c.get("subject") == ((("commonName", "test-ca"),),) for c in context.get_ca_certs())
    assert make_ssl_context(sf_config("http://127.0.0.1:1")) is None
