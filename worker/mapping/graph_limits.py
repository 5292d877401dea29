"""Composite Graph limits (salesforce-wire.md §1.3), checked before a graph is sent."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import SaleTooLarge

MAX_NODES = 500
MAX_DEPTH = 15
MAX_NODE_TYPES = 15  # distinct (API version x HTTP method x sObject) per payload
REFERENCE = re.compile(r"@\{([A-Za-z0-9][A-Za-z0-9_]*)\.")
REFERENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
_SOBJECT_URL = re.compile(r"^/services/data/(v\d+\.\d)/sobjects/([A-Za-z0-9_]+)(/.*)?$")


def node_type(node: Mapping[str, Any]) -> tuple[str, str, str]:
    match = _SOBJECT_URL.match(str(node["url"]))
    if not match:
        raise ValueError(f"graph node {node.get('referenceId')}: not an sObject URL: {node['url']}")
    return match.group(1), str(node["method"]), match.group(2)


def _refs(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(REFERENCE.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set()


def graph_depth(nodes: Sequence[Mapping[str, Any]]) -> int:
    """Depth per §1.2: a node without references is depth 1; otherwise 1 + the deepest node it references."""
    depth: dict[str, int] = {}
    for node in nodes:
        ref = str(node["referenceId"])
        parents = _refs(node.get("url")) | _refs(node.get("body"))
        unknown = parents - depth.keys()
        if unknown:
            raise ValueError(f"graph node {ref} references {sorted(unknown)} before they are defined")
        depth[ref] = 1 + max((depth[p] for p in parents), default=0)
    return max(depth.values(), default=0)


def check_graph_limits(nodes: Sequence[Mapping[str, Any]], what: str) -> None:
    """Raise ``SaleTooLarge`` when one graph would break a Composite Graph limit."""
    ids = [str(n["referenceId"]) for n in nodes]
    bad = [r for r in ids if not REFERENCE_ID.fullmatch(r)]
    if bad or len(set(ids)) != len(ids):
        raise ValueError(f"{what}: invalid or repeated referenceIds {bad or ids}")
    why = "an Order and its children must be created in one graph to stay atomic"
    if len(nodes) > MAX_NODES:
        raise SaleTooLarge(
            f"{what} needs {len(nodes)} composite graph nodes; the limit is {MAX_NODES} ({why})"
        )
    types = {node_type(n) for n in nodes}
    if len(types) > MAX_NODE_TYPES:
        raise SaleTooLarge(
            f"{what} needs {len(types)} distinct node types; the limit is {MAX_NODE_TYPES} ({why})"
        )
    depth = graph_depth(nodes)
    if depth > MAX_DEPTH:
        raise SaleTooLarge(f"{what} needs graph depth {depth}; the limit is {MAX_DEPTH} ({why})")


MAX_GRAPHS = 75  # graphs per /composite/graph request (salesforce-wire.md §6.3)


def next_graph_batch(graphs: Sequence[tuple[Sequence[Mapping[str, Any]], frozenset[str]]]) -> list[int]:
    """Which graphs (by index, in order) go together in the next ``/composite/graph`` request.

    Each entry is (nodes, SKUs the graph creates). A request holds at most MAX_GRAPHS graphs, MAX_NODES nodes and
    MAX_NODE_TYPES distinct node types in all; a graph that would create a SKU another graph of the request already
    creates waits for a later request (built again once the first one's product is known), so one request never
    creates the same product twice. The first graph always goes, so every call makes progress.
    """
    chosen: list[int] = []
    nodes = 0
    types: set[tuple[str, str, str]] = set()
    creating: set[str] = set()
    for index, (graph_nodes, creates) in enumerate(graphs):
        graph_types = {node_type(n) for n in graph_nodes}
        fits = (len(chosen) < MAX_GRAPHS and nodes + len(graph_nodes) <= MAX_NODES
                and len(types | graph_types) <= MAX_NODE_TYPES and not creates & creating)
        if chosen and not fits:
            if len(chosen) >= MAX_GRAPHS or nodes >= MAX_NODES:
                break
            continue
        chosen.append(index)
        nodes += len(graph_nodes)
        types |= graph_types
        creating |= creates
    return chosen
