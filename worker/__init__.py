"""oms-worker: Salesforce Order Management <-> Retail Cloud POS integration worker."""

__version__ = "0.1.0"
