"""Errors raised by the pure mapping functions."""

from __future__ import annotations

from collections.abc import Sequence

from worker.errors import OmsWorkerError, PermanentError


class MappingError(PermanentError):
    """The input cannot be mapped; retrying cannot help, so the unit of work goes to the dead letters."""

    def __init__(self, message: str, *, fields: Sequence[str] = (), code: str = "MAPPING_ERROR") -> None:
        super().__init__("mapping", message, code=code, fields=fields)


class SaleTooLarge(MappingError):
    """A sale needs more composite-graph nodes, depth or node types than one graph allows.

    An Order and its children must be created in ONE graph: a graph is the unit of atomicity (all or nothing),
    so splitting an Order across graphs could leave a half-created Order (items without payments, or a Draft
    order that is never activated) when a later graph fails, and graphs cannot reference each other's nodes.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, code="SALE_TOO_LARGE")


class NothingToPost(OmsWorkerError):
    """The sale has nothing for the sale graph (e.g. a pure return, handled by the returns flow)."""
