"""Server-side state of CometD clients: subscriptions with replay positions, wake-up, and expiry.

Each subscription remembers the replay id of the last event handed to the client, so a delivery pulls exactly
the retained events after that position: nothing is skipped or repeated, however publishes and polls
interleave.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from emulator.salesforce.events import EventBus, StoredEvent

__all__ = ["ClientRegistry", "ClientState", "Subscription"]


@dataclass
class Subscription:
    """A channel a client listens to; ``position``: last replay id delivered (-2: replay everything)."""

    channel: str
    position: int


@dataclass
class ClientState:
    """One handshaken client."""

    client_id: str
    username: str
    last_active: float
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    connected_once: bool = False
    generation: int = 0
    holding: int = 0
    gone: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def take_pending(self, bus: EventBus, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` undelivered events across subscriptions, advancing each subscription's position."""
        out: list[StoredEvent] = []
        for sub in self.subscriptions.values():
            if len(out) >= limit:
                break
            batch = bus.events_after(sub.channel, sub.position)[: limit - len(out)]
            if batch:
                sub.position = batch[-1].replay_id
                out.extend(batch)
        return out


class ClientRegistry:
    """All live clients; a client not polling for ``window_seconds`` after its last answer is forgotten."""

    def __init__(self, window_seconds: float, clock: Callable[[], float]) -> None:
        self.window_seconds = window_seconds
        self._clock = clock
        self._clients: dict[str, ClientState] = {}

    def now(self) -> float:
        """Current time of the registry clock."""
        return self._clock()

    def create(self, username: str) -> ClientState:
        """A new client with a fresh, unguessable id."""
        client_id = secrets.token_hex(13)
        client = ClientState(client_id=client_id, username=username, last_active=self._clock())
        self._clients[client_id] = client
        return client

    def get(self, client_id: object) -> ClientState | None:
        """The live client with this id, or None (unknown, dropped or expired)."""
        self.sweep()
        if not isinstance(client_id, str):
            return None
        return self._clients.get(client_id)

    def remove(self, client_id: str) -> ClientState | None:
        """Forget one client and wake its held poll; returns it when it existed."""
        client = self._clients.pop(client_id, None)
        if client is not None:
            client.gone = True
            client.wake.set()
        return client

    def remove_all(self) -> int:
        """Forget every client (their held polls wake up and see ``gone``); returns how many there were."""
        ids = list(self._clients)
        for client_id in ids:
            self.remove(client_id)
        return len(ids)

    def sweep(self) -> None:
        """Expire clients that are not holding a poll and were last answered longer than the window ago."""
        cutoff = self._clock() - self.window_seconds
        for client in list(self._clients.values()):
            if not client.holding and client.last_active < cutoff:
                self.remove(client.client_id)

    def count(self) -> int:
        """Number of live clients."""
        self.sweep()
        return len(self._clients)

    def subscribed_to(self, channel: str) -> Iterator[ClientState]:
        """Live clients with a subscription on ``channel``."""
        return (c for c in list(self._clients.values()) if channel in c.subscriptions)

    def all(self) -> list[ClientState]:
        """Every live client."""
        return list(self._clients.values())
