"""Sale history as the sale source of the GraphQL POS back-end (``pos.backend: graphql``).

Every ``poll_interval_seconds`` (the shared loop of :mod:`.periodic`) the ``sale`` query is asked for the sales
modified in the window ``[since, until)``: ``since`` is the newest ``modifiedAt`` seen so far less
``overlap_seconds`` (late uploads), ``until`` is now. The cursor is the POS's own clock (the ``modifiedAt`` it
stamped), never the worker's: a worker clock ahead of the POS would otherwise move the cursor past sales the POS
had not yet stamped, and lose them once the skew exceeds the overlap. A worker clock behind the POS only delays
sales (a window never starts after now). The window is read page by page; each page's
sales are mapped (:func:`worker.mapping.graphql_sale.sale_body`, with ``customer`` for the e-mail and
``location`` for the store) to the Retail Cloud export body and stored as the same queue rows a webhook or the
sale sweep would make (:func:`worker.flows.sale_sweep.sale_rows`: same dedupe and ordering keys), so a sale
seen again in an overlap, a re-poll or after a crash is stored once, and posting is the shared code. A sale that
cannot be mapped (unknown location, a field the export cannot express) or that the webhook model refuses is stored
as a refused-sale row (:mod:`worker.refused_sales`, with the raw node or the mapped body) with the page's rows,
so it ends as a dead letter naming the field, never only in a log line.

Progress is durable and moves only after the effect: after a page's rows are committed the window, that
page's ``endCursor`` and the newest ``modifiedAt`` so far are saved (a restart resumes the window after that page);
after the last page that newest ``modifiedAt`` becomes the cursor (a window without sales leaves it where it was).
Before its first window, and after a permanent failure (the server may have changed), the
loop checks the server's schema (a mismatch names the type and field). A failed poll (POS or store down, a
permission missing) backs off and is retried, never skipped.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import structlog

from worker.errors import PermanentError
from worker.mapping.graphql_sale import SaleMappingError, epoch_ms, sale_body
from worker.metrics import Metrics
from worker.refused_sales import GRAPHQL_NODE, QUEUE, Refusal, field_and_reason, sale_id_of
from worker.store import Store

from .periodic import FAILED_SWEEP_RETRY, sweep_every
from .sale_sweep import sale_rows, store_refused

log = structlog.get_logger(__name__)
CURSOR_KEY = "sale_history.seen_ms"  # the newest modifiedAt (POS clock, epoch ms) of a complete window
SOURCE = "sale_history"  # refused sales' source (metric label, dead letter)
WINDOW_KEY = "sale_history.window"  # the window being read: {"since", "until", "after", "seen"} ("" when none)


class SaleHistoryApi(Protocol):
    async def check_schema(self) -> None: ...

    async def sale_page(self, since_ms: int, until_ms: int, first: int,
                        after: str | None) -> tuple[list[dict[str, Any]], str | None, bool]: ...

    async def customer(self, customer_id: str) -> dict[str, Any] | None: ...

    async def location(self, location_id: str) -> dict[str, Any] | None: ...


class SaleHistory:
    def __init__(self, store: Store, pos: SaleHistoryApi, *, interval_seconds: float, overlap_seconds: float,
                 lookback_seconds: float, page_size: int,
                 notify: Mapping[str, Callable[[], None]] | None = None,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None) -> None:
        self.store, self.pos, self.metrics = store, pos, metrics
        self.interval, self.page_size = interval_seconds, page_size
        self.overlap_ms, self.lookback_ms = int(overlap_seconds * 1000), int(lookback_seconds * 1000)
        self.notify, self.clock = dict(notify or {}), clock
        self._lock = asyncio.Lock()
        self._stores: dict[str, str] = {}  # locationId -> store code (locations rarely change; per process)
        self.schema_checked = False
        self.polls = 0
        self.last_error: str | None = None

    async def _window(self) -> tuple[int, int, str | None, int | None]:
        """(since, until, after, newest modifiedAt stored so far): the saved window, or a new one."""
        saved = await self.store.meta_get(WINDOW_KEY)
        if saved:
            window = json.loads(saved)
            seen = window.get("seen")
            return int(window["since"]), int(window["until"]), window.get("after"), None if seen is None else int(seen)
        now = int(self.clock() * 1000)
        last = await self.store.meta_get(CURSOR_KEY)
        since = int(last) - self.overlap_ms if last else now - self.lookback_ms
        return min(since, now), now, None, None

    async def _store_code(self, location_id: str) -> str | None:
        if location_id not in self._stores:
            found = await self.pos.location(location_id)
            if found is None or not found.get("code"):
                return None
            self._stores[location_id] = str(found["code"])
        return self._stores[location_id]

    async def _bodies(self, nodes: list[dict[str, Any]],
                      customers: dict[str, dict[str, Any] | None]) -> tuple[list[dict[str, Any]], list[Refusal]]:
        """The export bodies of ``nodes``, and the refusal (carrying the raw node) of each that cannot be mapped."""
        bodies: list[dict[str, Any]] = []
        refused: list[Refusal] = []
        for node in nodes:
            sale_id = sale_id_of(node, "id")
            store_id = await self._store_code(str(node.get("locationId")))
            if store_id is None:
                refused.append(Refusal(SOURCE, sale_id, "locationId",
                                       f"no location {str(node.get('locationId'))[:64]}", GRAPHQL_NODE, node))
                continue
            customer_id = node.get("customerId")
            if customer_id and customer_id not in customers:
                customers[customer_id] = await self.pos.customer(str(customer_id))
            try:
                bodies.append(sale_body(node, store_id=store_id,
                                        customer=customers.get(customer_id) if customer_id else None))
            except SaleMappingError as exc:
                field, reason = field_and_reason(exc)
                refused.append(Refusal(SOURCE, sale_id, field, reason, GRAPHQL_NODE, node))
        return bodies, refused

    async def poll(self) -> int:
        """One window, every page; returns how many queue rows were newly stored."""
        async with self._lock:
            try:
                inserted = await self._poll()
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, PermanentError):  # the server may have changed: the next poll checks it first
                    self.schema_checked = False
                raise
            self.last_error = None
            return inserted

    async def _page(self, since: int, until: int,
                    after: str | None) -> tuple[tuple[list[dict[str, Any]], str | None, bool], str | None]:
        """One page and the ``after`` it was read with. A saved cursor the server refuses (BAD_USER_INPUT: expired,
        or from before a server restart) restarts the window from its start (rows already stored dedupe) rather
        than failing on it at every poll forever."""
        try:
            return await self.pos.sale_page(since, until, self.page_size, after), after
        except PermanentError as exc:
            if after is None or exc.code != "BAD_USER_INPUT":
                raise
            log.warning("sale_history_cursor_refused", since_ms=since, until_ms=until, error=str(exc))
            return await self.pos.sale_page(since, until, self.page_size, None), None

    async def _poll(self) -> int:
        if not self.schema_checked:
            await self.pos.check_schema()
            self.schema_checked = True
        since, until, after, seen = await self._window()
        found = inserted = 0
        queues: set[str] = set()
        customers: dict[str, dict[str, Any] | None] = {}
        while True:
            (nodes, end_cursor, more), after = await self._page(since, until, after)
            bodies, bad = await self._bodies(nodes, customers)
            jobs, invalid = sale_rows(bodies, SOURCE)
            found = found + len(nodes)
            if jobs:
                added = await self.store.enqueue(jobs)  # durable before the window moves past them
                inserted += added
                if added:
                    queues.update(job.queue for job in jobs)
            if await store_refused(self.store, bad + invalid, self.metrics):  # kept, never only logged
                queues.add(QUEUE)
            seen = _newest(nodes, seen)  # only after the page's rows are stored
            if not more:
                break
            if not end_cursor or end_cursor == after:  # asking again would get the same page, forever
                raise PermanentError("pos", "sale: pageInfo.hasNextPage is true but endCursor did not move "
                                     f"(after {after!r}); the server's paging is not the assumed keyset paging")
            after = end_cursor
            await self.store.meta_set(WINDOW_KEY, json.dumps({"since": since, "until": until, "after": after,
                                                              "seen": seen}))
        last = await self.store.meta_get(CURSOR_KEY)
        if seen is not None and (not last or seen > int(last)):
            await self.store.meta_set(CURSOR_KEY, str(seen))
        await self.store.meta_set(WINDOW_KEY, "")
        self.polls += 1
        log.info("sale_history_polled", since_ms=since, until_ms=until, seen_ms=seen, found=found, enqueued=inserted)
        for queue in sorted(queues):
            self.notify.get(queue, lambda: None)()
        return inserted

    async def run(self, stop: asyncio.Event) -> None:
        """Poll now and every interval until ``stop``; a failed poll backs off and is retried."""
        await sweep_every(self.interval, self.poll, stop, failed_event="sale_history_failed",
                          retry=FAILED_SWEEP_RETRY)


def _newest(nodes: list[dict[str, Any]], seen: int | None) -> int | None:
    """The newest ``modifiedAt`` of ``nodes`` and ``seen`` (one that does not parse is left out: the cursor then
    lags, which only re-reads)."""
    for node in nodes:
        try:
            modified = epoch_ms(node.get("modifiedAt"), "modifiedAt")
        except SaleMappingError:
            continue
        seen = modified if seen is None else max(seen, modified)
    return seen
