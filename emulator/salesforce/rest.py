"""REST routing under ``/services/data/vNN.N/``: sObjects, query, describe, limits; composite and Connect delegate.

``RestApi.handle`` works on already-parsed calls so composite subrequests run through exactly the same code as
top-level HTTP requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import describe
from .errors import SfError, not_found
from .ids import to18
from .query import QueryService, batch_size

if TYPE_CHECKING:
    from .limits import ApiLimits
    from .org import Org

_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
MIN_VERSION, MAX_VERSION = 20.0, 64.0
_RELEASES = {48.0: "Spring '20", 50.0: "Winter '21", 52.0: "Summer '21", 56.0: "Winter '23", 58.0: "Summer '23",
             60.0: "Spring '24", 62.0: "Winter '25", 63.0: "Spring '25", 64.0: "Summer '25"}


@dataclass
class Call:
    method: str
    path: str                                   # /services/data/vNN.N/... without query string
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def call_from_url(method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Call:
    """A Call for a composite subrequest URL (which may carry an URL-encoded query string)."""
    parts = urlsplit(url)
    return Call(method, unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers or {}, body)


def versions() -> list[dict[str, str]]:
    out = []
    version = 48.0
    while version <= MAX_VERSION:
        out.append({"label": _RELEASES.get(version, f"v{version}"), "url": f"/services/data/v{version}",
                    "version": f"{version}"})
        version += 1.0
    return out


def split_version(path: str) -> tuple[str, list[str]]:
    """``('62.0', ['sobjects', 'Account'])`` or NOT_FOUND for unknown versions/paths."""
    match = _VERSIONED.match(path)
    if not match or not MIN_VERSION <= float(match.group(1)) <= MAX_VERSION:
        raise not_found()
    return match.group(1), [p for p in (match.group(2) or "").split("/") if p]


class RestApi:
    def __init__(self, org: Org, limits: ApiLimits, count_call: Callable[[str, str], None] | None = None) -> None:
        self.org = org
        self.limits = limits
        self.queries = QueryService(org)
        self.count_call = count_call            # (method, path) -> None: per-kind call counters of the emulator

    def charge(self, method: str, path: str) -> None:
        """Count one more API call made inside a request (a Composite Batch subrequest counts on its own)."""
        self.limits.consume()
        if self.count_call is not None:
            self.count_call(method, path)

    def dispatch(self, call: Call) -> Reply:
        try:
            return self.handle(call)
        except SfError as exc:
            return Reply(exc.status, exc.body())

    def handle(self, call: Call) -> Reply:
        from . import composite, oms_actions  # circular: both call back into handle()

        version, parts = split_version(call.path)
        method = call.method
        if method == "POST" and call.query.get("_HttpMethod") in ("PATCH", "DELETE", "GET"):
            method = call.query["_HttpMethod"]
        head = parts[0] if parts else ""
        if not parts:
            return Reply(200, {name: f"/services/data/v{version}/{name}"
                               for name in ("sobjects", "query", "queryAll", "composite", "limits")})
        if head in ("query", "queryAll"):
            if method != "GET":
                raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET")
            if len(parts) > 1:
                return Reply(200, self.queries.more(parts[1], version))
            return Reply(200, self.queries.query(call.query.get("q"), version, include_deleted=head == "queryAll",
                                                 batch=batch_size(call.headers)))
        if head == "sobjects":
            return self._sobjects(method, version, parts[1:], call)
        if head == "limits":
            return Reply(200, {"DailyApiRequests": self.limits.as_json()})
        if head == "composite":
            return composite.handle(self, method, version, parts[1:], call)
        if head == "commerce":
            return oms_actions.handle(self.org, method, version, parts[1:], call.body)
        raise not_found()

    # ----------------------------------------------------------------- sObjects
    def _sobjects(self, method: str, version: str, parts: list[str], call: Call) -> Reply:
        if not parts:
            return Reply(200, describe.describe_global(self.org.schema, version))
        obj = self.org.object_def(parts[0])
        if len(parts) == 1:
            if method == "GET":
                return Reply(200, {"objectDescribe": describe.basic(obj, version), "recentItems": []})
            if method == "POST":
                rid = self.org.insert(obj.name, _record_body(call.body))
                return Reply(201, {"id": rid, "success": True, "errors": []},
                             {"Location": f"/services/data/v{version}/sobjects/{obj.name}/{rid}"})
            raise _method_not_allowed(method, "GET, HEAD, POST")
        if len(parts) == 2 and parts[1] == "describe":
            return Reply(200, describe.describe_object(self.org.schema, obj, version))
        if len(parts) == 2:
            return self._by_id(method, version, obj.name, parts[1], call)
        if len(parts) == 3:
            if parts[1].lower() == "id":
                return self._by_id(method, version, obj.name, parts[2], call)
            return self._by_external_id(method, version, obj.name, parts[1], parts[2], call)
        raise not_found()

    def _by_id(self, method: str, version: str, sobject: str, rid: str, call: Call) -> Reply:
        if method == "GET":
            row = self.org.live_row(rid, sobject)
            return Reply(200, self.record_json(row, version, call.query.get("fields")))
        if method == "PATCH":
            self.org.update(rid, _record_body(call.body), sobject=sobject)
            return Reply(204)
        if method == "DELETE":
            self.org.delete(rid, sobject=sobject)
            return Reply(204)
        raise _method_not_allowed(method, "GET, HEAD, PATCH, DELETE")

    def _by_external_id(self, method: str, version: str, sobject: str, fname: str, value: str,
                        call: Call) -> Reply:
        obj = self.org.object_def(sobject)
        fdef = obj.field(fname)
        if fdef is None or not fdef.external_id:
            raise SfError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {fname}")
        matches = self.org.find(obj.name, fdef.name, value)
        if len(matches) > 1:
            return Reply(300, [f"/services/data/v{version}/sobjects/{obj.name}/{m['Id']}" for m in matches])
        if method in ("PATCH", "POST"):
            body = _record_body(call.body)
            if any(k.lower() == fdef.name.lower() for k in body):
                raise SfError(400, "INVALID_FIELD",
                              f"The field {fdef.name} is the external ID and can't be set in the body")
            if not matches:
                rid = self.org.insert(obj.name, {**body, fdef.name: value})
                return Reply(201, {"id": rid, "success": True, "errors": [], "created": True},
                             {"Location": f"/services/data/v{version}/sobjects/{obj.name}/{rid}"})
            self.org.update(matches[0]["Id"], body, sobject=obj.name)
            return Reply(200, {"id": matches[0]["Id"], "success": True, "errors": [], "created": False})
        if not matches:
            raise not_found()
        return self._by_id(method, version, obj.name, matches[0]["Id"], call)

    def record_json(self, row: dict[str, Any], version: str, fields: str | None = None) -> dict[str, Any]:
        sobject = self.org.object_of(row["Id"]) or ""
        out: dict[str, Any] = {"attributes": {"type": sobject,
                                              "url": f"/services/data/v{version}/sobjects/{sobject}/{row['Id']}"}}
        if fields:
            obj = self.org.schema.objects[sobject]
            for name in (f.strip() for f in fields.split(",") if f.strip()):
                canonical = obj.lower.get(name.lower())
                if canonical is None:
                    raise SfError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'. If you are "
                                  "attempting to use a custom field, be sure to append the '__c' after the custom "
                                  "field name. Please reference your WSDL or the describe call for the appropriate "
                                  "names.")
                out[canonical] = row[canonical]
            out.setdefault("Id", row["Id"])
            return out
        out.update(row)
        return out


def _record_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SfError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object (sObject fields)")
    return body


def _method_not_allowed(method: str, allowed: str) -> SfError:
    return SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def is_id(value: str) -> bool:
    return to18(value) is not None
