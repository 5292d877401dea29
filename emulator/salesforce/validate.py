"""Field-level coercion and validation of JSON values written to the org (types, picklists, ids)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Any

from .errors import SfError, dml
from .ids import to18
from .schema import FieldDef

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JSON_TYPE = {str: "VALUE_STRING", bool: "VALUE_TRUE", int: "VALUE_NUMBER_INT", float: "VALUE_NUMBER_FLOAT",
              dict: "START_OBJECT", list: "START_ARRAY"}


_last_datetime = [""]


def sf_datetime(moment: dt.datetime) -> str:
    """Format like Salesforce REST: ``2025-05-01T12:00:00.000+0000`` (UTC).

    Records written in the same millisecond share one string object (the org keeps every row in memory).
    """
    moment = moment.astimezone(dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
    if text == _last_datetime[0]:
        return _last_datetime[0]
    _last_datetime[0] = text
    return text


def timestamp(epoch: float) -> str:
    return sf_datetime(dt.datetime.fromtimestamp(epoch, dt.UTC))


def _parser_error(target: str, value: Any) -> SfError:
    token = _JSON_TYPE.get(type(value), "VALUE_STRING")
    shown = value if not isinstance(value, dict | list) else ("{" if isinstance(value, dict) else "[")
    if isinstance(value, bool):
        token = "VALUE_TRUE" if value else "VALUE_FALSE"
    return SfError(400, "JSON_PARSER_ERROR",
                   f"Cannot deserialize instance of {target} from {token} value {shown} "
                   "or request may be missing a required field")


def coerce(sobject: str, fdef: FieldDef, value: Any) -> Any:
    """Return the stored form of ``value`` for ``fdef`` or raise the Salesforce error for it."""
    if value is None or (value == "" and fdef.type not in ("string", "textarea")):
        return None
    ftype = fdef.type
    if ftype in ("double", "currency", "percent", "int"):
        target = "int" if ftype == "int" else "double"
        if isinstance(value, bool) or isinstance(value, dict | list):
            raise _parser_error(target, value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _parser_error(target, value) from None
        return int(number) if ftype == "int" else number
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error("boolean", value)
    if isinstance(value, dict | list):
        raise _parser_error("string", value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if ftype == "reference":
        full = to18(text)
        if full is None:
            raise dml("MALFORMED_ID", f"{fdef.label}: id value of incorrect type: {text}", [fdef.name])
        return full
    if ftype == "picklist":
        if fdef.restricted and text not in fdef.picklist:
            raise dml("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                      f"{fdef.label}: bad value for restricted picklist field: {text}", [fdef.name])
        return sys.intern(text)  # few distinct values, stored on every row
    if ftype == "email" and not _EMAIL.match(text):
        raise dml("INVALID_EMAIL_ADDRESS", f"{fdef.label}: invalid email address: {text}", [fdef.name])
    if ftype == "date":
        if not _DATE.match(text[:10]):
            raise _parser_error("date", value)
        try:
            dt.date.fromisoformat(text[:10])
        except ValueError:
            raise _parser_error("date", value) from None
        return sys.intern(text[:10])  # one string per day however many rows carry it
    if ftype == "datetime":
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _parser_error("datetime", value) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return sf_datetime(parsed)
    return text
