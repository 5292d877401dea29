"""Platform-event bus of the emulated org: replay ids, retention, fault injection and subscriber wake-up.

Replay ids are per channel, increasing and deliberately non-contiguous (a seeded random step of 1..3), so
clients that compute ids from stored ids break here as they would against Salesforce. Events older than
``retention_seconds`` are purged lazily (and on demand with :meth:`EventBus.purge_before`).

Listeners registered with :meth:`EventBus.add_listener` are plain callables invoked synchronously from
:meth:`EventBus.publish`; the CometD server uses one to set per-client ``asyncio.Event`` objects, which is
safe because ``publish`` runs in the event-loop thread (also when called from sync code there).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from emulator.salesforce.cometd import CometdServer, CometdSettings, add_cometd_routes

__all__ = [
    "FO_STATUS_CHANNEL",
    "CometdServer",
    "CometdSettings",
    "EventBus",
    "StoredEvent",
    "add_cometd_routes",
    "format_created_date",
    "schema_id",
]

FO_STATUS_CHANNEL = "/event/FOStatusChangedEvent"
DEFAULT_CREATED_BY_ID = "005000000000001AAA"
_STATE_VERSION = 1
_LOG = logging.getLogger(__name__)

Listener = Callable[["StoredEvent"], None]


@dataclass(frozen=True)
class StoredEvent:
    """One retained platform event as the bus stores it (payload already carries the standard fields)."""

    channel: str
    replay_id: int
    event_uuid: str
    payload: dict[str, Any]
    schema: str
    published_at: float


def format_created_date(ts: float) -> str:
    """Salesforce datetime text with milliseconds and a ``Z`` suffix, e.g. ``2025-05-01T12:00:00.000Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def schema_id(channel: str) -> str:
    """A stable 22-character schema id for a channel (Salesforce shape, e.g. ``dffQ2QLzDNHqwB8_sHMxdA``).

    For a topic with an Avro schema (pubsub_avro) it is that schema's fingerprint, the id the Pub/Sub API gives.
    """
    from emulator.salesforce.pubsub_avro import schema_fingerprint, schema_for_topic

    schema = schema_for_topic(channel)
    if schema is not None:
        return schema_fingerprint(schema)
    digest = hashlib.sha256(channel.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class EventBus:
    """In-memory, per-channel event log with replay ids, retention, drop fault and listeners."""

    def __init__(
        self,
        retention_seconds: float = 72 * 3600,
        clock: Callable[[], float] = time.time,
        *,
        seed: int = 0,
        created_by_id: str = DEFAULT_CREATED_BY_ID,
    ) -> None:
        self.retention_seconds = retention_seconds
        self.drop_rate: float = 0.0
        self.created_by_id = created_by_id
        self._clock = clock
        self._ids = random.Random(seed)
        self._faults = random.Random(seed + 1)
        self._events: dict[str, list[StoredEvent]] = {FO_STATUS_CHANNEL: []}
        self._last_ids: dict[str, int] = {FO_STATUS_CHANNEL: 0}
        self._listeners: list[Listener] = []
        self.purged_before: float = 0.0  # newest cut-off of any purge (epoch s): older replay positions are gone

    # -- channels -------------------------------------------------------------------------------------

    def known_channels(self) -> set[str]:
        """Channels a client may subscribe to; ``/event/FOStatusChangedEvent`` is always among them."""
        return set(self._events)

    def add_channel(self, channel: str) -> None:
        """Declare a channel (as defining a platform event does) so it can be subscribed before a publish."""
        self._events.setdefault(channel, [])
        self._last_ids.setdefault(channel, 0)

    def last_replay_id(self, channel: str) -> int:
        """The newest replay id ever assigned on the channel (0 when none), purged or not."""
        return self._last_ids.get(channel, 0)

    # -- publishing ----------------------------------------------------------------------------------

    def publish(self, channel: str, payload: dict[str, Any]) -> StoredEvent | None:
        """Store and announce one event; None when the ``drop_rate`` fault swallowed it entirely."""
        self.add_channel(channel)
        if self.drop_rate > 0 and self._faults.random() < self.drop_rate:
            _LOG.info("event dropped by fault injection on %s", channel)
            return None
        now = self._clock()
        self._purge_expired(now)
        event_uuid = str(payload.get("EventUuid") or uuid.UUID(int=self._ids.getrandbits(128), version=4))
        body: dict[str, Any] = {
            "CreatedDate": format_created_date(now),
            "CreatedById": payload.get("CreatedById") or self.created_by_id,
            "EventUuid": event_uuid,
        }
        body.update({k: v for k, v in payload.items() if k not in body})
        replay_id = self._last_ids[channel] + self._ids.randint(1, 3)
        self._last_ids[channel] = replay_id
        event = StoredEvent(channel, replay_id, event_uuid, body, schema_id(channel), now)
        self._events[channel].append(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break publishing
                _LOG.exception("event listener failed")
        return event

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` synchronously after every stored event."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- reading and retention -----------------------------------------------------------------------

    def events_after(self, channel: str, replay_id: int) -> list[StoredEvent]:
        """Retained events of ``channel`` with replay id > ``replay_id`` (-2 gives all), oldest first."""
        self._purge_expired(self._clock())
        return [e for e in self._events.get(channel, ()) if e.replay_id > replay_id]

    def page_after(self, channel: str, replay_id: int, limit: int) -> list[StoredEvent]:
        """At most ``limit`` retained events of ``channel`` after ``replay_id``, oldest first (a bisect, not a scan)."""
        self._purge_expired(self._clock())
        events = self._events.get(channel, [])
        start = bisect.bisect_right(events, replay_id, key=lambda e: e.replay_id)
        return events[start:start + limit]

    def now(self) -> float:
        """The bus clock (epoch seconds): publish times, retention and replay-id times use it."""
        return self._clock()

    def is_retained(self, channel: str, replay_id: int) -> bool:
        """True when ``replay_id`` names an event of ``channel`` that is still inside the retention window."""
        self._purge_expired(self._clock())
        return any(e.replay_id == replay_id for e in self._events.get(channel, ()))

    def purge_before(self, ts: float) -> int:
        """Forget every event published before ``ts`` (epoch seconds); returns how many were forgotten."""
        purged = 0
        self.purged_before = max(self.purged_before, ts)
        for channel, events in self._events.items():
            kept = [e for e in events if e.published_at >= ts]
            purged += len(events) - len(kept)
            self._events[channel] = kept
        return purged

    def purge_older_than(self, seconds: float) -> int:
        """Forget every event published more than ``seconds`` ago (0: all of them), as retention would."""
        return self.purge_before(self._clock() - seconds)

    def retained_count(self, channel: str) -> int:
        """How many events of ``channel`` are still inside the retention window."""
        self._purge_expired(self._clock())
        return len(self._events.get(channel, ()))

    def _purge_expired(self, now: float) -> None:
        cutoff = now - self.retention_seconds
        if any(events and events[0].published_at < cutoff for events in self._events.values()):
            self.purge_before(cutoff)

    # -- persistence ---------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot: retained events, last ids per channel and the id generator position."""
        version, internal, gauss = self._ids.getstate()
        return {
            "version": _STATE_VERSION,
            "drop_rate": self.drop_rate,
            "purged_before": self.purged_before,
            "last_ids": dict(self._last_ids),
            "events": {ch: [asdict(e) for e in events] for ch, events in self._events.items()},
            "rng": [version, list(internal), gauss],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the bus contents with a snapshot made by :meth:`to_state`."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported event bus state version {state.get('version')!r}")
        self.drop_rate = float(state.get("drop_rate", 0.0))
        self.purged_before = float(state.get("purged_before", 0.0))
        self._events = {
            ch: [StoredEvent(**item) for item in items] for ch, items in state.get("events", {}).items()
        }
        self._last_ids = {ch: int(v) for ch, v in state.get("last_ids", {}).items()}
        for channel in [*self._events, FO_STATUS_CHANNEL]:
            self.add_channel(channel)
        rng = state.get("rng")
        if rng:
            self._ids.setstate((rng[0], tuple(rng[1]), rng[2]))


def __getattr__(name: str) -> Any:
    """Re-export the CometD names the contract lists next to the bus (canonical home: ``cometd.py``)."""
    if name in {"CometdSettings", "CometdServer", "add_cometd_routes"}:
        from emulator.salesforce import cometd

        return getattr(cometd, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
