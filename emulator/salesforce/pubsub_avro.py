"""Avro schemas of the topics the emulated Pub/Sub API serves, their schema ids, and payload encoding (pure).

A Pub/Sub event payload is one Avro record in binary encoding with no container and no embedded schema; the
subscriber fetches the writer schema with ``GetSchema(schema_id)``. Salesforce writes ``CreatedDate`` as a long
(epoch milliseconds) and the event's own fields as nullable unions. The fields here are the ones the emulator's
org puts on FOStatusChangedEvent (see rules.after_write) plus the standard ones the bus adds (events.publish).

The schema id is a fingerprint of the schema: the first 16 bytes of SHA-256 over its Parsing Canonical Form,
base64url without padding (22 characters, the shape of Salesforce schema ids). The CometD ``data.schema`` of the
same event carries the same id (events.schema_id), as both transports describe one event bus.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

__all__ = [
    "FO_STATUS_SCHEMA",
    "TOPIC_SCHEMAS",
    "decode_payload",
    "encode_payload",
    "schema_fingerprint",
    "schema_for_topic",
    "schema_json",
]

_NULLABLE_STRINGS = ("EventUuid", "FulfillmentOrderId", "OrderSummaryId", "OldStatus", "NewStatus",
                     "OldStatusCategory", "NewStatusCategory")

FO_STATUS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "FOStatusChangedEvent",
    "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "CreatedDate", "type": "long"},
        {"name": "CreatedById", "type": "string"},
        *({"name": name, "type": ["null", "string"], "default": None} for name in _NULLABLE_STRINGS),
    ],
}

TOPIC_SCHEMAS: dict[str, dict[str, Any]] = {"/event/FOStatusChangedEvent": FO_STATUS_SCHEMA}


def schema_json(schema: dict[str, Any]) -> str:
    """The schema as the JSON text ``GetSchema`` returns."""
    return json.dumps(schema, separators=(",", ":"))


@cache
def _fingerprint_of(text: str) -> str:
    canonical = to_parsing_canonical_form(parse_schema(json.loads(text)))
    digest = hashlib.sha256(canonical.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def schema_fingerprint(schema: dict[str, Any]) -> str:
    """The 22-character schema id of ``schema`` (stable across runs and processes)."""
    return _fingerprint_of(schema_json(schema))


def schema_for_topic(topic: str) -> dict[str, Any] | None:
    """The Avro schema of a topic the Pub/Sub API serves, or None."""
    return TOPIC_SCHEMAS.get(topic)


@cache
def _parsed(text: str) -> Any:
    return parse_schema(json.loads(text))


def _epoch_millis(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).replace("Z", "+00:00")
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def _record(schema: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for field in schema["fields"]:
        name, value = field["name"], payload.get(field["name"])
        if field["type"] == "long":
            record[name] = _epoch_millis(value) if value is not None else 0
        elif field["type"] == "string":
            record[name] = "" if value is None else str(value)
        else:
            record[name] = None if value is None else str(value)
    return record


def encode_payload(schema: dict[str, Any], payload: dict[str, Any]) -> bytes:
    """Avro binary of the bus payload (``CreatedDate`` text -> epoch ms; keys outside the schema are left out)."""
    out = io.BytesIO()
    schemaless_writer(out, _parsed(schema_json(schema)), _record(schema, payload))
    return out.getvalue()


def decode_payload(schema: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The record in ``data`` read with ``schema`` as the writer schema."""
    parsed = _parsed(schema_json(schema))
    record: dict[str, Any] = schemaless_reader(io.BytesIO(data), parsed, parsed)  # type: ignore[assignment]
    return record
