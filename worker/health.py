"""Liveness, readiness and the cached dependency checks behind ``/status``.

Liveness (``/healthz``): every main loop has shown progress recently — a beat, or a *pulse* read at probe time
(the stream's pulse is the server's last answer or reopen attempt, never event traffic, so a quiet org stays
alive). Readiness (``/readyz``): a webhook can be accepted and durably stored now — the ``checks`` (the store) pass
and the worker is not draining. Salesforce, the stream and the POS are never part of readiness: a sidecar that
turned unready while they are down would take its whole pod, the POS integration included, out of service.
Their ``dependencies`` checks feed ``/status`` only. Every check is cached ``cache_seconds`` so probes and status
pages never hammer Salesforce or the POS (the POS allows 10 requests/s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from worker.salesforce.stream_types import StreamStatus

Check = Callable[[], Awaitable[str | None]]  # returns None when fine, else a short reason (no secrets, no PII)
Pulse = Callable[[], float | None]  # a loop's latest progress (time.monotonic()), None if none yet


@dataclass
class Health:
    liveness_window: float = 60.0
    cache_seconds: float = 5.0
    beats: dict[str, float] = field(default_factory=dict)
    windows: dict[str, float] = field(default_factory=dict)  # per-loop liveness windows (else liveness_window)
    pulses: dict[str, Pulse] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)  # readiness
    dependencies: dict[str, Check] = field(default_factory=dict)  # /status only
    _cache: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    _inflight: dict[str, asyncio.Future[str | None]] = field(default_factory=dict)
    draining: bool = False

    def beat(self, name: str) -> None:
        self.beats[name] = time.monotonic()

    def beater(self, name: str) -> Callable[[], None]:
        self.beat(name)
        return lambda: self.beat(name)

    def liveness(self) -> tuple[bool, dict[str, float]]:
        for name, pulse in self.pulses.items():
            at = pulse()
            if at is not None and at > self.beats.get(name, float("-inf")):
                self.beats[name] = at
        now = time.monotonic()
        ages = {name: round(now - at, 1) for name, at in self.beats.items()}
        return all(age <= self.windows.get(name, self.liveness_window) for name, age in ages.items()), ages

    async def readiness(self) -> tuple[list[str], dict[str, str]]:
        ok: list[str] = []
        failing: dict[str, str] = {}
        for name, problem in (await self._run_all(self.checks, "ready")).items():
            if problem is None:
                ok.append(name)
            else:
                failing[name] = problem
        if self.draining:
            failing["shutdown"] = "draining"
        return ok, failing

    async def dependency_problems(self) -> dict[str, str | None]:
        """Each dependency check's reason (None: fine), from the cache when it is fresh."""
        return await self._run_all(self.dependencies, "dependency")

    async def _run_all(self, checks: dict[str, Check], kind: str) -> dict[str, str | None]:
        names = list(checks)
        results = await asyncio.gather(*(self._run(f"{kind}:{name}", checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, key: str, check: Check) -> str | None:
        """The cached result, else one run shared by every caller asking meanwhile (single flight)."""
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        running = self._inflight.get(key)
        if running is None or running.done():
            running = self._inflight[key] = asyncio.ensure_future(self._fresh(key, check))
        return await asyncio.shield(running)

    async def _fresh(self, key: str, check: Check) -> str | None:
        now = time.monotonic()
        try:
            async with asyncio.timeout(5):
                problem = await check()
        except TimeoutError:
            problem = "check timed out"
        except Exception as exc:
            problem = f"{type(exc).__name__}"
        self._cache[key] = (now, problem)
        return problem


def stream_pulse(status: StreamStatus) -> Callable[[], float | None]:
    """The stream loop's latest sign of life (monotonic): the server's last answer (events, but also the connect
    replies of a quiet org) or a reopen attempt (a failed open or reopen counts one), never event traffic alone."""
    seen = {"reconnects": float(status.reconnects), "at": float("-inf")}

    def pulse() -> float | None:
        now = time.monotonic()
        if status.reconnects != seen["reconnects"]:
            seen["reconnects"], seen["at"] = float(status.reconnects), now
        answered = float("-inf")
        if status.last_message_at is not None:
            answered = now - max(0.0, time.time() - status.last_message_at)
        latest = max(seen["at"], answered)
        return None if latest == float("-inf") else latest

    return pulse
