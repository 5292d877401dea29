"""kill -9 of a real worker process during a burst, then restart: every order imported exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .harness import TRANSPORTS, emulators, eventually, imported_ids, raw_config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "worker.cli", "run", "--config", str(config_path)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_kill_9_during_a_burst_loses_and_duplicates_nothing(tmp_path: Path, transport: str) -> None:
    """Three SIGKILLs at random points during a 500-order burst; after restart every FO is in the POS once."""
    rng = random.Random(7)
    async with emulators() as stack:
        port = free_port()
        raw = raw_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp_path / 'state.db'}",
                         http={"host": "127.0.0.1", "port": port}, lease_seconds=2, log_level="INFO",
                         stream=stack.stream(transport))
        config_path = tmp_path / "worker.yaml"
        config_path.write_text(yaml.safe_dump(raw))
        log = tmp_path / "worker.log"
        proc = start_worker(config_path, log)
        try:
            async def ready() -> bool:
                try:
                    async with stack.http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return resp.status == 200
                except OSError:
                    return False

            await eventually(ready, timeout=30, what="worker up")
            created = await stack.sf_admin("POST", "scenario/orders", {"count": 500, "kind": "BOPIS", "store": "256"})
            wanted = {o["fulfillment_order_id"] for o in created["orders"]}
            for _ in range(3):
                await asyncio.sleep(rng.uniform(0.2, 1.5))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                proc = start_worker(config_path, log)
                await eventually(ready, timeout=30, what="worker restarted")

            async def all_imported() -> bool:
                return wanted <= set(await imported_ids(stack))

            await eventually(all_imported, timeout=180, what="all 500 orders imported after kills")
            ids = await imported_ids(stack)
            assert len(ids) == len(set(ids)) == 500
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
