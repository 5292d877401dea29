"""Logging: JSON output, and secrets never reach the log stream."""

from __future__ import annotations

import io
import json
import logging

import structlog

from worker.logging import MASK, configure_logging


def test_secrets_are_masked_by_key_and_by_value() -> None:
    """Secret keys are masked wherever they nest, and configured secret values are masked inside any text."""
    out = io.StringIO()
    configure_logging("INFO", "json", secrets=["s3cr3t-token-value", "hunter2-password"], stream=out)
    log = structlog.get_logger("t")
    log.info(
        "token_fetched",
        access_token="abc-access",
        headers={"Authorization": "Bearer zzz", "X-Other": "ok"},
        detail="server said s3cr3t-token-value was bad",
        nested=[{"password": "p"}, "hunter2-password in a list"],
    )
    logging.getLogger("thirdparty").warning("lib logged hunter2-password")
    text = out.getvalue()
    for leaked in ("abc-access", "Bearer zzz", "s3cr3t-token-value", "hunter2-password"):
        assert leaked not in text
    first = json.loads(text.splitlines()[0])
    assert first["access_token"] == MASK
    assert first["headers"]["Authorization"] == MASK and first["headers"]["X-Other"] == "ok"
    assert first["message"] == "token_fetched"
    assert MASK in text.splitlines()[1]


def test_exception_reprs_are_scrubbed() -> None:
    """An exception object logged as a value is rendered and scrubbed of secret values."""
    out = io.StringIO()
    configure_logging("INFO", "json", secrets=["very-secret-key"], stream=out)
    structlog.get_logger("t").error("call_failed", error=ValueError("bad key very-secret-key"))
    assert "very-secret-key" not in out.getvalue()
