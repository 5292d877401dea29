"""Composite Graph limit checks: nodes, distinct node types, depth, reference ids."""

from __future__ import annotations

from typing import Any

import pytest

from worker.mapping.errors import SaleTooLarge
from worker.mapping.graph_limits import check_graph_limits, graph_depth, node_type

BASE = "/services/data/v62.0/sobjects/"


def node(
    ref: str, sobject: str, body: dict[str, Any] | None = None, method: str = "POST", suffix: str = ""
) -> dict[str, Any]:
    return {"url": BASE + sobject + suffix, "method": method, "referenceId": ref, "body": body or {}}


def chain(length: int) -> list[dict[str, Any]]:
    nodes = [node("n1", "Account")]
    nodes += [node(f"n{i}", "Contact", {"ParentId": f"@{{n{i - 1}.id}}"}) for i in range(2, length + 1)]
    return nodes


@pytest.mark.parametrize(
    ("nodes", "depth"),
    [
        ([], 0),
        ([node("a", "Account")], 1),
        (chain(4), 4),
        (
            [
                node("a", "Account"),
                node("b", "Contact"),
                node("c", "Case", {"X": "@{a.id}", "Y": "@{b.id}"}),
                node("d", "Order", method="PATCH", suffix="/@{c.id}"),
            ],
            3,
        ),
        ([node("a", "Account"), node("b", "Task", {"Ids": ["@{a.id}"], "Nested": {"Z": "@{a.id}"}})], 2),
    ],
)
def test_depth_counts_reference_edges(nodes: list[dict[str, Any]], depth: int) -> None:
    """Depth is 1 for a node without references, else 1 + the deepest referenced node (url and body)."""
    assert graph_depth(nodes) == depth


def test_reference_to_later_node_is_an_error() -> None:
    """A node may only reference nodes defined before it."""
    with pytest.raises(ValueError, match="before they are defined"):
        graph_depth([node("a", "Account", {"X": "@{b.id}"}), node("b", "Contact")])


def test_depth_limit() -> None:
    """Depth 15 passes, 16 raises SaleTooLarge."""
    check_graph_limits(chain(15), "sale X")
    with pytest.raises(SaleTooLarge, match="needs graph depth 16; the limit is 15"):
        check_graph_limits(chain(16), "sale X")


def test_node_type_limit() -> None:
    """15 distinct (version, method, sObject) pass; the 16th raises SaleTooLarge."""
    fifteen = [node(f"n{i}", f"Obj{i}__c") for i in range(15)]
    check_graph_limits(fifteen, "sale X")
    with pytest.raises(SaleTooLarge, match="needs 16 distinct node types; the limit is 15"):
        check_graph_limits([*fifteen, node("p", "Obj0__c", method="PATCH", suffix="/001")], "sale X")


def test_same_type_many_nodes_counts_once() -> None:
    """Many nodes of one method and sObject are one node type."""
    assert len({node_type(n) for n in [node(f"n{i}", "OrderItem") for i in range(40)]}) == 1


def test_node_count_limit() -> None:
    """500 nodes pass, 501 raise SaleTooLarge."""
    check_graph_limits([node(f"n{i}", "OrderItem") for i in range(500)], "sale X")
    with pytest.raises(SaleTooLarge, match="needs 501 composite graph nodes"):
        check_graph_limits([node(f"n{i}", "OrderItem") for i in range(501)], "sale X")


@pytest.mark.parametrize("ids", [["ok", "ok"], ["_bad"], ["has-dash"], ["has.dot"]])
def test_invalid_or_repeated_reference_ids(ids: list[str]) -> None:
    """referenceIds must be unique, start with a letter or digit and hold only letters, digits, underscore."""
    with pytest.raises(ValueError, match="referenceIds"):
        check_graph_limits([node(r, "Account") for r in ids], "sale X")
