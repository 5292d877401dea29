"""Pure parts of the Pub/Sub API transport: replay ids, flow-control accounting, error classification, records.

No I/O here (the gRPC client is :mod:`worker.salesforce.pubsub`), so each piece is checked by table tests.

* Replay ids are opaque bytes: never compared, never computed on; shown and stored as base64 text.
* :class:`FlowWindow` keeps the events not yet stored (asked for and not yet delivered, plus delivered and not yet
  committed to the inbox) within ``size``: more are asked for only as committed events free the window, so a
  backlog of any length holds at most ``size`` events in memory and the server waits for the store.
* :func:`classify` maps a gRPC status code and the Pub/Sub ``error-code`` trailer to what the stream does.
* :func:`record_payload` turns a decoded Avro record into the CometD-shaped payload the rest of the worker reads.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from typing import Any

from worker.mapping.money import ms_to_sf_datetime

ERROR_CODE_TRAILER = "error-code"  # the Pub/Sub API's own error code, beside the gRPC status
REPLAY_ERROR_PREFIX = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid"  # .corrupted and its siblings
AUTH_ERROR_CODE = "sfdc.platform.eventbus.grpc.service.auth.error"
MAX_NUM_REQUESTED = 100  # Salesforce's limit per FetchRequest


def replay_text(replay_id: bytes | None) -> str | None:
    """Opaque replay id -> base64 text (logs, /status, job payloads); None stays None."""
    return None if replay_id is None else base64.b64encode(replay_id).decode("ascii")


def replay_bytes(text: str) -> bytes:
    """base64 text -> the replay id; ValueError naming the problem for anything else."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("a Pub/Sub replay id is base64 text") from None


@dataclass
class FlowWindow:
    """Flow-control accounting of one stream (it spans reopens: delivered events stay uncommitted until stored).

    ``requested``: asked for on the current subscription and not delivered yet (the server's pending count);
    ``uncommitted``: delivered to the worker and not yet committed to the inbox. Their sum never exceeds ``size``.
    """

    size: int
    requested: int = 0
    uncommitted: int = 0

    @property
    def free(self) -> int:
        return max(0, self.size - self.requested - self.uncommitted)

    def next_request(self) -> int:
        """How many to ask for now: the free part of the window, once at least half of it is free (0: ask
        nothing). A burst is thus fetched in half-window steps while the previous half is being stored."""
        free = self.free
        return free if free > 0 and free * 2 >= self.size else 0

    def asked(self, n: int) -> None:
        self.requested += n

    def delivered(self, received: int, kept: int) -> None:
        """``received`` events arrived, of which ``kept`` go to the ingest (the rest were repeats already held)."""
        self.requested = max(0, self.requested - received)
        self.uncommitted += kept

    def committed(self, n: int) -> None:
        self.uncommitted = max(0, self.uncommitted - n)

    def resubscribed(self) -> None:
        """A new Subscribe call starts with nothing requested (the old call's requests died with it)."""
        self.requested = 0


class Action(enum.Enum):
    REFRESH_AUTH = "refresh_auth"  # refresh the token once, resubscribe from the stored replay id
    INVALID_REPLAY = "invalid_replay"  # reconcile, then resume at LATEST
    REFUSED = "refused"  # topic unknown / not allowed: a configuration problem; retried with backoff
    REOPEN = "reopen"  # transient (UNAVAILABLE, reset stream, ...): reopen with backoff from the stored replay id


REFUSED_STATUSES = frozenset({"PERMISSION_DENIED", "NOT_FOUND"})


def classify(status: str, error_code: str | None) -> Action:
    """gRPC status code name (``grpc.StatusCode.X.name``) and the ``error-code`` trailer -> what to do."""
    code = (error_code or "").strip().lower()
    if status == "UNAUTHENTICATED" or code == AUTH_ERROR_CODE:
        return Action.REFRESH_AUTH
    if code.startswith(REPLAY_ERROR_PREFIX):
        return Action.INVALID_REPLAY
    if status in REFUSED_STATUSES:
        return Action.REFUSED
    return Action.REOPEN


def _created(value: Any) -> Any:
    """Avro ``CreatedDate`` is epoch milliseconds (long); CometD sends ISO-8601 text. ISO text either way."""
    if isinstance(value, int) and not isinstance(value, bool):
        return ms_to_sf_datetime(value)
    return value


def record_payload(record: dict[str, Any]) -> dict[str, Any]:
    """A decoded FOStatusChangedEvent record -> the payload as the CometD stream carries it (same field names;
    ``CreatedDate`` as ISO text). Unknown fields pass through."""
    payload = dict(record)
    if "CreatedDate" in payload:
        payload["CreatedDate"] = _created(payload["CreatedDate"])
    return payload
