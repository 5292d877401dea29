"""``oms-worker setup --config F [--apply]``: the org records a first POS sale needs, which are missing, and (with
``--apply``) create the creatable ones.

A first sale needs the default Account, the Pricebook2 and the SalesChannel named after
``<MerchantId>-<Locale>-<Region>``, the OrderDeliveryMethods of the guide's order types, the PaymentGateways the
configuration names and the org's standard price book. The look-ups and the creation are the sale poster's own
(:class:`worker.flows.sale_lookups.SaleLookupCache`), so ``--apply`` creates exactly what the first sale would.
PaymentGateways (a provider and credentials) and the standard price book (every org has one) are never created.
Exit 0 when a first sale can post (everything present, or missing and creatable), 1 otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from worker.config import Config
from worker.flows.sale_lookups import SaleLookupCache, SetupRecord

# OrderDeliveryMethod per order type, as the guide's defaults: take-with, pickup later, endless aisle
# (the name is <fulfillmentType>-<fulfillmentSubType> of the sale's lines).


class SetupApi(Protocol):
    async def query(self, soql: str) -> list[dict[str, Any]]: ...
    async def create(self, sobject: str, fields: dict[str, Any]) -> str: ...
    async def describe(self, sobject: str) -> dict[str, Any]: ...


def delivery_methods(config: Config) -> tuple[str, ...]:
    """The OrderDeliveryMethod names the POS order types map to (salesforce.delivery_methods)."""
    return tuple(dict.fromkeys(config.salesforce.delivery_methods.values()))


def gateway_keys(config: Config) -> dict[str, str]:
    """PaymentGateway name -> the configuration key that names it (unset keys: no gateway needed)."""
    sf = config.salesforce
    named = [("salesforce.OMSCashPaymentGatewayName", sf.OMSCashPaymentGatewayName),
             ("salesforce.card_payment_gateway_name", sf.card_payment_gateway_name)]
    keys: dict[str, str] = {}
    for key, name in named:
        if name:
            keys.setdefault(name, key)
    return keys


def problems(records: Sequence[SetupRecord], config: Config, createable: Mapping[str, bool]) -> list[str]:
    """What stops a first sale: a missing record the worker never creates, or one the user may not create."""
    keys = gateway_keys(config)
    found: list[str] = []
    for r in records:
        if r.record_id is not None:
            continue
        if r.sobject == "PaymentGateway":
            found.append(f'{keys.get(r.name, "salesforce")}: PaymentGateway "{r.name}" does not exist in the org '
                         "(create it in Setup, or unset the key)")
        elif not r.creatable:
            found.append(f"salesforce.UrlBase: the org has no {r.sobject} {r.name}")
        elif not createable.get(r.sobject, True):
            found.append(f'salesforce.Username: may not create {r.sobject} "{r.name}" (missing; grant create '
                         "permission or create it in Setup)")
    return found


def table(records: Sequence[SetupRecord]) -> list[str]:
    lines = [f"{'object':<20} {'name':<32} state"]
    for r in records:
        if r.record_id is not None:
            state = f"present ({r.record_id})"
        elif r.creatable:
            state = "MISSING (created by the first sale, or now by --apply)"
        else:
            state = "MISSING (never created by the worker)"
        lines.append(f"{r.sobject:<20} {r.name:<32} {state}")
    return lines


async def survey(sf: SetupApi, config: Config, cache: SaleLookupCache | None = None,
                 ) -> tuple[list[SetupRecord], list[str]]:
    """The setup records and what stops a first sale (asks describe whether a missing record may be created)."""
    cache = cache or SaleLookupCache(sf, config)
    records = await cache.survey(delivery_methods(config), list(gateway_keys(config)))
    missing = sorted({r.sobject for r in records if r.record_id is None and r.creatable})
    described = await asyncio.gather(*(sf.describe(name) for name in missing))
    createable = {name: bool(d.get("createable", True)) for name, d in zip(missing, described, strict=True)}
    return records, problems(records, config, createable)


async def run_setup(config: Config, *, apply: bool, out: Callable[[str], None] = print) -> int:
    from worker.live_check import cli_clients

    async with cli_clients(config) as (_, sf, _pos):
        cache = SaleLookupCache(sf, config)
        records, found = await survey(sf, config, cache)
        if apply and any(r.record_id is None and r.creatable for r in records):
            await cache.ensure_setup(delivery_methods(config))
            records, found = await survey(sf, config, cache)
        for line in table(records):
            out(line)
        for problem in found:
            out(f"FAIL {problem}")
        missing = sum(1 for r in records if r.record_id is None)
        out(f"{len(records) - missing}/{len(records)} present" + ("" if found else "; a first sale can post"))
        return 1 if found else 0


def setup_command(config: Config, *, apply: bool) -> int:
    """``oms-worker setup`` (quiet logs; a failure reaches the command line as one line)."""
    from worker.live_check import run_cli

    return run_cli(config, lambda: run_setup(config, apply=apply))
