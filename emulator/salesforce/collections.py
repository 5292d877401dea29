"""sObject Collections (``/composite/sobjects``): up to 200 records, SaveResult errors with ``statusCode``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import SfError, not_found

if TYPE_CHECKING:
    from .rest import Call, Reply, RestApi

MAX_RECORDS, MAX_CHUNKS = 200, 10
ROLLED_BACK = ("Record rolled back because not all records were valid and the request was using AllOrNone header")


class _Abort(Exception):
    pass


def _error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


def _check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise SfError(400, "EXCEEDED_ID_LIMIT",
                      f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call")


def _records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfError(400, "JSON_PARSER_ERROR", "The request body must be an object with a 'records' array.")
    _check_size(len(body["records"]))
    types = [r.get("attributes", {}).get("type") if isinstance(r, dict) and isinstance(r.get("attributes"), dict)
             else None for r in body["records"]]
    chunks = sum(1 for i, t in enumerate(types) if i == 0 or t != types[i - 1])
    if chunks > MAX_CHUNKS:
        raise SfError(400, "INVALID_BATCH_REQUEST", "Cannot have more than 10 chunks in a single operation. Please "
                                                   "rearrange the data to reduce chunking.")
    return body["records"], bool(body.get("allOrNone", False))


def _apply(api: RestApi, items: list[Any], all_or_none: bool, op: Any) -> list[dict[str, Any]]:
    """Run ``op(item) -> result dict`` per item; allOrNone rolls every record back when one fails."""
    results: list[dict[str, Any]] = []
    try:
        with api.org.atomic():
            for item in items:
                try:
                    with api.org.atomic():
                        results.append(op(item))
                except SfError as exc:
                    rid = item.get("id") if isinstance(item, dict) else (item if isinstance(item, str) else None)
                    failure: dict[str, Any] = {"success": False, "errors": [exc.save_result_error()]}
                    if rid and exc.error_code not in ("MALFORMED_ID",):
                        failure = {"id": rid, **failure}
                    results.append(failure)
            if all_or_none and any(not r["success"] for r in results):
                raise _Abort
    except _Abort:
        out = []
        for item, result in zip(items, results, strict=True):
            if not result["success"]:
                out.append(result)
                continue
            given = item if isinstance(item, str) else (item.get("id") if isinstance(item, dict) else None)
            rolled: dict[str, Any] = {"id": result["id"]} if given and not result.get("created") else {}
            rolled.update(success=False, errors=[_error("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK)])
            out.append(rolled)
        return out
    return results


def _type_of(record: Any) -> str:
    if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict) or not record[
            "attributes"].get("type"):
        raise SfError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
    return str(record["attributes"]["type"])


def _fields(record: dict[str, Any], *skip: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes" and k.lower() not in skip}


def handle(api: RestApi, method: str, version: str, parts: list[str], call: Call) -> Reply:
    from .rest import Reply

    org = api.org
    if not parts and method == "POST":
        records, all_or_none = _records(call.body)

        def create(record: Any) -> dict[str, Any]:
            return {"id": org.insert(_type_of(record), _fields(record)), "success": True, "errors": []}
        return Reply(200, _apply(api, records, all_or_none, create))
    if not parts and method == "PATCH":
        records, all_or_none = _records(call.body)

        def update(record: Any) -> dict[str, Any]:
            sobject = _type_of(record)
            rid = record.get("id") or record.get("Id")
            if not rid:
                raise SfError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])
            org.update(rid, _fields(record, "id"), sobject=sobject)
            return {"id": org.live_row(rid)["Id"], "success": True, "errors": []}
        return Reply(200, _apply(api, records, all_or_none, update))
    if len(parts) == 2 and method == "PATCH":
        records, all_or_none = _records(call.body)
        obj = org.object_def(parts[0])
        fdef = obj.field(parts[1])
        if fdef is None or not fdef.external_id:
            raise SfError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                            f"{parts[1]}")

        def upsert(record: Any) -> dict[str, Any]:
            _type_of(record)
            value = next((v for k, v in record.items() if k.lower() == fdef.name.lower()), None)
            if value in (None, ""):
                raise SfError(400, "MISSING_ARGUMENT", f"{fdef.name} not specified", [fdef.name])
            matches = org.find(obj.name, fdef.name, value)
            if len(matches) > 1:
                raise SfError(300, "DUPLICATE_EXTERNAL_ID",
                              f"{fdef.name}: more than one record found for external id field", [fdef.name])
            if matches:
                org.update(matches[0]["Id"], _fields(record, fdef.name.lower()), sobject=obj.name)
                return {"id": matches[0]["Id"], "success": True, "errors": [], "created": False}
            return {"id": org.insert(obj.name, _fields(record)), "success": True, "errors": [], "created": True}
        return Reply(200, _apply(api, records, all_or_none, upsert))
    if not parts and method == "DELETE":
        ids = [i for i in call.query.get("ids", "").split(",") if i]
        _check_size(len(ids))
        all_or_none = call.query.get("allOrNone", "false").lower() == "true"

        def delete(rid: Any) -> dict[str, Any]:
            org.delete(rid)
            return {"id": org.live_or_deleted_id(rid), "success": True, "errors": []}
        return Reply(200, _apply(api, ids, all_or_none, delete))
    if len(parts) == 1 and method in ("GET", "POST"):
        obj = org.object_def(parts[0])
        source = call.query if method == "GET" else (call.body if isinstance(call.body, dict) else {})
        raw_ids: Any = source.get("ids", [])
        ids = [i for i in raw_ids.split(",") if i] if isinstance(raw_ids, str) else list(raw_ids)
        fields = source.get("fields", "")
        fields = ",".join(fields) if isinstance(fields, list) else str(fields)
        _check_size(len(ids))
        out: list[Any] = []
        for rid in ids:
            row = org.get(rid) if isinstance(rid, str) and len(rid) in (15, 18) else None
            out.append(api.record_json(row, version, fields or None)
                       if row is not None and org.object_of(row["Id"]) == obj.name else None)
        return Reply(200, out)
    raise not_found()
