"""``python -m emulator`` serves the GraphQL POS from the POS process and names it in its start-up line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[3]


async def test_the_start_up_line_names_graphql_url_and_it_answers_introspection() -> None:
    """The start-up line's graphql_url answers introspection with a token from the emulator's issuer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "--sf-port", "0", "--pos-port", "0", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=30))
        assert ready["graphql_url"] == f"{ready['pos_url']}/graphql"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{ready['pos_url']}/oidc/token", data={
                    "grant_type": "client_credentials", "client_id": "demo-gql-client",
                    "client_secret": "demo-gql-secret"}) as resp:
                token = (await resp.json())["access_token"]
            async with http.post(ready["graphql_url"], json={"query": "{ __schema { queryType { fields { name } } } }"},
                                 headers={"Authorization": f"Bearer {token}"}) as resp:
                fields = {f["name"] for f in (await resp.json())["data"]["__schema"]["queryType"]["fields"]}
        assert {"sale", "customer", "location", "environment"} <= fields
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
