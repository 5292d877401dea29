"""Outside effects that may have started: noted in the store before the call, waited out, then looked up.

Salesforce offers no idempotency key for a composite graph, an OrderSummary, a submit-return or a cancel-item, so
"was it done?" is answered from durable records: the store notes the effect (kind, key) *before* the request
leaves. A later attempt that finds the note knows the call may have landed. If the note is younger than the settle
window the call may still be in flight (a lost answer, a drained worker, a request Salesforce is still running),
so the attempt waits; after it, the flow asks Salesforce what exists and does only what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from worker.config import Config
from worker.errors import TransientError
from worker.store import Store

SETTLING = "SETTLING"


def settle_seconds(config: Config) -> float:
    """worker.effect_settle_seconds, else the Salesforce request timeout (no call of ours outlives it)."""
    settle = config.worker.effect_settle_seconds
    return config.salesforce.request_timeout_seconds if settle is None else settle


def settling_error(what: str, wait: float) -> TransientError:
    """A retry after ``wait`` seconds, when an earlier call's outcome can be read safely."""
    return TransientError("salesforce", f"{what} was sent recently; its outcome is checked after the settle "
                          "window", code=SETTLING, retry_after=wait)


@dataclass(frozen=True)
class Split:
    """Keys by what is known of them: never sent, sent and settled (look first), sent recently (wait seconds)."""

    fresh: list[str]
    look: list[str]
    settling: dict[str, float]
    started: dict[str, datetime]  # the durable note of each sent key (the last one, when it was sent again)


class Effects:
    def __init__(self, store: Store, settle_seconds: float) -> None:
        self.store, self.settle_seconds = store, settle_seconds

    async def split(self, kind: str, keys: Sequence[str]) -> Split:
        started = await self.store.effects_started(kind, keys)
        now = datetime.now(UTC)
        fresh, look, settling = [], [], {}
        for key in dict.fromkeys(keys):
            when = started.get(key)
            if when is None:
                fresh.append(key)
                continue
            wait = self.settle_seconds - (now - when).total_seconds()
            if wait > 0:
                settling[key] = wait
            else:
                look.append(key)
        return Split(fresh, look, settling, started)

    async def check(self, kind: str, key: str, what: str) -> bool:
        """True when the effect was noted before and has settled (look it up first); raises while it settles."""
        split = await self.split(kind, [key])
        if key in split.settling:
            raise settling_error(what, split.settling[key])
        return key in split.look

    async def note(self, kind: str, keys: Sequence[str]) -> None:
        """Record, durably and before the call, that these effects may happen now."""
        await self.store.note_effects(kind, keys)
