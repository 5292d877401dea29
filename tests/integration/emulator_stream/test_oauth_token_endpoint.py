"""POST /services/oauth2/token over real HTTP: every grant, the success body and the §3.5 errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, Org, OrgFactory

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key for every JWT test in the module."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate_pem(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oms-worker")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


async def _token(
    http: aiohttp.ClientSession, org: Org, form: dict[str, str], **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{org.ip_base}/services/oauth2/token", data=form, **kw) as resp:
        return resp.status, await resp.json()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _password_form(**overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USER,
        "password": PASSWORD,
    }
    return {**form, **overrides}


def _assertion(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    body = {
        "iss": CLIENT_ID,
        "sub": USER,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 120,
    }
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256")


async def test_password_grant_success_body(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """Password grant body: access_token, instance_url, id, Bearer, ms issued_at, signature; no expires_in."""
    org = await make_org()
    status, body = await _token(http, org, _password_form())
    assert status == 200
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["access_token"].startswith("00D000000000001!AR")
    assert body["instance_url"] == org.base and body["token_type"] == "Bearer"
    assert body["id"] == f"{org.base}/id/00D000000000001AAA/{org.tokens.user_id(USER)}"
    assert isinstance(body["issued_at"], str) and abs(int(body["issued_at"]) / 1000 - time.time()) < 60
    mac = hmac.new(CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256).digest()
    assert body["signature"] == base64.b64encode(mac).decode()
    session = org.tokens.validate(f"Bearer {body['access_token']}")
    assert session is not None and session.username == USER


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (_password_form(password="wrong"), ("invalid_grant", "authentication failure")),
        (_password_form(username="who@example.com"), ("invalid_grant", "authentication failure")),
        (_password_form(client_id="unknown"), ("invalid_client_id", "client identifier invalid")),
        (_password_form(client_secret="wrong"), ("invalid_client", "invalid client credentials")),
        (
            _password_form(grant_type="authorization_code"),
            ("unsupported_grant_type", "grant type not supported"),
        ),
    ],
)
async def test_token_errors_are_400_with_salesforce_text(
    make_org: OrgFactory, http: aiohttp.ClientSession, form: dict[str, str], error: tuple[str, str]
) -> None:
    """Bad credentials, client or grant type: HTTP 400 {error, error_description} as §3.5 lists."""
    org = await make_org()
    assert await _token(http, org, form) == (400, {"error": error[0], "error_description": error[1]})


async def test_password_flow_disabled_is_authentication_failure(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """With the password flow blocked, correct credentials get invalid_grant/authentication failure."""
    org = await make_org()
    org.tokens.settings.password_flow_enabled = False
    assert await _token(http, org, _password_form()) == (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
    )


async def test_client_credentials_in_form_and_basic_issue_run_as_tokens(
    make_org: OrgFactory, http: aiohttp.ClientSession
) -> None:
    """client_credentials via form fields or HTTP Basic issues a token for the Run-As user."""
    org = await make_org()
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    status, body = await _token(http, org, form)
    assert status == 200 and "signature" in body
    session = org.tokens.validate(f"Bearer {body['access_token']}")
    assert session is not None and session.username == org.tokens.settings.run_as_user
    basic = _basic(CLIENT_ID, CLIENT_SECRET)
    status, body = await _token(
        http, org, {"grant_type": "client_credentials"}, headers={"Authorization": basic}
    )
    assert status == 200 and org.tokens.validate(f"Bearer {body['access_token']}") is not None
    bad = _basic(CLIENT_ID, "nope")
    status, body = await _token(
        http, org, {"grant_type": "client_credentials"}, headers={"Authorization": bad}
    )
    assert (status, body["error"]) == (400, "invalid_client")


@pytest.mark.parametrize("key_form", ["public_key", "certificate"])
async def test_jwt_bearer_accepts_valid_assertion(
    make_org: OrgFactory, http: aiohttp.ClientSession, rsa_key: rsa.RSAPrivateKey, key_form: str
) -> None:
    """An RS256 assertion verified against a configured public key or X.509 certificate yields a token."""
    org = await make_org()
    pem = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    org.tokens.settings.jwt_certificates[CLIENT_ID] = (
        pem if key_form == "public_key" else _certificate_pem(rsa_key)
    )
    status, body = await _token(http, org, {"grant_type": JWT_GRANT, "assertion": _assertion(rsa_key)})
    assert status == 200, body
    assert "expires_in" not in body and body["token_type"] == "Bearer"
    own = _assertion(rsa_key, aud=org.base, sub="nobody@example.com", prn=USER)
    status, body = await _token(http, org, {"grant_type": JWT_GRANT, "assertion": own})
    assert status == 200, body
    session = org.tokens.validate(f"Bearer {body['access_token']}")
    assert session is not None and session.username == USER


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"aud": "https://evil.example.com"}, ("invalid_grant", "audience is invalid")),
        ({"sub": "nobody@example.com"}, ("invalid_grant", "user hasn't approved this consumer")),
        ({"exp": int(time.time()) - 10}, ("invalid_grant", "invalid assertion")),
        ({"exp": int(time.time()) + 3600}, ("invalid_grant", "invalid assertion")),
        ({"exp": None}, ("invalid_grant", "invalid assertion")),
        ({"iss": "someone-else"}, ("invalid_client_id", "client identifier invalid")),
    ],
)
async def test_jwt_bearer_rejections(
    make_org: OrgFactory,
    http: aiohttp.ClientSession,
    rsa_key: rsa.RSAPrivateKey,
    claims: dict[str, Any],
    error: tuple[str, str],
) -> None:
    """Bad audience, unknown user, missing/past/far exp and unknown issuer are refused with 400."""
    org = await make_org()
    org.tokens.settings.jwt_certificates[CLIENT_ID] = _certificate_pem(rsa_key)
    status, body = await _token(
        http, org, {"grant_type": JWT_GRANT, "assertion": _assertion(rsa_key, **claims)}
    )
    assert (status, body) == (400, {"error": error[0], "error_description": error[1]})


async def test_jwt_signed_by_another_key_is_invalid(
    make_org: OrgFactory, http: aiohttp.ClientSession, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A signature that does not verify against the configured certificate is an invalid assertion."""
    org = await make_org()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    org.tokens.settings.jwt_certificates[CLIENT_ID] = _certificate_pem(other)
    status, body = await _token(http, org, {"grant_type": JWT_GRANT, "assertion": _assertion(rsa_key)})
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_refresh_token_grant_and_revocation(make_org: OrgFactory, http: aiohttp.ClientSession) -> None:
    """A live refresh token yields a new access token; once revoked it is an expired access/refresh token."""
    org = await make_org()
    refresh = org.tokens.issue_refresh_token(USER, CLIENT_ID)
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": refresh,
    }
    status, body = await _token(http, org, form)
    assert status == 200 and org.tokens.validate(f"Bearer {body['access_token']}") is not None
    assert org.tokens.revoke(refresh) is True
    assert await _token(http, org, form) == (
        400,
        {"error": "invalid_grant", "error_description": "expired access/refresh token"},
    )
