"""``/composite/graph`` (atomic per graph) and ``/composite`` (allOrNone, references); collections, batch and tree
delegate (``collections``, ``composite_batch``).

Versions: Composite Graph "is available in REST API version 50.0 and later" ("Composite Graph",
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-graph.html); below that the resource
doesn't exist, so it answers like any unknown resource, 404 ``[{"errorCode": "NOT_FOUND", "message": "The requested
resource does not exist"}]`` ("Status Codes and Error Responses",
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm), and ``GET /composite``
doesn't list it. ``GET /composite`` lists tree, batch, sobjects, graph ("Get a List of Composite Resources",
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-composite-get.html).

Over-limit or structurally invalid payloads: the real status/body is UNCONFIRMED in the reference. The emulator
answers HTTP 400 with ``[{"errorCode": "LIMIT_EXCEEDED" | "INVALID_INPUT", "message": ...}]`` for the whole
request; a node that breaks the node URL/method rules fails its own graph with ``INVALID_INPUT``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import collections, composite_batch
from .errors import ROLLED_BACK_MESSAGE, SfError, not_found
from .references import ReferenceError_, referenced_ids, substitute, valid_reference_id

if TYPE_CHECKING:
    from .rest import Call, Reply, RestApi

MAX_GRAPHS, MAX_NODES, MAX_DEPTH, MAX_NODE_TYPES, MAX_FAILED_GRAPHS = 75, 500, 15, 15, 14
MAX_SUBREQUESTS, MAX_QUERY_SUBREQUESTS = 25, 5
GRAPH_SINCE = 50.0
_NODE_URL = re.compile(r"^/services/data/v(\d+\.\d)/sobjects/([A-Za-z0-9_]+)((?:/[^/?]+){0,2})/?(?:\?.*)?$")
_NODE_METHODS = {0: {"POST"}, 1: {"DELETE", "GET", "PATCH"}, 2: {"DELETE", "GET", "PATCH", "POST"}}
HALTED_MESSAGE = f"Graph processing halted: more than {MAX_FAILED_GRAPHS} graphs in this request failed."


class _Failed(Exception):
    def __init__(self, index: int, error: list[dict[str, Any]], status: int = 400) -> None:
        super().__init__("node failed")
        self.index, self.error, self.status = index, error, status


def _bad(code: str, message: str) -> SfError:
    return SfError(400, code, message)


def handle(api: RestApi, method: str, version: str, parts: list[str], call: Call) -> Reply:
    from .rest import Reply

    if parts and parts[0] == "sobjects":
        return collections.handle(api, method, version, parts[1:], call)
    if parts and parts[0] in ("batch", "tree"):
        return composite_batch.handle(api, method, version, parts, call.body)
    if parts == ["graph"] and float(version) >= GRAPH_SINCE:
        if method != "POST":
            raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are POST")
        return Reply(200, {"graphs": run_graphs(api, call.body)})
    if not parts:
        if method == "GET":
            base = f"/services/data/v{version}/composite"
            listing = {"tree": f"{base}/tree", "batch": f"{base}/batch", "sobjects": f"{base}/sobjects"}
            if float(version) >= GRAPH_SINCE:
                listing["graph"] = f"{base}/graph"
            return Reply(200, listing)
        if method == "POST":
            return Reply(200, {"compositeResponse": run_composite(api, call.body)})
    raise not_found()


# --------------------------------------------------------------------------- graph
def _node_type(node: dict[str, Any]) -> tuple[str, str, str] | None:
    match = _NODE_URL.match(node.get("url") or "") if isinstance(node.get("url"), str) else None
    return (match.group(1), str(node.get("method")), match.group(2)) if match else None


def _node_rule_error(node: Any) -> str | None:
    if not isinstance(node, dict):
        return "Each composite subrequest must be a JSON object."
    if not valid_reference_id(node.get("referenceId")):
        return "referenceId must start with a letter or a number and contain only letters, numbers and underscores."
    match = _NODE_URL.match(node["url"]) if isinstance(node.get("url"), str) else None
    if match is None:
        return f"The URL {node.get('url')!r} isn't supported in a graph: only sObject resources are allowed."
    if float(match.group(1)) < 50.0:
        return "Composite graph subrequests require API version 50.0 or later."
    segments = match.group(3).count("/")
    if node.get("method") not in _NODE_METHODS[segments]:
        return f"HTTP method {node.get('method')!r} isn't allowed for {node['url']} in a graph."
    return None


def _validate_payload(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("graphs"), list):
        raise _bad("INVALID_INPUT", "The request body must be an object with a 'graphs' array.")
    graphs: list[dict[str, Any]] = body["graphs"]
    if len(graphs) > MAX_GRAPHS:
        raise _bad("LIMIT_EXCEEDED", f"A composite graph request can have at most {MAX_GRAPHS} graphs; "
                                     f"{len(graphs)} were sent.")
    seen: set[str] = set()
    total = 0
    node_types: set[tuple[str, str, str]] = set()
    for graph in graphs:
        if not isinstance(graph, dict) or not isinstance(graph.get("compositeRequest"), list):
            raise _bad("INVALID_INPUT", "Each graph needs a graphId and a compositeRequest array.")
        gid = graph.get("graphId")
        if (not isinstance(gid, str) or not gid or not gid[0].isalnum() or len(gid) >= 40 or "." in gid
                or gid in seen):
            raise _bad("INVALID_INPUT", f"Invalid or duplicate graphId: {gid!r}. A graphId must be unique, start "
                                        "with an alphanumeric character, be shorter than 40 characters and not "
                                        "contain '.'.")
        seen.add(gid)
        total += len(graph["compositeRequest"])
        node_types |= {t for t in map(_node_type, (n for n in graph["compositeRequest"] if isinstance(n, dict)))
                       if t}
    if total > MAX_NODES:
        raise _bad("LIMIT_EXCEEDED", f"A composite graph request can have at most {MAX_NODES} nodes; {total} were "
                                     "sent.")
    if len(node_types) > MAX_NODE_TYPES:
        raise _bad("LIMIT_EXCEEDED", f"A composite graph request can have at most {MAX_NODE_TYPES} different "
                                     f"nodes (API version x method x sObject); {len(node_types)} were sent.")
    return graphs


def _order(nodes: list[dict[str, Any]]) -> list[int]:
    """Execution order (dependencies first, otherwise request order); raises on cycles and excessive depth."""
    index = {n["referenceId"]: i for i, n in enumerate(nodes)}
    deps = [{index[r] for r in referenced_ids([n.get("url"), n.get("body")]) if r in index and index[r] != i}
            for i, n in enumerate(nodes)]
    depth: dict[int, int] = {}
    order: list[int] = []
    visiting: set[int] = set()

    def visit(i: int) -> int:
        if i in depth:
            return depth[i]
        if i in visiting:
            raise _bad("INVALID_INPUT", "The graph has a cycle of references.")
        visiting.add(i)
        d = 1 + max((visit(j) for j in sorted(deps[i])), default=0)
        visiting.discard(i)
        depth[i] = d
        order.append(i)
        return d

    for i in range(len(nodes)):
        visit(i)
    if depth and max(depth.values()) > MAX_DEPTH:
        raise _bad("LIMIT_EXCEEDED", f"The graph is deeper than {MAX_DEPTH} levels.")
    return order


def _halted(ref: Any, message: str = ROLLED_BACK_MESSAGE) -> dict[str, Any]:
    return {"body": [{"errorCode": "PROCESSING_HALTED", "message": message}], "httpHeaders": {},
            "httpStatusCode": 400, "referenceId": ref}


def _run_graph(api: RestApi, nodes: list[dict[str, Any]]) -> tuple[bool, list[dict[str, Any]]]:
    from .rest import call_from_url

    responses: list[dict[str, Any] | None] = [None] * len(nodes)
    results: dict[str, Any] = {}
    try:
        for i, node in enumerate(nodes):
            rule = _node_rule_error(node)
            if rule:
                raise _Failed(i, [{"errorCode": "INVALID_INPUT", "message": rule}])
        refs = [n["referenceId"] for n in nodes]
        if len(set(refs)) != len(refs):
            raise _Failed(0, [{"errorCode": "INVALID_INPUT", "message": "Duplicate referenceId in graph."}])
        try:
            order = _order(nodes)
        except SfError as exc:
            raise _Failed(0, exc.body()) from None
        with api.org.atomic():
            for i in order:
                node = nodes[i]
                try:
                    url = substitute(node["url"], results, in_url=True)
                    body = substitute(node.get("body"), results)
                except ReferenceError_ as exc:
                    raise _Failed(i, [{"errorCode": "PROCESSING_HALTED", "message": exc.message}]) from None
                reply = api.dispatch(call_from_url(node["method"], url, body))
                if reply.status >= 300:
                    raise _Failed(i, reply.body if isinstance(reply.body, list) else [reply.body], reply.status)
                results[node["referenceId"]] = reply.body
                responses[i] = {"body": reply.body, "httpHeaders": reply.headers, "httpStatusCode": reply.status,
                                "referenceId": node["referenceId"]}
    except _Failed as failed:
        out = [_halted(n.get("referenceId") if isinstance(n, dict) else None) for n in nodes]
        ref = nodes[failed.index].get("referenceId") if isinstance(nodes[failed.index], dict) else None
        out[failed.index] = {"body": failed.error, "httpHeaders": {}, "httpStatusCode": failed.status,
                             "referenceId": ref}
        return False, out
    return True, [r for r in responses if r is not None]


def run_graphs(api: RestApi, body: Any) -> list[dict[str, Any]]:
    graphs = _validate_payload(body)
    out: list[dict[str, Any]] = []
    failures = 0
    for graph in graphs:
        nodes = graph["compositeRequest"]
        if failures >= MAX_FAILED_GRAPHS:
            responses = [_halted(n.get("referenceId") if isinstance(n, dict) else None, HALTED_MESSAGE)
                         for n in nodes]
            ok = False
        else:
            ok, responses = _run_graph(api, nodes)
            failures += 0 if ok else 1
        out.append({"graphId": graph["graphId"], "graphResponse": {"compositeResponse": responses},
                    "isSuccessful": ok})
    return out


# --------------------------------------------------------------------------- composite
def run_composite(api: RestApi, body: Any) -> list[dict[str, Any]]:
    from .rest import call_from_url

    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise _bad("INVALID_INPUT", "The request body must be an object with a 'compositeRequest' array.")
    subrequests = body["compositeRequest"]
    if len(subrequests) > MAX_SUBREQUESTS:
        raise _bad("LIMIT_EXCEEDED", f"A composite request can have at most {MAX_SUBREQUESTS} subrequests; "
                                     f"{len(subrequests)} were sent.")
    heavy = sum(1 for s in subrequests if isinstance(s, dict) and re.search(
        r"/(query|queryAll|composite/sobjects)\b", str(s.get("url", ""))))
    if heavy > MAX_QUERY_SUBREQUESTS:
        raise _bad("LIMIT_EXCEEDED", f"A composite request can have at most {MAX_QUERY_SUBREQUESTS} query or "
                                     "sObject Collections subrequests.")
    for sub in subrequests:
        if not isinstance(sub, dict) or not valid_reference_id(sub.get("referenceId")) or not isinstance(
                sub.get("url"), str) or sub.get("method") not in ("GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"):
            raise _bad("INVALID_INPUT", "Each subrequest needs method, url and a referenceId that starts with a "
                                        "letter or number and contains only letters, numbers and underscores.")
    all_or_none = bool(body.get("allOrNone", False))
    responses: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    failed_refs: set[str] = set()
    try:
        with api.org.atomic():
            for i, sub in enumerate(subrequests):
                ref = sub["referenceId"]
                headers: dict[str, str] = {}
                blocked = sorted(referenced_ids([sub["url"], sub.get("body")]) & failed_refs)
                if blocked:
                    responses.append(_halted(ref, f"Execution halted as previous operation ({blocked[0]}) was not "
                                                  "successful."))
                    failed_refs.add(ref)
                    continue
                try:
                    url = substitute(sub["url"], results, in_url=True)
                    sub_body = substitute(sub.get("body"), results)
                except ReferenceError_ as exc:
                    reply_body: Any = [{"errorCode": "PROCESSING_HALTED", "message": exc.message}]
                    status = 400
                else:
                    # /composite supports sObject resources, query/queryAll and sObject Collections only ("Send
                    # Multiple Requests Using Composite", REST API Developer Guide).
                    if re.search(r"/services/data/v[\d.]+/(composite/?(graph|batch|tree(/.*)?)?$|commerce/)",
                                 url.split("?")[0]):
                        reply_body = [{"errorCode": "INVALID_INPUT",
                                       "message": f"The URL {url} isn't supported in a composite subrequest."}]
                        status = 400
                    else:
                        reply = api.dispatch(call_from_url(sub["method"], url, sub_body, sub.get("httpHeaders")))
                        reply_body, status = reply.body, reply.status
                        headers = reply.headers
                responses.append({"body": reply_body, "httpHeaders": headers if status < 300 else {},
                                  "httpStatusCode": status, "referenceId": ref})
                if status >= 300:
                    failed_refs.add(ref)
                    if all_or_none:
                        raise _Failed(i, reply_body, status)
                else:
                    results[ref] = reply_body
    except _Failed as failed:
        halted = [_halted(s["referenceId"]) for s in subrequests]
        halted[failed.index] = responses[failed.index]
        return halted
    return responses
