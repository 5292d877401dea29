"""The worker's start on pos.backend graphql: the first schema check is bounded, a silent POS does not hold it."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from worker.app import _sale_history
from worker.config import Config
from worker.config_load import parse_config
from worker.pos_graphql.client import GraphqlPos
from worker.pos_graphql.schema_check import SchemaMismatch
from worker.store import Store

from ..config.test_pos_backend import graphql_config


class SilentPos:
    """A POS whose introspection never answers (or fails as told)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.asked = error, 0

    async def check_schema(self) -> None:
        self.asked += 1
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()


def config(timeout: float) -> Config:
    data = graphql_config()
    data["pos"]["graphql"]["timeout_seconds"] = timeout
    return parse_config(data, {})


async def test_a_pos_that_never_answers_does_not_hold_the_start() -> None:
    """The start-up schema check gives up after pos.graphql.timeout_seconds; the poll loop checks it later."""
    pos = SilentPos()
    history = await asyncio.wait_for(
        _sale_history(config(0.05), cast(Store, None), cast(GraphqlPos, pos), {}), timeout=10)
    assert pos.asked == 1 and history.schema_checked is False


async def test_a_schema_mismatch_still_ends_the_start() -> None:
    """A mismatch found at start is raised (one line naming type and field), not deferred to the loop."""
    pos = SilentPos(SchemaMismatch("pos", "GraphQL schema mismatch: Sale.total: no such field on the server"))
    with pytest.raises(SchemaMismatch):
        await _sale_history(config(5), cast(Store, None), cast(GraphqlPos, pos), {})
