"""Fault injection for the REST surface: latency, 5xx, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, event drops."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .errors import SfError
from .limits import COUNTER_KINDS

ERROR_KINDS = ("5xx", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED")


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    # per resource kind (limits.COUNTER_KINDS: query, sobject_get, composite_graph, collections, connect, ...);
    # a kind listed here takes its own latency instead of latency_ms
    latency_ms_by_kind: dict[str, float] = field(default_factory=dict)
    error_rate: float = 0.0
    error_kind: str = "5xx"
    paths: list[str] = field(default_factory=list)
    event_drop_rate: float = 0.0
    seed: int | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultSettings:
        """Validate an admin body; raises ValueError with a readable reason."""
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        settings = cls(**body)
        if settings.error_kind not in ERROR_KINDS:
            raise ValueError(f"error_kind must be one of {ERROR_KINDS}")
        for name in ("error_rate", "event_drop_rate"):
            value = getattr(settings, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if not isinstance(settings.latency_ms, int | float) or settings.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        by_kind = settings.latency_ms_by_kind
        if not isinstance(by_kind, dict) or any(
                k not in COUNTER_KINDS or isinstance(v, bool) or not isinstance(v, int | float) or v < 0
                for k, v in by_kind.items()):
            raise ValueError(f"latency_ms_by_kind must map kinds ({', '.join(COUNTER_KINDS)}) to numbers >= 0")
        if not isinstance(settings.paths, list) or not all(isinstance(p, str) for p in settings.paths):
            raise ValueError("paths must be a list of strings")
        return settings


class Faults:
    """Decides per request whether to delay or fail it (never for ``/__admin``)."""

    def __init__(self) -> None:
        self.settings = FaultSettings()
        self._rng = random.Random()
        self.injected = 0

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)

    def clear(self) -> None:
        self.configure(FaultSettings())

    def applies(self, path: str) -> bool:
        if path.startswith("/__admin"):
            return False
        return not self.settings.paths or any(p in path for p in self.settings.paths)

    def latency_seconds(self, path: str, kind: str = "other") -> float:
        """The delay before answering: the kind's own latency if set, else ``latency_ms``."""
        latency = self.settings.latency_ms_by_kind.get(kind, self.settings.latency_ms)
        return latency / 1000.0 if latency and self.applies(path) else 0.0

    def pick_error(self, path: str) -> SfError | None:
        """The error to answer instead of handling the request, or None."""
        rate = self.settings.error_rate
        if rate <= 0 or not self.applies(path) or self._rng.random() >= rate:
            return None
        self.injected += 1
        kind = self.settings.error_kind
        if kind == "UNABLE_TO_LOCK_ROW":
            return SfError(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", [])
        if kind == "REQUEST_LIMIT_EXCEEDED":
            return SfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if self._rng.random() < 0.5:
            return SfError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later.")
        error_id = f"{self._rng.randrange(10**9, 10**10)}-{self._rng.randrange(10**4, 10**5)} " \
                   f"({self._rng.randrange(-10**9, 10**9)})"
        return SfError(500, "UNKNOWN_EXCEPTION",
                       f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}")
