"""The one exception type of the emulator: an HTTP status plus a Salesforce error array."""

from __future__ import annotations

from typing import Any

NOT_FOUND_MESSAGE = "The requested resource does not exist"
ROLLED_BACK_MESSAGE = "The transaction was rolled back since another operation in the same transaction failed."


class SfError(Exception):
    """A Salesforce-shaped failure; ``body()`` is the JSON array sent on the wire."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def error(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            err["fields"] = list(self.fields)
        return err

    def body(self) -> list[dict[str, Any]]:
        return [self.error()]

    def save_result_error(self) -> dict[str, Any]:
        """The sObject Collections (SaveResult) form: ``statusCode`` instead of ``errorCode``."""
        return {"statusCode": self.error_code, "message": self.message, "fields": list(self.fields or [])}


def not_found() -> SfError:
    return SfError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def dml(code: str, message: str, fields: list[str] | None = None) -> SfError:
    """A 400 DML error (always carries ``fields``)."""
    return SfError(400, code, message, fields or [])
