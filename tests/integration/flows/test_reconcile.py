"""The gap sweep on a real SQLite store: ledger-missing FOs enqueued page by page, a capped sweep continues."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from worker.config_load import parse_config
from worker.flows import reconcile
from worker.flows.reconcile import AFTER_KEY, META_KEY, Reconciler
from worker.metrics import Metrics
from worker.store import LedgerEntry, Store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def rows(count: int) -> list[dict[str, Any]]:
    return [{"Id": f"0a3R00000000{n:03d}AAA", "Status": "Allocated",
             "LastModifiedDate": f"2026-11-22T11:{n // 60:02d}:{n % 60:02d}.000+0000"} for n in range(count)]


class FakeOrg:
    """query_iter over a fixed row list, honouring the LIMIT of the SOQL (as Salesforce does)."""

    def __init__(self, data: list[dict[str, Any]]) -> None:
        self.data, self.queries = data, []

    async def query_iter(self, soql: str) -> AsyncIterator[dict[str, Any]]:
        self.queries.append(soql)
        limit = int(re.search(r"LIMIT (\d+)$", soql).group(1))  # type: ignore[union-attr]
        for row in self.data[:limit]:
            yield row


class SoqlOrg(FakeOrg):
    """query_iter honouring what the sweep's SOQL asks: ``LastModifiedDate >= since``, the keyset continuation
    ``(LastModifiedDate > M OR (LastModifiedDate = M AND Id > 'I'))``, ORDER BY LastModifiedDate, Id and LIMIT."""

    async def query_iter(self, soql: str) -> AsyncIterator[dict[str, Any]]:
        self.queries.append(soql)

        def at(text: str) -> datetime:
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))

        found = sorted(self.data, key=lambda r: (at(r["LastModifiedDate"]), r["Id"]))
        if since := re.search(r"LastModifiedDate >= (\S+)", soql):
            found = [r for r in found if at(r["LastModifiedDate"]) >= at(since.group(1))]
        if after := re.search(r"LastModifiedDate > (\S+) OR \(LastModifiedDate = \S+ AND Id > '([^']*)'\)", soql):
            cut = (at(after.group(1)), after.group(2))
            found = [r for r in found if (at(r["LastModifiedDate"]), r["Id"]) > cut]
        for row in found[:int(re.search(r"LIMIT (\d+)$", soql).group(1))]:  # type: ignore[union-attr]
            yield row


def reconciler(store: Store, org: FakeOrg) -> Reconciler:
    config = parse_config({
        "salesforce": {"UrlBase": "https://acme.my.salesforce.com", "Username": "u", "Password": "p",
                       "OMSStatusesToProcess": ["Allocated"], "FilterQuery": "",
                       "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID",
                                           "applyTo": "LOCATION"}]},
        "auth": {"flow": "password", "client_id": "c", "client_secret": "s"},
        "pos": {"environment": "Production", "merchant_id": "m",
                "auth": {"mode": "legacy", "client_id": "c", "client_secret": "s", "pos_secret": "p", "api_key": "k"}},
        "worker": {"webhook": {"api_key": "w"}},
    }, {})
    return Reconciler(store, org, config.salesforce, Metrics(), interval_seconds=60, overlap_seconds=120,
                      clock=lambda: NOW)


async def test_sweep_enqueues_only_what_the_ledger_lacks_page_by_page(store: Store,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows already in the ledger are skipped; the rest become inbox rows; the watermark is the sweep start."""
    monkeypatch.setattr(reconcile, "PAGE", 3)
    data = rows(8)
    await store.ledger_put(LedgerEntry(fo_id=data[1]["Id"], pos_order_id="P1", line_ids={}))
    sweeper = reconciler(store, FakeOrg(data))
    assert await sweeper.sweep() == 7
    assert (await store.queue_counts())["fo_import"]["pending"] == 7
    assert await store.meta_get(META_KEY) == NOW.isoformat()
    assert not sweeper.requested.is_set()
    assert await sweeper.sweep() == 0  # same rows again: the inbox's unique key keeps them once


async def test_capped_sweep_keeps_the_last_row_date_and_asks_for_another(store: Store,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep that reaches SWEEP_LIMIT sets the watermark to its last row's date and requests a follow-up sweep."""
    monkeypatch.setattr(reconcile, "SWEEP_LIMIT", 5)
    org = SoqlOrg(rows(9))
    sweeper = reconciler(store, org)
    assert await sweeper.sweep() == 5
    assert sweeper.requested.is_set() and sweeper.capped
    assert await store.meta_get(META_KEY) == "2026-11-22T11:00:04+00:00"
    assert await sweeper.sweep() == 4 and not sweeper.capped
    # strictly after the last row, without the overlap; the sweep after that starts from its start less the overlap
    assert ("(LastModifiedDate > 2026-11-22T11:00:04.000Z OR (LastModifiedDate = 2026-11-22T11:00:04.000Z AND "
            "Id > '0a3R00000000004AAA'))") in org.queries[-1]
    await sweeper.sweep()
    assert "LastModifiedDate >= 2026-11-22T11:58:00Z" in org.queries[-1] and "Id >" not in org.queries[-1]


class FailingOrg(FakeOrg):
    async def query_iter(self, soql: str) -> AsyncIterator[dict[str, Any]]:
        self.queries.append(soql)
        raise ConnectionError("salesforce down")
        yield {}  # pragma: no cover  (an async generator)


@pytest.mark.parametrize(("reason", "reset"), [("invalid_replay", True), ("transport_switch", False),
                                               ("reopened_at_latest", False)])
async def test_a_stream_gap_sweeps_and_forgets_only_a_refused_replay_id(store: Store, reason: str,
                                                                        reset: bool) -> None:
    """After a stream gap the FOs the ledger lacks are enqueued; only a refused replay id is forgotten (resumed
    from again it would be refused again), any other cursor is kept."""
    await store.advance_cursor("chan", 42)
    sweeper = reconciler(store, FakeOrg(rows(3)))
    await sweeper.after_gap(reason, cursor_key="chan")
    assert (await store.queue_counts())["fo_import"]["pending"] == 3
    assert await store.get_cursor("chan") == (None if reset else 42)


async def test_a_gap_sweep_that_fails_forgets_no_cursor(store: Store) -> None:
    """A gap sweep Salesforce fails raises (the stream retries it) and leaves the refused cursor in place until a
    sweep has covered the gap."""
    await store.advance_cursor("chan", 42)
    with pytest.raises(ConnectionError):
        await reconciler(store, FailingOrg([])).after_gap("invalid_replay", cursor_key="chan")
    assert await store.get_cursor("chan") == 42


async def test_a_capped_gap_sweep_goes_on_until_the_gap_is_covered(store: Store,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A gap sweep that reaches SWEEP_LIMIT sweeps again at once (also with the periodic sweep switched off) and
    moves on even when more rows than the limit share one LastModifiedDate (was: the same rows again and again,
    the stream held by an endless sweep)."""
    monkeypatch.setattr(reconcile, "SWEEP_LIMIT", 5)
    same_second = [{**row, "LastModifiedDate": "2026-11-22T11:59:00.000+0000"} for row in rows(12)]
    org = SoqlOrg(same_second)
    sweeper = reconciler(store, org)
    await store.meta_set(META_KEY, NOW.isoformat())  # every row is inside the overlap of the last sweep
    async with asyncio.timeout(10):
        await sweeper.after_gap("reopened_at_latest", cursor_key="chan")
    assert (await store.queue_counts())["fo_import"]["pending"] == 12 and len(org.queries) == 3


async def test_the_first_subscription_sweeps_only_once_the_start_up_sweep_began(store: Store) -> None:
    """The process's first subscription is the start-up sweep's to cover while that sweep has not begun (it waits
    for the stream); once it has begun (it gave up waiting), the subscription sweeps for itself."""
    org = FakeOrg(rows(2))
    sweeper = reconciler(store, org)
    await sweeper.after_gap("first_subscription", cursor_key="chan")
    assert org.queries == []
    await sweeper.sweep()
    await sweeper.after_gap("first_subscription", cursor_key="chan")
    assert len(org.queries) == 2


async def test_the_start_up_sweep_waits_for_the_stream_and_the_first_subscription_leaves_it_to_it(
        store: Store) -> None:
    """run() sweeps only once the stream is positioned; the first subscription's gap report before that sweeps
    nothing (the start-up sweep, after it, covers it)."""
    org = SoqlOrg(rows(2))
    sweeper = reconciler(store, org)
    positioned, stop = False, asyncio.Event()
    task = asyncio.ensure_future(sweeper.run(stop, subscribed=lambda: positioned, wait_seconds=30))
    try:
        await asyncio.sleep(0.3)
        await sweeper.after_gap("first_subscription", cursor_key="chan")
        assert org.queries == []
        positioned = True
        async with asyncio.timeout(10):
            while sweeper.sweeps < 1:
                await asyncio.sleep(0.02)
        assert len(org.queries) == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_first_subscription_during_a_start_up_sweep_that_gave_up_waiting_sweeps_again(
        store: Store) -> None:
    """A start-up sweep that stopped waiting for the stream and is still querying when the first subscription is
    placed has begun before it: the subscription sweeps again, after it (what was allocated in between is in
    neither otherwise)."""
    release = asyncio.Event()

    class BlockingOrg(SoqlOrg):
        async def query_iter(self, soql: str) -> AsyncIterator[dict[str, Any]]:
            if not self.queries:
                self.queries.append(soql)
                await release.wait()  # the start-up sweep is inside its query
                return
            async for row in super().query_iter(soql):
                yield row

    org = BlockingOrg(rows(2))
    sweeper = reconciler(store, org)
    first = asyncio.ensure_future(sweeper.sweep())
    async with asyncio.timeout(10):
        while not org.queries:
            await asyncio.sleep(0.01)
    gap = asyncio.ensure_future(sweeper.after_gap("first_subscription", cursor_key="chan"))
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.wait_for(asyncio.gather(first, gap), 10)
    assert len(org.queries) == 2 and sweeper.sweeps == 2


async def test_a_row_committed_late_behind_a_continuation_is_found_after_the_run(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that shows up after a capped sweep with a date before that sweep's last row (a transaction that
    committed late) is enqueued by the sweep after the run of continuations, however long the run took (was:
    that sweep started from the run's last start less the overlap, past the row)."""
    monkeypatch.setattr(reconcile, "SWEEP_LIMIT", 5)
    recent = [{"Id": f"0a3R00000001{n:03d}AAA", "Status": "Allocated",
               "LastModifiedDate": (NOW - timedelta(seconds=60 - n)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
              for n in range(30)]
    org = SoqlOrg(recent)
    sweeper = reconciler(store, org)
    ticks = iter(range(100))
    sweeper.clock = lambda: NOW + timedelta(seconds=30 * next(ticks))
    assert await sweeper.sweep() == 5 and sweeper.capped
    late = {"Id": "0a3R00000002000AAA", "Status": "Allocated",
            "LastModifiedDate": (NOW - timedelta(seconds=58.5)).strftime("%Y-%m-%dT%H:%M:%S.500+0000")}
    org.data.append(late)  # dated before the continuation's last row: no continuation returns it
    while sweeper.capped:
        await sweeper.sweep()
    assert len(org.queries) == 7  # the run took 3 minutes of clock, more than the overlap
    await sweeper.sweep()
    assert (await store.queue_counts())["fo_import"]["pending"] == 31


async def test_a_gap_sweep_the_org_does_not_move_on_fails_instead_of_claiming_the_gap(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An org that ignores the continuation (the same rows again): the gap sweep stops with an error, so the stream
    retries it and a refused replay id is not forgotten on a gap that was not covered."""
    monkeypatch.setattr(reconcile, "SWEEP_LIMIT", 5)
    await store.advance_cursor("chan", 42)
    sweeper = reconciler(store, FakeOrg(rows(12)))  # honours only LIMIT: every sweep returns the first 5 rows
    with pytest.raises(RuntimeError, match="did not move"):
        async with asyncio.timeout(10):
            await sweeper.after_gap("invalid_replay", cursor_key="chan")
    assert await store.get_cursor("chan") == 42


async def test_a_periodic_sweep_the_org_does_not_move_on_fails_and_asks_for_no_other(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same guard on the periodic path: the sweep that ends where it began raises before it stores or requests
    anything, so the loop backs off (was: capped again, another sweep at once, the same rows for ever)."""
    monkeypatch.setattr(reconcile, "SWEEP_LIMIT", 5)
    sweeper = reconciler(store, FakeOrg(rows(12)))  # honours only LIMIT: every sweep returns the first 5 rows
    await sweeper.sweep()
    stored = await store.meta_get(AFTER_KEY)
    assert sweeper.capped and stored
    sweeper.requested.clear()  # as the loop does before the next sweep
    with pytest.raises(RuntimeError, match="did not move"):
        await sweeper.sweep()
    assert not sweeper.requested.is_set() and await store.meta_get(AFTER_KEY) == stored


async def test_last_error_says_why_the_last_sweep_failed_until_one_succeeds(store: Store) -> None:
    """last_error (a /status dependency) names the failure of the last sweep and is cleared by the next good one."""
    org = FailingOrg(rows(3))
    sweeper = reconciler(store, org)
    with pytest.raises(ConnectionError):
        await sweeper.sweep()
    assert sweeper.last_error == "ConnectionError: salesforce down"
    sweeper.salesforce = FakeOrg(rows(3))
    await sweeper.sweep()
    assert sweeper.last_error is None
