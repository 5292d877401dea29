"""structlog configured once: JSON lines to stdout (a console renderer on a TTY), secrets masked.

The redaction processor masks (1) values under secret-looking keys, wherever they nest, and (2) any occurrence
of a configured secret's value inside any string, so a token echoed in an error message is masked too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from worker.metrics import package_version

MASK = "[REDACTED]"
SECRET_KEYS = frozenset(
    {
        "access_token", "refresh_token", "authorization", "password", "client_secret", "api_key", "apikey",
        "x-api-key", "predictspring-secret", "predictspring-token", "pos_secret", "assertion", "token",
        "secret", "cookie", "set-cookie", "session_id", "private_key",
    }
)


class Redactor:
    """A structlog processor; ``secrets`` can be extended after configuration (e.g. once config is loaded)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Very short values would mask innocent text; a secret shorter than 4 characters is not a secret.
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: (MASK if str(k).lower() in SECRET_KEYS else self.scrub(v)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, BaseException):
            return self.scrub(repr(value))
        return value

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key.lower() in SECRET_KEYS:
                event_dict[key] = MASK
            else:
                event_dict[key] = self.scrub(event_dict[key])
        return event_dict


REDACTOR = Redactor()
SERVICE = "oms-worker"
VERSION = package_version()


def configure_logging(
    level: str = "INFO", fmt: str = "auto", secrets: Iterable[str] = (), stream: Any = None,
    message_key: str = "message",
) -> None:
    """Configure structlog and stdlib logging once for the process.

    JSON lines carry the message under ``message_key`` (structlog's ``event``, renamed so common log tools show
    it), ``service`` and ``version``. Library loggers (aiohttp, aiocometd, asyncpg, asyncio, ...) and Python
    warnings go through the same redactor and renderer, so every line of a run is one JSON object.
    """
    REDACTOR.add(secrets)
    out = stream or sys.stdout
    use_console = fmt == "console" or (fmt == "auto" and hasattr(out, "isatty") and out.isatty())
    tail: list[Any] = [REDACTOR]
    if use_console:
        tail.append(structlog.dev.ConsoleRenderer())
    else:
        tail += [_identity(message_key), structlog.processors.EventRenamer(message_key),
                 structlog.processors.JSONRenderer()]
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level, stamp,
                    structlog.processors.format_exc_info, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
            foreign_pre_chain=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                               structlog.stdlib.add_logger_name, stamp, structlog.processors.format_exc_info],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if level in ("DEBUG", "INFO") else getattr(logging, level))
    logging.captureWarnings(True)  # warnings.warn (e.g. a library's RuntimeWarning) -> logger "py.warnings"


def _identity(message_key: str) -> Any:
    """Adds ``service`` and ``version``; a field already named like the message key moves to ``<key>_field``."""

    def processor(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if message_key != "event" and message_key in event_dict:
            event_dict[f"{message_key}_field"] = event_dict.pop(message_key)
        event_dict.setdefault("service", SERVICE)
        event_dict.setdefault("version", VERSION)
        return event_dict

    return processor
