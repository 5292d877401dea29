"""Packing sale graphs into /composite/graph requests within Salesforce's per-request limits."""

from __future__ import annotations

from typing import Any

import pytest

from worker.mapping.graph_limits import MAX_GRAPHS, next_graph_batch

V = "/services/data/v62.0/sobjects"


def graph(n: int, objects: tuple[str, ...] = ("Order",), creates: frozenset[str] = frozenset()) -> tuple[
        list[dict[str, Any]], frozenset[str]]:
    nodes = [{"referenceId": f"r{i}", "method": "POST", "url": f"{V}/{objects[i % len(objects)]}", "body": {}}
             for i in range(n)]
    return nodes, creates


@pytest.mark.parametrize(
    ("graphs", "expected"),
    [
        ([graph(10)] * 3, [0, 1, 2]),
        ([graph(2)] * (MAX_GRAPHS + 5), list(range(MAX_GRAPHS))),
        ([graph(10)] * 60, list(range(50))),
        ([graph(200), graph(200), graph(200)], [0, 1]),
        ([graph(200), graph(200), graph(150), graph(100)], [0, 1, 3]),
        ([graph(300), graph(250), graph(100)], [0, 2]),
        ([graph(501)], [0]),
        ([graph(3, creates=frozenset({"A"})), graph(3, creates=frozenset({"A", "B"})),
          graph(3, creates=frozenset({"B"}))], [0, 2]),
        ([graph(15, tuple(f"T{i}" for i in range(15))), graph(2, ("T0", "X")), graph(2, ("T1", "T2"))], [0, 2]),
        ([], []),
    ],
    ids=["all-fit", "graph-cap", "node-total-cap", "node-cap", "node-cap-skips", "skip-too-big",
         "oversized-first-alone", "same-new-sku-waits", "type-cap", "empty"],
)
def test_next_graph_batch(graphs: list[tuple[list[dict[str, Any]], frozenset[str]]], expected: list[int]) -> None:
    """Graphs pack in order up to 75 graphs / 500 nodes / 15 node types, never creating one SKU twice."""
    assert next_graph_batch(graphs) == expected
