"""Store URL parsing: accepted forms, clear errors naming them, and passwords never shown."""

from __future__ import annotations

import pytest

from worker.store import open_store, parse_store_url, redact_url
from worker.store.url import StoreUrl, scrub


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///state.db", StoreUrl("sqlite", "state.db")),
    ("sqlite:////var/lib/oms/state.db", StoreUrl("sqlite", "/var/lib/oms/state.db")),
    ("sqlite:///:memory:", StoreUrl("sqlite", ":memory:")),
    ("postgresql://app@db:5432/oms", StoreUrl("postgres", "postgresql://app@db:5432/oms")),
    ("postgres://app@db/oms?schema=t_1&sslmode=require",
     StoreUrl("postgres", "postgres://app@db/oms?sslmode=require", "t_1")),
])
def test_accepted_store_urls(url: str, expected: StoreUrl) -> None:
    """Each accepted form maps to engine and target; ?schema is ours, other parameters go to the driver."""
    assert parse_store_url(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://x", "unsupported store URL 'mysql://x'"),
    ("redis://h", "unsupported store URL"),
    ("sqlite://relative.db", "unsupported store URL"),
    ("sqlite:///", "has no database path"),
    ("", "unsupported store URL ''"),
    ("postgresql://u@h:notaport/db", "is malformed"),
    ("postgresql://u@h/db?schema=x;drop", "schema must be a plain identifier"),
])
async def test_bad_store_url_is_a_clear_value_error(url: str, message: str) -> None:
    """A bad store URL raises ValueError saying what is wrong and, for the form, which forms are accepted."""
    with pytest.raises(ValueError, match=message) as caught:
        await open_store(url)
    if "schema" not in message:
        text = str(caught.value)
        assert "sqlite:///:memory:" in text and "postgresql://user@host:port/db" in text


async def test_bad_store_url_error_hides_the_password() -> None:
    """The ValueError for a malformed PostgreSQL URL does not contain its password."""
    with pytest.raises(ValueError) as caught:
        await open_store("postgresql://app:hunter2@db:port/x")
    assert "hunter2" not in str(caught.value) and "app:***@db" in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
    ("postgresql://app:p@ss:w@rd@db/x", "postgresql://app:***@db/x"),
    ("postgresql://app@db/x?password=s3cret&sslmode=require", "postgresql://app@db/x?password=***&sslmode=require"),
    ("postgresql://app@db/x", "postgresql://app@db/x"),
    ("sqlite:////var/state.db", "sqlite:////var/state.db"),
])
def test_store_url_password_is_redacted(url: str, shown: str) -> None:
    """redact_url masks a password in user:pass@ (even one containing '@') and in ?password=."""
    assert redact_url(url) == shown


def test_scrub_masks_the_password_in_driver_messages() -> None:
    """scrub removes the raw and the percent-decoded password from any text."""
    url = "postgresql://app:s3%40cret@db/x"
    assert scrub(f"failed for {url}: bad s3@cret and s3%40cret", url) == (
        "failed for postgresql://app:***@db/x: bad *** and ***")
