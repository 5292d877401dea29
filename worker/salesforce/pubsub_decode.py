"""Pub/Sub API payloads -> :class:`StreamEvent`: Avro records decoded with the schema of their schema id, fetched
once per id with ``GetSchema`` and cached for the life of the stream (split from :mod:`worker.salesforce.pubsub`)."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import grpc
import structlog

from worker._pubsub_pb import pubsub_api_pb2 as pb
from worker.salesforce.cometd import describe_error
from worker.salesforce.pubsub_flow import record_payload, replay_text
from worker.salesforce.stream_types import OPEN_TIMEOUT, StreamEvent

log = structlog.get_logger(__name__)


class Decoder:
    """Decodes one topic's ConsumerEvents; an undecodable one becomes a cursor-only item (the sweep covers it)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._schemas: dict[str, Any] = {}

    async def event(self, stub: Any, md: Any, consumer: Any, replay_id: bytes) -> StreamEvent:
        try:
            schema = await self.schema(stub, md, consumer.event.schema_id)
            record = fastavro.schemaless_reader(io.BytesIO(consumer.event.payload), schema, None)
        except grpc.aio.AioRpcError:
            raise
        except Exception as exc:  # an undecodable event: its replay id still moves the cursor (the sweep covers it)
            log.warning("stream_message_skipped", channel=self.channel, replay_id=replay_text(replay_id),
                        error=describe_error(exc))
            return StreamEvent(replay_id=replay_id, event_uuid=None, fulfillment_order_id=None, new_status=None,
                               old_status=None, order_summary_id=None, payload={}, channel=self.channel,
                               keepalive=True)
        payload = record_payload(record if isinstance(record, dict) else {})

        def opt(key: str) -> str | None:
            value = payload.get(key)
            return str(value) if value not in (None, "") else None

        return StreamEvent(replay_id=replay_id, event_uuid=opt("EventUuid") or (consumer.event.id or None),
                           fulfillment_order_id=opt("FulfillmentOrderId"), new_status=opt("NewStatus"),
                           old_status=opt("OldStatus"), order_summary_id=opt("OrderSummaryId"), payload=payload,
                           channel=self.channel)

    async def schema(self, stub: Any, md: Any, schema_id: str) -> Any:
        if schema_id not in self._schemas:
            info = await stub.GetSchema(pb.SchemaRequest(schema_id=schema_id), metadata=md, timeout=OPEN_TIMEOUT)
            self._schemas[schema_id] = fastavro.parse_schema(json.loads(info.schema_json))
            log.info("pubsub_schema_fetched", schema_id=schema_id)
        return self._schemas[schema_id]
