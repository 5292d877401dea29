"""A faithful in-memory Salesforce OMS org served over the REST, Composite, Connect, OAuth and CometD wire formats."""
