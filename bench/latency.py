"""The realistic latency profile: how long Salesforce takes to answer each kind of call, as the client sees it.

These figures are ESTIMATES, not measurements of a real org. What is published:

* Salesforce's own platform-wide average server time per transaction: "under 275 ms" (Dreamforce 2012 session
  "Performance monitoring and testing in the Salesforce cloud", slideshare df121279) and "consistently well under
  300 milliseconds" on trust.salesforce.com (Learning Apex Programming, Packt 2015, "Obeying the speed limit").
  That average mixes page loads, Apex and API calls; no per-resource API figure is published that we found.
* The client also pays the network round trip to the instance and TLS on new connections (the worker keeps its
  connections alive), typically tens of milliseconds within a region and ~100 ms across an ocean.

So each resource gets the ~250 ms platform average as a base, the lighter reads a little less, and the writes that
run Order Management's own processing (a composite graph creating and activating an Order with its items,
adjustments, taxes and payments; Connect actions that build OrderSummaries or FulfillmentOrders) more. Every
figure is at least 100 ms, as issue 21 asks. Replace them with measured p50s from a real org when one is at hand
(the emulator takes them as data: ``POST /__admin/faults {"latency_ms_by_kind": {...}}``).
"""

from __future__ import annotations

# emulator counter kind -> milliseconds added before the answer (estimates; see the module docstring)
REALISTIC_MS: dict[str, float] = {
    "sobject_get": 150,  # one record by Id: lighter than the platform average
    "sobject_create": 250,  # one insert: about the platform average
    "sobject_update": 250,
    "query": 200,  # selective SOQL on indexed fields (Id, external ids), a few hundred rows at most
    "query_more": 200,
    "collections": 300,  # sObject Collections, up to 200 records in one DML
    "composite": 300,
    "composite_graph": 800,  # up to 75 graphs of ~20 nodes each, Order activation and its triggers/flows
    "connect": 500,  # Order Management Connect actions: OrderSummary / FulfillmentOrder creation
    "describe": 150,
    "limits": 150,
    "other": 150,
}
assert min(REALISTIC_MS.values()) >= 100, "issue 21: at least 100 ms per resource"


def realistic_faults() -> dict[str, object]:
    """The body of ``POST /__admin/faults`` that puts the profile on the Salesforce emulator."""
    return {"latency_ms_by_kind": dict(REALISTIC_MS)}
