"""TLS: simple-salesforce (query, create, update, composite graph) against the emulator; ``python -m emulator``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import requests
import simple_salesforce

from emulator.salesforce.app import SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.tls import client_context, generate_self_signed, server_context

ROOT = Path(__file__).resolve().parents[3]


def _simple_salesforce_session(url: str, token: str, ca_file: str) -> dict[str, Any]:
    session = requests.Session()
    session.verify = ca_file
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment silently wins over session.verify
    sf = simple_salesforce.Salesforce(instance_url=url, session_id=token, session=session, version="62.0")
    created = sf.Account.create({"Name": "Simple Co"})
    sf.Account.update(created["id"], {"Phone": "555-0100"})
    rows = sf.query("SELECT Id, Name, Phone FROM Account WHERE Name = 'Simple Co'")
    graph = sf.restful("composite/graph", method="POST", json={"graphs": [{"graphId": "1", "compositeRequest": [
        {"referenceId": "a", "method": "POST", "url": "/services/data/v62.0/sobjects/Account",
         "body": {"Name": "Graph via simple"}},
        {"referenceId": "c", "method": "POST", "url": "/services/data/v62.0/sobjects/Contact",
         "body": {"LastName": "L", "AccountId": "@{a.id}"}}]}]})
    return {"created": created, "rows": rows, "graph": graph}


async def test_simple_salesforce_over_tls(tmp_path: Path) -> None:
    """simple-salesforce verifies the generated CA and runs query, create, update and a composite graph."""
    cert, key = generate_self_signed(str(tmp_path))
    running = await start_sf_emulator(SfEmulatorSettings(), ssl_context=server_context(cert, key))
    try:
        assert running.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=client_context(cert))
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.post(running.url + "/services/oauth2/token", data={
                    "grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret",
                    "username": "integration@example.com", "password": "demo-password"}) as resp:
                token = (await resp.json())["access_token"]
        result = await asyncio.to_thread(_simple_salesforce_session, running.url, token, cert)
    finally:
        await running.stop()
    assert result["created"]["success"] is True
    assert result["rows"]["totalSize"] == 1 and result["rows"]["records"][0]["Phone"] == "555-0100"
    assert result["graph"]["graphs"][0]["isSuccessful"] is True


async def test_python_m_emulator_prints_urls_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    """`python -m emulator --tls` prints one JSON line with sf_url/pos_url/ca_file and exits 0 on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "--sf-port", "0", "--pos-port", "0", "--tls", "--seed", "demo",
        "--state-file", str(tmp_path / "state.json"), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        ready = json.loads(line)
        assert ready["sf_url"].startswith("https://127.0.0.1:") and ready["ca_file"].endswith("cert.pem")
        connector = aiohttp.TCPConnector(ssl=client_context(ready["ca_file"]))
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(ready["sf_url"] + "/services/data/") as resp:
                assert resp.status == 200
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    assert code == 0
    assert (tmp_path / "state.json").exists()
