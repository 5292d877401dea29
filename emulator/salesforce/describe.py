"""Describe documents (global and per object) derived from the schema."""

from __future__ import annotations

from typing import Any

from .schema import FieldDef, ObjectDef, Schema

_LENGTH = {"string": 255, "textarea": 32000, "email": 80, "phone": 40, "url": 255, "picklist": 255,
           "reference": 18, "id": 18}


def _field(fdef: FieldDef) -> dict[str, Any]:
    return {
        "name": fdef.name, "label": fdef.label, "type": fdef.type, "length": _LENGTH.get(fdef.type, 0),
        "nillable": not fdef.required and fdef.type != "boolean", "createable": fdef.createable,
        "updateable": fdef.updateable, "defaultedOnCreate": fdef.default is not None or fdef.autonumber is not None,
        "calculated": not fdef.createable and fdef.name not in ("Id",), "autoNumber": fdef.autonumber is not None,
        "externalId": fdef.external_id, "idLookup": fdef.external_id or fdef.name == "Id", "unique": fdef.unique,
        "referenceTo": list(fdef.references), "relationshipName": fdef.relationship,
        "restrictedPicklist": fdef.restricted,
        "picklistValues": [{"active": True, "defaultValue": value == fdef.default, "label": value, "validFor": None,
                            "value": value} for value in fdef.picklist],
        "filterable": True, "sortable": fdef.type != "textarea", "custom": fdef.name.endswith("__c"),
    }


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def basic(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {"name": obj.name, "label": obj.label, "labelPlural": obj.label + "s", "keyPrefix": obj.key_prefix,
            "createable": obj.createable, "updateable": True, "deletable": True, "queryable": True,
            "retrieveable": True, "custom": False, "urls": _urls(obj, version)}


def describe_object(schema: Schema, obj: ObjectDef, version: str) -> dict[str, Any]:
    children = [{"childSObject": child, "field": fk, "relationshipName": rel, "cascadeDelete": False}
                for rel, child, fk in obj.children.values()]
    for other in schema.objects.values():
        for fdef in other.fields.values():
            if obj.name in fdef.references and not any(
                    c["childSObject"] == other.name and c["field"] == fdef.name for c in children):
                children.append({"childSObject": other.name, "field": fdef.name, "relationshipName": None,
                                 "cascadeDelete": False})
    return {**basic(obj, version), "fields": [_field(f) for f in obj.fields.values()],
            "childRelationships": children}


def describe_global(schema: Schema, version: str) -> dict[str, Any]:
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [basic(obj, version) for obj in schema.objects.values()]}
