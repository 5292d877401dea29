"""Pure pieces of the emulated Pub/Sub API: replay ids, their validity, flow-control credit, the error table.

Replay ids are opaque to clients (the guide: store them, hand them back, never compute with them). Here one is
16 bytes: the event-bus position (the same number CometD shows as ``replayId``) and the time the position was
current, in epoch milliseconds, both unsigned 64-bit big-endian. The time makes retention checkable for an id
that names no stored event: the ``latest_replay_id`` of a keepalive on a quiet channel is a fresh position, so a
subscriber that stores it does not fall out of the 72-hour window, while a stored id of an event older than the
window (or older than an operator purge) is refused. See REFERENCE-pubsub.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import grpc

__all__ = [
    "ERROR_PREFIX",
    "Credit",
    "PubSubError",
    "ReplayPosition",
    "decode_replay_id",
    "encode_replay_id",
    "replay_refusal",
]

_REPLAY = struct.Struct(">QQ")
ERROR_PREFIX = "sfdc.platform.eventbus.grpc."


@dataclass(frozen=True)
class ReplayPosition:
    """A decoded replay id: bus position and when that position was current (epoch ms)."""

    position: int
    at_ms: int


def encode_replay_id(position: int, at_seconds: float) -> bytes:
    """The opaque replay id for ``position`` as of ``at_seconds`` (epoch seconds)."""
    return _REPLAY.pack(max(position, 0), max(int(at_seconds * 1000), 0))


def decode_replay_id(data: bytes) -> ReplayPosition | None:
    """The position in a replay id this server issued; None when it is not one (wrong size)."""
    if len(data) != _REPLAY.size:
        return None
    position, at_ms = _REPLAY.unpack(data)
    return ReplayPosition(position, at_ms)


@dataclass(frozen=True)
class PubSubError(Exception):
    """An RPC failure: gRPC status, the ``error-code`` trailer (without prefix) and the message."""

    status: grpc.StatusCode
    code: str
    message: str

    @property
    def error_code(self) -> str:
        return ERROR_PREFIX + self.code


# Status codes and error codes: sources are listed in emulator/REFERENCE-pubsub.md (section "Errors").
def auth_error() -> PubSubError:
    """Unknown, expired or revoked access token, or a tenant id that is not the token's org."""
    return PubSubError(grpc.StatusCode.UNAUTHENTICATED, "service.auth.error",
                       "An authentication exception occurred. Provide valid authentication via metadata headers.")


def auth_headers_invalid(missing: str) -> PubSubError:
    """An auth metadata header absent or blank."""
    return PubSubError(grpc.StatusCode.UNAUTHENTICATED, "service.auth.headers.invalid",
                       f"The {missing} header is missing or blank. Provide valid authentication via metadata headers.")


def topic_not_found(org_id: str, topic: str) -> PubSubError:
    return PubSubError(grpc.StatusCode.NOT_FOUND, "topic.not.found",
                       f"The topic information for org {org_id} and topic {topic} not found. "
                       "Ensure the topic name is correct and that the topic exists.")


def topic_empty() -> PubSubError:
    return PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "topic.validation.empty", "The topic name is blank.")


def topic_mismatch(first: str, later: str) -> PubSubError:
    return PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.topic.mismatch",
                       f"The topic {later} differs from the topic {first} this stream subscribed to.")


def requested_events_invalid(value: int) -> PubSubError:
    return PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.requested.events.invalid",
                       f"num_requested must be greater than 0, got {value}.")


def schema_empty() -> PubSubError:
    return PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "schema.validation.failed", "The schema ID is blank.")


def schema_not_found(schema_id: str) -> PubSubError:
    return PubSubError(grpc.StatusCode.NOT_FOUND, "schema.meta.permission",
                       f"The schema {schema_id} was not found or you do not have access to it.")


def replay_error(kind: str) -> PubSubError:
    """``missing``: CUSTOM without an id; ``corrupted``: not an id of this topic, or outside retention."""
    if kind == "missing":
        return PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.replayid.validation.failed",
                           "The replay ID is required when the replay preset is CUSTOM.")
    return PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.replayid.corrupted",
                       "The Replay ID validation failed. The replay ID is invalid or outside the retention window.")


def service_unavailable() -> PubSubError:
    return PubSubError(grpc.StatusCode.UNAVAILABLE, "service.unavailable",
                       "The service is unavailable. Try again later.")


def replay_refusal(start: ReplayPosition | None, *, last_position: int, now: float, retention_seconds: float,
                   purged_before: float) -> PubSubError | None:
    """Why a CUSTOM start is refused, or None when events after it are all still retained.

    Refused: not an id this server issued; a position the topic has not reached; a position whose time is
    outside the retention window or before an operator purge (events after it may be gone).
    """
    if start is None or start.position > last_position or start.at_ms > (now + 60) * 1000:
        return replay_error("corrupted")
    oldest_ms = max(now - retention_seconds, purged_before) * 1000
    if start.at_ms < oldest_ms:
        return replay_error("corrupted")
    return None


@dataclass
class Credit:
    """Flow control of one Subscribe stream: events the client has asked for and not yet received.

    Each FetchRequest adds its ``num_requested`` (at most ``per_request_cap``) to what is owed; the server sends
    at most what is owed, and ``pending_num_requested`` of each response is what is still owed after it.
    """

    per_request_cap: int = 100
    owed: int = 0

    def grant(self, num_requested: int) -> None:
        """Add a FetchRequest's ``num_requested``; raises PubSubError when it is not positive."""
        if num_requested <= 0:
            raise requested_events_invalid(num_requested)
        self.owed += min(num_requested, self.per_request_cap)

    def take(self, available: int, batch_cap: int) -> int:
        """How many of ``available`` events to put in the next response (and spend them)."""
        count = max(0, min(self.owed, available, batch_cap))
        self.owed -= count
        return count
