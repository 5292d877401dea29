"""Object and field metadata of the emulated org, built from ``schema_data`` plus org settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .ids import KEY_PREFIXES
from .schema_data import CHILD_RELATIONSHIPS, NOT_CREATEABLE, OBJECTS, PICKLISTS

SYSTEM_FIELDS = """
Id id ro
IsDeleted boolean ro default=false
CreatedDate datetime ro
CreatedById ref:User ro
LastModifiedDate datetime ro
LastModifiedById ref:User ro
SystemModstamp datetime ro"""

NUMERIC_TYPES = {"double", "currency", "percent", "int"}
STRING_TYPES = {"string", "textarea", "email", "phone", "url", "id", "picklist", "reference"}

DEFAULT_FO_STATUSES: list[tuple[str, str]] = [
    ("Draft", "Draft"), ("Allocated", "Activated"), ("Assigned", "Fulfilling"), ("Pickpack", "Fulfilling"),
    ("Pick Complete", "Fulfilling"), ("Pack Complete", "Fulfilling"), ("Printed", "Fulfilling"),
    ("Fulfilled", "Closed"), ("Cancelled", "Cancelled"), ("Rejected", "Rejected"),
]


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str                      # string, boolean, double, currency, reference, picklist, ...
    label: str
    required: bool = False
    createable: bool = True
    updateable: bool = True
    references: tuple[str, ...] = ()
    relationship: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    unique: bool = False
    external_id: bool = False
    default: Any = None
    autonumber: tuple[str, int] | None = None


@dataclass
class ObjectDef:
    name: str
    label: str
    key_prefix: str
    createable: bool
    fields: dict[str, FieldDef] = field(default_factory=dict)
    lower: dict[str, str] = field(default_factory=dict)                  # lower name -> canonical
    relationships: dict[str, FieldDef] = field(default_factory=dict)     # lower relationship name -> ref field
    children: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # lower -> (name, child, fk)
    template: dict[str, Any] = field(default_factory=dict)
    ref_fields: tuple[str, ...] = ()
    unique_fields: tuple[str, ...] = ()
    slots: dict[str, int] = field(default_factory=dict)                  # field -> position in a stored Row
    child_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # ref field -> (object, field), shared

    def field(self, name: str) -> FieldDef | None:
        canonical = self.lower.get(name.lower())
        return self.fields[canonical] if canonical else None


def _label(name: str) -> str:
    base = name[:-2] + " ID" if name.endswith("Id") and len(name) > 2 else name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base).replace("  ", " ")


def _coerce_default(ftype: str, raw: str) -> Any:
    if ftype == "boolean":
        return raw == "true"
    if ftype in NUMERIC_TYPES:
        return int(raw) if ftype == "int" else float(raw)
    return raw


def parse_field(line: str) -> FieldDef:
    """Parse one spec line (see ``schema_data``) into a FieldDef."""
    default_raw: str | None = None
    if " default=" in line:
        line, default_raw = line.split(" default=", 1)
    name, kind, *flags = line.split()
    kw: dict[str, Any] = {}
    ftype = kind
    if kind.startswith("ref:"):
        ftype = "reference"
        kw["references"] = tuple(kind[4:].split("|"))
        kw["relationship"] = name[:-2] if name.endswith("Id") else name.replace("__c", "__r")
    elif kind.startswith("pick:"):
        ftype = "picklist"
        kw["picklist"] = PICKLISTS[kind[5:]]
        kw["restricted"] = "open" not in flags
    elif kind.startswith("auto:"):
        _, prefix, width = kind.split(":")
        ftype = "string"
        kw["autonumber"] = (prefix, int(width))
    ro = "ro" in flags
    return FieldDef(
        name=name, type=ftype, label=_label(name), required="req" in flags, createable=not ro,
        updateable=not ro and "noupd" not in flags, unique="unique" in flags, external_id="ext" in flags,
        default=_coerce_default(ftype, default_raw) if default_raw is not None else None, **kw,
    )


class Schema:
    """All objects of the org with case-insensitive lookups; FulfillmentOrder status picklist from settings."""

    def __init__(self, fo_statuses: list[tuple[str, str]] | None = None,
                 location_custom_fields: list[str] | None = None) -> None:
        self.fo_statuses = list(fo_statuses or DEFAULT_FO_STATUSES)
        self.fo_category = {status: category for status, category in self.fo_statuses}
        self.objects: dict[str, ObjectDef] = {}
        self.lower: dict[str, str] = {}
        extra = {
            "FulfillmentOrder": [FieldDef("Status", "picklist", "Status", required=True,
                                          picklist=tuple(self.fo_category), restricted=True, default="Draft")],
            "Location": [FieldDef(name, "string", _label(name), external_id=True)
                         for name in (location_custom_fields or [])],
        }
        for name, (label, spec) in OBJECTS.items():
            obj = ObjectDef(name, label, KEY_PREFIXES[name], name not in NOT_CREATEABLE)
            lines = [ln.strip() for ln in (SYSTEM_FIELDS + "\n" + spec).split("\n") if ln.strip()]
            for fdef in [parse_field(ln) for ln in lines] + extra.get(name, []):
                obj.fields[fdef.name] = fdef
                obj.lower[fdef.name.lower()] = fdef.name
                if fdef.relationship:
                    obj.relationships[fdef.relationship.lower()] = fdef
            obj.template = {fname: f.default for fname, f in obj.fields.items()}
            obj.slots = {fname: n for n, fname in enumerate(obj.fields)}
            obj.ref_fields = tuple(f.name for f in obj.fields.values() if f.type == "reference" and f.name not in
                                   ("CreatedById", "LastModifiedById"))
            obj.child_keys = {fname: (name, fname) for fname in obj.ref_fields}
            obj.unique_fields = tuple(f.name for f in obj.fields.values() if f.unique)
            self.objects[name] = obj
            self.lower[name.lower()] = name
        for parent, rel, child, fk in CHILD_RELATIONSHIPS:
            self.objects[parent].children[rel.lower()] = (rel, child, fk)

    def get(self, sobject: str) -> ObjectDef | None:
        canonical = self.lower.get(sobject.lower())
        return self.objects[canonical] if canonical else None

    def category_of(self, status: str | None) -> str | None:
        return self.fo_category.get(status) if status is not None else None
