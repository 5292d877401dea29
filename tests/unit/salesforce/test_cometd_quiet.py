"""The loop exception filter drops only aiocometd's cancelled-connect callback error."""

from __future__ import annotations

import asyncio
from typing import Any

from worker.salesforce.cometd import quiet_cancelled_connect


class _Handle:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


async def test_cancelled_connect_done_is_dropped_and_everything_else_forwarded() -> None:
    """CancelledError from TransportBase._connect_done is swallowed; other errors reach the previous handler."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        quiet_cancelled_connect(loop)
        loop.call_exception_handler({"message": "Exception in callback", "exception": asyncio.CancelledError(),
                                     "handle": _Handle("<Handle TransportBase._connect_done(<Task cancelled>)>")})
        assert seen == []
        other = {"message": "Exception in callback", "exception": ValueError("boom"),
                 "handle": _Handle("<Handle TransportBase._connect_done()>")}
        loop.call_exception_handler(other)
        cancelled_elsewhere = {"message": "x", "exception": asyncio.CancelledError(), "handle": _Handle("<Handle f()>")}
        loop.call_exception_handler(cancelled_elsewhere)
        assert seen == [other, cancelled_elsewhere]
    finally:
        loop.set_exception_handler(previous)
