"""The GraphQL back-end's start-up and live checks: a changed server schema and a client without the role give
clear one-line errors naming the type and field, or the permission (never a traceback)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import yaml

from emulator.pos.app import start_pos_emulator
from emulator.pos.graphql.server import SDL_PATH
from emulator.pos.settings import PosEmulatorSettings

from .graphql_harness import graphql_raw_config, graphql_worker
from .harness import emulators, eventually, references

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NO_MODIFIED_AT = SDL_PATH.read_text().replace("  modifiedAt: DateTime!\n", "")


async def cli(config: dict[str, object], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.cli", *args, "--config", str(path), cwd=ROOT, env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_worker_refuses_to_start_against_a_server_without_a_field_it_queries(tmp_path: Path) -> None:
    """run against a server without Sale.modifiedAt exits 1 with one worker_failed line naming it."""
    changed = await start_pos_emulator(PosEmulatorSettings(graphql_sdl=NO_MODIFIED_AT))
    try:
        async with emulators() as stack:
            raw = graphql_raw_config(stack.sf_url, changed.url, f"sqlite:///{tmp_path / 'state.db'}")
            code, out, err = await cli(raw, tmp_path, "run")
    finally:
        await changed.stop()
    assert code == 1, out + err
    failed = [line for line in (out + err).splitlines() if "worker_failed" in line]
    assert len(failed) == 1 and "Sale.modifiedAt: no such field on the server (query SaleHistory)" in failed[0]
    assert "Traceback" not in out + err


async def test_check_config_live_names_the_missing_field_and_the_missing_permission(tmp_path: Path) -> None:
    """check-config --live names Sale.modifiedAt on a changed server and sale:read for a client without the role."""
    changed = await start_pos_emulator(PosEmulatorSettings(graphql_sdl=NO_MODIFIED_AT))
    try:
        async with emulators() as stack:
            raw = graphql_raw_config(stack.sf_url, changed.url, f"sqlite:///{tmp_path / 'a.db'}")
            schema_code, schema_out, schema_err = await cli(raw, tmp_path, "check-config", "--live")
            raw = graphql_raw_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp_path / 'b.db'}",
                                     client_id="demo-gql-norole")
            perm_code, perm_out, perm_err = await cli(raw, tmp_path, "check-config", "--live")
    finally:
        await changed.stop()
    assert schema_code == 1 and "Traceback" not in schema_out + schema_err
    rows = [" ".join(line.split()) for line in schema_out.splitlines()]
    assert ("POS schema FAIL pos.graphql.url: GraphQL schema mismatch: Sale.modifiedAt: no such field on the "
            "server (query SaleHistory)") in rows
    assert perm_code == 1 and "Traceback" not in perm_out + perm_err
    rows = [" ".join(line.split()) for line in perm_out.splitlines()]
    assert any(row.startswith("POS permissions FAIL pos.graphql.client_id: permission denied: the calling account "
                              "lacks the permission sale:read (query sale)") for row in rows), perm_out
    assert any(row.startswith("POS schema PASS") for row in rows) and rows[-1] == "6/7 checks passed"
    assert "FilterQuery" not in perm_out and "FO statuses" not in perm_out  # not flows of this back-end


async def test_a_running_worker_without_the_role_stays_up_and_status_names_the_permission(tmp_path: Path) -> None:
    """Without the role the worker stays ready, /status names sale:read, and nothing is posted or skipped."""
    async with emulators() as stack, graphql_worker(stack, tmp_path, client_id="demo-gql-norole") as running:
        await stack.pos_admin("POST", "sales", {"kind": "in_store", "tender": "card", "store": "256"})
        url = f"http://127.0.0.1:{running.http_port}/status"

        async def reported() -> bool:
            async with stack.http.get(url) as resp:
                body = await resp.json()
            state = body["dependencies"].get("pos_sale_history", {})
            return bool(body["ready"] and state.get("state") == "down"
                        and "lacks the permission sale:read" in str(state.get("reason")))

        await eventually(reported, timeout=30, what="/status naming the missing permission")
        assert await running.store.meta_get("sale_history.seen_ms") is None
        assert await references(stack) == []
