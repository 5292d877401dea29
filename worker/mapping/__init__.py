"""Pure mappings: Salesforce FulfillmentOrder -> POS order, POS sale -> composite graph, status rules.

Nothing in this package does I/O, reads a clock or imports aiohttp or the store; functions take data (and
``now`` when time matters) and return models. Keep this module empty so importing a submodule stays cheap and
free of import cycles (``worker.pos.models`` uses :mod:`worker.mapping.money`).
"""
