"""Is the store taking writes right now? Learned from the outcome of real store calls, not only from a probe.

A probe alone misleads: on a full SQLite disk the readiness ping (an UPDATE of one existing row) still succeeds
while every claim and insert fails with "database or disk is full". So the app wraps its store with
:func:`guard_store`: every call's outcome feeds a :class:`StoreHealth`, and the readiness check
(:func:`store_check`) fails while any kind of call (claim, enqueue, complete, ...) failed on its latest try within
the last ``window`` seconds, or the ping fails. A kind of call is cleared by its own next success: an empty claim
that succeeds on a full disk does not hide the insert that failed.

Driver errors that mean "the store is unreachable or cannot write" (PostgreSQL stopped or restarting, a connection
dropped mid-call, a full disk, a read-only file system) are raised as :class:`StoreUnavailable`, a
:class:`~worker.errors.TransientError` with a clear message, the driver's error chained. The asyncpg pool itself
survives a server restart: a connection found dead is replaced at the next acquire, so callers only retry.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg

from worker.errors import TransientError
from worker.health import Check
from worker.store import Store

UNTRACKED = frozenset({"open", "close", "migrate"})  # life cycle: failures there stop the process anyway
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused / reset / timed out connections, ENOSPC, EIO
    sqlite3.OperationalError,  # database or disk is full, disk I/O error, readonly database, database is locked
    asyncpg.InterfaceError,  # the connection is closed or in a bad state
    asyncpg.PostgresConnectionError,  # class 08: connection exception (incl. ConnectionDoesNotExistError)
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, cannot connect now (starting up)
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: disk full, out of memory, too many connections
    asyncpg.exceptions.PostgresSystemError,  # class 58: I/O error
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby after a failover
)


class StoreUnavailable(TransientError):
    """The store could not be reached or could not write; retry later."""

    def __init__(self, operation: str, exc: BaseException) -> None:
        self.operation = operation
        super().__init__("store", f"{operation} failed, the store is unavailable ({describe(exc)})")


def describe(exc: BaseException) -> str:
    """A short reason for logs and ``/readyz``: the error type and the first line of its text."""
    text = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class StoreHealth:
    """The latest failure of each kind of store call, until that kind succeeds again or ``window`` passes."""

    window: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, tuple[float, str]] = field(default_factory=dict)

    def succeeded(self, operation: str) -> None:
        self._failures.pop(operation, None)

    def failed(self, operation: str, reason: str) -> None:
        self._failures[operation] = (self.clock(), reason)

    def problem(self) -> str | None:
        """None while the store takes writes; else which calls fail and the newest reason."""
        now = self.clock()
        recent = {op: seen for op, seen in self._failures.items() if now - seen[0] <= self.window}
        if not recent:
            return None
        newest = max(recent.values())[1]
        return f"store calls failing ({', '.join(sorted(recent))}): {newest}"


class GuardedStore:
    """Wraps every coroutine method of a store: outcomes go to ``health``, outages become StoreUnavailable.

    Generic on purpose (no per-method code), so it follows the Store interface as it grows. A ``ValueError`` is
    the caller's bad input (the interface's documented refusal), not an outage: it passes through, unrecorded.
    """

    def __init__(self, store: Store, health: StoreHealth) -> None:
        self.inner, self.health = store, health

    def __repr__(self) -> str:
        return f"GuardedStore({self.inner!r})"

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith("_") or name in UNTRACKED or not inspect.iscoroutinefunction(attr):
            return attr
        health = self.health

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await attr(*args, **kwargs)
            except ValueError:
                raise
            except Exception as exc:
                health.failed(name, describe(exc))
                if isinstance(exc, UNAVAILABLE):
                    raise StoreUnavailable(name, exc) from exc
                raise
            health.succeeded(name)
            return result

        self.__dict__[name] = call  # later look-ups skip __getattr__
        return call


def guard_store(store: Store, health: StoreHealth) -> Store:
    """``store`` with every call's outcome fed to ``health`` (see the module docstring)."""
    return cast(Store, GuardedStore(store, health))


def store_check(store: Store, health: StoreHealth) -> Check:
    """The readiness check: a write (the ping) now, and no kind of store call failing recently."""

    async def check() -> str | None:
        try:
            await store.ping()
        except Exception as exc:
            return health.problem() or f"store ping failed ({describe(exc)})"
        return health.problem()

    return check
