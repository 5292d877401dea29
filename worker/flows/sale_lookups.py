"""Cached look-ups for sale posting (seed rules of DESIGN.md flow 2).

Account by customer email, else the default account ``<MerchantId>-<Locale>-<Region>``; Pricebook2
``<MerchantId>-<Locale>-<Region>``; SalesChannel ``POS`` else ``<seed>-POS``; OrderDeliveryMethod
``<FulfillmentType>-<FulfillmentSubType>``: each created at run time when missing, as the integration guide says
(single-flight per process; replicas converge on the oldest record). PaymentGateway by name (never created: a
gateway needs a provider and credentials); Product2 + PricebookEntry by SKU.

Everything but customer accounts is stable org setup and is cached for the life of the process; accounts by
email are kept in a bounded LRU. Cold look-ups of one kind run as one SOQL each; after warm-up a sale costs no
look-up call at all (unless it names a customer not seen before).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import structlog

from worker.config import Config
from worker.errors import PermanentError, TransientError
from worker.salesforce.soql import in_list, quote_soql

log = structlog.get_logger(__name__)
ACCOUNT_CACHE_SIZE = 10_000
STANDARD_PRICEBOOK_SOQL = "SELECT Id, Name FROM Pricebook2 WHERE IsStandard = true ORDER BY CreatedDate, Id LIMIT 1"


class AccountRef(NamedTuple):
    account_id: str
    contact_id: str | None  # the Person Account's contact (PersonContactId); None for the default account


@dataclass(frozen=True)
class SetupRecord:
    """One org-setup record a first sale needs (``oms-worker setup``, the pre-flight)."""

    sobject: str
    name: str
    record_id: str | None  # None: missing
    creatable: bool  # created at run time when missing (never a PaymentGateway or the standard price book)


def setup_soql(sobject: str, field: str, names: Sequence[str], extra: str = "") -> str:
    """Setup records named ``names``, oldest first (replicas racing to create converge on the oldest)."""
    return (f"SELECT Id, {field}{extra} FROM {sobject} WHERE {field} IN {in_list(names)} "
            "ORDER BY CreatedDate, Id")


def gateways_soql(names: Sequence[str]) -> str:
    return f"SELECT Id, PaymentGatewayName FROM PaymentGateway WHERE PaymentGatewayName IN {in_list(names)}"


class LookupApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def create(self, sobject: str, fields: dict[str, Any]) -> str: ...


class SaleLookupCache:
    def __init__(self, salesforce: LookupApi, config: Config) -> None:
        self.salesforce = salesforce
        self.seed = config.pos.seed_name
        self.billing = {"BillingCity": "Unknown", "BillingCountry": "US", "BillingCountryCode": "US",
                        "BillingState": "NA", "BillingStreet": "Unknown"}
        self.accounts: OrderedDict[str, AccountRef | None] = OrderedDict()  # email -> person account (None: none)
        self.default_account: str | None = None
        self.pricebook: str | None = None
        self.standard_pricebook: str | None = None
        self.channel: str | None = None
        self.delivery_methods: dict[str, str] = {}
        self.gateways: dict[str, str] = {}
        self.products: dict[str, tuple[str, str | None]] = {}  # sku -> (Product2 Id, PricebookEntry Id | None)
        self._lock = asyncio.Lock()
        self._setup_lock = asyncio.Lock()

    async def account_for(self, email: str | None) -> AccountRef:
        """The customer's Person Account and its contact (by PersonEmail), else the default account."""
        key = (email or "").strip().lower()
        if key:
            if key not in self.accounts:
                rows = await self.salesforce.query(quote_soql(
                    "SELECT Id, PersonContactId FROM Account WHERE PersonEmail = {} ORDER BY CreatedDate LIMIT 1",
                    key))
                found_row = AccountRef(str(rows[0]["Id"]), str(rows[0].get("PersonContactId") or "") or None
                                       ) if rows else None
                self._remember_account(key, found_row)
            else:
                self.accounts.move_to_end(key)
            found = self.accounts[key]
            if found:
                return found
        return AccountRef(await self._default_account(), None)

    def _remember_account(self, email: str, account: AccountRef | None) -> None:
        self.accounts[email] = account
        while len(self.accounts) > ACCOUNT_CACHE_SIZE:
            self.accounts.popitem(last=False)

    async def _default_account(self) -> str:
        if self.default_account:
            return self.default_account
        async with self._lock:
            if self.default_account:
                return self.default_account
            rows = await self.salesforce.query(self._default_account_soql())
            if rows:
                self.default_account = str(rows[0]["Id"])
            else:
                # A lost answer to this POST is looked up again on retry (the query above finds it).
                self.default_account = await self.salesforce.create("Account", {
                    "Name": self.seed, "AccountNumber": self.seed, **self.billing})
                log.info("default_account_created", account=self.seed)
            return self.default_account

    def _default_account_soql(self) -> str:
        return quote_soql("SELECT Id FROM Account WHERE Name = {} ORDER BY CreatedDate, Id LIMIT 1", self.seed)

    async def stable(self, delivery_methods: Iterable[str], gateways: Iterable[str]) -> None:
        """Load the org-setup look-ups that are missing, one SOQL per kind, concurrently; single-flight, so
        concurrent sales of one process never create a setup record twice."""
        async with self._setup_lock:
            want_methods = sorted(set(delivery_methods) - set(self.delivery_methods))
            want_gateways = sorted(set(gateways) - set(self.gateways))
            calls = []
            if self.pricebook is None:
                calls.append(self._load_pricebook())
            if self.channel is None:
                calls.append(self._load_channel())
            if want_methods:
                calls.append(self._load_methods(want_methods))
            if want_gateways:
                calls.append(self._load_gateways(want_gateways))
            if calls:
                await asyncio.gather(*calls)

    async def _setup_record(self, sobject: str, field: str, names: Sequence[str], create: dict[str, Any],
                            extra: str = "") -> list[dict[str, Any]]:
        """Setup records named ``names`` (``field IN names``, oldest first); when none exists, create ``create``
        once and read again. Replicas racing to create converge on the oldest record, so every one of them uses
        the same Id (a surplus copy stays unused and is logged)."""
        soql = setup_soql(sobject, field, names, extra)
        rows = await self.salesforce.query(soql)
        if rows:
            return rows
        try:
            created = await self.salesforce.create(sobject, create)
        except PermanentError as exc:
            if exc.code != "DUPLICATE_VALUE":
                raise PermanentError("salesforce", f"{sobject} {create[field]!r} is missing and could not be "
                                     f"created: {exc}", code="SETUP_MISSING") from exc
            created = ""
        rows = await self.salesforce.query(soql)
        log.info("setup_record_created", sobject=sobject, name=create[field], record_id=created,
                 surplus=max(0, len(rows) - 1))
        if not rows:
            raise TransientError("salesforce", f"{sobject} {create[field]!r} was created but is not visible yet")
        return rows

    async def _load_pricebook(self) -> None:
        rows = await self.salesforce.query(STANDARD_PRICEBOOK_SOQL)
        # New products need a standard price before an entry in a custom price book (Salesforce rule).
        self.standard_pricebook = str(rows[0]["Id"]) if rows else None
        named = await self._setup_record("Pricebook2", "Name", [self.seed], {
            "Name": self.seed, "IsActive": True, "Description": "POS sales (created by oms-worker)"})
        self.pricebook = str(named[0]["Id"])

    async def _load_channel(self) -> None:
        preferred, fallback = self._channel_names()
        rows = await self._setup_record("SalesChannel", "SalesChannelName", [preferred, fallback], {
            "SalesChannelName": fallback, "Description": "POS sales (created by oms-worker)"})
        by_name = {str(r["SalesChannelName"]): str(r["Id"]) for r in reversed(rows)}  # oldest wins
        self.channel = by_name.get(preferred) or by_name[fallback]

    async def _load_methods(self, names: Sequence[str]) -> None:
        rows = await self.salesforce.query(setup_soql("OrderDeliveryMethod", "Name", names))
        for row in reversed(rows):  # oldest wins
            self.delivery_methods[str(row["Name"])] = str(row["Id"])
        for name in [n for n in names if n not in self.delivery_methods]:
            made = await self._setup_record("OrderDeliveryMethod", "Name", [name], {
                "Name": name, "ReferenceNumber": name, "IsActive": True})
            self.delivery_methods[name] = str(made[0]["Id"])

    async def _load_gateways(self, names: Sequence[str]) -> None:
        rows = await self.salesforce.query(gateways_soql(names))
        self.gateways.update({str(r["PaymentGatewayName"]): str(r["Id"]) for r in rows})
        missing = [n for n in names if n not in self.gateways]
        if missing:
            raise PermanentError("salesforce", f"PaymentGateway not found: {', '.join(missing)}", code="SETUP_MISSING")

    def _channel_names(self) -> tuple[str, str]:
        return "POS", f"{self.seed}-POS"

    async def survey(self, delivery_methods: Sequence[str], gateways: Sequence[str]) -> list[SetupRecord]:
        """What a first sale needs and which of it exists, by the queries the run-time look-ups use; creates
        nothing (``ensure_setup`` creates what is creatable)."""
        preferred, fallback = self._channel_names()
        account, standard, pricebook, channels, methods, gateway_rows = await asyncio.gather(
            self.salesforce.query(self._default_account_soql()),
            self.salesforce.query(STANDARD_PRICEBOOK_SOQL),
            self.salesforce.query(setup_soql("Pricebook2", "Name", [self.seed])),
            self.salesforce.query(setup_soql("SalesChannel", "SalesChannelName", [preferred, fallback])),
            self.salesforce.query(setup_soql("OrderDeliveryMethod", "Name", delivery_methods)),
            self.salesforce.query(gateways_soql(gateways)) if gateways else _no_rows())
        by_channel = {str(r["SalesChannelName"]): str(r["Id"]) for r in reversed(channels)}
        by_method = {str(r["Name"]): str(r["Id"]) for r in reversed(methods)}
        by_gateway = {str(r["PaymentGatewayName"]): str(r["Id"]) for r in gateway_rows}

        def first(rows: list[dict[str, Any]]) -> str | None:
            return str(rows[0]["Id"]) if rows else None

        channel = preferred if preferred in by_channel else fallback
        return [
            SetupRecord("Account", self.seed, first(account), True),
            SetupRecord("Pricebook2", "(standard price book)", first(standard), False),
            SetupRecord("Pricebook2", self.seed, first(pricebook), True),
            SetupRecord("SalesChannel", channel, by_channel.get(channel), True),
            *[SetupRecord("OrderDeliveryMethod", name, by_method.get(name), True) for name in delivery_methods],
            *[SetupRecord("PaymentGateway", name, by_gateway.get(name), False) for name in gateways],
        ]

    async def ensure_setup(self, delivery_methods: Sequence[str]) -> None:
        """Create the missing creatable setup records, exactly as the first sale would (single-flight)."""
        await self._default_account()
        await self.stable(delivery_methods, ())

    async def products_for(self, skus: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """Known products by SKU; unknown SKUs are absent (the sale graph creates them)."""
        want = sorted(set(skus) - set(self.products))
        if want:
            assert self.pricebook is not None
            rows = await self.salesforce.query(
                "SELECT Id, StockKeepingUnit, (SELECT Id FROM PricebookEntries WHERE Pricebook2Id = "
                f"{quote_soql('{}', self.pricebook)}) FROM Product2 WHERE StockKeepingUnit IN {in_list(want)}")
            for row in rows:
                entries = (row.get("PricebookEntries") or {}).get("records") or []
                entry = str(entries[0]["Id"]) if entries else None
                self.products[str(row["StockKeepingUnit"])] = (str(row["Id"]), entry)
        return {sku: self.products[sku] for sku in skus if sku in self.products}

    def known_product(self, sku: str) -> str | None:
        known = self.products.get(sku)
        return known[0] if known else None

    def learn_product(self, sku: str, product_id: str, entry_id: str | None) -> None:
        self.products[sku] = (product_id, entry_id)

    def forget_products(self, skus: Iterable[str]) -> None:
        for sku in skus:
            self.products.pop(sku, None)


async def _no_rows() -> list[dict[str, Any]]:
    return []
