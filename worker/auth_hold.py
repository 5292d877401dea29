"""Refused credentials wait for an operator: one rule for every token endpoint (Salesforce and the POS).

A token endpoint that refuses the credentials (``invalid_grant``, ``invalid_client``, an inactive user, a 4xx
other than 408/429) will refuse them again until someone fixes them, and every attempt may count towards a
lock-out. So after a refusal :class:`OperatorHold` lets no token request out for ``OPERATOR_HOLD_SECONDS`` (15 min);
after ``OPERATOR_MAX_REFUSALS`` refusals in a row none at all until the worker restarts (new credentials are read
at start). Meanwhile :meth:`OperatorHold.check` raises :class:`CredentialsRefused` at once: an AuthenticationError
that is also a LimitExceeded, so the queue runner pauses outbound work for ``retry_after`` seconds instead of using
up the jobs' attempts and dead-lettering them. :attr:`OperatorHold.reason` says why (``/status``,
``oms_auth_operator_required{service}``), and one ``<service>_auth_needs_operator`` event is logged per refusal.
A token issued again (:meth:`OperatorHold.cleared`) ends the hold. No secret is ever part of a reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog

from worker.errors import AuthenticationError, LimitExceeded

log = structlog.get_logger(__name__)

OPERATOR_HOLD_SECONDS = 900.0  # after refused credentials: no token request for 15 minutes
OPERATOR_MAX_REFUSALS = 3  # refusals in a row, then no token request until the worker restarts


class CredentialsRefused(AuthenticationError, LimitExceeded):
    """The token endpoint refused the credentials; an operator must fix them. Being a LimitExceeded too, it pauses
    outbound work for ``retry_after`` seconds instead of using up the jobs' attempts."""


class OperatorHold:
    """The refusal state of one token endpoint; the token provider asks :meth:`check` before each request."""

    def __init__(
        self,
        service: str,
        *,
        clock: Callable[[], float] = time.time,
        log_fields: Mapping[str, object] | None = None,
        hold_seconds: float = OPERATOR_HOLD_SECONDS,
        max_refusals: int = OPERATOR_MAX_REFUSALS,
    ) -> None:
        self.service = service
        self._clock = clock
        self._log_fields = dict(log_fields or {})
        self.hold_seconds, self.max_refusals = hold_seconds, max_refusals
        self.refused: AuthenticationError | None = None  # the last refusal, until a token is issued again
        self.refusals = 0
        self.retry_at: float | None = None  # next token request allowed (clock time); None: after a restart

    @property
    def reason(self) -> str | None:
        """Why the login needs an operator (the refusal, no secret), or None while logins work."""
        if self.refused is None:
            return None
        return f"{self.refused.describe()}; {self.next_attempt()}"

    def next_attempt(self) -> str:
        if self.retry_at is None:
            return "fix the credentials, then restart the worker (no more token requests until then)"
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.retry_at))
        return f"fix the credentials; next token request at {at} (or restart the worker)"

    def check(self) -> None:
        """Raise :class:`CredentialsRefused` while a refusal is held (no token request may be sent)."""
        if self.refused is not None and (self.retry_at is None or self._clock() < self.retry_at):
            raise self.held(self.refused)

    def refuse(self, refusal: AuthenticationError) -> CredentialsRefused:
        """Record a refusal (log it once) and return the error to raise in its place."""
        self.refused = refusal
        self.refusals += 1
        final = self.refusals >= self.max_refusals
        self.retry_at = None if final else self._clock() + self.hold_seconds
        log.error(f"{self.service}_auth_needs_operator", **self._log_fields, code=refusal.code, status=refusal.status,
                  reason=refusal.message, refusals=self.refusals,
                  next_attempt_in_seconds=None if final else self.hold_seconds, action=self.next_attempt())
        return self.held(refusal)

    def cleared(self) -> None:
        """A token was issued: the credentials work again."""
        self.refused, self.refusals, self.retry_at = None, 0, None

    def held(self, refusal: AuthenticationError) -> CredentialsRefused:
        return CredentialsRefused(self.service, f"{refusal.message} ({self.next_attempt()})", status=refusal.status,
                                  code=refusal.code, retry_after=self.hold_seconds)
