"""The single-writer guard of a SQLite state file."""

from __future__ import annotations

import fcntl
import os


class WriterLock:
    """One writer process per SQLite file: an exclusive ``flock`` on ``<file>.writer.lock``, held while open.

    The lock dies with its process (kill -9 included), so a stale file never blocks a restart; the file names
    the holder's pid for the error a second ``oms-worker run`` gets. Read-mostly tools (dlq, health) do not take it.
    """

    def __init__(self, path: str) -> None:
        self.path = f"{path}.writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RuntimeError(f"SQLite store {self.path[:-12]!r} is already used by another oms-worker process "
                               f"(pid {holder}); run one worker per SQLite file, or PostgreSQL for several "
                               "replicas") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock
