"""``/query`` and ``/queryAll``: SOQL through the engine, then batches behind query locators."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SfError
from .ids import IdFactory
from .org import AllRowsView, Org
from .soql import SoqlError, run_query

DEFAULT_BATCH = 2000
MAX_CURSORS = 500


@dataclass
class _Cursor:
    rows: list[dict[str, Any]]
    total: int
    batch: int


def batch_size(headers: Mapping[str, str]) -> int:
    """``Sforce-Query-Options: batchSize=N`` clamped to 200..2000 (default 2000)."""
    raw = headers.get("Sforce-Query-Options", "")
    for part in raw.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize":
            try:
                return max(200, min(2000, int(value.strip())))
            except ValueError:
                return DEFAULT_BATCH
    return DEFAULT_BATCH


class QueryService:
    """Runs queries and remembers the remaining rows of large results (a bounded set of locators)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._ids = IdFactory()

    def query(self, soql: str | None, version: str, *, include_deleted: bool, batch: int) -> dict[str, Any]:
        if not soql:
            raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
        resolver: Any = AllRowsView(self.org) if include_deleted else self.org
        try:
            result = run_query(soql, resolver, api_version=version, include_deleted=include_deleted)
        except SoqlError as exc:
            raise SfError(400, exc.error_code, exc.message) from None
        rows = list(result.rows)
        if len(rows) <= batch:
            return {"totalSize": result.total_size, "done": True, "records": rows}
        locator = self._ids.next_id("QueryLocator")
        self._cursors[locator] = _Cursor(rows, result.total_size, batch)
        while len(self._cursors) > MAX_CURSORS:
            self._cursors.popitem(last=False)
        return self._page(locator, 0, version)

    def more(self, locator_ref: str, version: str) -> dict[str, Any]:
        locator, _, offset = locator_ref.rpartition("-")
        cursor = self._cursors.get(locator)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor.rows):
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, int(offset), version)

    def _page(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        cursor = self._cursors[locator]
        end = offset + cursor.batch
        page: dict[str, Any] = {"totalSize": cursor.total, "done": end >= len(cursor.rows),
                                "records": cursor.rows[offset:end]}
        if page["done"]:
            self._cursors.pop(locator, None)
        else:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return page
