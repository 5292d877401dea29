"""Store URL parsing and redaction. A password never reaches a log line or an error message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

ACCEPTED = ('"sqlite:///relative.db", "sqlite:////absolute/path.db", "sqlite:///:memory:", '
            '"postgresql://user@host:port/db" or "postgres://user@host:port/db" (optional "?schema=<name>")')
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SECRET_PARAMS = {"password", "passfile", "sslpassword"}


@dataclass(frozen=True)
class StoreUrl:
    engine: str  # "sqlite" | "postgres"
    target: str  # SQLite: file path or ":memory:"; PostgreSQL: the DSN without our own parameters
    schema: str | None = None  # PostgreSQL: search_path of every connection (tests, shared databases)


def redact_url(url: str) -> str:
    """``url`` safe to log or put in an error: the password (in user:pass@ or ?password=) is masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    userinfo, at, host = parts.netloc.rpartition("@")  # rpartition: a password may itself contain "@"
    if at and ":" in userinfo:
        url = url.replace(parts.netloc, f"{userinfo.split(':', 1)[0]}:***@{host}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            masked = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
            url = url[:url.rindex(parts.query)] + urlencode(masked, safe="*")
    return url


def parse_store_url(url: str) -> StoreUrl:
    """Split a store URL into engine and target; ``ValueError`` names the accepted forms."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise ValueError(f"store URL {redact_url(url)!r} has no database path; expected {ACCEPTED}")
        return StoreUrl("sqlite", path)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - a bad port fails here, clearly, not deep inside the driver
        except ValueError as exc:
            raise ValueError(f"store URL {redact_url(url)!r} is malformed ({exc}); "
                             f"expected {ACCEPTED}") from None
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [v for k, v in pairs if k == "schema"]
        schema = schemas[-1] if schemas else None
        if schema is not None and not _SCHEMA.match(schema):
            raise ValueError(f"store URL {redact_url(url)!r}: schema must be a plain identifier, "
                             f"got {schema!r}")
        rest = urlencode([(k, v) for k, v in pairs if k != "schema"])
        return StoreUrl("postgres", parts._replace(query=rest).geturl(), schema)
    raise ValueError(f"unsupported store URL {redact_url(url)!r}; expected {ACCEPTED}")


def scrub(text: str, url: str) -> str:
    """``text`` (typically a driver's error message) with the URL's password, if any, masked."""
    try:
        parts = urlsplit(url)
        secrets = [parts.password or ""]
        secrets += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS]
        secrets += [unquote(secret) for secret in secrets]
    except ValueError:
        secrets = []
    text = text.replace(url, redact_url(url))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
