"""The POS client of the configured ``pos.backend``: Retail Cloud (:mod:`worker.pos`) or GraphQL
(:mod:`worker.pos_graphql`).

The GraphQL client is imported only when that back-end is configured: gql and graphql-core hold about 7 MB of
resident memory that a Retail Cloud worker would never use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from worker.config import PosConfig
from worker.pos.client import PosClient
from worker.retry import RetryPolicy

if TYPE_CHECKING:
    from worker.pos_graphql.client import GraphqlPos


def open_pos(config: PosConfig, session: aiohttp.ClientSession, *, retry: RetryPolicy) -> PosClient | GraphqlPos:
    """The client for ``config.backend`` on ``session``; the caller closes it."""
    if config.backend == "retail_cloud":
        return PosClient(config, session, retry=retry)
    from worker.pos_graphql.client import GraphqlPos

    return GraphqlPos(config, session, retry=retry)
