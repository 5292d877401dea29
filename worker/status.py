"""What the worker knows right now: ``GET /status`` (JSON, or :mod:`worker.status_page` for a person) and the
live values of ``/metrics``.

:class:`StatusBoard` reads the store (queue depths, oldest waiting job, dead letters), the stream's in-memory
status, the last ``Sforce-Limit-Info`` and the outbound pause. Salesforce and the POS are asked only through the
Health cache (:meth:`worker.health.Health.dependency_problems`), so polling /status never hammers them; the checks
themselves are built here (:func:`salesforce_check`, :func:`pos_check`). Every error text shown is shortened and
scrubbed of configured secrets and e-mail addresses; no payload is ever shown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from worker.errors import AuthenticationError, ServiceError
from worker.health import Check, Health
from worker.logging import REDACTOR
from worker.metrics import Reading, package_version
from worker.salesforce.results import LimitInfo
from worker.store import Job, Store

DEAD_LETTERS_SHOWN = 20
ERROR_CHARS = 200
PROBE_TIMEOUT = 4.0  # below the Health check bound (5 s), so a slow dependency gets a reason of its own
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class StreamState(Protocol):
    """What /status reads of the stream (the transport's ``status``: CometD or Pub/Sub)."""

    connected: bool
    last_message_at: float | None  # wall clock
    reconnects: int
    transport: str
    last_replay_id: str | None  # the last one committed to the inbox (Pub/Sub's as base64)
    window: int | None  # flow control (Pub/Sub only; None for CometD)
    requested: int | None
    outstanding: int | None


class PauseState(Protocol):
    def remaining(self) -> float: ...


class Tokens(Protocol):
    async def token(self) -> Any: ...  # a Token with ``instance_url``


class Pingable(Protocol):
    async def ping(self) -> None: ...


def safe_text(text: str, limit: int = ERROR_CHARS) -> str:
    """One line, configured secrets and e-mail addresses masked, at most ``limit`` characters."""
    cleaned = EMAIL.sub("[email]", CONTROL.sub(" ", str(REDACTOR.scrub(text)))).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def reason_of(exc: BaseException) -> str:
    """A short, safe reason for a failed call: our own error text, or only the exception's type."""
    if isinstance(exc, ServiceError):
        return safe_text(exc.describe())
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"unreachable ({type(exc).__name__})"
    return type(exc).__name__


def salesforce_check(tokens: Tokens, session: aiohttp.ClientSession) -> Check:
    """Logged in (a token held or obtainable) and the instance answering ``GET /services/data/`` (the API
    versions list: no session needed, not counted against the org's API allowance)."""

    async def check() -> str | None:
        try:
            token = await tokens.token()
        except AuthenticationError as exc:
            return safe_text(f"login refused, an operator must act: {exc.describe()}", 300)
        except Exception as exc:
            return f"login failed: {reason_of(exc)}"
        try:
            async with session.get(f"{token.instance_url}/services/data/",
                                   timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)) as resp:
                if resp.status >= 500:
                    return f"answered HTTP {resp.status}"
        except Exception as exc:
            return reason_of(exc)
        return None

    return check


def pos_check(pos: Pingable) -> Check:
    """The POS answers its ping."""

    async def check() -> str | None:
        try:
            await pos.ping()
        except Exception as exc:
            return reason_of(exc)
        return None

    return check


@dataclass
class StatusBoard:
    store: Store
    health: Health
    stream: StreamState | None = None
    limits: Callable[[], LimitInfo | None] | None = None  # SalesforceRest.limits
    pause: PauseState | None = None
    stream_lag: Callable[[], float | None] | None = None
    keepalive_seconds: float = 150.0
    worker_id: str | None = None
    operator_required: Callable[[], str | None] | None = None  # TokenProvider.operator_required: why, or None
    pos_operator_required: Callable[[], str | None] | None = None  # the POS token's operator_required (pos.auth)
    failing_queues: Callable[[], dict[str, bool]] | None = None  # Metrics.outcomes.snapshot: only dead-lettering

    def _refusals(self) -> dict[str, str | None]:
        """service -> why its login needs an operator (None: logins work), for each service that says."""
        sources = {"salesforce": self.operator_required, "pos": self.pos_operator_required}
        return {service: source() for service, source in sources.items() if source is not None}

    async def reading(self) -> Reading:
        """The live values of /metrics (unknown ones None)."""
        depth = await self.store.queue_counts()
        ages = await self.store.queue_ages()
        stream, limits = self.stream, self.limits() if self.limits else None
        return Reading(
            queue_depth=depth, queue_age=ages,
            stream_connected=None if stream is None else stream.connected,
            stream_reconnects=None if stream is None else stream.reconnects,
            stream_silence=_silence(stream),
            stream_transport=None if stream is None else stream.transport,
            stream_flow=None if stream is None or stream.window is None else (
                stream.window, stream.requested or 0, stream.outstanding or 0),
            api_used=None if limits is None else limits.used, api_max=None if limits is None else limits.max,
            paused=None if self.pause is None else self.pause.remaining() > 0,
            auth_operator_required={service: why is not None for service, why in self._refusals().items()} or None,
        )

    async def report(self) -> dict[str, Any]:
        """Every dependency, queue, dead letter and pause, with reasons (JSON-ready)."""
        _, failing = await self.health.readiness()
        alive, _ = self.health.liveness()
        queues, dead, store_problem = await self._queues()
        dependencies: dict[str, dict[str, Any]] = {"store": _state(failing.get("store") or store_problem)}
        problems = await self.health.dependency_problems()
        refusals = self._refusals()
        for service, why in refusals.items():
            if why is not None:  # known now, without asking Salesforce or the POS
                problems[service] = safe_text(f"login refused, an operator must act: {why}", 300)
        if "salesforce" in problems:
            dependencies["salesforce"] = {**_state(problems["salesforce"]),
                                          "operator_required": refusals.get("salesforce") is not None,
                                          "api": self._api()}
        if "pos" in problems and "pos" in refusals:
            dependencies["pos"] = {**_state(problems["pos"]), "operator_required": refusals["pos"] is not None}
        if self.stream is not None:
            dependencies["stream"] = self._stream()
        for name, problem in problems.items():
            dependencies.setdefault(name, _state(problem))
        return {
            "service": "oms-worker", "version": package_version(), "worker_id": self.worker_id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "alive": alive, "ready": not failing, "draining": self.health.draining,
            "dependencies": dependencies, "queues": queues, "dead_letters": dead, "outbound": self._outbound(),
        }

    async def _queues(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
        try:
            counts = await self.store.queue_counts()
            ages = await self.store.queue_ages()
            jobs = await self.store.dead_letters(limit=DEAD_LETTERS_SHOWN)
        except Exception as exc:
            return None, None, f"store unreadable: {reason_of(exc)}"
        failing = self.failing_queues() if self.failing_queues is not None else {}
        queues = {queue: {**states, "oldest_waiting_seconds": round(ages.get(queue, 0.0), 1),
                          **({"failing": "every recent job was dead-lettered: see dead_letters"}
                             if failing.get(queue) else {})}
                  for queue, states in counts.items()}
        total = sum(states.get("dead", 0) for states in counts.values())
        return queues, {"total": total, "shown": [_dead_letter(job) for job in jobs]}, None

    def _api(self) -> dict[str, int] | None:
        limits = self.limits() if self.limits else None
        if limits is None:
            return None  # no Salesforce answer yet: unknown, not 0
        return {"used": limits.used, "max": limits.max, "remaining": limits.remaining}

    def _stream(self) -> dict[str, Any]:
        stream = self.stream
        assert stream is not None
        silence = _silence(stream)
        problem = None
        if not stream.connected:
            problem = "not subscribed" + (f" (reopened {stream.reconnects} times)" if stream.reconnects else "")
        elif silence is not None and silence > self.keepalive_seconds:
            problem = f"silent for {silence:.0f} s"
        lag = self.stream_lag() if self.stream_lag else None
        flow = None if stream.window is None else {
            "window": stream.window, "requested": stream.requested, "outstanding": stream.outstanding}
        return {**_state(problem), "transport": stream.transport, "subscribed": stream.connected,
                "reconnects": stream.reconnects,
                "last_message_seconds_ago": None if silence is None else round(silence, 1),
                "lag_seconds": None if lag is None else round(lag, 3), "last_replay_id": stream.last_replay_id,
                "flow_control": flow}

    def _outbound(self) -> dict[str, Any]:
        remaining = self.pause.remaining() if self.pause is not None else 0.0
        if remaining <= 0:
            return {"paused": False, "reason": None, "resumes_in_seconds": 0}
        limits = self.limits() if self.limits else None
        why = "an API limit was reached (Salesforce REQUEST_LIMIT_EXCEEDED or the POS rate limit)"
        refused = [service for service, reason in self._refusals().items() if reason is not None]
        if refused:
            names = " and ".join({"salesforce": "Salesforce", "pos": "the POS"}[s] for s in refused)
            why = (f"{names} refused the credentials (an operator must fix them; see the "
                   f"{' and '.join(refused)} reason{'s' if len(refused) > 1 else ''})")
        elif limits is not None and limits.low(0.05):
            why = f"Salesforce API allowance nearly spent ({limits.remaining} of {limits.max} left)"
        return {"paused": True, "reason": f"{why}; the inbox keeps filling",
                "resumes_in_seconds": round(remaining, 1)}


def _state(problem: str | None) -> dict[str, Any]:
    return {"state": "up" if problem is None else "down", "reason": problem}


def _silence(stream: StreamState | None) -> float | None:
    if stream is None or stream.last_message_at is None:
        return None
    return max(0.0, time.time() - stream.last_message_at)


def _dead_letter(job: Job) -> dict[str, Any]:
    return {"id": job.id, "queue": job.queue, "key": safe_text(job.ordering_key or "", 80) or None,
            "attempts": job.attempts, "failed_at": job.updated_at.isoformat(timespec="seconds"),
            "error": safe_text(job.last_error or "")}
