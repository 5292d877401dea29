"""Flows: short async code over the store, Salesforce and POS interfaces."""
