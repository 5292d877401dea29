"""oms_auth_operator_required: one sample per service that reports (salesforce, pos), none while unknown."""

from __future__ import annotations

from worker.metrics import Metrics, Reading


async def _operator_lines(reading: Reading) -> set[str]:
    metrics = Metrics()

    async def read() -> Reading:
        return reading

    metrics.reader = read
    body, _ = await metrics.render()
    return {line for line in body.decode().splitlines() if line.startswith("oms_auth_operator_required")}


async def test_each_service_is_a_labelled_sample() -> None:
    """A reading naming both services exports service="salesforce" and service="pos", 1 for the refused one."""
    lines = await _operator_lines(Reading(auth_operator_required={"salesforce": True, "pos": False}))
    assert lines == {'oms_auth_operator_required{service="salesforce"} 1.0',
                     'oms_auth_operator_required{service="pos"} 0.0'}


async def test_unknown_has_no_sample() -> None:
    """No token provider reports (None): no sample at all, so the alert cannot fire falsely."""
    assert await _operator_lines(Reading()) == set()
