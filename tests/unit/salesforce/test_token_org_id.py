"""The org id (Pub/Sub's tenantid) read from a token answer's identity URL."""

from __future__ import annotations

import pytest

from worker.salesforce.auth import org_id


@pytest.mark.parametrize(("identity", "expected"), [
    ("https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA", "00D000000000001AAA"),
    ("https://test.salesforce.com/id/00Dxx0000001gPL/005xx000001X8Uz", "00Dxx0000001gPL"),
    ("http://127.0.0.1:4000/id/00D000000000001AAA/005000000000001AAA", "00D000000000001AAA"),
    ("https://login.salesforce.com/id/001000000000001AAA/005000000000001AAA", None),  # not an org id prefix
    ("https://login.salesforce.com/services/oauth2/userinfo", None),
    ("", None),
    (None, None),
    (42, None),
])
def test_org_id_comes_from_the_identity_url(identity: object, expected: str | None) -> None:
    """Only an /id/<00D...>/<user> URL yields an org id; anything else yields None (never a guess)."""
    assert org_id(identity) == expected
