"""Typed results of Salesforce answers: API limits, composite graph results, sObject Collections save results.

Pure parsing, no I/O. Shapes follow reference/salesforce-wire.md §1 and §2.4: a graph node's ``body`` is an
object on success and an array of ``{errorCode, message}`` on failure; Collections per-record errors use
``statusCode``; ``Sforce-Limit-Info: api-usage=N/M`` (optionally ``; api-bursts=...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HALTED = "PROCESSING_HALTED"
_API_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class LimitInfo:
    """The org's rolling 24-hour API allowance, as last reported by ``Sforce-Limit-Info``."""

    used: int
    max: int

    @property
    def remaining(self) -> int:
        return max(0, self.max - self.used)

    def low(self, threshold_fraction: float) -> bool:
        return self.max > 0 and self.remaining < self.max * threshold_fraction


def parse_limit_info(header: str | None) -> LimitInfo | None:
    """``api-usage=10018/100000; api-bursts=1/750`` -> LimitInfo(10018, 100000); None if absent/unreadable."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return LimitInfo(used=int(match.group(1)), max=int(match.group(2)))


@dataclass(frozen=True)
class NodeResponse:
    """One composite (graph) subresponse."""

    reference_id: str
    http_status: int
    body: Any  # dict on success, list of {errorCode, message, fields?} on failure, None for 204
    http_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(errorCode, message) pairs of a failed node; empty on success."""
        return error_pairs(self.body) if not self.ok else []


@dataclass(frozen=True)
class GraphResult:
    """One graph of a composite graph answer. A graph is atomic: all its nodes committed, or none did."""

    graph_id: str
    is_successful: bool
    responses: dict[str, NodeResponse]
    errors: list[str]  # "refId: CODE: message" for the nodes that actually failed (not the rolled-back ones)


@dataclass(frozen=True)
class SaveResult:
    """One record of an sObject Collections answer."""

    id: str | None
    success: bool
    errors: list[tuple[str, str]]  # (statusCode, message)


def error_pairs(body: Any) -> list[tuple[str, str]]:
    """(code, message) pairs from a REST/Connect error array or a Collections ``errors`` array."""
    items = body if isinstance(body, list) else [body] if isinstance(body, Mapping) else []
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Mapping):
            code = item.get("errorCode") or item.get("statusCode") or "UNKNOWN_ERROR"
            pairs.append((str(code), str(item.get("message") or "")))
    return pairs


def parse_node(raw: Mapping[str, Any]) -> NodeResponse:
    headers = raw.get("httpHeaders") or {}
    return NodeResponse(
        reference_id=str(raw.get("referenceId") or ""),
        http_status=int(raw.get("httpStatusCode") or 0),
        body=raw.get("body"),
        http_headers={str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {},
    )


def parse_graph_results(body: Any) -> list[GraphResult]:
    """``{"graphs": [...]}`` -> GraphResult per graph, in answer order."""
    graphs = body.get("graphs") if isinstance(body, Mapping) else None
    if not isinstance(graphs, list):
        raise ValueError("composite graph answer has no graphs array")
    results = []
    for graph in graphs:
        nodes = ((graph.get("graphResponse") or {}).get("compositeResponse")) or []
        responses = {node.reference_id: node for node in (parse_node(raw) for raw in nodes)}
        errors = [f"{ref}: {code}: {message}" for ref, node in responses.items()
                  for code, message in node.errors if code != HALTED]
        if not errors and not graph.get("isSuccessful"):
            errors = [f"{ref}: {code}: {message}" for ref, node in responses.items()
                      for code, message in node.errors]
        results.append(GraphResult(graph_id=str(graph.get("graphId")),
                                   is_successful=bool(graph.get("isSuccessful")),
                                   responses=responses, errors=errors))
    return results


def parse_save_results(body: Any) -> list[SaveResult]:
    """The per-record array of an sObject Collections answer."""
    if not isinstance(body, list):
        raise ValueError("sObject Collections answer is not an array")
    return [
        SaveResult(id=str(item["id"]) if item.get("id") else None, success=bool(item.get("success")),
                   errors=error_pairs(item.get("errors") or []))
        for item in body if isinstance(item, Mapping)
    ]
