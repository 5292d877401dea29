"""API usage allowance (Sforce-Limit-Info), per-kind call counters and a ring buffer of recent requests."""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from .errors import SfError

COUNTER_KINDS = (
    "query", "query_more", "sobject_get", "sobject_create", "sobject_update", "sobject_delete", "composite_graph",
    "composite", "collections", "connect", "describe", "limits", "other", "oauth", "cometd_handshake",
    "cometd_connect", "cometd_subscribe",
)
_DATA_PATH = re.compile(r"^/services/data/v\d+\.\d+(/.*)?$")


class ApiLimits:
    """Rolling allowance of REST calls; every counted call consumes one, exhausted -> 403 REQUEST_LIMIT_EXCEEDED."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.used = 0

    def consume(self) -> None:
        if self.used >= self.maximum:
            raise SfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.used += 1

    def header(self) -> str:
        return f"api-usage={self.used}/{self.maximum}"

    def as_json(self) -> dict[str, Any]:
        """The ``DailyApiRequests`` entry of ``GET /limits``."""
        return {"Max": self.maximum, "Remaining": max(self.maximum - self.used, 0)}


def classify(method: str, path: str) -> str:
    """Counter kind of one REST call (``path`` without query string)."""
    match = _DATA_PATH.match(path)
    tail = (match.group(1) or "") if match else path
    parts = [p for p in tail.split("/") if p]
    head = parts[0] if parts else ""
    if head in ("query", "queryAll"):
        return "query_more" if len(parts) > 1 else "query"
    if head == "composite":
        if len(parts) > 1 and parts[1] == "graph":
            return "composite_graph"
        return "collections" if len(parts) > 1 and parts[1] == "sobjects" else "composite"
    if head == "commerce":
        return "connect"
    if head == "limits":
        return "limits"
    if head == "sobjects":
        if len(parts) <= 1 or parts[-1] == "describe":
            return "describe"
        if len(parts) == 2:
            return "sobject_create" if method == "POST" else "describe"
        return {"GET": "sobject_get", "PATCH": "sobject_update", "DELETE": "sobject_delete",
                "POST": "sobject_update"}.get(method, "other")
    return "other"


@dataclass
class RequestRecord:
    at: float
    method: str
    path: str
    status: int
    kind: str
    duration_ms: float


class Counters:
    """Calls by kind since the last reset, plus the most recent requests."""

    def __init__(self, keep: int = 1000) -> None:
        self.by_kind: Counter[str] = Counter()
        self.requests: deque[RequestRecord] = deque(maxlen=keep)

    def count(self, kind: str, n: int = 1) -> None:
        self.by_kind[kind] += n

    def record(self, method: str, path: str, status: int, kind: str, started: float) -> None:
        self.requests.append(RequestRecord(time.time(), method, path, status, kind,
                                           round((time.perf_counter() - started) * 1000, 3)))

    def reset(self) -> None:
        self.by_kind.clear()
        self.requests.clear()

    def as_json(self) -> dict[str, Any]:
        by_kind = {kind: self.by_kind.get(kind, 0) for kind in COUNTER_KINDS}
        by_kind.update(self.by_kind)
        rest_total = sum(v for k, v in by_kind.items() if not k.startswith(("oauth", "cometd", "pubsub")))
        return {"total": rest_total, "by_kind": by_kind}

    def recent(self, limit: int) -> list[dict[str, Any]]:
        rows = list(self.requests)[-limit:] if limit > 0 else []
        return [r.__dict__.copy() for r in rows]
