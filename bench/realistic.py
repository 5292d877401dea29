"""Issue 21's runs at the realistic latency profile: the worker (connect, then org_flow) and the guide's baseline,
side by side against the same emulators in the same bench run."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from subprocess import Popen
from typing import Any

import aiohttp
import yaml

from bench.baseline import GuideConnector
from bench.latency import realistic_faults
from bench.procs import start_worker, stop, wait_port, worker_yaml
from bench.scenarios import Bench
from worker.config_load import parse_config

WEBHOOK_LANES = 16  # POS registers delivering webhooks side by side (emulator webhooks.parallelism)


def webhook_setup(port: int | None, key: str) -> dict[str, Any]:
    """The POS webhook configuration: every endpoint at the worker on ``port`` (None: nowhere), in parallel lanes."""
    names = ["ORDER", "ORDER_UPDATE", "RETURN", "BOPIS_EXPORT", "BOFIS_EXPORT", "STORE_FULFILLMENT"]
    urls = {n: f"http://127.0.0.1:{port}/webhooks/pos/{n}" for n in names} if port else {}
    return {"urls": urls, "headers": {"Authorization": f"Bearer {key}"}, "parallelism": WEBHOOK_LANES}


async def step(name: str, work: Any, limit: float = 600) -> Any:
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = await asyncio.wait_for(work, limit)
    print(f"[bench] {name} done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    return result


async def realistic_runs(bench: Bench, http: aiohttp.ClientSession, workdir: Path, urls: dict[str, str],
                         port: int, key: str, procs: dict[str, Popen[bytes]], quick: bool) -> dict[str, Any]:
    """Worker (connect), worker (org_flow, the org's flow on), then the baseline; the worker is stopped after."""
    out: dict[str, Any] = {}
    sales, fos = (100, 300) if quick else (600, 2000)
    # warm at 0 ms: the worker's look-up caches, and each catalogue SKU's price-book entry (the first sales of a
    # SKU create it, and two batches doing so at once makes one retry): the figures are of warm sales
    await bench.sales_run(20)
    await bench.sf("POST", "faults", realistic_faults())
    try:
        out["fo_import_realistic"] = await step("fo_import_realistic", bench.import_run(fos, limit=600))
        out["sales_realistic"] = await step("sales_realistic", bench.sales_run(sales, fulfilled=True, limit=600))
        stop(procs["worker"])
        config = worker_yaml(workdir, urls["sf_url"], urls["pos_url"], port, name="worker-org-flow.yaml",
                             salesforce={"order_summary": "org_flow"})
        await bench.sf("POST", "settings", {"order_summary_flow": True})
        procs["worker"] = start_worker(config, workdir)
        wait_port(port)
        await asyncio.sleep(2)  # stream subscribed, token fetched
        await bench.sales_run(1, fulfilled=True)  # warm the new process's caches
        out["sales_realistic_org_flow"] = await step("sales_realistic_org_flow",
                                                     bench.sales_run(sales, fulfilled=True, limit=600))
        await bench.sf("POST", "settings", {"order_summary_flow": False})
        stop(procs["worker"])  # from here on the baseline alone talks to the org
        await bench.pos("POST", "webhooks", webhook_setup(None, key))
        connector = GuideConnector(parse_config(yaml.safe_load(config.read_text()), {}), http)
        out["baseline_sales_realistic"] = await step("baseline_sales_realistic",
                                                     baseline_sales(bench, connector, 30 if quick else 100))
        out["baseline_fo_import_realistic"] = await step("baseline_fo_import_realistic",
                                                         baseline_imports(bench, connector, 60 if quick else 200))
    finally:
        await bench.sf("DELETE", "faults")
    for name, base, unit in (("sales_realistic", "baseline_sales_realistic", "calls_per_sale"),
                             ("sales_realistic_org_flow", "baseline_sales_realistic", "calls_per_sale"),
                             ("fo_import_realistic", "baseline_fo_import_realistic", "calls_per_fo")):
        out[name]["x_baseline_per_second"] = round(out[name]["per_second"] / max(out[base]["per_second"], 1e-9), 1)
        out[name]["x_fewer_calls_than_baseline"] = round(out[base][unit] / max(out[name][unit], 1e-9), 1)
    return out


async def baseline_sales(bench: Bench, connector: GuideConnector, count: int) -> dict[str, Any]:
    """``count`` sales rung up at the POS, each posted by the guide's connector as its webhook would arrive (as
    many at once as the POS has webhook lanes)."""
    body = {"kind": "in_store", "tender": "card", "store": "256"}

    async def one() -> None:
        await connector.post_sale(await bench.pos("POST", "sales", body))

    before = await bench.calls()
    started = time.monotonic()
    await bench.together([one] * count, width=WEBHOOK_LANES)
    elapsed = time.monotonic() - started
    used = await bench.calls() - before
    return {"count": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1),
            "api_calls": used, "calls_per_sale": round(used / count, 3), "concurrency": WEBHOOK_LANES}


async def baseline_imports(bench: Bench, connector: GuideConnector, count: int) -> dict[str, Any]:
    """``count`` BOPIS FOs created, then each imported by the guide's connector (one SOQL, one POS import), as many
    at once as the worker's posting lanes; the clock runs from the first create to the last import."""
    started = time.monotonic()
    before = await bench.calls()
    fo_ids: list[str] = []
    for start in range(0, count, 500):
        made = await bench.sf("POST", "scenario/orders", {"count": min(500, count - start), "kind": "BOPIS",
                                                           "store": "256"})
        fo_ids.extend(o["fulfillment_order_id"] for o in made["orders"])
    created = time.monotonic() - started
    await bench.together([lambda fo=fo: connector.import_fo(fo) for fo in fo_ids], width=WEBHOOK_LANES)
    elapsed = time.monotonic() - started
    used = await bench.calls() - before
    return {"count": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1),
            "api_calls": used, "calls_per_fo": round(used / count, 4), "concurrency": WEBHOOK_LANES,
            "emulator_create_seconds": round(created, 3)}
