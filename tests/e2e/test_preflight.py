"""The pre-flight against the emulators: ``oms-worker check-config --live`` and ``oms-worker setup`` as a person
runs them (a child process: the result table and nothing else, exit 0/1, a failure naming the configuration key),
and the same checks logged once at worker start (a failure is a warning; the worker keeps running)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from worker.app import Running, serve
from worker.config_load import parse_config

from .harness import TRANSPORTS, Stack, emulators, eventually, raw_config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
MISSING_FIELD = [{"omsFieldName": "storeNumber__c", "posField": "ORDER_STORE_ID", "applyTo": ["LOCATION"]}]


async def cli(stack: Stack, tmp: Path, *args: str, stream: dict[str, Any] | None = None,
              **salesforce: Any) -> tuple[int, list[str], str]:
    """Run ``oms-worker <args> --config <a config for the emulators>``; (exit code, stdout lines, stderr)."""
    raw = raw_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp / 'state.db'}", **({"stream": stream} if stream
                                                                                      else {}))
    raw["salesforce"].update(salesforce)
    path = tmp / "worker.yaml"
    path.write_text(yaml.safe_dump(raw))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.cli", *args, "--config", str(path), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines(), err.decode()


def row(lines: list[str], check: str) -> str:
    (found,) = [line for line in lines if line.startswith(check + " ")]
    return found


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_live_check_prints_only_the_result_table(tmp_path: Path, transport: str) -> None:
    """Every check passes: exit 0, stdout is the table (no config dump, no log lines), stderr is empty; the stream
    row names the transport (Pub/Sub: GetTopic and GetSchema answered)."""
    async with emulators() as stack:
        code, lines, err = await cli(stack, tmp_path, "check-config", "--live", stream=stack.stream(transport))
    assert code == 0, (lines, err)
    assert lines[0].split() == ["check", "result", "detail"]
    assert [line.split()[-1] for line in lines[-1:]] == ["passed"] and lines[-1].startswith("8/8 ")
    assert len(lines) == 10 and all(" PASS " in line for line in lines[1:-1])
    assert f"transport {transport}: " in row(lines, "stream channel")
    assert err == ""


async def test_live_check_fails_naming_an_unreachable_pubsub_target(tmp_path: Path) -> None:
    """Pub/Sub at a port where nothing listens: the stream row fails saying the Pub/Sub API is unreachable."""
    async with emulators() as stack:
        stream = stack.stream("pubsub", pubsub={"target": "127.0.0.1:1"})
        code, lines, err = await cli(stack, tmp_path, "check-config", "--live", stream=stream)
    assert code == 1, (lines, err)
    assert " FAIL " in row(lines, "stream channel") and "Pub/Sub API unreachable" in row(lines, "stream channel")


async def test_live_check_fails_naming_a_missing_custom_field(tmp_path: Path) -> None:
    """OMSCustomField names a Location field the org lacks: exit 1, the row names the key and the field."""
    async with emulators() as stack:
        code, lines, err = await cli(stack, tmp_path, "check-config", "--live", OMSCustomField=MISSING_FIELD)
    assert code == 1, (lines, err)
    assert "FAIL   salesforce.OMSCustomField.0.omsFieldName: Location has no field storeNumber__c" in row(
        lines, "OMSCustomField")
    assert lines[-1] == "7/8 checks passed" and err == ""


async def test_live_check_fails_on_an_org_without_person_accounts(tmp_path: Path) -> None:
    """Account lacks IsPersonAccount/PersonEmail: exit 1, the Person Accounts row says so.
    (The emulator has no switch for this: the test removes the two fields from its in-process schema.)"""
    async with emulators() as stack:
        account = stack.sf_emulator.emulator.org.schema.objects["Account"].fields
        for name in ("IsPersonAccount", "PersonEmail"):
            account.pop(name)
        code, lines, err = await cli(stack, tmp_path, "check-config", "--live")
    assert code == 1, (lines, err)
    assert "FAIL   salesforce.UrlBase: Person Accounts are off in this org" in row(lines, "Person Accounts")


async def test_setup_lists_what_is_missing_and_apply_creates_it(tmp_path: Path) -> None:
    """On an org without the POS setup records, setup lists them MISSING (exit 0: all creatable); --apply creates
    the default Account, Pricebook2, SalesChannel and delivery methods; a named gateway that is missing fails."""
    async with emulators(sales_seed=None) as stack:
        code, before, err = await cli(stack, tmp_path, "setup", OMSCashPaymentGatewayName="Cash")
        assert code == 0, (before, err)
        assert sum("MISSING (created by the first sale" in line for line in before) == 6
        code, after, err = await cli(stack, tmp_path, "setup", "--apply", OMSCashPaymentGatewayName="Cash")
        assert code == 0, (after, err)
        assert after[-1] == "8/8 present; a first sale can post"
        for sobject, where in (("Account", "Name:acme-en-US-US"), ("Pricebook2", "Name:acme-en-US-US"),
                               ("SalesChannel", "SalesChannelName:acme-en-US-US-POS"),
                               ("OrderDeliveryMethod", "Name:ONLINE-DEFAULT")):
            assert len((await stack.sf_admin("GET", f"records/{sobject}?where={where}"))["records"]) == 1
        code, lines, _ = await cli(stack, tmp_path, "setup", OMSCashPaymentGatewayName="CashPOS")
    assert code == 1
    assert "FAIL salesforce.OMSCashPaymentGatewayName: PaymentGateway \"CashPOS\" does not exist" in lines[-2]


async def test_the_worker_logs_the_preflight_at_start_and_keeps_running(tmp_path: Path) -> None:
    """At start each check is logged once (no stream probe); the missing field is a warning naming the key, and
    the worker still starts and answers /readyz."""
    async with emulators() as stack:
        raw = raw_config(stack.sf_url, stack.pos_url, f"sqlite:///{tmp_path / 'state.db'}")
        raw["salesforce"]["OMSCustomField"] = MISSING_FIELD
        stop, started = asyncio.Event(), asyncio.get_running_loop().create_future()
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(serve(parse_config(raw, {}), stop, started=started.set_result))
            running: Running = await asyncio.wait_for(asyncio.shield(started), timeout=30)

            async def logged() -> bool:
                return sum(str(e["event"]).startswith("preflight_") for e in logs) >= 7

            try:
                await eventually(logged, what="seven pre-flight results logged")
                async with stack.http.get(f"http://127.0.0.1:{running.http_port}/readyz") as resp:
                    assert resp.status == 200
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=60)
    results = {e["check"]: (e["log_level"], e["detail"]) for e in logs if str(e["event"]).startswith("preflight_")}
    assert sorted(results) == sorted(["salesforce login", "OMSCustomField", "Person Accounts", "setup records",
                                      "FilterQuery", "FO statuses", "POS"])
    assert {check for check, (level, _) in results.items() if level == "warning"} == {"OMSCustomField"}
    assert results["OMSCustomField"][1].startswith("salesforce.OMSCustomField.0.omsFieldName: Location has no field")
