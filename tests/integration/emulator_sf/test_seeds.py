"""Built-in org scenarios: ``--seed demo|bare`` and their listing in ``python -m emulator --help``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from emulator.__main__ import parse_args
from emulator.salesforce.app import SfEmulator, SfEmulatorSettings
from emulator.salesforce.scenario import SEEDS

ROOT = Path(__file__).resolve().parents[3]
SETUP_OBJECTS = ("SalesChannel", "OrderDeliveryMethod", "PaymentGateway", "Account")


def test_bare_seed_has_only_what_a_fresh_oms_org_has() -> None:
    """``bare``: standard price book, stores and products; no custom price book, channel, methods, gateways, account."""
    org = SfEmulator(SfEmulatorSettings(seed="bare")).org
    pricebooks = list(org.records("Pricebook2"))
    assert [p["IsStandard"] for p in pricebooks] == [True]
    assert org.count("Location") == 3 and org.count("Product2") == 11
    assert org.count("PricebookEntry") == 11
    assert {name: org.count(name) for name in SETUP_OBJECTS} == dict.fromkeys(SETUP_OBJECTS, 0)


def test_demo_seed_still_has_the_setup_records() -> None:
    """``demo`` keeps its sales channel, delivery methods and gateways."""
    org = SfEmulator(SfEmulatorSettings(seed="demo")).org
    assert (org.count("SalesChannel"), org.count("OrderDeliveryMethod"), org.count("PaymentGateway")) == (1, 3, 2)


def test_unknown_seed_names_the_built_in_ones() -> None:
    """An unknown seed is refused with the list of built-in seeds (settings and command line)."""
    with pytest.raises(ValueError, match="demo, bare"):
        SfEmulator(SfEmulatorSettings(seed="nope"))
    assert parse_args(["--seed", "bare"]).seed == "bare"
    with pytest.raises(SystemExit):
        parse_args(["--seed", "nope"])


async def test_help_lists_every_seed_with_its_description() -> None:
    """``python -m emulator --help`` lists the --seed choices and says what each one holds."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "--help", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = out.decode()
    assert proc.returncode == 0 and "--seed {demo,bare}" in text
    for name, (_, description) in SEEDS.items():
        assert f"{name}: {description}" in " ".join(text.split())
