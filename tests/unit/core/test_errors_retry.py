"""The single HTTP-answer -> error mapping, and retry policies as data."""

from __future__ import annotations

import random

import pytest

from worker.errors import (
    AuthenticationError,
    LimitExceeded,
    OutcomeUnknown,
    PermanentError,
    TransientError,
    pos_error,
    salesforce_error,
)
from worker.retry import RetryPolicy, retrying


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], AuthenticationError,
         "INVALID_SESSION_ID"),
        (403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], LimitExceeded,
         "REQUEST_LIMIT_EXCEEDED"),
        (400, [{"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW"}],
         TransientError, "UNABLE_TO_LOCK_ROW"),
        (400, [{"message": "unexpected token: FROM", "errorCode": "MALFORMED_QUERY"}], PermanentError,
         "MALFORMED_QUERY"),
        (500, [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}], TransientError,
         "UNKNOWN_EXCEPTION"),
        (503, "Service Unavailable", TransientError, None),
        (404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], PermanentError,
         "NOT_FOUND"),
        (429, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests"}], LimitExceeded,
         "REQUEST_LIMIT_EXCEEDED"),
        (400, {"error": "invalid_grant", "error_description": "authentication failure"}, PermanentError,
         "invalid_grant"),
        (200, [{"statusCode": "MALFORMED_ID", "message": "bad id", "fields": ["Id"]}], PermanentError, "MALFORMED_ID"),
    ],
)
def test_salesforce_answers_map_to_error_kinds(status: int, body: object, kind: type, code: str | None) -> None:
    """Each Salesforce error body shape (REST array, Collections statusCode, OAuth) maps to the right kind."""
    error = salesforce_error(status, body)
    assert type(error) is kind
    assert error.code == code
    assert error.service == "salesforce"


def test_salesforce_error_keeps_fields() -> None:
    """Field names from the error body are kept and shown in the message."""
    error = salesforce_error(400, [{"message": "Required fields are missing: [Name]", "errorCode":
                                    "REQUIRED_FIELD_MISSING", "fields": ["Name"]}])
    assert error.fields == ["Name"] and "fields: Name" in str(error)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthenticationError), (429, LimitExceeded), (500, TransientError), (503, TransientError),
     (400, PermanentError), (409, PermanentError)],
)
def test_pos_answers_map_to_error_kinds(status: int, kind: type) -> None:
    """POS answers map by status; the errorCode and errorMessage are kept."""
    error = pos_error(status, {"errorCode": "X", "errorMessage": "why"}, retry_after=2.0)
    assert type(error) is kind and error.code == "X" and "why" in str(error)


def test_policy_delays_are_capped_and_counted() -> None:
    """A policy yields attempts-1 delays, each within the exponential cap."""
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=4.0, jitter=1.0)
    delays = list(policy.delays(random.Random(1)))
    assert len(delays) == 5
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert policy.delay_for(10, random.Random(1)) <= 4.0


async def test_retrying_retries_only_what_the_policy_names() -> None:
    """Transient errors are retried up to the attempt limit; permanent ones surface at once."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransientError("salesforce", "busy", status=503)
        return "ok"

    policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.02)
    assert await retrying(policy, flaky, what="test", sleep=sleep) == "ok"
    assert calls == 3 and len(slept) == 2

    async def permanent() -> str:
        raise PermanentError("salesforce", "bad")

    with pytest.raises(PermanentError):
        await retrying(policy, permanent, what="test", sleep=sleep)
    assert len(slept) == 2


async def test_outcome_unknown_is_not_retried_by_a_post_policy() -> None:
    """A policy for non-idempotent POSTs does not name OutcomeUnknown, so it is never re-sent blindly."""
    post_policy = RetryPolicy(attempts=5, retry_on=(AuthenticationError,))
    calls = 0

    async def lost() -> None:
        nonlocal calls
        calls += 1
        raise OutcomeUnknown("salesforce", "connection reset after send")

    async def no_sleep(_: float) -> None:
        return None

    with pytest.raises(OutcomeUnknown):
        await retrying(post_policy, lost, what="post", sleep=no_sleep)
    assert calls == 1


def test_retry_after_hint_is_honoured() -> None:
    """The error's retry_after hint survives the mapping (used by the queue runner and clients)."""
    assert pos_error(429, {}, retry_after=7.0).retry_after == 7.0
