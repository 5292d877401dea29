"""In-memory fake orgs implementing the SOQL ``Resolver`` contract, with a small OMS data set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from emulator.salesforce.ids import KEY_PREFIXES, checksum

FIELDS: dict[str, list[str]] = {
    "Account": ["Id", "Name", "PersonEmail", "PersonBirthdate", "IsDeleted"],
    "Location": ["Id", "Name", "warehouseID__c", "IsDeleted"],
    "OrderDeliveryMethod": ["Id", "Name", "ReferenceNumber", "IsDeleted"],
    "OrderSummary": ["Id", "OrderNumber", "AccountId", "Status", "IsDeleted"],
    "FulfillmentOrder": [
        "Id",
        "FulfillmentOrderNumber",
        "Status",
        "Type",
        "DeliveryMethodId",
        "FulfilledFromLocationId",
        "OrderSummaryId",
        "CreatedDate",
        "GrandTotalAmount",
        "FulfilledToName",
        "IsDeleted",
    ],
    "FulfillmentOrderLineItem": ["Id", "FulfillmentOrderId", "Quantity", "Description", "IsDeleted"],
}
LOOKUPS: dict[tuple[str, str], tuple[str, str]] = {
    ("OrderSummary", "Account"): ("AccountId", "Account"),
    ("FulfillmentOrder", "DeliveryMethod"): ("DeliveryMethodId", "OrderDeliveryMethod"),
    ("FulfillmentOrder", "FulfilledFromLocation"): ("FulfilledFromLocationId", "Location"),
    ("FulfillmentOrder", "OrderSummary"): ("OrderSummaryId", "OrderSummary"),
    ("FulfillmentOrderLineItem", "FulfillmentOrder"): ("FulfillmentOrderId", "FulfillmentOrder"),
}
CHILDREN: dict[tuple[str, str], tuple[str, str]] = {
    ("FulfillmentOrder", "FulfillmentOrderLineItems"): ("FulfillmentOrderLineItem", "FulfillmentOrderId"),
    ("OrderSummary", "FulfillmentOrders"): ("FulfillmentOrder", "OrderSummaryId"),
}


def make_id(sobject: str, n: int) -> str:
    """A well-formed 18-character id of ``sobject`` with sequence number ``n``."""
    id15 = f"{KEY_PREFIXES[sobject]}R00{n:09d}"
    return id15 + checksum(id15)


def _ci(table: dict[tuple[str, str], tuple[str, str]], sobject: str, name: str) -> tuple[str, str] | None:
    for (obj, rel), value in table.items():
        if obj.lower() == sobject.lower() and rel.lower() == name.lower():
            return value
    return None


class PlainOrg:
    """Only the contract's required methods (no ``canonical_object``/``children``); counts scans."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in FIELDS}
        self.scans: Counter[str] = Counter()
        self.gets = 0
        self.ids: dict[str, str] = {}

    def _obj(self, sobject: str) -> str | None:
        return next((name for name in FIELDS if name.lower() == sobject.lower()), None)

    def add(self, sobject: str, n: int, **values: Any) -> str:
        """Insert a row (missing fields null, ``IsDeleted`` false); returns its id."""
        rid = make_id(sobject, n)
        row = dict.fromkeys(FIELDS[sobject])
        row.update({"Id": rid, "IsDeleted": False, **values})
        self.rows[sobject][rid] = row
        return rid

    def has_object(self, sobject: str) -> bool:
        return self._obj(sobject) is not None

    def has_field(self, sobject: str, field: str) -> bool:
        obj = self._obj(sobject)
        return obj is not None and any(f.lower() == field.lower() for f in FIELDS[obj])

    def canonical_field(self, sobject: str, field: str) -> str:
        obj = self._obj(sobject) or sobject
        return next((f for f in FIELDS.get(obj, []) if f.lower() == field.lower()), field)

    def lookup(self, sobject: str, relationship: str) -> tuple[str, str] | None:
        return _ci(LOOKUPS, sobject, relationship)

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        return _ci(CHILDREN, sobject, name)

    def records(self, sobject: str) -> Iterable[dict[str, Any]]:
        obj = self._obj(sobject)
        self.scans[obj or sobject] += 1
        return list(self.rows[obj].values()) if obj else []

    def get(self, record_id: str) -> dict[str, Any] | None:
        self.gets += 1
        obj = self.object_of(record_id)
        return self.rows[obj].get(record_id) if obj else None

    def object_of(self, record_id: str) -> str | None:
        return next(
            (name for name, prefix in KEY_PREFIXES.items() if prefix == record_id[:3] and name in FIELDS),
            None,
        )


class FullOrg(PlainOrg):
    """Adds the optional ``canonical_object``, ``canonical_relationship`` and indexed ``children``."""

    def __init__(self) -> None:
        super().__init__()
        self.children_calls = 0

    def canonical_object(self, sobject: str) -> str:
        return self._obj(sobject) or sobject

    def canonical_relationship(self, sobject: str, name: str) -> str:
        for obj, rel in (*LOOKUPS, *CHILDREN):
            if obj.lower() == sobject.lower() and rel.lower() == name.lower():
                return rel
        return name

    def children(self, sobject: str, fk_field: str, parent_id: str) -> Iterable[dict[str, Any]]:
        self.children_calls += 1
        return [row for row in self.rows[sobject].values() if row[fk_field] == parent_id]


def populate(org: PlainOrg) -> dict[str, str]:
    """The shared OMS data set; returns ids by short name."""
    ids: dict[str, str] = {}
    ids["A1"] = org.add("Account", 1, Name="Ada", PersonEmail="ada@example.com", PersonBirthdate="1990-05-01")
    ids["A2"] = org.add("Account", 2, Name="Bob", PersonEmail=None)
    ids["L1"] = org.add("Location", 1, Name="Store 1", warehouseID__c="WH-001")
    ids["L2"] = org.add("Location", 2, Name="Store 2", warehouseID__c="WH-002")
    ids["BOPIS"] = org.add("OrderDeliveryMethod", 1, Name="BOPIS", ReferenceNumber="R-1")
    ids["BOFIS"] = org.add("OrderDeliveryMethod", 2, Name="BOFIS", ReferenceNumber="R-2")
    ids["SHIP"] = org.add("OrderDeliveryMethod", 3, Name="Ship", ReferenceNumber=None)
    ids["OS1"] = org.add("OrderSummary", 1, OrderNumber="00000101", AccountId=ids["A1"], Status="Created")
    ids["OS2"] = org.add("OrderSummary", 2, OrderNumber="00000102", AccountId=None, Status="Created")
    fo = [
        (
            "FO1",
            "Allocated",
            "In Store Pickup",
            "BOPIS",
            "L1",
            "OS1",
            "2025-05-01T12:00:00.000+0000",
            100.5,
            "O'Brien",
        ),
        (
            "FO2",
            "Fulfilled",
            "In Store Pickup",
            "BOFIS",
            "L2",
            "OS1",
            "2025-05-02T08:30:00.000+0000",
            20,
            "50% off_sale",
        ),
        (
            "FO3",
            "Allocated",
            "Warehouse",
            "SHIP",
            "L1",
            "OS2",
            "2025-04-30T23:59:59.000+0000",
            None,
            'back\\slash "q"',
        ),
        ("FO4", "Cancelled", "Warehouse", None, None, "OS2", "2025-05-01T00:00:00.000+0000", 0, None),
    ]
    for n, (key, status, fo_type, dm, loc, os_, created, total, to_name) in enumerate(fo, start=1):
        ids[key] = org.add(
            "FulfillmentOrder",
            n,
            FulfillmentOrderNumber=f"FO-000{n}",
            Status=status,
            Type=fo_type,
            DeliveryMethodId=ids.get(dm or ""),
            FulfilledFromLocationId=ids.get(loc or ""),
            OrderSummaryId=ids[os_],
            CreatedDate=created,
            GrandTotalAmount=total,
            FulfilledToName=to_name,
        )
    ids["FO5"] = org.add(
        "FulfillmentOrder",
        5,
        FulfillmentOrderNumber="FO-0005",
        Status="Allocated",
        OrderSummaryId=ids["OS1"],
        CreatedDate="2025-05-03T00:00:00.000+0000",
        IsDeleted=True,
    )
    ids["LI1"] = org.add(
        "FulfillmentOrderLineItem", 1, FulfillmentOrderId=ids["FO1"], Quantity=2.0, Description="Shoe"
    )
    ids["LI2"] = org.add(
        "FulfillmentOrderLineItem", 2, FulfillmentOrderId=ids["FO1"], Quantity=1.0, Description="Sock"
    )
    ids["LI3"] = org.add(
        "FulfillmentOrderLineItem", 3, FulfillmentOrderId=ids["FO2"], Quantity=3.0, Description="Hat"
    )
    ids["LI4"] = org.add(
        "FulfillmentOrderLineItem",
        4,
        FulfillmentOrderId=ids["FO1"],
        Quantity=9.0,
        Description="Gone",
        IsDeleted=True,
    )
    return ids


@pytest.fixture
def org() -> FullOrg:
    """A populated org with every optional resolver method."""
    full = FullOrg()
    full.ids = populate(full)
    return full


@pytest.fixture
def plain_org() -> PlainOrg:
    """A populated org with only the required resolver methods."""
    plain = PlainOrg()
    plain.ids = populate(plain)
    return plain


class OtherChildrenSignatureOrg(PlainOrg):
    """An org whose own ``children()`` has another argument order (as the org's internal index does)."""

    def __init__(self) -> None:
        super().__init__()
        self.children_calls = 0

    def children(self, parent_id: str, child: str, fk: str) -> Iterable[dict[str, Any]]:
        self.children_calls += 1
        return []


BIG = 10_000


@pytest.fixture
def big_org() -> FullOrg:
    """The shared data set plus 10,000 more BOPIS fulfillment orders numbered 100..10099."""
    full = FullOrg()
    full.ids = populate(full)
    for n in range(100, 100 + BIG):
        full.add(
            "FulfillmentOrder",
            n,
            FulfillmentOrderNumber=f"FO-{n}",
            Status="Allocated",
            DeliveryMethodId=full.ids["BOPIS"],
        )
    return full


@pytest.fixture
def other_children_org() -> OtherChildrenSignatureOrg:
    """A populated org whose ``children`` does not follow the contract's signature."""
    other = OtherChildrenSignatureOrg()
    other.ids = populate(other)
    return other


@pytest.fixture
def fo_id() -> Callable[[int], str]:
    """Builds the id of the n-th FulfillmentOrder."""
    return lambda n: make_id("FulfillmentOrder", n)
