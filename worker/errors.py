"""The worker's small exception tree and the one place where HTTP answers become errors.

Every outside call ends in one of three kinds of failure, and the flows only care about the kind:

* ``TransientError``  - try again later (network, 5xx, UNABLE_TO_LOCK_ROW, 429, token refresh races);
* ``PermanentError``  - retrying cannot help (validation, MALFORMED_QUERY, missing product): dead letter;
* ``LimitExceeded``   - the org's API allowance is spent: pause outbound work, keep the inbox.

``OutcomeUnknown`` marks a non-idempotent call (a POST) whose answer never arrived: it may or may not have
taken effect, so the caller must look before it posts again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class OmsWorkerError(Exception):
    """Base of every error the worker raises on purpose."""


class ConfigError(OmsWorkerError):
    """The configuration is invalid; ``problems`` holds one ``key.path: reason`` line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ServiceError(OmsWorkerError):
    """A failed call to an outside system (Salesforce or the POS)."""

    transient = False

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        fields: Sequence[str] = (),
        retry_after: float | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.fields = list(fields)
        self.message = message
        self.retry_after = retry_after
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [self.service]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        where = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        return f"{head}: {self.message}{where}"


class TransientError(ServiceError):
    """Worth retrying with backoff."""

    transient = True


class PermanentError(ServiceError):
    """Retrying cannot help; the unit of work goes to the dead letters."""


class AuthenticationError(ServiceError):
    """Credentials were refused (401 after a fresh token, or the token endpoint said no)."""


class LimitExceeded(TransientError):
    """The org's API allowance (or the POS rate limit) is spent; pause outbound work."""


class OutcomeUnknown(TransientError):
    """A non-idempotent request was sent but no answer came back; look before trying again."""


# Salesforce error codes that are worth retrying although they arrive with a 4xx status.
SALESFORCE_TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "QUERY_TIMEOUT", "TXN_SECURITY_METERING_ERROR"}
)
SALESFORCE_AUTH_CODES = frozenset({"INVALID_SESSION_ID", "INVALID_AUTH_HEADER"})


def first_salesforce_error(body: Any) -> tuple[str | None, str, list[str]]:
    """Pull (errorCode, message, fields) out of any of Salesforce's error body shapes.

    REST and Connect answer with a JSON array of ``{message, errorCode, fields?}``; sObject Collections use
    ``statusCode``; OAuth answers ``{error, error_description}``.
    """
    item: Any = body
    if isinstance(body, list) and body:
        item = body[0]
    if isinstance(item, Mapping):
        if "error" in item and "error_description" in item:
            return str(item["error"]), str(item["error_description"]), []
        code = item.get("errorCode") or item.get("statusCode")
        message = item.get("message") or item.get("errorMessage") or ""
        fields = item.get("fields") or []
        return (str(code) if code else None), str(message), [str(f) for f in fields]
    if isinstance(body, str) and body:
        return None, body[:500], []
    return None, "", []


def salesforce_error(status: int, body: Any) -> ServiceError:
    """Map one Salesforce HTTP error answer to the error tree (the single place this happens)."""
    code, message, fields = first_salesforce_error(body)
    message = message or f"HTTP {status}"
    if status == 401 or code in SALESFORCE_AUTH_CODES:
        return AuthenticationError("salesforce", message, status=status, code=code, fields=fields)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return LimitExceeded("salesforce", message, status=status, code=code, fields=fields)
    if status == 429:
        return LimitExceeded("salesforce", message, status=status, code=code or "TOO_MANY_REQUESTS")
    if status >= 500 or status == 408 or code in SALESFORCE_TRANSIENT_CODES:
        return TransientError("salesforce", message, status=status, code=code, fields=fields)
    return PermanentError("salesforce", message, status=status, code=code, fields=fields)


def pos_error(status: int, body: Any, *, retry_after: float | None = None) -> ServiceError:
    """Map one POS HTTP error answer (``{"errorCode","errorMessage"}``) to the error tree."""
    code: str | None = None
    message = ""
    if isinstance(body, Mapping):
        raw_code = body.get("errorCode")
        code = str(raw_code) if raw_code else None
        message = str(body.get("errorMessage") or body.get("message") or "")
    message = message or f"HTTP {status}"
    if status == 401:
        return AuthenticationError("pos", message, status=status, code=code)
    if status == 429:
        return LimitExceeded("pos", message, status=status, code=code or "RATE_LIMITED", retry_after=retry_after)
    if status >= 500 or status in (408, 425):
        return TransientError("pos", message, status=status, code=code, retry_after=retry_after)
    return PermanentError("pos", message, status=status, code=code)


# GraphQL POS ``errors[].extensions.code`` values worth retrying (assumed: emulator/REFERENCE-graphql-pos.md).
GRAPHQL_TRANSIENT_CODES = frozenset({"SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR", "TIMEOUT"})


def graphql_error(errors: Any, *, status: int | None = None, retry_after: float | None = None) -> ServiceError:
    """Map a GraphQL POS answer's ``errors`` (and its HTTP status, when known) to the error tree.

    A permission error is permanent and names the missing permission; UNAUTHENTICATED (or 401) is an
    authentication error (the caller refreshes the token once); rate and availability errors are transient.
    """
    items = [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []
    # A permission error anywhere is the one to report: it is what an operator has to fix.
    first = next((e for e in items if _gql_code(e) == "FORBIDDEN"), items[0] if items else {})
    code = _gql_code(first)
    extensions = first.get("extensions") if isinstance(first.get("extensions"), Mapping) else {}
    where = ".".join(str(p) for p in first.get("path") or [])
    message = str(first.get("message") or (f"HTTP {status}" if status else "error without a message"))
    if code == "FORBIDDEN":
        permission = extensions.get("permission") if isinstance(extensions, Mapping) else None
        text = (f"permission denied: the calling account lacks the permission {permission}" if permission
                else f"permission denied: {message}")
        return PermanentError("pos", f"{text} (query {where or '?'}); grant it to the API client's role",
                              status=status, code=code)
    if code == "UNAUTHENTICATED" or status == 401:
        return AuthenticationError("pos", message, status=status, code=code or "UNAUTHENTICATED")
    if code == "RATE_LIMITED" or status == 429:
        return LimitExceeded("pos", message, status=status, code=code or "RATE_LIMITED", retry_after=retry_after)
    if code in GRAPHQL_TRANSIENT_CODES or (status is not None and (status >= 500 or status == 408)):
        return TransientError("pos", message, status=status, code=code, retry_after=retry_after)
    return PermanentError("pos", message + (f" (at {where})" if where else ""), status=status, code=code)


def _gql_code(error: Mapping[str, Any]) -> str | None:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    return str(code) if code else None
