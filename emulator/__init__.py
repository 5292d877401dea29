"""Local emulators of a Salesforce Order Management org and a Retail Cloud POS (demo, tests, benchmarks)."""
