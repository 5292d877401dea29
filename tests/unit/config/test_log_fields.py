"""JSON log lines: a configurable message key, service and version, and library logs and warnings as JSON too."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from worker.config import WorkerConfig
from worker.logging import configure_logging
from worker.metrics import package_version


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """A log stream; Python's warnings capture is undone afterwards."""
    stream = io.StringIO()
    with warnings.catch_warnings():
        yield stream
    logging.captureWarnings(False)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_message_key_service_and_version_on_every_worker_line(out: io.StringIO) -> None:
    """The message is under "message" (no "event" key), with service "oms-worker" and the package version."""
    configure_logging("INFO", "json", stream=out)
    structlog.get_logger("t").info("worker_started", http_port=8080)
    [line] = lines(out)
    assert line["message"] == "worker_started" and "event" not in line
    assert line["service"] == "oms-worker" and line["version"] == package_version()
    assert line["http_port"] == 8080 and line["level"] == "info"


def test_message_key_is_configurable_and_a_clashing_field_is_kept(out: io.StringIO) -> None:
    """message_key "msg" names the message; a field already called "msg" moves to "msg_field" instead of being lost."""
    configure_logging("INFO", "json", stream=out, message_key="msg")
    structlog.get_logger("t").error("spi_salesforce_refused", msg="INVALID_FIELD: bad")
    [line] = lines(out)
    assert line["msg"] == "spi_salesforce_refused" and line["msg_field"] == "INVALID_FIELD: bad"


def test_library_loggers_and_python_warnings_are_json_lines(out: io.StringIO) -> None:
    """aiohttp / asyncpg / aiocometd records and a library's RuntimeWarning come out as JSON with the same fields."""
    configure_logging("INFO", "json", secrets=["lib-secret-value"], stream=out)
    logging.getLogger("aiohttp.client").warning("connection reset by peer")
    logging.getLogger("asyncpg.pool").error("pool closed with lib-secret-value")
    logging.getLogger("aiocometd_ng.client").info("below the library threshold: dropped")
    warnings.simplefilter("always")
    warnings.warn("coroutine 'TransportBase.wait_for_state' was never awaited", RuntimeWarning, stacklevel=1)
    found = lines(out)  # every line parses as JSON
    assert [(line["logger"], line["level"]) for line in found] == [
        ("aiohttp.client", "warning"), ("asyncpg.pool", "error"), ("py.warnings", "warning")]
    assert found[0]["message"] == "connection reset by peer"
    assert "lib-secret-value" not in out.getvalue()
    assert "RuntimeWarning" in found[2]["message"] and "was never awaited" in found[2]["message"]
    assert all(line["service"] == "oms-worker" and "timestamp" in line for line in found)


def test_log_message_key_must_be_a_plain_name() -> None:
    """worker.log_message_key defaults to "message" and refuses an empty or odd key."""
    assert WorkerConfig.model_validate({"webhook": {"api_key": "k" * 16}}).log_message_key == "message"
    with pytest.raises(ValueError, match="log_message_key"):
        WorkerConfig.model_validate({"webhook": {"api_key": "k" * 16}, "log_message_key": ""})
