"""``/composite/batch`` (independent subrequests, each committed alone) and ``/composite/tree/{sObject}``.

Composite Batch -- sources: "Composite Batch"
(https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-batch.html), "Batch Request Body"
(.../requests-composite-batch.html), "Batch Response Body" (.../responses-composite-batch.html) and "Update a Record
and Get Its Field Values in a Single Request" (.../dome-composite-batch.html):

- ``POST`` only; body ``{"batchRequests": [{"method", "url", "richInput"?, "binaryPartName"?,
  "binaryPartNameAlias"?}], "haltOnError": false}``; up to 25 subrequests.
- Subrequest ``url`` starts at the version (``v62.0/sobjects/Account/001...``; the REST guide's example); the
  Salesforce Mobile SDK sends ``/v62.0/...`` (github.com/forcedotcom/SalesforceMobileSDK-Android PR 1365: "Batch's sub
  request url is everything starts at the version"). ``/services/data/v62.0/...`` is accepted too (UNCONFIRMED).
  The version must be 34.0 or later and no later than the batch's own version.
- Batchable resources: limits, sObject resources, query, queryAll, search, Connect, Chatter (v34.0+) and actions
  (v35.0+). Subrequests run serially in request order; each one commits on its own and a failure rolls nothing back.
- "Each subrequest counts against rate limits" -- the batch costs one API call per subrequest.
- ``haltOnError: true``: after a subrequest answers 400-599, every later one answers 412 ``BATCH_PROCESSING_HALTED``;
  the batch itself answers 200 with ``hasErrors: true``.
- Errors found while reading the request (bad method or url, too many subrequests) answer 400 and run nothing,
  whatever ``haltOnError`` says.
- Response ``{"hasErrors": bool, "results": [{"statusCode": int, "result": body-or-null}]}``; ``hasErrors`` is true
  when any subrequest answered 400-599; an error ``result`` is the usual error array.
- ``binaryPartName``/``binaryPartNameAlias`` come together and name a part of a multipart request; a JSON request has
  no binary parts, so naming one is an error in the request.

sObject Tree -- sources: "sObject Tree" (.../resources-composite-sobject-tree.html), "sObject Tree Request Body"
(.../requests-composite-sobject-tree.html), "sObject Tree Response Body" (.../responses-composite-sobject-tree.html):

- ``POST /composite/tree/{sObject}`` with ``{"records": [...]}``; each record has ``attributes: {type, referenceId}``
  (referenceId unique in the request, starting with a letter or digit, then letters, digits, ``_``), fields, and child
  relationships as ``{"records": [...]}``; root records must be of the URI's type.
- Up to 200 records in all, up to five different types, trees up to five levels deep; one API call in all.
- All or nothing: on any error nothing is created and ``results`` holds only the failing record's referenceId and
  its errors (``statusCode``/``message``/``fields``); duplicate referenceIds get one result per occurrence.
- Records are created level by level (roots of every tree, then each level's records of one type together, the
  groups in which triggers fire); the success ``results`` list referenceId/id pairs in that order, as the guide's
  example shows (ref1, ref4, then ref2, ref3).
- Status 201 on success (observed in client code: github.com/g8rswimmer/go-sfdc ``sobject/tree/tree.go`` expects
  ``http.StatusCreated``); 400 on failure.

UNCONFIRMED (no real answer found): the texts and codes of request-level 400s (``INVALID_BATCH_REQUEST``,
``LIMIT_EXCEEDED``, ``INVALID_INPUT``), of the 412 ``BATCH_PROCESSING_HALTED`` message, and of the tree's duplicate
referenceId / wrong root type errors.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .errors import SfError, not_found
from .references import valid_reference_id

if TYPE_CHECKING:
    from .rest import Reply, RestApi

MAX_BATCH = 25
MIN_BATCH_VERSION = 34.0
BATCH_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
BATCHABLE = {"limits": 34.0, "sobjects": 34.0, "query": 34.0, "queryAll": 34.0, "search": 34.0, "connect": 34.0,
             "chatter": 34.0, "actions": 35.0}
HALTED_MESSAGE = "Batch processing halted because a previous subrequest in the batch was not successful."
_BATCH_URL = re.compile(r"^(?:/services/data)?/?v(\d+\.\d)(/[^?]*)?(\?.*)?$")

MAX_TREE_RECORDS, MAX_TREE_TYPES, MAX_TREE_DEPTH = 200, 5, 5


def _bad(code: str, message: str) -> SfError:
    return SfError(400, code, message)


# --------------------------------------------------------------------------- batch
def _subrequest(sub: Any, version: float) -> tuple[str, str, Any]:
    """(method, /services/data url, body) of one subrequest, or the request-level 400."""
    if not isinstance(sub, dict):
        raise _bad("INVALID_BATCH_REQUEST", "Each batch subrequest must be a JSON object.")
    method = sub.get("method")
    if not isinstance(method, str) or method.upper() not in BATCH_METHODS:
        raise _bad("INVALID_BATCH_REQUEST", f"Invalid method in batch subrequest: {method!r}. Valid methods are "
                                            f"{', '.join(BATCH_METHODS)}.")
    url = sub.get("url")
    match = _BATCH_URL.match(url) if isinstance(url, str) else None
    if match is None:
        raise _bad("INVALID_BATCH_REQUEST", f"Invalid url in batch subrequest: {url!r}. A subrequest url starts with "
                                            "the API version, for example v62.0/sobjects/Account.")
    sub_version = float(match.group(1))
    head = (match.group(2) or "/").split("/")[1]
    if not MIN_BATCH_VERSION <= sub_version <= version:
        raise _bad("INVALID_BATCH_REQUEST", f"Invalid API version v{match.group(1)} in batch subrequest url; it must "
                                            f"be between v{MIN_BATCH_VERSION} and v{version}.")
    if head not in BATCHABLE or sub_version < BATCHABLE[head]:
        raise _bad("INVALID_BATCH_REQUEST", f"The resource {match.group(2) or '/'} isn't supported in a batch "
                                            "subrequest.")
    named = [key for key in ("binaryPartName", "binaryPartNameAlias") if sub.get(key) is not None]
    if named:
        raise _bad("INVALID_BATCH_REQUEST", "binaryPartName and binaryPartNameAlias name a binary part of a multipart "
                                            "request; this request has none.")
    path = f"/services/data/v{match.group(1)}{match.group(2) or ''}{match.group(3) or ''}"
    return method.upper(), path, sub.get("richInput")


def run_batch(api: RestApi, version: str, body: Any) -> Reply:
    from .rest import Reply, call_from_url

    if not isinstance(body, dict) or not isinstance(body.get("batchRequests"), list):
        raise _bad("INVALID_BATCH_REQUEST", "The request body must be an object with a 'batchRequests' array.")
    subrequests = body["batchRequests"]
    if len(subrequests) > MAX_BATCH:
        raise _bad("LIMIT_EXCEEDED", f"A batch can have at most {MAX_BATCH} subrequests; {len(subrequests)} were "
                                     "sent.")
    halt = body.get("haltOnError", False)
    if not isinstance(halt, bool):
        raise _bad("INVALID_BATCH_REQUEST", "haltOnError must be true or false.")
    parsed = [_subrequest(sub, float(version)) for sub in subrequests]
    results: list[dict[str, Any]] = []
    halted = False
    for i, (method, url, rich_input) in enumerate(parsed):
        if halted:
            results.append({"statusCode": 412, "result": [{"errorCode": "BATCH_PROCESSING_HALTED",
                                                           "message": HALTED_MESSAGE}]})
            continue
        try:
            if i:
                api.charge(method, url.split("?", 1)[0])
            reply = api.dispatch(call_from_url(method, url, rich_input))
        except SfError as exc:
            reply = Reply(exc.status, exc.body())
        results.append({"statusCode": reply.status, "result": reply.body})
        halted = halt and reply.status >= 400
    return Reply(200, {"hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results})


# --------------------------------------------------------------------------- tree
class _TreeFailure(Exception):
    def __init__(self, results: list[dict[str, Any]]) -> None:
        super().__init__("tree failed")
        self.results = results


def _tree_error(ref: Any, code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"referenceId": ref, "errors": [{"statusCode": code, "message": message, "fields": fields or []}]}


class _Node:
    """One record of a tree: its type, referenceId, own fields, parent link and depth (roots are 1)."""

    def __init__(self, sobject: str, ref: str, fields: dict[str, Any], parent: _Node | None, fk: str | None,
                 depth: int) -> None:
        self.sobject, self.ref, self.fields = sobject, ref, fields
        self.parent, self.fk, self.depth = parent, fk, depth
        self.id: str | None = None


def _flatten(api: RestApi, records: list[Any], sobject: str, parent: _Node | None, fk: str | None, depth: int,
             out: list[_Node]) -> None:
    """Walk the request into nodes, checking shapes; child relationships are keys holding ``{"records": [...]}``."""
    for record in records:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        if not isinstance(attributes, dict) or not isinstance(attributes.get("type"), str):
            raise _bad("INVALID_INPUT", "Each record needs attributes with a type and a referenceId.")
        ref = attributes.get("referenceId")
        if not isinstance(ref, str) or not valid_reference_id(ref):
            raise _bad("INVALID_INPUT", f"Invalid referenceId {ref!r}: it must start with a letter or a number and "
                                        "contain only letters, numbers and underscores.")
        declared = api.org.schema.get(attributes["type"])
        if declared is None or declared.name != sobject:
            raise _TreeFailure([_tree_error(ref, "INVALID_INPUT", f"The record type {attributes['type']} doesn't "
                                                                   f"match the expected type {sobject}.")])
        obj = api.org.object_def(sobject)
        fields: dict[str, Any] = {}
        children: list[tuple[str, str, list[Any]]] = []
        for key, value in record.items():
            if key == "attributes":
                continue
            child = obj.children.get(key.lower())
            if child is not None and isinstance(value, dict):
                if not isinstance(value.get("records"), list):
                    raise _bad("INVALID_INPUT", f"The child relationship {key} must hold a 'records' array.")
                children.append((child[1], child[2], value["records"]))
            else:
                fields[key] = value
        node = _Node(sobject, ref, fields, parent, fk, depth)
        out.append(node)
        for child_type, child_fk, child_records in children:
            _flatten(api, child_records, child_type, node, child_fk, depth + 1, out)


def run_tree(api: RestApi, method: str, sobject: str, body: Any) -> Reply:
    from .rest import Reply

    if method != "POST":
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are POST")
    obj = api.org.object_def(sobject)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise _bad("JSON_PARSER_ERROR", "The request body must be an object with a 'records' array.")
    nodes: list[_Node] = []
    try:
        _flatten(api, body["records"], obj.name, None, None, 1, nodes)
        if len(nodes) > MAX_TREE_RECORDS:
            raise _bad("LIMIT_EXCEEDED", f"An sObject tree request can have at most {MAX_TREE_RECORDS} records; "
                                         f"{len(nodes)} were sent.")
        if len({n.sobject for n in nodes}) > MAX_TREE_TYPES:
            raise _bad("LIMIT_EXCEEDED", f"An sObject tree request can have at most {MAX_TREE_TYPES} different "
                                         "record types.")
        if max((n.depth for n in nodes), default=0) > MAX_TREE_DEPTH:
            raise _bad("LIMIT_EXCEEDED", f"An sObject tree can be at most {MAX_TREE_DEPTH} levels deep.")
        refs = [n.ref for n in nodes]
        duplicates = [r for r in refs if refs.count(r) > 1]
        if duplicates:
            raise _TreeFailure([_tree_error(r, "INVALID_INPUT", "Duplicate ReferenceId provided in the request.")
                                for r in duplicates])
        created = _insert_levels(api, nodes)
    except _TreeFailure as failed:
        return Reply(400, {"hasErrors": True, "results": failed.results})
    return Reply(201, {"hasErrors": False, "results": [{"referenceId": n.ref, "id": n.id} for n in created]})


def _insert_levels(api: RestApi, nodes: list[_Node]) -> list[_Node]:
    """Create every node, level by level and, within a level, one type after another; all or nothing."""
    order: list[_Node] = []
    for depth in sorted({n.depth for n in nodes}):
        level = [n for n in nodes if n.depth == depth]
        types = list(dict.fromkeys(n.sobject for n in level))
        order.extend(n for sobject in types for n in level if n.sobject == sobject)
    current: _Node | None = None
    try:
        with api.org.atomic():
            for node in order:
                current = node
                values = dict(node.fields)
                if node.parent is not None and node.fk is not None:
                    values[node.fk] = node.parent.id
                node.id = api.org.insert(node.sobject, values)
    except SfError as exc:
        ref = current.ref if current is not None else None
        raise _TreeFailure([{"referenceId": ref, "errors": [exc.save_result_error()]}]) from None
    return order


def handle(api: RestApi, method: str, version: str, parts: list[str], body: Any) -> Reply:
    """Route ``/composite/batch`` and ``/composite/tree/{sObject}`` (``parts`` start after ``composite``)."""
    if parts == ["batch"]:
        if method != "POST":
            raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are POST")
        return run_batch(api, version, body)
    if len(parts) == 2 and parts[0] == "tree":
        return run_tree(api, method, parts[1], body)
    raise not_found()
