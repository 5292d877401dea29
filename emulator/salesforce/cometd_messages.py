"""Bayeux message shapes and the Streaming API error strings, as Salesforce puts them on the wire.

Everything here is pure: builders take plain values and return JSON-able dicts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.salesforce.events import StoredEvent

__all__ = [
    "AUTH_INVALID",
    "AUTH_REQUIRED",
    "COOKIE_NAME",
    "HANDSHAKE_DENIED",
    "LEADING_SLASH",
    "MIN_API_VERSION",
    "RESTRICTED_CHANNEL",
    "TOO_LARGE",
    "UNKNOWN_CLIENT",
    "VERSION_MANDATORY",
    "VERSION_UNSUPPORTED",
    "MessageError",
    "channel_missing",
    "event_message",
    "failure",
    "invalid_connection_type",
    "invalid_replay_id",
    "missing_cookie",
    "parse_messages",
    "parse_version",
    "reply",
]

COOKIE_NAME = "BAYEUX_BROWSER"
MIN_API_VERSION = 37.0
AUTH_INVALID = "401::Authentication invalid"
AUTH_REQUIRED = "401::Request requires authentication"
HANDSHAKE_DENIED = "403::Handshake denied"
UNKNOWN_CLIENT = "403::Unknown client"
RESTRICTED_CHANNEL = "403::Restricted channel"
LEADING_SLASH = "400::Channel subscriptions must start with a leading '/'"
VERSION_MANDATORY = "400::API version in the URI is mandatory. URI format: '/cometd/66.0'"
VERSION_UNSUPPORTED = "400::Unsupported API version. Only API versions '37.0' and later are supported."
TOO_LARGE = "Maximum Request Size Exceeded"
_VERSION_RE = re.compile(r"^\d{1,3}\.\d$")


class MessageError(ValueError):
    """The request body is not a Bayeux message or array of messages."""


def invalid_replay_id(replay_id: object) -> str:
    """The subscribe error for a replay id outside retention, unknown, or ahead of the newest event."""
    return (
        f"400::The replayId {{{replay_id}}} you provided was invalid.  Please provide a valid ID, "
        "-2 to replay all events, or -1 to replay only new events."
    )


def channel_missing(channel: str) -> str:
    """The subscribe error for a channel the org does not define."""
    return f"400::The channel you requested to subscribe to doesn't exist {{{channel}}}"


def missing_cookie(client_id: str) -> str:
    """The error for a client that did not send back the cookie set by its handshake."""
    return f"400::Client {client_id} has established a session, but no {COOKIE_NAME} cookie present"


def invalid_connection_type(connection_type: object) -> str:
    """The error for a transport other than long-polling."""
    return f"400::Invalid connection type {connection_type}"


def parse_version(version: str | None) -> str | None:
    """None when ``version`` is a supported API version, else the Bayeux error string to answer with."""
    if not version or not _VERSION_RE.match(version):
        return VERSION_MANDATORY
    if float(version) < MIN_API_VERSION:
        return VERSION_UNSUPPORTED
    return None


def parse_messages(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Bayeux messages from a JSON array, a single JSON object, or a form field ``message`` holding either."""
    text = body.decode("utf-8", errors="strict") if body else ""
    if content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs

        text = (parse_qs(text).get("message") or [""])[0]
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MessageError("request body is not JSON") from exc
    messages = data if isinstance(data, list) else [data]
    if not messages or not all(isinstance(m, dict) and isinstance(m.get("channel"), str) for m in messages):
        raise MessageError("every Bayeux message needs a channel")
    return messages


def reply(message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A reply echoing ``channel`` (and ``id``/``clientId``/``subscription`` when the request had them)."""
    out: dict[str, Any] = {}
    for key in ("clientId", "channel", "id", "subscription"):
        if key in message and message[key] is not None:
            out[key] = message[key]
    out.update(fields)
    return out


def failure(message: dict[str, Any], error: str, advice: dict[str, Any] | None = None) -> dict[str, Any]:
    """An unsuccessful reply carrying ``error`` (and ``advice`` when given)."""
    extra: dict[str, Any] = {"advice": advice} if advice is not None else {}
    return reply(message, **extra, error=error, successful=False)


def event_message(event: StoredEvent) -> dict[str, Any]:
    """A platform-event delivery: ``{"data": {"schema", "payload", "event": {...}}, "channel"}``."""
    return {
        "data": {
            "schema": event.schema,
            "payload": event.payload,
            "event": {"EventUuid": event.event_uuid, "replayId": event.replay_id},
        },
        "channel": event.channel,
    }
