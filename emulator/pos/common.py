"""Shared pieces of the emulated POS API: error answers, field checks, paging."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


class ApiProblem(Exception):
    """An API answer other than success: status, errorCode, errorMessage."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(field: str, problem: str) -> ApiProblem:
    return ApiProblem(400, "INVALID_FIELD", f"{field}: {problem}")


def quantity(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad(field, "expected a positive number")
    try:
        q = Decimal(str(value))
    except InvalidOperation:
        raise bad(field, "expected a positive number") from None
    if not q.is_finite() or q <= 0:
        raise bad(field, "expected a positive number")
    return q


def json_qty(q: Decimal) -> int | float:
    return int(q) if q == q.to_integral_value() else float(q)


def require_str(body: dict[str, Any], key: str, where: str = "") -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad(f"{where}{key}", "required (a non-empty string)")
    return value


def paginate(rows: list[dict[str, Any]], query: dict[str, Any], default_size: int) -> dict[str, Any]:
    """``{"orders": [...], "nextPageToken"?}``; tokens are opaque offsets."""
    size = query.get("pageSize", default_size)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 500:
        raise bad("pageSize", "expected 1..500")
    token = query.get("pageToken")
    start = 0
    if token:
        if not isinstance(token, str) or not token.startswith("o") or not token[1:].isdigit():
            raise bad("pageToken", "not a token this server issued")
        start = int(token[1:])
    page = rows[start : start + size]
    answer: dict[str, Any] = {"orders": page}
    if start + size < len(rows):
        answer["nextPageToken"] = f"o{start + size}"
    return answer
